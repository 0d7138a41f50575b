// GBNF text → rules, following llama.cpp's llama_grammar_parser (src/llama-grammar.cpp): the same
// syntax, the same rewriting of groups and repetitions into generated rules (so rule ids and names
// match llama.cpp's), the same limits. Errors are GrammarErrors with the line and column.

import { GrammarError, positionOf } from "./errors.js";
import { ALT, CHAR, CHAR_ALT, CHAR_ANY, CHAR_NOT, CHAR_RNG_UPPER, END, RULE_REF, TOKEN, TOKEN_NOT, type RuleBody } from "./rules.js";

/** llama.cpp's MAX_REPETITION_THRESHOLD. */
const MAX_REPETITION = 2000;
/** Woolly's limit on nested groups (llama.cpp recurses without one). */
const MAX_NESTING = 1000;

/** Turns the text of a `<name>` token (brackets included) into its id, or undefined. */
export type TokenResolver = (text: string) => number | undefined;

export interface ParsedGrammar {
  /** symbol id → name */
  readonly names: string[];
  /** symbol id → body (undefined: referenced but never defined) */
  readonly rules: (RuleBody | undefined)[];
  /** symbol id → offset of its first reference (-1: never referenced) */
  readonly firstUse: number[];
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isWordChar = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 45 || isDigit(c);

class Parser {
  private pos = 0;
  /** open groups: bounded so a hostile grammar fails with a GrammarError, not a stack overflow */
  private depth = 0;
  readonly names: string[] = [];
  readonly rules: (RuleBody | undefined)[] = [];
  readonly firstUse: number[] = [];
  private readonly ids = new Map<string, number>();

  constructor(
    private readonly src: string,
    private readonly resolveToken: TokenResolver | undefined,
  ) {}

  parse(): ParsedGrammar {
    this.skipSpace(true);
    while (this.pos < this.src.length) this.parseRule();
    return { names: this.names, rules: this.rules, firstUse: this.firstUse };
  }

  private fail(expected: string, at = this.pos): never {
    const near = this.src.slice(at, at + 20).split(/\r?\n/)[0];
    const found = at >= this.src.length ? "end of input" : JSON.stringify(near);
    throw new GrammarError("syntax", `expected ${expected}, found ${found}`, { position: positionOf(this.src, at), expected });
  }

  private code(at = this.pos): number {
    return at < this.src.length ? this.src.charCodeAt(at) : 0;
  }

  /** Spaces, tabs and # comments; newlines too when `newlineOk` (inside groups and between rules). */
  private skipSpace(newlineOk: boolean): void {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 35) {
        while (this.pos < s.length && s.charCodeAt(this.pos) !== 13 && s.charCodeAt(this.pos) !== 10) this.pos++;
      } else if (c === 32 || c === 9 || (newlineOk && (c === 13 || c === 10))) {
        this.pos++;
      } else break;
    }
  }

  private symbolId(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
      this.rules.push(undefined);
      this.firstUse.push(-1);
    }
    return id;
  }

  /** A fresh rule for a group or repetition, named as llama.cpp names it. */
  private generatedId(base: string): number {
    return this.symbolId(`${base}_${this.names.length}`);
  }

  private parseName(): string {
    const start = this.pos;
    while (isWordChar(this.code())) this.pos++;
    if (this.pos === start) this.fail("a rule name");
    return this.src.slice(start, this.pos);
  }

  private parseInt(): number {
    const start = this.pos;
    while (isDigit(this.code())) this.pos++;
    if (this.pos === start) this.fail("an integer");
    return Number(this.src.slice(start, this.pos));
  }

  private parseRule(): void {
    const name = this.parseName();
    this.skipSpace(false);
    const id = this.symbolId(name);
    if (!this.src.startsWith("::=", this.pos)) this.fail("'::='");
    this.pos += 3;
    this.skipSpace(true);
    this.parseAlternates(name, id, false);
    const c = this.code();
    if (c === 13) this.pos += this.code(this.pos + 1) === 10 ? 2 : 1;
    else if (c === 10) this.pos++;
    else if (this.pos < this.src.length) this.fail("a newline or the end of the grammar");
    this.skipSpace(true);
  }

  private parseAlternates(ruleName: string, ruleId: number, nested: boolean): void {
    const body: RuleBody = [];
    this.parseSequence(ruleName, body, nested);
    while (this.code() === 124 /* | */) {
      body.push(ALT, 0);
      this.pos++;
      this.skipSpace(true);
      this.parseSequence(ruleName, body, nested);
    }
    body.push(END, 0);
    this.rules[ruleId] = body;
  }

  /** One character of a literal or class: an escape or a code point. */
  private parseChar(): number {
    const s = this.src;
    if (this.pos >= s.length) this.fail("a character");
    if (s.charCodeAt(this.pos) !== 92 /* \ */) {
      const cp = s.codePointAt(this.pos) ?? 0;
      this.pos += cp > 0xffff ? 2 : 1;
      return cp;
    }
    const e = s[this.pos + 1];
    const simple: Record<string, number> = { t: 9, r: 13, n: 10, "\\": 92, '"': 34, "[": 91, "]": 93, "-": 45 };
    if (e === "x" || e === "u" || e === "U") return this.parseHex(e === "x" ? 2 : e === "u" ? 4 : 8);
    const v = e === undefined ? undefined : simple[e];
    if (v === undefined || !Object.hasOwn(simple, e)) this.fail("an escape: \\x.. \\u.... \\U........ \\t \\r \\n \\\\ \\\" \\[ \\] \\-");
    this.pos += 2;
    return v;
  }

  private parseHex(n: number): number {
    const start = this.pos + 2;
    let value = 0;
    for (let i = 0; i < n; i++) {
      const d = parseInt(this.src[start + i] ?? "", 16);
      if (Number.isNaN(d)) this.fail(`${n} hex digits`, start + i);
      value = value * 16 + d;
    }
    this.pos = start + n;
    return value;
  }

  private parseToken(): number {
    const start = this.pos; // at '<'
    this.pos++;
    if (this.code() === 91 /* [ */) {
      this.pos++;
      const id = this.parseInt();
      if (this.code() !== 93) this.fail("']'");
      this.pos++;
      if (this.code() !== 62) this.fail("'>'");
      this.pos++;
      return id;
    }
    while (this.pos < this.src.length && this.code() !== 62) this.pos++;
    if (this.code() !== 62) this.fail("'>'");
    this.pos++;
    const text = this.src.slice(start, this.pos);
    const position = positionOf(this.src, start);
    if (!this.resolveToken) throw new GrammarError("unknown_token", `token ${text} needs a vocabulary (pass resolveToken)`, { position });
    const id = this.resolveToken(text);
    if (id === undefined) throw new GrammarError("unknown_token", `${text} is not exactly one token of the vocabulary`, { position });
    return id;
  }

  private parseSequence(ruleName: string, body: RuleBody, nested: boolean): void {
    let lastStart = body.length; // in elements*2: where the last item began
    let prevRules = 1;
    const repeat = (min: number, max: number, at: number): void => {
      const noMax = max === Infinity;
      if (lastStart === body.length) this.fail("an item before the repetition operator", at);
      // S{m,n} → S×m then n−m nested optional copies (S'(k) ::= S S'(k−1) | ); S{m,} → S×m S' with
      // S' ::= S S' | . The same rewriting as llama.cpp, so generated rules line up.
      const prev = body.slice(lastStart);
      const total = !noMax && max > 0 ? max : min > 0 ? min : 1;
      if (prevRules * total > MAX_REPETITION) {
        throw new GrammarError("too_many_repetitions", "the repeated item times the repetition count exceeds 2000 rules; reduce the repetitions", { position: positionOf(this.src, at) });
      }
      if (min === 0) body.length = lastStart;
      else for (let i = 1; i < min; i++) body.push(...prev);
      let lastRec = 0;
      const nOpt = noMax ? 1 : max - min;
      for (let i = 0; i < nOpt; i++) {
        const recId = this.generatedId(ruleName);
        const rec = prev.slice();
        if (i > 0 || noMax) rec.push(RULE_REF, noMax ? recId : lastRec);
        rec.push(ALT, 0, END, 0);
        this.rules[recId] = rec;
        lastRec = recId;
      }
      if (nOpt > 0) body.push(RULE_REF, lastRec);
      prevRules *= total;
    };

    const s = this.src;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      const at = this.pos;
      if (c === 34 /* " */) {
        this.pos++;
        lastStart = body.length;
        prevRules = 1;
        while (this.code() !== 34) {
          if (this.pos >= s.length) this.fail("a closing '\"'");
          body.push(CHAR, this.parseChar());
        }
        this.pos++;
        this.skipSpace(nested);
      } else if (c === 91 /* [ */) {
        this.pos++;
        let startType = CHAR;
        if (this.code() === 94 /* ^ */) {
          this.pos++;
          startType = CHAR_NOT;
        }
        lastStart = body.length;
        prevRules = 1;
        while (this.code() !== 93) {
          if (this.pos >= s.length) this.fail("a closing ']'");
          const ch = this.parseChar();
          body.push(lastStart < body.length ? CHAR_ALT : startType, ch);
          if (this.code() === 45 && this.code(this.pos + 1) !== 93) {
            this.pos++;
            if (this.pos >= s.length) this.fail("the end of a range");
            body.push(CHAR_RNG_UPPER, this.parseChar());
          }
        }
        this.pos++;
        this.skipSpace(nested);
      } else if (c === 60 /* < */ || c === 33 /* ! */) {
        let type = TOKEN;
        if (c === 33) {
          type = TOKEN_NOT;
          this.pos++;
          if (this.code() !== 60) this.fail("'<' after '!'");
        }
        const id = this.parseToken();
        lastStart = body.length;
        prevRules = 1;
        body.push(type, id);
        this.skipSpace(nested);
      } else if (isWordChar(c)) {
        const name = this.parseName();
        const id = this.symbolId(name);
        if (this.firstUse[id] < 0) this.firstUse[id] = at;
        this.skipSpace(nested);
        lastStart = body.length;
        prevRules = 1;
        body.push(RULE_REF, id);
      } else if (c === 40 /* ( */) {
        if (++this.depth > MAX_NESTING) this.fail(`at most ${MAX_NESTING} nested groups`);
        this.pos++;
        this.skipSpace(true);
        const before = this.names.length;
        const sub = this.generatedId(ruleName);
        this.parseAlternates(ruleName, sub, true);
        prevRules = Math.max(1, this.names.length - before);
        lastStart = body.length;
        body.push(RULE_REF, sub);
        if (this.code() !== 41) this.fail("a closing ')'");
        this.depth--;
        this.pos++;
        this.skipSpace(nested);
      } else if (c === 46 /* . */) {
        lastStart = body.length;
        prevRules = 1;
        body.push(CHAR_ANY, 0);
        this.pos++;
        this.skipSpace(nested);
      } else if (c === 42 /* * */ || c === 43 /* + */ || c === 63 /* ? */) {
        this.pos++;
        this.skipSpace(nested);
        if (c === 42) repeat(0, Infinity, at);
        else if (c === 43) repeat(1, Infinity, at);
        else repeat(0, 1, at);
      } else if (c === 123 /* { */) {
        this.pos++;
        this.skipSpace(nested);
        if (!isDigit(this.code())) this.fail("an integer");
        const min = this.parseInt();
        this.skipSpace(nested);
        let max = Infinity;
        if (this.code() === 125) {
          max = min;
          this.pos++;
          this.skipSpace(nested);
        } else if (this.code() === 44) {
          this.pos++;
          this.skipSpace(nested);
          if (isDigit(this.code())) {
            max = this.parseInt();
            this.skipSpace(nested);
          }
          if (this.code() !== 125) this.fail("'}'");
          this.pos++;
          this.skipSpace(nested);
        } else this.fail("',' or '}'");
        if (min > MAX_REPETITION) {
          throw new GrammarError("too_many_repetitions", `{${min},…} repeats more than 2000 times`, { position: positionOf(this.src, at) });
        }
        // llama.cpp treats an upper bound above the limit as no bound at all.
        if (max !== Infinity && max > MAX_REPETITION) max = Infinity;
        if (max < min) this.fail(`an upper bound of at least ${min}`, at);
        repeat(min, max, at);
      } else break;
    }
  }
}

/** Parses GBNF text into rules (not yet checked for undefined rules, root or left recursion). */
export function parseGbnf(text: string, resolveToken?: TokenResolver): ParsedGrammar {
  return new Parser(text, resolveToken).parse();
}
