// Coarse classes of code points, for skipping whole trie subtrees: the trie records which classes
// occur below each node, the matcher which classes leave a stack set unchanged (every code point of
// the class leads back to the same set, as inside a JSON string). Where every class below a node
// does, every token in its subtree is allowed without visiting it.

/** Bit of the class of sequences that are not valid UTF-8 (never absorbed). */
export const INVALID_CLASS = 1 << 31;

/** Inclusive code point ranges of each class, by bit. */
export const CLASS_RANGES: readonly (readonly [number, number])[][] = [
  [[0x00, 0x1f], [0x7f, 0x7f]], // controls
  [[0x20, 0x20]], // space
  [[0x22, 0x22]], // "
  [[0x5c, 0x5c]], // backslash
  [[0x30, 0x39]], // digits
  [[0x61, 0x7a]], // a-z
  [[0x41, 0x5a]], // A-Z
  [[0x21, 0x21], [0x23, 0x2f], [0x3a, 0x40], [0x5b, 0x5b], [0x5d, 0x60], [0x7b, 0x7e]], // other ASCII punctuation
  [[0x80, 0x7ff]], // 2-byte characters
  [[0x800, 0xd7ff], [0xe000, 0xffff]], // 3-byte characters (no surrogates)
  [[0x10000, 0x10ffff]], // 4-byte characters
];

/** The class bit of a complete code point. */
export function classOf(cp: number): number {
  if (cp < 0x80) {
    if (cp < 0x20 || cp === 0x7f) return 1 << 0;
    if (cp === 0x20) return 1 << 1;
    if (cp === 0x22) return 1 << 2;
    if (cp === 0x5c) return 1 << 3;
    if (cp >= 0x30 && cp <= 0x39) return 1 << 4;
    if (cp >= 0x61 && cp <= 0x7a) return 1 << 5;
    if (cp >= 0x41 && cp <= 0x5a) return 1 << 6;
    return 1 << 7;
  }
  if (cp < 0x800) return 1 << 8;
  if (cp < 0x10000) return 1 << 9;
  return 1 << 10;
}

/** The class bit of every completion of a partial character with `remaining` bytes due, by its total length. */
export function classOfPartial(value: number, remaining: number): number {
  // remaining 1: a 2-byte character (value < 0x20) or the last byte of a 3/4-byte one
  if (remaining === 1) return value < 0x20 ? 1 << 8 : value < 0x400 ? 1 << 9 : 1 << 10;
  if (remaining === 2) return value < 0x10 ? 1 << 9 : 1 << 10;
  return 1 << 10;
}
