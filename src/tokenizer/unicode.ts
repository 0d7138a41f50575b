// The Unicode facts the tokenizers need, as llama.cpp's src/unicode.cpp defines them:
// code point classes (letter, number, punctuation, mark, symbol, whitespace), lower-casing, the Han
// ranges, UTF-8 helpers, and GPT-2's byte-to-unicode table used to store byte-level BPE tokens.
//
// Categories come from the JS engine's Unicode tables (\p{…} with the `u` flag). llama.cpp ships its
// own tables (unicode-data.cpp, generated with Python's `regex` module), so code points assigned in a
// newer Unicode version than llama.cpp's may classify differently; every other code point agrees.

/** Class bits of one code point (a code point has exactly one of the category bits). */
export const CP = {
  NUMBER: 0x01, // \p{N}
  LETTER: 0x02, // \p{L}
  PUNCTUATION: 0x04, // \p{P}
  ACCENT_MARK: 0x08, // \p{M}
  SYMBOL: 0x10, // \p{S}
  WHITESPACE: 0x20, // llama.cpp's \s: the White_Space property (not JS's \s, which adds U+FEFF and drops U+0085)
  CONTROL: 0x40, // \p{C} without unassigned code points (llama.cpp's is_control: Cc Cf Co Cs)
  COMPUTED: 0x80, // cache marker
} as const;

/**
 * llama.cpp's whitespace set (unicode_set_whitespace, from Python `regex`'s \s = White_Space).
 * Kept as a class body so regex sources can embed it.
 */
export const WHITESPACE_CLASS = "\\t\\n\\v\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";

export function isWhitespace(cp: number): boolean {
  if (cp <= 0x20) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d);
  if (cp < 0x85) return false;
  return (
    cp === 0x85 || cp === 0xa0 || cp === 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 || cp === 0x2029 || cp === 0x202f || cp === 0x205f || cp === 0x3000
  );
}

const RE_LETTER = /\p{L}/u;
const RE_NUMBER = /\p{N}/u;
const RE_PUNCT = /\p{P}/u;
const RE_MARK = /\p{M}/u;
const RE_SYMBOL = /\p{S}/u;
const RE_CONTROL = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u;

function computeClass(cp: number): number {
  const ch = String.fromCodePoint(cp);
  let f = 0;
  if (RE_LETTER.test(ch)) f = CP.LETTER;
  else if (RE_NUMBER.test(ch)) f = CP.NUMBER;
  else if (RE_PUNCT.test(ch)) f = CP.PUNCTUATION;
  else if (RE_MARK.test(ch)) f = CP.ACCENT_MARK;
  else if (RE_SYMBOL.test(ch)) f = CP.SYMBOL;
  else if (RE_CONTROL.test(ch)) f = CP.CONTROL;
  if (isWhitespace(cp)) f |= CP.WHITESPACE;
  return f;
}

// Unicode facts, not vocabulary state: filled lazily for the BMP (64 KiB), astral planes computed on
// demand. A regex test costs ~50 ns; the cache makes repeated characters free.
const bmpClass = new Uint8Array(0x10000);

/** The class bits of a code point (0 for separators, controls and unassigned ones). */
export function cpClass(cp: number): number {
  if (cp >= 0x10000) return computeClass(cp);
  let f = bmpClass[cp];
  if (f === 0) {
    f = computeClass(cp) | CP.COMPUTED;
    bmpClass[cp] = f;
  }
  return f & ~CP.COMPUTED;
}

export const isLetter = (cp: number): boolean => (cpClass(cp) & CP.LETTER) !== 0;
export const isNumber = (cp: number): boolean => (cpClass(cp) & CP.NUMBER) !== 0;

/** First code point of the full lower-case mapping, as llama.cpp's table (Python's `ch.lower()[0]`). */
export function toLower(cp: number): number {
  if (cp < 0x80) return cp >= 0x41 && cp <= 0x5a ? cp + 0x20 : cp;
  return String.fromCodePoint(cp).toLowerCase().codePointAt(0) ?? cp;
}

// llama.cpp's unicode_cpts_normalize_nfd maps each code point to the FIRST code point of its NFD
// (its table is built from Python's unicodedata.normalize('NFD', ch)[0]): "é" → "e", a Hangul
// syllable → its leading jamo. BMP results are cached (0 = not computed yet; U+0000 maps to itself).
const bmpNfd = new Uint16Array(0x10000);

function computeNfdFirst(cp: number): number {
  return String.fromCodePoint(cp).normalize("NFD").codePointAt(0) ?? cp;
}

/** llama.cpp's per-code-point NFD: the first code point of the canonical decomposition. */
export function nfdFirst(cp: number): number {
  if (cp >= 0x10000) return computeNfdFirst(cp);
  let r = bmpNfd[cp];
  if (r === 0 && cp !== 0) {
    r = computeNfdFirst(cp);
    bmpNfd[cp] = r;
  }
  return r;
}

/** llama.cpp's unicode_cpt_is_han: CJK ideograph blocks. */
export function isHan(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0x2ceb0 && cp <= 0x2ebef) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

// --- UTF-8 --------------------------------------------------------------------------------------

const encoder = new TextEncoder();

export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

/** A decoder that keeps a leading U+FEFF (the default would drop it as a BOM) and never throws. */
export function newUtf8Decoder(): TextDecoder {
  return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
}

/**
 * The string with lone surrogates replaced by U+FFFD: what the text is as UTF-8 (TextEncoder does the
 * same), so code point offsets agree with llama.cpp's, which only ever sees UTF-8.
 */
export function wellFormed(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return utf8Decode(encoder.encode(s));
  }
  return s;
}

function utf8Decode(b: Uint8Array): string {
  return newUtf8Decoder().decode(b);
}

/** Code points of a well-formed string. */
export function codePoints(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out.push(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000);
        i++;
        continue;
      }
    }
    out.push(c);
  }
  return out;
}

/** UTF-16 units of a code point: where the next character starts. */
export const cpUnits = (cp: number): number => (cp >= 0x10000 ? 2 : 1);

// --- GPT-2 byte-level encoding --------------------------------------------------------------------
// Byte-level BPE vocabularies store every byte as a printable character: the printable Latin-1
// bytes (! to ~, ¡ to ¬, ® to ÿ) stand for themselves, the other 68 bytes for U+0100 upward in byte
// order (so the space 0x20 is "Ġ" U+0120 and the newline 0x0A is "Ċ" U+010A).

function buildByteToChar(): string[] {
  const map: string[] = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    map[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return map;
}

/** byte → its character in byte-level BPE vocabularies. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** character code (U+0000..U+0143) → byte, or -1 for characters that stand for no byte. */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const inv = new Int16Array(0x144).fill(-1);
  for (let b = 0; b < 256; b++) inv[BYTE_TO_CHAR[b].charCodeAt(0)] = b;
  return inv;
})();

/** A word's UTF-8 bytes written as byte-level characters (llama.cpp's unicode_byte_encoding_process). */
export function byteEncode(word: string): string {
  const bytes = encoder.encode(word);
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]];
  return s;
}
