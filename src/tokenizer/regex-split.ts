// Pre-tokenization: splitting text into words with a list of regexes, as llama.cpp's
// unicode_regex_split does. Each regex refines the pieces the previous one produced; within a piece,
// every match is a word and so is every stretch between matches. How a regex runs depends on its text,
// exactly as in llama.cpp:
//
//  1. A few exact texts (GPT-2, Llama 3, Qwen2, Qwen3.5, Kimi-K2, AFMoE and Tiny Aya digits, newline
//     runs) are hand-written matchers (split-custom.ts).
//  2. A regex using \p{N} \p{L} \p{P} \p{M} \p{S} (or \p{Lu} \p{Ll} \p{Lt} \p{Lm} \p{Lo}) runs on a
//     "collapsed" text: every code point >= 128 is replaced by one marker character for its class
//     (whitespace → \v, N → U+00D1, L → U+00D2, P → U+00D3, M → U+00D4, S → U+00D5, other → U+00D0),
//     and each \p{X} becomes a class of its marker plus X's ASCII members. Consequences kept on
//     purpose: non-ASCII upper and lower case look alike. (\p{S}'s ASCII list is $+<=>^`|~; older
//     llama.cpp left out '~'.)
//  3. Any other regex runs on the code points, with non-ASCII whitespace replaced by \v and \s read as
//     ASCII whitespace (std::wregex's \s), so \s means llama.cpp's whitespace set in every mode.

import { customSplitter, type Splitter } from "./split-custom.js";
import { TokenizerError } from "./errors.js";
import { CP, codePoints, cpClass, cpUnits, isWhitespace } from "./unicode.js";

/** A regex prepared for splitting. Holds only sources: RegExp objects are made per call (stateless). */
type Step =
  | { readonly kind: "custom"; readonly fn: Splitter }
  | { readonly kind: "collapsed"; readonly source: string }
  | { readonly kind: "plain"; readonly source: string };

const MARKER = { OTHER: 0xd0, NUMBER: 0xd1, LETTER: 0xd2, PUNCTUATION: 0xd3, ACCENT_MARK: 0xd4, SYMBOL: 0xd5 } as const;
const VT = 0x0b;

/** \p{…} names llama.cpp collapses, with their marker and ASCII members (as regex class text). */
interface Category {
  readonly marker: number;
  readonly ascii: string;
}
const CATEGORIES: ReadonlyMap<string, Category> = (() => {
  const n: Category = { marker: MARKER.NUMBER, ascii: "0-9" };
  const l: Category = { marker: MARKER.LETTER, ascii: "A-Za-z" };
  const p: Category = { marker: MARKER.PUNCTUATION, ascii: "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}" };
  const m: Category = { marker: MARKER.ACCENT_MARK, ascii: "" };
  const s: Category = { marker: MARKER.SYMBOL, ascii: "\\$\\+<->^`\\|~" };
  return new Map<string, Category>([
    ["\\p{N}", n], ["\\p{L}", l], ["\\p{P}", p], ["\\p{M}", m], ["\\p{S}", s],
    ["\\p{Lu}", l], ["\\p{Ll}", l], ["\\p{Lt}", l], ["\\p{Lm}", l], ["\\p{Lo}", l],
  ]);
})();

function usesCategories(regex: string): boolean {
  for (const name of CATEGORIES.keys()) if (regex.includes(name)) return true;
  return false;
}

/** llama.cpp's rewrite of a category regex for the collapsed text (same bracket tracking, same limits). */
function collapseRegex(regex: string): string {
  for (const ch of regex) {
    if (ch.codePointAt(0)! >= 128) {
      throw new TokenizerError("bad_pretokenizer", `regex ${JSON.stringify(regex)} mixes unicode categories and non-ASCII characters (llama.cpp refuses it too)`);
    }
  }
  let out = "";
  let inside = false;
  for (let i = 0; i < regex.length; i++) {
    const ch = regex[i];
    if (ch === "[" && (i === 0 || regex[i - 1] !== "\\")) {
      out += "[";
      inside = true;
      continue;
    }
    if (inside && ch === "]" && regex[i - 1] !== "\\") {
      out += "]";
      inside = false;
      continue;
    }
    if (ch === "\\" && i + 3 < regex.length && regex[i + 1] === "p" && regex[i + 2] === "{") {
      const close = regex.indexOf("}", i + 3);
      if (close !== -1 && close <= i + 10) {
        const cat = CATEGORIES.get(regex.slice(i, close + 1));
        if (cat !== undefined) {
          const body = String.fromCharCode(cat.marker) + cat.ascii;
          out += inside ? body : `[${body}]`;
          i = close;
          continue;
        }
      }
    }
    out += ch;
  }
  return out;
}

/** \s and \S as std::wregex reads them on text whose non-ASCII whitespace became \v. */
function plainRegex(regex: string): string {
  let out = "";
  let inside = false;
  for (let i = 0; i < regex.length; i++) {
    const ch = regex[i];
    if (ch === "\\" && i + 1 < regex.length) {
      const next = regex[i + 1];
      if (next === "s") out += inside ? "\\t-\\r " : "[\\t-\\r ]";
      else if (next === "S" && !inside) out += "[^\\t-\\r ]";
      else if (next === "S") throw new TokenizerError("bad_pretokenizer", `\\S inside a class is not supported: ${JSON.stringify(regex)}`);
      else out += ch + next;
      i++;
      continue;
    }
    if (ch === "[") inside = true;
    else if (ch === "]") inside = false;
    out += ch;
  }
  return out;
}

function prepare(regex: string): Step {
  const fn = customSplitter(regex);
  if (fn !== undefined) return { kind: "custom", fn };
  const step: Step = usesCategories(regex)
    ? { kind: "collapsed", source: collapseRegex(regex) }
    : { kind: "plain", source: plainRegex(regex) };
  try {
    new RegExp(step.source, step.kind === "plain" ? "gu" : "g");
  } catch (e) {
    throw new TokenizerError("bad_pretokenizer", `regex ${JSON.stringify(regex)} does not compile: ${String(e)}`, { cause: e });
  }
  return step;
}

/** The collapsed text: one UTF-16 unit per code point. */
function collapseText(cps: readonly number[]): string {
  const units = new Uint16Array(cps.length);
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i];
    if (cp < 128) {
      units[i] = cp;
      continue;
    }
    const f = cpClass(cp);
    units[i] =
      f & CP.WHITESPACE ? VT
      : f & CP.NUMBER ? MARKER.NUMBER
      : f & CP.LETTER ? MARKER.LETTER
      : f & CP.PUNCTUATION ? MARKER.PUNCTUATION
      : f & CP.ACCENT_MARK ? MARKER.ACCENT_MARK
      : f & CP.SYMBOL ? MARKER.SYMBOL
      : MARKER.OTHER;
  }
  let s = "";
  const CHUNK = 8192; // fromCharCode's argument count is limited
  for (let i = 0; i < units.length; i += CHUNK) s += String.fromCharCode(...units.subarray(i, i + CHUNK));
  return s;
}

/** The text for plain regexes (non-ASCII whitespace → \v), and where each code point starts in it. */
function plainText(cps: readonly number[]): { text: string; unitAt: Int32Array } {
  const unitAt = new Int32Array(cps.length + 1);
  let text = "";
  let u = 0;
  for (let i = 0; i < cps.length; i++) {
    unitAt[i] = u;
    const cp = cps[i] >= 128 && isWhitespace(cps[i]) ? VT : cps[i];
    text += String.fromCodePoint(cp);
    u += cpUnits(cp);
  }
  unitAt[cps.length] = u;
  return { text, unitAt };
}

/**
 * Runs one regex over each piece: matches and the gaps between them become pieces. A zero-length
 * match only splits (llama.cpp emits an empty word there, which tokenizes to nothing).
 */
function regexPieces(
  re: RegExp,
  text: string,
  pieces: readonly number[],
  unitAt: Int32Array | undefined,
): number[] {
  const out: number[] = [];
  let cpStart = 0;
  for (const len of pieces) {
    const u0 = unitAt ? unitAt[cpStart] : cpStart;
    const u1 = unitAt ? unitAt[cpStart + len] : cpStart + len;
    const sub = text.slice(u0, u1);
    // Code point count of sub[a, b): units, minus one per surrogate pair when astral characters exist.
    const cpsIn = (a: number, b: number): number => {
      if (!unitAt) return b - a;
      let n = 0;
      for (let k = a; k < b; k++) {
        const c = sub.charCodeAt(k);
        if (c < 0xdc00 || c > 0xdfff) n++;
      }
      return n;
    };
    re.lastIndex = 0;
    let last = 0;
    for (let m = re.exec(sub); m !== null; m = re.exec(sub)) {
      if (m.index > last) out.push(cpsIn(last, m.index));
      const mlen = m[0].length;
      if (mlen > 0) out.push(cpsIn(m.index, m.index + mlen));
      else re.lastIndex = m.index + (unitAt && sub.codePointAt(m.index)! >= 0x10000 ? 2 : 1);
      last = m.index + mlen;
    }
    if (last < sub.length) out.push(cpsIn(last, sub.length));
    cpStart += len;
  }
  return out;
}

/** A list of llama.cpp pre-tokenizer regexes, prepared once; split() holds no state between calls. */
export class RegexSplitter {
  private readonly steps: readonly Step[];

  constructor(regexes: readonly string[]) {
    this.steps = regexes.map(prepare);
  }

  /** Splits well-formed text into words (substrings of `text`, in order, covering it). */
  split(text: string): string[] {
    if (text.length === 0) return [];
    const cps = codePoints(text);
    let pieces: number[] = [cps.length];
    let collapsed: string | undefined;
    let plain: { text: string; unitAt: Int32Array } | undefined;
    for (const step of this.steps) {
      if (step.kind === "custom") {
        pieces = step.fn(cps, pieces);
      } else if (step.kind === "collapsed") {
        collapsed ??= collapseText(cps);
        pieces = regexPieces(new RegExp(step.source, "g"), collapsed, pieces, undefined);
      } else {
        plain ??= plainText(cps);
        pieces = regexPieces(new RegExp(step.source, "gu"), plain.text, pieces, plain.unitAt);
      }
    }
    const words: string[] = [];
    let u = 0;
    let c = 0;
    for (const len of pieces) {
      let units = 0;
      for (let k = 0; k < len; k++) units += cpUnits(cps[c + k]);
      words.push(text.slice(u, u + units));
      u += units;
      c += len;
    }
    return words;
  }
}
