// An open-addressing hash table from a pair of non-negative int32 keys to an int32 value, in typed
// arrays: the matcher's transition caches are looked up once per trie node, so they must not box
// keys (a Map keyed by set × 0x110000 + code point hashes heap numbers).

export class PairTable {
  private keyA: Int32Array;
  private keyB: Int32Array;
  private vals: Int32Array;
  private mask: number;
  private count = 0;

  constructor(capacityLog2 = 12) {
    const cap = 1 << capacityLog2;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /** The value stored for (a, b), or -1. */
  get(a: number, b: number): number {
    let h = hash(a, b) & this.mask;
    for (;;) {
      const ka = this.keyA[h];
      if (ka === -1) return -1;
      if (ka === a && this.keyB[h] === b) return this.vals[h];
      h = (h + 1) & this.mask;
    }
  }

  set(a: number, b: number, v: number): void {
    if ((this.count + 1) * 2 > this.keyA.length) this.grow();
    let h = hash(a, b) & this.mask;
    for (;;) {
      const ka = this.keyA[h];
      if (ka === -1) {
        this.keyA[h] = a;
        this.keyB[h] = b;
        this.vals[h] = v;
        this.count++;
        return;
      }
      if (ka === a && this.keyB[h] === b) {
        this.vals[h] = v;
        return;
      }
      h = (h + 1) & this.mask;
    }
  }

  private grow(): void {
    const { keyA, keyB, vals } = this;
    const cap = keyA.length * 2;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
    this.count = 0;
    for (let i = 0; i < keyA.length; i++) if (keyA[i] !== -1) this.set(keyA[i], keyB[i], vals[i]);
  }
}

function hash(a: number, b: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) ^ (h >>> 13);
}
