// An independent, deliberately naive matcher for checking the real one: llama.cpp's algorithm
// spelled out over plain arrays (a stack is an array of grammar positions, no interning, no caches),
// deciding for one token at a time whether the grammar allows it.

import type { Grammar } from "../../src/grammar/index.js";

const END = 0, ALT = 1, REF = 2, CHAR = 3, NOT = 4, UPPER = 5, CALT = 6, ANY = 7;

export class ReferenceMatcher {
  private readonly t: Uint8Array;
  private readonly v: Int32Array;
  private readonly start: Int32Array;
  stacks: number[][];

  constructor(g: Grammar) {
    this.t = g.rules.types;
    this.v = g.rules.values;
    this.start = g.rules.ruleStart;
    this.stacks = [];
    let p = this.start[g.rules.root];
    for (;;) {
      this.advance(this.isEnd(p) ? [] : [p], this.stacks);
      while (!this.isEnd(p)) p++;
      if (this.t[p] !== ALT) break;
      p++;
    }
  }

  private isEnd(p: number): boolean {
    return this.t[p] === END || this.t[p] === ALT;
  }

  private advance(stack: number[], out: number[][]): void {
    const todo = [stack];
    const seen = new Set<string>();
    while (todo.length) {
      const s = todo.pop() as number[];
      const key = s.join(",");
      if (seen.has(key)) continue;
      seen.add(key);
      if (s.length === 0 || this.t[s[s.length - 1]] !== REF) {
        if (!out.some((o) => o.join(",") === key)) out.push(s);
        continue;
      }
      const pos = s[s.length - 1];
      let sub = this.start[this.v[pos]];
      for (;;) {
        const next = s.slice(0, -1);
        if (!this.isEnd(pos + 1)) next.push(pos + 1);
        if (!this.isEnd(sub)) next.push(sub);
        todo.push(next);
        while (!this.isEnd(sub)) sub++;
        if (this.t[sub] !== ALT) break;
        sub++;
      }
    }
  }

  /** [matches, position after the set] for a character set at p */
  private match(p0: number, lo: number, hi: number): [boolean, boolean, number] {
    // returns [some member intersects [lo, hi], positive set, end position]
    const positive = this.t[p0] !== NOT;
    let p = p0;
    let hit = false;
    do {
      if (this.t[p + 1] === UPPER) {
        hit ||= this.v[p] <= hi && lo <= this.v[p + 1];
        p += 2;
      } else if (this.t[p] === ANY) {
        hit = true;
        p++;
      } else {
        hit ||= lo <= this.v[p] && this.v[p] <= hi;
        p++;
      }
    } while (this.t[p] === CALT);
    return [hit, positive, p];
  }

  step(stacks: number[][], cp: number): number[][] {
    const out: number[][] = [];
    for (const s of stacks) {
      if (s.length === 0) continue;
      const pos = s[s.length - 1];
      const t = this.t[pos];
      if (t !== CHAR && t !== NOT && t !== ANY) continue;
      const [hit, positive, after] = this.match(pos, cp, cp);
      if (hit !== positive) continue;
      const next = s.slice(0, -1);
      if (!this.isEnd(after)) next.push(after);
      this.advance(next, out);
    }
    return out;
  }

  /** Whether some stack can still match a character in [lo, hi] (a partial character's completions). */
  canMatchRange(stacks: number[][], lo: number, hi: number): boolean {
    return stacks.some((s) => {
      if (s.length === 0) return false;
      const pos = s[s.length - 1];
      const t = this.t[pos];
      if (t !== CHAR && t !== NOT && t !== ANY) return false;
      const [hit, positive] = this.match(pos, lo, hi);
      if (positive) return hit;
      // a negated set: some code point in [lo, hi] outside every member
      for (let cp = lo; cp <= hi; cp++) if (!this.match(pos, cp, cp)[0]) return true;
      return false;
    });
  }

  /** Whether the token's bytes (well-formed UTF-8 so far, possibly cut mid-character) are allowed. */
  allows(bytes: Uint8Array): boolean {
    if (bytes.length === 0 || bytes.includes(0)) return false;
    let stacks = this.stacks;
    let i = 0;
    while (i < bytes.length) {
      const b = bytes[i];
      const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
      if (len === 0) return false;
      let cp = len === 1 ? b : b & (0xff >> (len + 1));
      const have = Math.min(len, bytes.length - i);
      for (let k = 1; k < have; k++) {
        if ((bytes[i + k] & 0xc0) !== 0x80) return false;
        cp = (cp << 6) | (bytes[i + k] & 0x3f);
      }
      if (have < len) {
        const shift = 6 * (len - have);
        const lo = Math.max(cp << shift, len === 3 ? 0x800 : len === 4 ? 0x10000 : 0x80);
        const hi = Math.min((cp << shift) | ((1 << shift) - 1), 0x10ffff);
        return lo <= hi && this.canMatchRange(stacks, lo, hi);
      }
      if ((len === 3 && cp < 0x800) || (len === 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) return false;
      stacks = this.step(stacks, cp);
      if (stacks.length === 0) return false;
      i += len;
    }
    return true;
  }

  acceptText(text: string): void {
    for (const ch of text) this.stacks = this.step(this.stacks, ch.codePointAt(0) as number);
  }
}
