// The sampler's seeded PRNG: xoshiro128** (Blackman & Vigna, 2018) with its 128-bit state expanded from a
// 32-bit seed by splitmix32. Only Math.imul, shifts and exact double arithmetic are used, so a seed gives
// the same stream on every JavaScript engine.

/** xoshiro128**: 32-bit outputs, period 2^128 − 1; four uint32 words of state. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** Starts from raw state words (not all zero); `fromSeed` is the usual way in. */
  constructor(s0: number, s1: number, s2: number, s3: number) {
    this.s0 = s0 | 0;
    this.s1 = s1 | 0;
    this.s2 = s2 | 0;
    this.s3 = s3 | 0;
  }

  /** The state for a 32-bit seed: four successive splitmix32 outputs, never all zero. */
  static fromSeed(seed: number): Xoshiro128 {
    const r = new Xoshiro128(1, 0, 0, 0);
    r.reseed(seed);
    return r;
  }

  /** Restarts the stream `fromSeed(seed)` would give, without allocating. */
  reseed(seed: number): void {
    let x = seed | 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return z ^ (z >>> 16);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    // splitmix32 is a bijection of its counter, so four zeros in a row cannot happen; kept as a guard.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next output as a uint32. */
  nextU32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** A uniform double in [0, 1) with 53 random bits (27 + 26 from two outputs, as in `genrand_res53`). */
  nextFloat(): number {
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
