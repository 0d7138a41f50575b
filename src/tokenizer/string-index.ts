// A read-only string → index table over an array of keys, for the vocabulary (token text → id) and
// the BPE merges (merge line → rank).
//
// Why not a Map: Gemma 4 has 262,144 tokens and 514,906 merges. Building Maps of that many fresh
// strings took ~600 ms (measured: 190 ms for the tokens, 420 ms for the merges), mostly hashing and
// rehashing inside V8 plus the garbage of the growing tables. Here the keys stay in the array they
// came in (no copies) and the table is one Int32Array sized once (open addressing, linear probing,
// load factor <= 1/2) holding [key index, key hash] pairs: a probe compares hashes first, so it
// reads a key string only when the hashes agree (storing the hash halved the build time again).

/** FNV-1a over UTF-16 code units (any well-mixed hash works; this one is short and fast in JS). */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  // A final mix so that keys differing only in their last unit do not land in adjacent slots.
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}

export class StringIndex {
  private readonly keys: readonly string[];
  /** Slot s holds table[2s] = key index (-1: empty) and table[2s + 1] = that key's hash. */
  private readonly table: Int32Array;
  private readonly mask: number;

  /**
   * Indexes `keys[i]` for every i with `accept(i)` (default: all). A key seen twice keeps its first
   * index; `onDuplicate` is told of the later one.
   */
  constructor(keys: readonly string[], accept?: (i: number) => boolean, onDuplicate?: (first: number, later: number) => void) {
    this.keys = keys;
    let cap = 16;
    while (cap < keys.length * 2) cap *= 2;
    this.table = new Int32Array(cap * 2).fill(-1);
    this.mask = cap - 1;
    for (let i = 0; i < keys.length; i++) {
      if (accept !== undefined && !accept(i)) continue;
      const h = hashString(keys[i]);
      const slot = this.slotOf(keys[i], h);
      const found = this.table[2 * slot];
      if (found < 0) {
        this.table[2 * slot] = i;
        this.table[2 * slot + 1] = h;
      } else {
        onDuplicate?.(found, i);
      }
    }
  }

  /** The index of `key`, or undefined. */
  get(key: string): number | undefined {
    const i = this.table[2 * this.slotOf(key, hashString(key))];
    return i < 0 ? undefined : i;
  }

  has(key: string): boolean {
    return this.table[2 * this.slotOf(key, hashString(key))] >= 0;
  }

  /** The slot holding `key` (whose hash is `h`), or the empty slot where it would go. */
  private slotOf(key: string, h: number): number {
    const { table, keys, mask } = this;
    let s = h & mask;
    for (;;) {
      const i = table[2 * s];
      if (i < 0 || (table[2 * s + 1] === h && keys[i] === key)) return s;
      s = (s + 1) & mask;
    }
  }
}
