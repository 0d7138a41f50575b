// Incremental UTF-8 decoding for the matcher: a token may end inside a character (byte tokens, byte
// fallback), so the decoder state travels from one token to the next, as llama.cpp's
// llama_partial_utf8. The state is packed in one integer to keep the hot loops allocation-free:
// (value << 3) | (remaining + 1), where remaining is the number of continuation bytes still due
// (0: at a character boundary, `value` is the last complete code point) and -1 marks an invalid
// sequence (packed state 0).

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
  return state >>> 3;
}

/**
 * The state after one more byte. Unlike llama.cpp (which trusts bytes inside a sequence), a
 * non-continuation byte where one is due, a stray continuation byte and the never-valid leads
 * F8–FF make the sequence invalid; real vocabularies only have tokens that are substrings of valid
 * UTF-8, for which both agree.
 */
export function utf8Step(state: number, b: number): number {
  const remaining = (state & 7) - 1;
  if (remaining <= 0) {
    if (remaining < 0) return UTF8_INVALID;
    if (b < 0x80) return (b << 3) | 1;
    if (b < 0xc0) return UTF8_INVALID;
    if (b < 0xe0) return ((b & 0x1f) << 3) | 2;
    if (b < 0xf0) return ((b & 0x0f) << 3) | 3;
    if (b < 0xf8) return ((b & 0x07) << 3) | 4;
    return UTF8_INVALID;
  }
  if ((b & 0xc0) !== 0x80) return UTF8_INVALID;
  return ((((state >>> 3) << 6) | (b & 0x3f)) << 3) | remaining; // remaining − 1, plus the +1 bias
}
