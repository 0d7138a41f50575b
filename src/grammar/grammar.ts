// compileGrammar: GBNF text → a checked, immutable Grammar (flat element arrays). The checks are
// llama.cpp's (llama_grammar_init_impl): every referenced rule defined, the start rule present, no
// left recursion (the matcher's stack expansion would never end).

import { GrammarError, positionOf } from "./errors.js";
import { parseGbnf, type TokenResolver } from "./parser.js";
import {
  ALT,
  CHAR_ALT,
  CHAR_ANY,
  CHAR_NOT,
  CHAR_RNG_UPPER,
  END,
  RULE_REF,
  TOKEN,
  TOKEN_NOT,
  type CompiledRules,
  type RuleBody,
} from "./rules.js";

export interface GrammarOptions {
  /** The start rule (default "root"). */
  readonly root?: string;
  /**
   * Resolves `<name>` tokens (text with the angle brackets) to a token id; without it only the
   * `<[id]>` form is accepted. See tokenResolver() for one backed by a Tokenizer.
   */
  readonly resolveToken?: TokenResolver;
}

/** A compiled GBNF grammar. Immutable; one grammar can drive any number of constraints. */
export class Grammar {
  readonly rules: CompiledRules;
  /** The GBNF text it was compiled from. */
  readonly source: string;

  constructor(rules: CompiledRules, source: string) {
    this.rules = rules;
    this.source = source;
  }

  /** The rules in GBNF, one per line, as llama.cpp's parser prints them (generated rules included). */
  toString(): string {
    const { types, values, ruleStart, names } = this.rules;
    const lines: string[] = [];
    for (let r = 0; r < names.length; r++) {
      const parts: string[] = [];
      let p = ruleStart[r];
      while (types[p] !== END) {
        const t = types[p];
        if (t === ALT) parts.push("|");
        else if (t === RULE_REF) parts.push(names[values[p]]);
        else if (t === TOKEN) parts.push(`<[${values[p]}]>`);
        else if (t === TOKEN_NOT) parts.push(`!<[${values[p]}]>`);
        else if (t === CHAR_ANY) parts.push(".");
        else {
          let s = t === CHAR_NOT ? "[^" : "[";
          s += printChar(values[p]);
          while (types[p + 1] === CHAR_ALT || types[p + 1] === CHAR_RNG_UPPER) {
            p++;
            s += (types[p] === CHAR_RNG_UPPER ? "-" : "") + printChar(values[p]);
          }
          parts.push(s + "]");
        }
        p++;
      }
      lines.push(`${names[r]} ::= ${parts.join(" ")}`);
    }
    return lines.join("\n") + "\n";
  }
}

function printChar(c: number): string {
  if (c === 0x5c || c === 0x5d || c === 0x2d || c === 0x5e || c === 0x22 || c === 0x5b) return "\\" + String.fromCharCode(c);
  if (c >= 0x20 && c < 0x7f) return String.fromCharCode(c);
  return c <= 0xffff ? `\\u${c.toString(16).padStart(4, "0")}` : `\\U${c.toString(16).padStart(8, "0")}`;
}

/** Parses and checks GBNF text. Throws GrammarError (kind: syntax, undefined_rule, missing_root, left_recursion, too_many_repetitions, unknown_token). */
export function compileGrammar(text: string, options: GrammarOptions = {}): Grammar {
  const rootName = options.root ?? "root";
  const parsed = parseGbnf(text, options.resolveToken);
  const { names, rules, firstUse } = parsed;
  for (let id = 0; id < rules.length; id++) {
    if (rules[id] === undefined && id !== names.indexOf(rootName)) {
      throw new GrammarError("undefined_rule", `rule '${names[id]}' is used but never defined`, {
        position: firstUse[id] >= 0 ? positionOf(text, firstUse[id]) : undefined,
        rule: names[id],
      });
    }
  }
  const root = names.indexOf(rootName);
  if (root < 0 || rules[root] === undefined) {
    throw new GrammarError("missing_root", `the grammar has no '${rootName}' rule`, { rule: rootName });
  }
  const bodies = rules as RuleBody[];
  const left = findLeftRecursion(bodies);
  if (left >= 0) throw new GrammarError("left_recursion", `rule '${names[left]}' is left-recursive (it can reach itself without consuming input)`, { rule: names[left] });

  let total = 0;
  for (const b of bodies) total += b.length / 2;
  const types = new Uint8Array(total);
  const values = new Int32Array(total);
  const ruleStart = new Int32Array(bodies.length);
  let n = 0;
  for (let r = 0; r < bodies.length; r++) {
    ruleStart[r] = n;
    const b = bodies[r];
    for (let i = 0; i < b.length; i += 2) {
      types[n] = b[i];
      values[n] = b[i + 1];
      n++;
    }
  }
  return new Grammar({ types, values, ruleStart, names, root }, text);
}

/**
 * llama.cpp's llama_grammar_detect_left_recursion: a depth-first walk into each alternate's leftmost
 * rule references (and past them while they may match the empty string). Returns a rule on a cycle,
 * or -1.
 */
function findLeftRecursion(rules: RuleBody[]): number {
  const n = rules.length;
  const visited = new Uint8Array(n);
  const inProgress = new Uint8Array(n);
  const mayBeEmpty = new Uint8Array(n);
  const isEnd = (b: RuleBody, i: number): boolean => b[i] === END || b[i] === ALT;
  const visit = (r: number): boolean => {
    if (inProgress[r]) return true;
    inProgress[r] = 1;
    const b = rules[r];
    let atStart = true;
    for (let i = 0; i < b.length; i += 2) {
      if (isEnd(b, i)) {
        if (atStart) {
          mayBeEmpty[r] = 1;
          break;
        }
        atStart = true;
      } else atStart = false;
    }
    let recurse = true;
    for (let i = 0; i < b.length; i += 2) {
      if (b[i] === RULE_REF && recurse) {
        if (visit(b[i + 1])) return true;
        if (!mayBeEmpty[b[i + 1]]) recurse = false;
      } else if (isEnd(b, i)) recurse = true;
      else recurse = false;
    }
    inProgress[r] = 0;
    visited[r] = 1;
    return false;
  };
  for (let r = 0; r < n; r++) {
    if (!visited[r] && visit(r)) {
      // report the rule on the cycle rather than the one the walk started from
      for (let k = 0; k < n; k++) if (inProgress[k] && reaches(rules, k, k)) return k;
      return r;
    }
  }
  return -1;
}

/** Whether rule `to` is reachable from `from`'s leftmost references (for the error message only). */
function reaches(rules: RuleBody[], from: number, to: number): boolean {
  const seen = new Set<number>();
  const todo = [from];
  while (todo.length) {
    const r = todo.pop() as number;
    const b = rules[r];
    let first = true;
    for (let i = 0; i < b.length; i += 2) {
      if (first && b[i] === RULE_REF) {
        if (b[i + 1] === to) return true;
        if (!seen.has(b[i + 1])) {
          seen.add(b[i + 1]);
          todo.push(b[i + 1]);
        }
      }
      first = b[i] === END || b[i] === ALT;
    }
  }
  return false;
}

