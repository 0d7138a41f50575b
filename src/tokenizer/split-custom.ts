// llama.cpp's hand-written matchers for its most used pre-tokenizer regexes (unicode.cpp:
// unicode_regex_split_custom_*). llama.cpp dispatches on the exact regex text, so a table entry that
// equals one of these strings is split by the matcher below, not by a regex engine; the matchers define
// the behaviour (they are what the reference token ids were produced with).
//
// Each splitter takes the text's code points and the current pieces (lengths in code points, covering
// the text) and returns the finer pieces. Matching never crosses a piece boundary: a position outside
// the piece reads as "no character" (OUT), whose class is 0.

import { CP, cpClass, isHan, toLower } from "./unicode.js";

export type Splitter = (cps: readonly number[], pieces: readonly number[]) => number[];

const OUT = -1;
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const APOSTROPHE = 0x27;

/** Pattern text that selects the GPT-2 matcher. */
export const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
/** Llama 3's pattern as in tokenizer.json; selects the Llama 3 matcher (never compiled). */
export const LLAMA3_REGEX_ORIGINAL =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Llama 3's pattern with the case-insensitive group expanded; also selects the Llama 3 matcher. */
export const LLAMA3_REGEX =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Kimi-K2's trigger: its whole pattern set is one matcher. */
export const KIMI_K2_REGEX = "\\p{Han}+";
/** AFMoE's digit grouping trigger. */
export const AFMOE_DIGITS_REGEX = "\\p{AFMoE_digits}";
/** Tiny Aya's digit grouping; llama.cpp runs it with the AFMoE matcher (\p{N}, not \d). */
export const TINY_AYA_DIGITS_REGEX = "\\d{1,3}(?=(?:\\d{3})*\\b)";
/** Qwen2's pattern (Llama 3's with single digits), case-insensitive group expanded. */
export const QWEN2_REGEX =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen3.5's: Qwen2's with combining marks inside letter runs and outside punctuation runs. */
export const QWEN35_REGEX =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Runs of non-newlines and runs of newlines (Gemma 4, Sarvam, Laguna). */
export const LINES_REGEX = "[^\\n]+|[\\n]+";

/** The matcher llama.cpp uses for this exact regex text, if any (unicode_regex_split_custom). */
export function customSplitter(regex: string): Splitter | undefined {
  if (regex === GPT2_REGEX) return splitGpt2;
  if (regex === LLAMA3_REGEX || regex === LLAMA3_REGEX_ORIGINAL) return splitLlama3;
  if (regex === QWEN2_REGEX) return splitQwen2;
  if (regex === QWEN35_REGEX) return splitQwen35;
  if (regex === KIMI_K2_REGEX) return splitKimiK2;
  if (regex === AFMOE_DIGITS_REGEX || regex === TINY_AYA_DIGITS_REGEX) return splitAfmoe;
  if (regex === LINES_REGEX) return splitLines;
  return undefined;
}

/** Per-piece cursor helpers shared by the matchers. */
class Piece {
  prevEnd: number;
  constructor(
    private readonly cps: readonly number[],
    readonly ini: number,
    readonly end: number,
    private readonly out: number[],
  ) {
    this.prevEnd = ini;
  }
  cpt(pos: number): number {
    return pos >= this.ini && pos < this.end ? this.cps[pos] : OUT;
  }
  flags(pos: number): number {
    return pos >= this.ini && pos < this.end ? cpClass(this.cps[pos]) : 0;
  }
  /** Ends the current word at `end`; returns its length. */
  add(end: number): number {
    const len = end - this.prevEnd;
    if (len > 0) this.out.push(len);
    this.prevEnd = end;
    return len;
  }
}

function forEachPiece(cps: readonly number[], pieces: readonly number[], body: (p: Piece) => void): number[] {
  const out: number[] = [];
  let start = 0;
  for (const len of pieces) {
    body(new Piece(cps, start, start + len, out));
    start += len;
  }
  return out;
}

const isWs = (f: number): boolean => (f & CP.WHITESPACE) !== 0;
const isL = (f: number): boolean => (f & CP.LETTER) !== 0;
const isN = (f: number): boolean => (f & CP.NUMBER) !== 0;
/** [^\s\p{L}\p{N}] for a position inside the piece (flags 0 also means "outside"). */
const isOther = (f: number, inside: boolean): boolean => inside && !(f & (CP.WHITESPACE | CP.LETTER | CP.NUMBER));

/** Matches 's 't 'm 'd 're 've 'll at pos (optionally case-insensitive); returns the match length or 0. */
function contraction(p: Piece, pos: number, fold: boolean): number {
  if (p.cpt(pos) !== APOSTROPHE || pos + 1 >= p.end) return 0;
  const low = (c: number): number => (fold && c !== OUT ? toLower(c) : c);
  const n1 = low(p.cpt(pos + 1));
  if (n1 === 0x73 || n1 === 0x74 || n1 === 0x6d || n1 === 0x64) return 2; // s t m d
  if (pos + 2 < p.end) {
    const n2 = low(p.cpt(pos + 2));
    if ((n1 === 0x72 && n2 === 0x65) || (n1 === 0x76 && n2 === 0x65) || (n1 === 0x6c && n2 === 0x6c)) return 3; // re ve ll
  }
  return 0;
}

/** The whitespace tail shared by the matchers: \s*[\r\n]+ (if `newlines`), \s+(?!\S), \s+, or one char. */
function whitespaceTail(p: Piece, pos: number, newlines: boolean): number {
  let n = 0;
  let lastNl = 0;
  while (isWs(p.flags(pos + n))) {
    const c = p.cpt(pos + n);
    if (c === CR || c === LF) lastNl = pos + n + 1;
    n++;
  }
  if (newlines && lastNl > 0) {
    p.add(lastNl);
    return lastNl;
  }
  // \s+(?!\S): a run followed by a non-space leaves its last whitespace to the next word.
  if (n > 1 && p.cpt(pos + n) !== OUT) {
    p.add(pos + n - 1);
    return pos + n - 1;
  }
  if (n > 0) {
    p.add(pos + n);
    return pos + n;
  }
  p.add(pos + 1); // no alternative matched: the character is a word of its own
  return pos + 1;
}

/** 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
export const splitGpt2: Splitter = (cps, pieces) =>
  forEachPiece(cps, pieces, (p) => {
    for (let pos = p.ini; pos < p.end; ) {
      const cpt = p.cpt(pos);
      const c = contraction(p, pos, false);
      if (c > 0) {
        pos += p.add(pos + c);
        continue;
      }
      const lead = cpt === SPACE ? 1 : 0;
      let f2 = lead ? p.flags(pos + 1) : p.flags(pos);
      if (isL(f2) || isN(f2)) {
        const want = isL(f2) ? CP.LETTER : CP.NUMBER;
        pos += lead;
        while (f2 & want) f2 = p.flags(++pos);
        p.add(pos);
        continue;
      }
      if (isOther(f2, lead ? pos + 1 < p.end : true)) {
        pos += lead;
        while (isOther(f2, pos < p.end)) f2 = p.flags(++pos);
        p.add(pos);
        continue;
      }
      pos = whitespaceTail(p, pos, false);
    }
  });

/**
 * The Llama 3 family: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?WORD+|DIGITS| ?[^\s WORD \p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+ where WORD is \p{L} (Llama 3, Qwen2) or [\p{L}\p{M}] (Qwen3.5) and DIGITS
 * is \p{N}{1,3} (Llama 3) or \p{N} (Qwen2, Qwen3.5): llama.cpp's three matchers differ only there.
 */
function llamaFamily(word: number, maxDigits: 1 | 3): Splitter {
  return (cps, pieces) =>
    forEachPiece(cps, pieces, (p) => {
      for (let pos = p.ini; pos < p.end; ) {
        const cpt = p.cpt(pos);
        const flags = p.flags(pos);
        const c = contraction(p, pos, true);
        if (c > 0) {
          pos += p.add(pos + c);
          continue;
        }
        if (!(cpt === CR || cpt === LF || isN(flags)) && (flags & word || p.flags(pos + 1) & word)) {
          pos++;
          while (p.flags(pos) & word) pos++;
          p.add(pos);
          continue;
        }
        if (isN(flags)) {
          if (maxDigits === 3) pos = digitsUpTo3(p, pos);
          else p.add(++pos);
          continue;
        }
        if (otherRun(p, pos, cpt, flags, word)) {
          pos = p.prevEnd;
          continue;
        }
        pos = whitespaceTail(p, pos, true);
      }
    });
}

export const splitLlama3: Splitter = llamaFamily(CP.LETTER, 3);
export const splitQwen2: Splitter = llamaFamily(CP.LETTER, 1);
export const splitQwen35: Splitter = llamaFamily(CP.LETTER | CP.ACCENT_MARK, 1);

/** \p{N}{1,3}, repeated: digits in groups of three from the left. */
function digitsUpTo3(p: Piece, pos: number): number {
  let ini = pos;
  while (isN(p.flags(pos))) {
    if (++pos - ini >= 3) {
      p.add(pos);
      ini = pos;
    }
  }
  p.add(pos);
  return pos;
}

/**
 * " ?[^\s\p{L}\p{N}]+[\r\n]*" (with `word` = \p{L}, or [\p{L}\p{M}] for Qwen3.5); llama.cpp tests the
 * current character's flags for the entry check.
 */
function otherRun(p: Piece, pos: number, cpt: number, flags: number, word: number = CP.LETTER): boolean {
  const stop = CP.WHITESPACE | CP.NUMBER | word;
  let f2 = cpt === SPACE ? p.flags(pos + 1) : flags;
  if (!(!(f2 & stop) && pos < p.end)) return false;
  pos += cpt === SPACE ? 1 : 0;
  while (pos < p.end && !(f2 & stop)) f2 = p.flags(++pos);
  let c2 = p.cpt(pos);
  while (c2 === CR || c2 === LF) c2 = p.cpt(++pos);
  p.add(pos);
  return true;
}

/**
 * Kimi-K2: [\p{Han}]+ | letter words without Han, with an optional leading non-letter and optional
 * contraction | \p{N}{1,3} | ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 */
export const splitKimiK2: Splitter = (cps, pieces) =>
  forEachPiece(cps, pieces, (p) => {
    const letterNotHan = (pos: number): boolean => isL(p.flags(pos)) && !isHan(p.cpt(pos));
    for (let pos = p.ini; pos < p.end; ) {
      const cpt = p.cpt(pos);
      const flags = p.flags(pos);
      if (isHan(cpt)) {
        while (isHan(p.cpt(pos))) pos++;
        p.add(pos);
        continue;
      }
      const leadable = !(cpt === CR || cpt === LF || isL(flags) || isN(flags));
      if ((isL(flags) && !isHan(cpt)) || (leadable && letterNotHan(pos + 1))) {
        const lead = leadable;
        if (lead) pos++;
        let hasLetters = false;
        while (letterNotHan(pos)) {
          hasLetters = true;
          pos++;
        }
        if (hasLetters || (!lead && letterNotHan(pos))) {
          if (!hasLetters) pos++;
          while (letterNotHan(pos)) pos++;
          pos += contraction(p, pos, true);
          p.add(pos);
          continue;
        } else if (lead) {
          pos--;
        }
      }
      if (isN(flags)) {
        pos = digitsUpTo3(p, pos);
        continue;
      }
      // Unlike Llama 3's, Kimi's entry check looks at the character after an optional space.
      const f2 = cpt === SPACE ? p.flags(pos + 1) : flags;
      if (isOther(f2, cpt === SPACE ? pos + 1 < p.end : true)) {
        otherRun(p, pos, cpt, flags);
        pos = p.prevEnd;
        continue;
      }
      pos = whitespaceTail(p, pos, true);
    }
  });

/** AFMoE: runs of digits split as 1-2 leading digits then groups of three; other text stays whole. */
export const splitAfmoe: Splitter = (cps, pieces) =>
  forEachPiece(cps, pieces, (p) => {
    for (let pos = p.ini; pos < p.end; ) {
      if (!isN(p.flags(pos))) {
        pos++;
        continue;
      }
      const digitStart = pos;
      while (pos < p.end && isN(p.flags(pos))) pos++;
      const count = pos - digitStart;
      let cur = digitStart;
      const rem = count % 3;
      if (rem > 0) {
        p.add(cur + rem);
        cur += rem;
      }
      while (cur < digitStart + count) {
        p.add(cur + 3);
        cur += 3;
      }
    }
    if (p.prevEnd < p.end) p.add(p.end);
  });

/** [^\n]+|[\n]+ : runs of newlines and runs of anything else. */
export const splitLines: Splitter = (cps, pieces) => {
  const out: number[] = [];
  let pos = 0;
  for (const len of pieces) {
    const end = pos + len;
    while (pos < end) {
      const nl = cps[pos] === LF;
      const start = pos;
      while (pos < end && (cps[pos] === LF) === nl) pos++;
      out.push(pos - start);
    }
  }
  return out;
};
