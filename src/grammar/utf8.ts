// Incremental UTF-8 decoding for the matcher: a token may end inside a character (byte tokens, byte
// fallback), so the decoder state travels from one token to the next, as llama.cpp's
// llama_partial_utf8. The state is packed in one integer to keep the hot loops allocation-free:
// (value << 4) | (lead << 3) | (remaining + 1), where remaining is the number of continuation bytes
// still due (0: at a character boundary, `value` is the last complete code point; -1: invalid, the
// packed state 0) and `lead` marks that the last byte was a lead byte.
//
// Decoding is strict (well-formed UTF-8 only: no overlong forms, surrogates or code points above
// U+10FFFF; llama.cpp trusts the bytes instead). Real vocabularies only hold pieces of valid UTF-8,
// on which both agree.

/** Packed state of an invalid sequence: no grammar can match it. */
export const UTF8_INVALID = 0;
/** Packed state at a character boundary. */
export const UTF8_START = 1;

/** Continuation bytes still due (0 at a boundary, -1 when invalid). */
export function utf8Remaining(state: number): number {
  return (state & 7) - 1;
}

/** The code point decoded so far (complete when utf8Remaining is 0). */
export function utf8Value(state: number): number {
  return state >>> 4;
}

/** The state after one more byte. */
export function utf8Step(state: number, b: number): number {
  const remaining = (state & 7) - 1;
  if (remaining <= 0) {
    if (remaining < 0) return UTF8_INVALID;
    if (b < 0x80) return (b << 4) | 1;
    if (b < 0xc2) return UTF8_INVALID; // a stray continuation byte, or an overlong 2-byte lead
    if (b < 0xe0) return ((b & 0x1f) << 4) | 8 | 2;
    if (b < 0xf0) return ((b & 0x0f) << 4) | 8 | 3;
    if (b < 0xf5) return ((b & 0x07) << 4) | 8 | 4;
    return UTF8_INVALID;
  }
  if ((b & 0xc0) !== 0x80) return UTF8_INVALID;
  const value = state >>> 4;
  if (state & 8) {
    // the byte after a lead: the ranges that rule out overlong forms, surrogates and > U+10FFFF
    if (remaining === 2 && ((value === 0 && b < 0xa0) || (value === 0x0d && b > 0x9f))) return UTF8_INVALID;
    if (remaining === 3 && ((value === 0 && b < 0x90) || (value === 4 && b > 0x8f))) return UTF8_INVALID;
  }
  return (((value << 6) | (b & 0x3f)) << 4) | remaining; // remaining − 1, plus the +1 bias
}

/** The code points a partial character (value so far, `remaining` bytes due) can still complete to. */
export function partialRange(value: number, remaining: number): [number, number] {
  let low = value << (remaining * 6);
  const high = Math.min(low | ((1 << (remaining * 6)) - 1), 0x10ffff);
  if (remaining === 3) low = Math.max(low, 0x10000);
  else if (remaining === 2 && value < 0x10) low = Math.max(low, 0x800);
  return [low, high];
}
