// JSON schema `pattern` → GBNF, the regex subset llama.cpp's _pattern_to_rule handles: anchored
// with ^…$, literals, escapes GBNF shares (\x.. \u.... \t \n …, and \ before a regex operator),
// `.`, [classes], (groups) and (?:groups), |, *, +, ?, {m,n}. Unlike llama.cpp, which refuses
// nothing and falls back to any string, anything else is an error; and the rule matches the JSON
// text of the string, so a literal quote, backslash or control character is matched in its escaped
// form and classes never match one raw (llama.cpp's would emit broken JSON).

import { SchemaError } from "./errors.js";

const NON_LITERAL = new Set(["|", ".", "(", ")", "[", "]", "{", "}", "*", "+", "?", "^", "$"]);
/** \d \w \s (a Woolly extension; llama.cpp refuses them). \s keeps only the space: JSON escapes the rest. */
const SHORTHANDS: Record<string, [number, number][]> = {
  d: [[0x30, 0x39]],
  w: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
  s: [[0x20, 0x20], [0x09, 0x0d]],
};
const SIMPLE_ESCAPES: Record<string, number> = { t: 9, r: 13, n: 10, "\\": 92, '"': 34, "[": 91, "]": 93, "-": 45 };

/** A character of the decoded string as JSON text (GBNF literal contents). */
function jsonChar(cp: number): string {
  switch (cp) {
    case 0x22:
      return '\\\\\\"'; // the JSON text \" : GBNF "\\\""
    case 0x5c:
      return "\\\\\\\\";
    case 0x0a:
      return "\\\\n";
    case 0x0d:
      return "\\\\r";
    case 0x09:
      return "\\\\t";
  }
  if (cp < 0x20) return `\\\\u00${cp.toString(16).padStart(2, "0")}`;
  return gbnfLiteralChar(cp);
}

function gbnfLiteralChar(cp: number): string {
  if (cp === 0x7f) return "\\x7F";
  return String.fromCodePoint(cp);
}

function classChar(cp: number): string {
  if (cp === 0x5d || cp === 0x5b || cp === 0x2d || cp === 0x5c || cp === 0x5e || cp === 0x22) return "\\" + String.fromCharCode(cp);
  if (cp < 0x20 || cp === 0x7f) return `\\x${cp.toString(16).padStart(2, "0")}`;
  return String.fromCodePoint(cp);
}

/** Converts one anchored pattern; `addRule(name, body)` registers sub-rules and returns their names. */
export function patternToGbnf(pattern: string, name: string, path: string, addRule: (name: string, body: string) => string): string {
  const fail = (why: string): never => {
    throw new SchemaError("unsupported_schema", `${path}/pattern`, `pattern ${JSON.stringify(pattern)} is not supported (${why})`);
  };
  if (pattern.length < 2 || pattern[0] !== "^" || pattern[pattern.length - 1] !== "$") fail("it must be anchored with '^' and '$'");
  const sub = pattern.slice(1, -1);
  let i = 0;
  let depth = 0;
  const subRuleIds = new Map<string, string>();

  /** One escape at sub[at] ("\\…"): the code point and its length, or undefined for a regex-operator escape. */
  const escape = (at: number): { cp: number; len: number } => {
    const e = sub[at + 1];
    if (e === undefined) fail("trailing backslash");
    if (Object.hasOwn(SIMPLE_ESCAPES, e)) return { cp: SIMPLE_ESCAPES[e], len: 2 };
    if (NON_LITERAL.has(e) || e === "/") return { cp: e.charCodeAt(0), len: 2 };
    const n = e === "x" ? 2 : e === "u" ? 4 : 0;
    if (n === 0) fail(`escape \\${e}`);
    const hex = sub.slice(at + 2, at + 2 + n);
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) fail(`escape \\${e}${hex}`);
    return { cp: parseInt(hex, 16), len: 2 + n };
  };

  /** [class] → GBNF class that never matches a character JSON would have to escape. */
  const charClass = (): string => {
    i++; // [
    let negated = false;
    if (sub[i] === "^") {
      negated = true;
      i++;
    }
    const ranges: [number, number][] = [];
    const member = (): number => {
      if (sub[i] === "\\") {
        const { cp, len } = escape(i);
        i += len;
        return cp;
      }
      const cp = sub.codePointAt(i) as number;
      i += cp > 0xffff ? 2 : 1;
      return cp;
    };
    while (i < sub.length && sub[i] !== "]") {
      const short = sub[i] === "\\" ? SHORTHANDS[sub[i + 1]] : undefined;
      if (short) {
        ranges.push(...short);
        i += 2;
        continue;
      }
      const lo = member();
      if (sub[i] === "-" && sub[i + 1] !== "]" && i + 1 < sub.length) {
        i++;
        const hi = member();
        if (hi < lo) throw new SchemaError("invalid_schema", `${path}/pattern`, `pattern ${JSON.stringify(pattern)}: range out of order`);
        ranges.push([lo, hi]);
      } else ranges.push([lo, lo]);
    }
    if (i >= sub.length) throw new SchemaError("invalid_schema", `${path}/pattern`, `pattern ${JSON.stringify(pattern)}: unterminated character class`);
    i++; // ]
    const unsafe: [number, number][] = [[0, 0x1f], [0x22, 0x22], [0x5c, 0x5c]];
    if (negated) {
      return "[^" + [...ranges, ...unsafe].map(([a, b]) => (a === b ? classChar(a) : `${classChar(a)}-${classChar(b)}`)).join("") + "]";
    }
    let safe = ranges;
    for (const [ua, ub] of unsafe) {
      const next: [number, number][] = [];
      for (const [a, b] of safe) {
        if (b < ua || a > ub) next.push([a, b]);
        else {
          if (a < ua) next.push([a, ua - 1]);
          if (b > ub) next.push([ub + 1, b]);
        }
      }
      safe = next;
    }
    if (safe.length === 0) fail("a character class of characters JSON escapes only");
    return "[" + safe.map(([a, b]) => (a === b ? classChar(a) : `${classChar(a)}-${classChar(b)}`)).join("") + "]";
  };

  type Item = { text: string; literal: boolean };
  const toRule = (it: Item): string => (it.literal ? `"${it.text}"` : it.text);

  const transform = (): Item => {
    const seq: Item[] = [];
    const joinSeq = (): Item => {
      const parts: string[] = [];
      let lit = "";
      for (const it of seq) {
        if (it.literal) lit += it.text;
        else {
          if (lit) parts.push(`"${lit}"`);
          lit = "";
          parts.push(it.text);
        }
      }
      if (lit) parts.push(`"${lit}"`);
      return { text: parts.join(" "), literal: false };
    };
    while (i < sub.length) {
      const c = sub[i];
      if (c === ".") {
        seq.push({ text: addRule("dot", '[^"\\\\\\x00-\\x1F]'), literal: false });
        i++;
      } else if (c === "(") {
        i++;
        if (sub[i] === "?") {
          if (sub[i + 1] === ":") i += 2;
          else fail("lookarounds, named groups and flags");
        }
        depth++;
        if (depth > 100) fail("nesting too deep");
        seq.push({ text: `(${toRule(transform())})`, literal: false });
      } else if (c === ")") {
        i++;
        if (depth === 0) throw new SchemaError("invalid_schema", `${path}/pattern`, `pattern ${JSON.stringify(pattern)}: unbalanced parentheses`);
        depth--;
        return joinSeq();
      } else if (c === "^" || c === "$") {
        fail("an anchor inside the pattern");
      } else if (c === "[") {
        seq.push({ text: charClass(), literal: false });
      } else if (c === "\\" && SHORTHANDS[sub[i + 1]]) {
        const ranges = SHORTHANDS[sub[i + 1]];
        i += 2;
        seq.push({ text: "[" + ranges.filter(([a]) => a >= 0x20).map(([a, b]) => (a === b ? classChar(a) : `${classChar(a)}-${classChar(b)}`)).join("") + "]", literal: false });
      } else if (c === "|") {
        seq.push({ text: "|", literal: false });
        i++;
      } else if (c === "*" || c === "+" || c === "?") {
        const last = seq.pop();
        if (!last) throw new SchemaError("invalid_schema", `${path}/pattern`, `pattern ${JSON.stringify(pattern)}: nothing to repeat`);
        seq.push({ text: toRule(last) + c, literal: false });
        i++;
      } else if (c === "{") {
        const close = sub.indexOf("}", i);
        if (close < 0) fail("unterminated {");
        const nums = sub.slice(i + 1, close).split(",");
        i = close + 1;
        if (nums.length > 2 || !nums.every((s) => /^\d*$/.test(s)) || nums[0] === "") fail("a malformed {m,n}");
        const min = Number(nums[0]);
        const max = nums.length === 1 ? min : nums[1] === "" ? Infinity : Number(nums[1]);
        if (min > 2000 || (max !== Infinity && max > 2000)) fail("a repetition count above 2000");
        const last = seq.pop();
        if (!last) throw new SchemaError("invalid_schema", `${path}/pattern`, `pattern ${JSON.stringify(pattern)}: nothing to repeat`);
        let item = toRule(last);
        if (!last.literal) {
          let id = subRuleIds.get(item);
          if (id === undefined) {
            id = addRule(`${name}-${subRuleIds.size + 1}`, item);
            subRuleIds.set(item, id);
          }
          item = id;
        }
        seq.push({ text: repetition(item, min, max), literal: false });
      } else {
        // a run of literal characters; the last one stays apart when an operator follows it
        let lit = "";
        while (i < sub.length) {
          const ch = sub[i];
          if (ch === "\\" && SHORTHANDS[sub[i + 1]]) break;
          if (ch === "\\") {
            const { cp, len } = escape(i);
            lit += jsonChar(cp);
            i += len;
          } else if (!NON_LITERAL.has(ch) && (i === sub.length - 1 || lit === "" || sub[i + 1] === "." || !NON_LITERAL.has(sub[i + 1]))) {
            const cp = sub.codePointAt(i) as number;
            lit += jsonChar(cp);
            i += cp > 0xffff ? 2 : 1;
          } else break;
        }
        if (lit === "") fail(`unexpected ${JSON.stringify(c)}`);
        seq.push({ text: lit, literal: true });
      }
    }
    return joinSeq();
  };
  const rule = toRule(transform());
  if (depth !== 0) throw new SchemaError("invalid_schema", `${path}/pattern`, `pattern ${JSON.stringify(pattern)}: unbalanced parentheses`);
  return `"\\"" (${rule}) "\\""`;
}

/** llama.cpp's build_repetition: `item` min..max times, with an optional separator between items. */
export function repetition(item: string, min: number, max: number, separator = ""): string {
  const hasMax = max !== Infinity;
  if (max === 0) return "";
  if (min === 0 && max === 1) return `${item}?`;
  if (!separator) {
    if (min === 1 && !hasMax) return `${item}+`;
    if (min === 0 && !hasMax) return `${item}*`;
    return `${item}{${min},${hasMax ? max : ""}}`;
  }
  const rest = repetition(`(${separator} ${item})`, min === 0 ? 0 : min - 1, hasMax ? max - 1 : max);
  const result = `${item} ${rest}`;
  return min === 0 ? `(${result})?` : result;
}
