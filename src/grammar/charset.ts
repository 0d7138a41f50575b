// Character sets in the flat element arrays (a CHAR / CHAR_NOT / CHAR_ANY element followed by
// CHAR_ALT members, each possibly a range with CHAR_RNG_UPPER), and the typed-array growth helper.

import { CHAR_ALT, CHAR_ANY, CHAR_NOT, CHAR_RNG_UPPER } from "./rules.js";

/** Whether code point `cp` is in the character set starting at `pos` (llama_grammar_match_char). */
export function matchChar(types: Uint8Array, values: Int32Array, pos: number, cp: number): boolean {
  const positive = types[pos] !== CHAR_NOT;
  let found = false;
  let p = pos;
  do {
    if (types[p + 1] === CHAR_RNG_UPPER) {
      found ||= values[p] <= cp && cp <= values[p + 1];
      p += 2;
    } else if (types[p] === CHAR_ANY) {
      found = true;
      p += 1;
    } else {
      found ||= values[p] === cp;
      p += 1;
    }
  } while (types[p] === CHAR_ALT);
  return found === positive;
}

/**
 * How the members of the character set at `pos` (its ranges, ignoring negation) cover [lo, hi]:
 * 0 none of it, 2 all of it, 1 part of it.
 */
export function coverage(types: Uint8Array, values: Int32Array, pos: number, lo: number, hi: number): number {
  const hits: [number, number][] = [];
  let p = pos;
  do {
    let a: number;
    let b: number;
    if (types[p + 1] === CHAR_RNG_UPPER) {
      a = values[p];
      b = values[p + 1];
      p += 2;
    } else if (types[p] === CHAR_ANY) {
      a = 0;
      b = 0x7fffffff;
      p += 1;
    } else {
      a = b = values[p];
      p += 1;
    }
    if (a <= hi && lo <= b) hits.push([Math.max(a, lo), Math.min(b, hi)]);
  } while (types[p] === CHAR_ALT);
  if (hits.length === 0) return 0;
  hits.sort((x, y) => x[0] - y[0]);
  let next = lo;
  for (const [a, b] of hits) {
    if (a > next) return 1;
    next = Math.max(next, b + 1);
  }
  return next > hi ? 2 : 1;
}

/** The position after the character set starting at `pos`. */
export function charSetEnd(types: Uint8Array, pos: number): number {
  let p = pos;
  do p += types[p + 1] === CHAR_RNG_UPPER ? 2 : 1;
  while (types[p] === CHAR_ALT);
  return p;
}

export function grow<T extends Int32Array | Uint8Array>(a: T, cap: number): T {
  const b = new (a.constructor as new (n: number) => T)(cap);
  b.set(a);
  return b;
}
