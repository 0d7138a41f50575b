// The non-matmul kernels (assembly/ops.ts), in both SIMD flavours:
// 1. every SIMD kernel gives the same bits as its scalar twin;
// 2. where the kernel is specified as a sequence of f32 operations (ggml's), it gives the same bits as that
//    sequence replayed in JavaScript with Math.fround (exact: f64 arithmetic rounded once to f32 is
//    correctly rounded for + - * / sqrt of f32 operands);
// 3. against plain f64 mathematics within a tolerance derived next to each test.
import { describe, expect, it } from "vitest";
import { createEngine, type Engine, type SimdFlavour } from "../src/wasm/engine.js";
import { supportedFlavours } from "../src/wasm/features.js";
import { rng, randomF32 } from "./helpers/random.js";

const flavours: SimdFlavour[] = supportedFlavours();

const f = Math.fround;
/** The f32 unit roundoff 2^-24. */
const U = 2 ** -24;

// ── helpers ───────────────────────────────────────────────────────────────────────────────────────────

const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** A memory with helpers to place and read arrays. */
class Mem {
  constructor(readonly e: Engine) {}
  f32(src: Float32Array | number): number {
    const n = typeof src === "number" ? src : src.length;
    const p = this.e.alloc(Math.max(4 * n, 16), "test f32");
    if (typeof src !== "number") this.e.f32().set(src, p / 4);
    return p;
  }
  u16(src: Uint16Array | number): number {
    const n = typeof src === "number" ? src : src.length;
    const p = this.e.alloc(Math.max(2 * n, 16), "test u16");
    if (typeof src !== "number") new Uint16Array(this.e.memory.buffer).set(src, p / 2);
    return p;
  }
  readF32(p: number, n: number): Float32Array {
    return new Float32Array(this.e.memory.buffer.slice(p, p + 4 * n));
  }
  readU16(p: number, n: number): Uint16Array {
    return new Uint16Array(this.e.memory.buffer.slice(p, p + 2 * n));
  }
}

/** Parse a C hex-float literal such as "0x1.715476p+0" (so the tests read ggml's constants as ggml spells them). */
function hexFloat(s: string): number {
  const m = /^(-)?0x([0-9a-f]+)(?:\.([0-9a-f]*))?p([+-]?\d+)f?$/i.exec(s);
  if (!m) throw new Error(`not a hex float: ${s}`);
  const frac = m[3] ?? "";
  const mant = parseInt(m[2] + frac, 16) / 16 ** frac.length;
  return (m[1] ? -1 : 1) * mant * 2 ** Number(m[4]);
}

const f64Bits = (x: number): bigint => new BigUint64Array(new Float64Array([x]).buffer)[0];
const f64FromBits = (b: bigint): number => new Float64Array(new BigUint64Array([b]).buffer)[0];

/**
 * f32 fused multiply-add a*b + c, rounded once, as assembly/ops/math.ts computes it: the exact product in
 * f64, the sum rounded to f64 with its error recovered by TwoSum, rounded to odd, then to f32 (Boldo and
 * Melquiond's proof: rounding to odd with 53 >= 24 + 2 bits, then to nearest, is correctly rounded).
 */
function fma(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  let bits = f64Bits(s);
  if (Math.abs(err) > 0 && (bits & 1n) === 0n) bits += (err > 0) === (s > 0) ? 1n : -1n;
  return f(f64FromBits(bits));
}

/** The f32 nearest a*b + c (ties to even), in exact rational arithmetic: a true fused multiply-add. */
function fmaExact(a: number, b: number, c: number): number {
  // every f32 is an integer times 2^-149, so a*b + c is an integer times 2^-298
  const scaled = (x: number, e: number): bigint => {
    const m = BigInt(Math.round(x * 2 ** 149)); // exact: x * 2^149 is an integer below 2^277
    return m << BigInt(e - 149);
  };
  const num = scaled(a, 149) * scaled(b, 149) + scaled(c, 298); // value = num * 2^-298
  if (num === 0n) return f(a * b + c); // exact zero: the sign of zero is the f64 sum's
  const neg = num < 0n;
  const mag = neg ? -num : num;
  const e = mag.toString(2).length - 1; // value in [2^(e-298), 2^(e-297))
  const keep = Math.max(e - 298, -126) - 23 + 298; // bits of num below the f32 ulp at this exponent
  if (keep <= 0) return (neg ? -1 : 1) * Number(mag) * 2 ** -298;
  const q = mag >> BigInt(keep);
  const rem = mag - (q << BigInt(keep));
  const half = 1n << BigInt(keep - 1);
  const r = rem > half || (rem === half && (q & 1n) === 1n) ? q + 1n : q;
  return (neg ? -1 : 1) * Number(r) * 2 ** (keep - 298); // r <= 2^24: exact
}

/**
 * ggml_v_expf as ggml's AVX2 + FMA build computes it (ggml-cpu/vec.h), replayed in f32, one lane: every
 * _mm256_fmadd_ps(a, b, c) is fma(a, b, c) and every _mm256_fnmadd_ps(a, b, c) is fma(-a, b, c).
 */
function ggmlExpf(x: number): number {
  const r = hexFloat("0x1.8p23");
  const z = fma(x, hexFloat("0x1.715476p+0"), r);
  const n = f(z - r);
  const b = fma(-n, hexFloat("0x1.7f7d1cp-20"), fma(-n, hexFloat("0x1.62e4p-1"), x));
  const zb = new Uint32Array(new Float32Array([z]).buffer)[0];
  const e = (zb << 23) >>> 0;
  const asF = (u: number) => new Float32Array(new Uint32Array([u >>> 0]).buffer)[0];
  const k = asF(e + 0x3f800000);
  const c = Math.abs(n) > 126;
  const u = f(b * b);
  const j = fma(
    fma(fma(hexFloat("0x1.0e4020p-7"), b, hexFloat("0x1.573e2ep-5")), u, fma(hexFloat("0x1.555e66p-3"), b, hexFloat("0x1.fffdb6p-2"))),
    u,
    f(hexFloat("0x1.ffffecp-1") * b),
  );
  if (!c) return fma(j, k, k);
  const g = n <= 0 ? 0x82000000 : 0;
  const s1 = asF(g + 0x7f000000);
  const s2 = asF(e - g);
  if (Math.abs(n) > 192) return f(s1 * s1);
  return f(fma(s2, j, s2) * s1);
}

/** libm expf where ggml calls it (the n % 8 tails): exp in f64 rounded to f32, as ops/math.ts expPreciseS. */
const expf = (x: number): number => f(Math.exp(x));

/** ggml_vec_swiglu_f32 (AVX2 + FMA) over one row: chunks of 8 with ggml_v_silu, the n % 8 tail with expf. */
function ggmlSwiglu(x: Float32Array, g: Float32Array): Float32Array {
  const full = x.length & ~7;
  return x.map((v, i) => f(f(v / f(1 + (i < full ? ggmlExpf(f(0 - v)) : expf(-v)))) * g[i]));
}

/** f16 bits → value, exactly. */
function halfValue(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 31) return m ? NaN : s * Infinity;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** f16 bits → f32 bits, exactly (NaN payload kept in the top mantissa bits). */
function halfToF32Bits(h: number): number {
  if (((h >> 10) & 0x1f) === 31 && h & 0x3ff) return (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0;
  return bitsOf(new Float32Array([halfValue(h)]))[0];
}

function roundHalfEven(q: number): number {
  const fl = Math.floor(q);
  const d = q - fl;
  if (d > 0.5) return fl + 1;
  if (d < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
}

/** f32 bits → f16 bits, round to nearest even, computed exactly in f64; NaN → quiet with the top payload. */
function f32BitsToHalfRef(bits: number): number {
  const v = new Float32Array(new Uint32Array([bits]).buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  if (Number.isNaN(v)) return sign | 0x7e00 | ((bits >>> 13) & 0x1ff);
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // 65520 is halfway between 65504 (odd mantissa) and 2^16: ties go up
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24); // 1024 lands on the smallest normal, as it should
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  let r = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (r === 1024) {
    e++;
    r = 0;
  }
  return sign | ((e + 15) << 10) | r;
}

const roundToHalf = (x: number): number => halfValue(f32BitsToHalfRef(bitsOf(new Float32Array([x]))[0]));

// ── tests ─────────────────────────────────────────────────────────────────────────────────────────────

describe("fused multiply-add through f64 (ops/math.ts fmaS / fmaV, replayed by fma)", () => {
  // Triples of two kinds: generic (random signs, exponents over 2^±20, c either random or cancelling most
  // of a*b), and built to make a*b + c fall just off an f32 midpoint: c in [1, 2)·2^k and
  // a*b = 2^(k-24)·(1 + (i - j)·2^-23 - i·j·2^-46), which rounds to f64 exactly onto the midpoint when i = j.
  function triples(n: number, seed: number): [number, number, number][] {
    const r = rng(seed);
    const out: [number, number, number][] = [];
    const rf = () => f((r() < 0.5 ? -1 : 1) * (1 + r()) * 2 ** Math.floor(r() * 40 - 20));
    for (let t = 0; t < n; t++) {
      const a = rf();
      const b = rf();
      out.push([a, b, r() < 0.5 ? rf() : f(-(a * b) * (1 + (r() - 0.5) * 2 ** -10))]);
      const k = Math.floor(r() * 20 - 10);
      const sg = r() < 0.5 ? -1 : 1;
      const c = f(sg * (1 + Math.floor(r() * 2 ** 23) * 2 ** -23) * 2 ** k);
      const i = 1 + Math.floor(r() * 300);
      const j = r() < 0.5 ? i : 1 + Math.floor(r() * 300);
      out.push([f(2 ** (k - 12) * (1 + i * 2 ** -23)), f(sg * 2 ** -12 * (1 - j * 2 ** -23)), c]);
    }
    return out;
  }

  it("is the correctly rounded a*b + c (exact rational reference) where plain double rounding is not", () => {
    // Measured at 2M triples of each kind: double rounding wrong on 0 generic and 11.5% of the near-midpoint
    // ones; rounding to odd wrong on none. ggml_v_expf's own 16M fused multiply-adds over 2M x in [-20, 20]
    // never met a midpoint (so double rounding would have given the same exp there).
    let doubleRounding = 0;
    for (const [a, b, c] of triples(20000, 5)) {
      const exact = fmaExact(a, b, c);
      expect(fma(a, b, c)).toBe(exact);
      if (f(a * b + c) !== exact) doubleRounding++;
    }
    expect(doubleRounding).toBeGreaterThan(1000); // the test reaches the cases that matter
  });

  it("keeps infinities, NaN and signed zeros", () => {
    expect(fma(Infinity, 2, 1)).toBe(Infinity);
    expect(fma(f(3e38), 10, f(-3e38))).toBe(Infinity);
    expect(fma(0, Infinity, 1)).toBeNaN();
    expect(fma(NaN, 1, 1)).toBeNaN();
    expect(Object.is(fma(-0, 1, 0), 0)).toBe(true);
    expect(Object.is(fma(-0, 1, -0), -0)).toBe(true);
    expect(fma(2 ** -75, 2 ** -75, 0)).toBe(fmaExact(2 ** -75, 2 ** -75, 0)); // subnormal result
  });
});

describe.each(flavours)("ops (%s)", (flavour) => {
  const fresh = () => new Mem(createEngine({ simd: flavour }));

  describe("rmsnorm", () => {
    /** ggml_compute_forward_rms_norm_f32 then ggml_mul, replayed in f32 (the sum in f64, as ggml_float). */
    function ggmlRmsnorm(x: Float32Array, w: Float32Array, eps: number): Float32Array {
      let sum = 0;
      for (let i = 0; i < x.length; i++) sum += f(x[i] * x[i]);
      const mean = f(sum / x.length);
      const scale = f(1 / f(Math.sqrt(f(mean + eps))));
      return x.map((v, i) => f(f(v * scale) * w[i]));
    }

    it.each([1, 3, 4, 7, 64, 2048, 2051])("n = %i: SIMD = scalar = ggml's f32 sequence, and f64 within 4 ulp", (n) => {
      const m = fresh();
      const x = randomF32(n, n, -3, 3);
      const w = randomF32(n, n + 1, 0.5, 1.5);
      const eps = 1e-5;
      const px = m.f32(x);
      const pw = m.f32(w);
      const o1 = m.f32(n);
      const o2 = m.f32(n);
      m.e.kernels.rmsnorm(px, pw, o1, n, eps);
      m.e.kernels.rmsnorm_scalar(px, pw, o2, n, eps);
      const simd = m.readF32(o1, n);
      expect(bitsOf(simd)).toEqual(bitsOf(m.readF32(o2, n)));
      expect(bitsOf(simd)).toEqual(bitsOf(ggmlRmsnorm(x, w, f(eps))));
      // f64: mean (0.5 ulp), + eps (0.5), sqrt (0.25), 1/ (0.5), * scale (0.5), * weight (0.5) → < 3 ulp
      // relative; 4 ulp leaves room for the f64 sum's own rounding.
      let ss = 0;
      for (const v of x) ss += v * v;
      const inv = 1 / Math.sqrt(ss / n + f(eps));
      for (let i = 0; i < n; i++) {
        const ref = x[i] * inv * w[i];
        expect(Math.abs(simd[i] - ref)).toBeLessThanOrEqual(4 * U * Math.abs(ref));
      }
    });

    it("writes in place when out aliases x", () => {
      const m = fresh();
      const n = 37;
      const x = randomF32(n, 5);
      const w = randomF32(n, 6);
      const px = m.f32(x);
      const pw = m.f32(w);
      const o = m.f32(n);
      m.e.kernels.rmsnorm(px, pw, o, n, 1e-6);
      m.e.kernels.rmsnorm(px, pw, px, n, 1e-6);
      expect(bitsOf(m.readF32(px, n))).toEqual(bitsOf(m.readF32(o, n)));
    });
  });

  describe("vec_add, vec_add_scaled, vec_scale", () => {
    it.each([1, 4, 5, 13, 1000])("n = %i: exact f32 results from both twins, aliasing included", (n) => {
      const m = fresh();
      const a = randomF32(n, 10 + n, -100, 100);
      const b = randomF32(n, 20 + n, -1, 1);
      const s = f(0.22);
      const expAdd = a.map((v, i) => f(v + b[i]));
      const expScaled = a.map((v, i) => f(v + f(b[i] * s)));
      const expScale = a.map((v) => f(v * s));
      for (const k of ["", "_scalar"] as const) {
        const pa = m.f32(a);
        const pb = m.f32(b);
        const out = m.f32(n);
        (k ? m.e.kernels.vec_add_scalar : m.e.kernels.vec_add)(pa, pb, out, n);
        expect(bitsOf(m.readF32(out, n))).toEqual(bitsOf(expAdd));
        (k ? m.e.kernels.vec_add_scalar : m.e.kernels.vec_add)(pa, pb, pb, n); // out aliases b
        expect(bitsOf(m.readF32(pb, n))).toEqual(bitsOf(expAdd));
        const pb2 = m.f32(b);
        (k ? m.e.kernels.vec_add_scalar : m.e.kernels.vec_add)(pa, pb2, pa, n); // out aliases a
        expect(bitsOf(m.readF32(pa, n))).toEqual(bitsOf(expAdd));

        const acc = m.f32(a);
        (k ? m.e.kernels.vec_add_scaled_scalar : m.e.kernels.vec_add_scaled)(acc, pb2, s, n);
        expect(bitsOf(m.readF32(acc, n))).toEqual(bitsOf(expScaled));

        const px = m.f32(a);
        (k ? m.e.kernels.vec_scale_scalar : m.e.kernels.vec_scale)(px, s, n);
        expect(bitsOf(m.readF32(px, n))).toEqual(bitsOf(expScale));
      }
    });
  });

  describe("silu_mul", () => {
    // Inputs over the whole range the approximation has branches for: |n| > 126 (two-step scaling) starts
    // near |x| = 87.3, |n| > 192 (saturation) near 133; plus zeros, infinities and NaN.
    function inputs(): Float32Array {
      const r = rng(42);
      const xs: number[] = [0, -0, Infinity, -Infinity, NaN, 1e-30, -1e-30, 87, 87.5, 88.5, 89, 100, 104, 110, 133, 140, 1e30, -1e30];
      for (const v of [...xs]) xs.push(-v);
      for (let i = 0; i < 2000; i++) xs.push((r() - 0.5) * 40);
      for (let i = 0; i < 1000; i++) xs.push((r() - 0.5) * 400);
      for (let i = 0; i < 500; i++) xs.push((r() - 0.5) * 2 ** (r() * 60 - 30));
      return new Float32Array(xs);
    }

    it.each([0, 1, 7, 8, 13, 172, 3536, 3531])("n = %i: SIMD = scalar = ggml_vec_swiglu_f32 replayed in f32, every element", (n) => {
      // 172 is stories260K's hidden size (a tail of 4 through expf); 3536 is inputs().length, 3531 cuts it
      const m = fresh();
      const x = inputs().subarray(0, n);
      const up = randomF32(n, 7, -2, 2);
      const pg = m.f32(x);
      const pu = m.f32(up);
      const o1 = m.f32(n);
      const o2 = m.f32(n);
      m.e.kernels.silu_mul(pg, pu, o1, n);
      m.e.kernels.silu_mul_scalar(pg, pu, o2, n);
      const simd = m.readF32(o1, n);
      expect(bitsOf(simd)).toEqual(bitsOf(m.readF32(o2, n)));
      expect(bitsOf(simd)).toEqual(bitsOf(ggmlSwiglu(x, up)));
    });

    it("out may alias gate", () => {
      const m = fresh();
      const n = 29;
      const x = randomF32(n, 3, -6, 6);
      const up = randomF32(n, 4, -2, 2);
      const pg = m.f32(x);
      m.e.kernels.silu_mul(pg, m.f32(up), pg, n);
      expect(bitsOf(m.readF32(pg, n))).toEqual(bitsOf(ggmlSwiglu(x, up)));
    });

    it("is within 4·2^-24 relative of f64 silu(x) * up", () => {
      // ggml_v_expf: "maximum error is 1.45358 plus 0.5 ulps" → e = exp(-x) within 2 ulp; 1 + e adds at most
      // 2 ulp * e/(1+e) + 0.5; the division and the product 0.5 each: < 3.5 ulp relative in all.
      const m = fresh();
      const r = rng(9);
      const n = 5003;
      const x = new Float32Array(n).map(() => (r() - 0.5) * 60);
      const up = randomF32(n, 10, -2, 2);
      const o = m.f32(n);
      m.e.kernels.silu_mul(m.f32(x), m.f32(up), o, n);
      const got = m.readF32(o, n);
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const ref = (x[i] / (1 + Math.exp(-x[i]))) * up[i];
        worst = Math.max(worst, Math.abs(got[i] - ref) / (Math.abs(ref) * U));
      }
      expect(worst).toBeLessThanOrEqual(4);
    });
  });

  describe("rope", () => {
    /** cos/sin pairs as the TypeScript layer would make them (here for position 7, base 10000). */
    function cosSin(ropeDim: number): Float32Array {
      const cs = new Float32Array(ropeDim);
      for (let i = 0; i < ropeDim / 2; i++) {
        const theta = 7 * 10000 ** ((-2 * i) / ropeDim);
        cs[2 * i] = Math.cos(theta);
        cs[2 * i + 1] = Math.sin(theta);
      }
      return cs;
    }

    const shapes: [number, number, number][] = [
      // nHeads, headDim, ropeDim: full, partial, and tails of both pairings (ropeDim % 4, (ropeDim/2) % 4)
      [3, 64, 64], [2, 64, 32], [2, 16, 8], [3, 10, 10], [2, 12, 12], [2, 20, 6], [1, 128, 128],
    ];

    describe.each([0, 1])("neox = %i", (neox) => {
      it.each(shapes)("nHeads %i, headDim %i, ropeDim %i", (nHeads, headDim, ropeDim) => {
        const m = fresh();
        const x = randomF32(nHeads * headDim, headDim * 31 + ropeDim, -4, 4);
        const cs = cosSin(ropeDim);
        const p1 = m.f32(x);
        const p2 = m.f32(x);
        const pcs = m.f32(cs);
        m.e.kernels.rope(p1, nHeads, headDim, ropeDim, pcs, neox);
        m.e.kernels.rope_scalar(p2, nHeads, headDim, ropeDim, pcs, neox);
        const got = m.readF32(p1, x.length);
        expect(bitsOf(got)).toEqual(bitsOf(m.readF32(p2, x.length)));
        const model = new Float32Array(x);
        for (let h = 0; h < nHeads; h++) {
          for (let i = 0; i < ropeDim / 2; i++) {
            const i0 = h * headDim + (neox ? i : 2 * i);
            const i1 = h * headDim + (neox ? i + ropeDim / 2 : 2 * i + 1);
            const [c, s, x0, x1] = [cs[2 * i], cs[2 * i + 1], x[i0], x[i1]];
            model[i0] = f(f(x0 * c) - f(x1 * s));
            model[i1] = f(f(x0 * s) + f(x1 * c));
            // f64 rotation of the same cos/sin: two product roundings and one sum rounding, each at most
            // 2^-24 of a term bounded by |x0| + |x1| (|cos|, |sin| <= 1): 2^-23 (|x0| + |x1|) in all.
            const tol = 2 * U * (Math.abs(x0) + Math.abs(x1));
            expect(Math.abs(got[i0] - (x0 * c - x1 * s))).toBeLessThanOrEqual(tol);
            expect(Math.abs(got[i1] - (x0 * s + x1 * c))).toBeLessThanOrEqual(tol);
          }
        }
        // rotated as ggml's rotate_pairs, and dimensions >= ropeDim untouched
        expect(bitsOf(got)).toEqual(bitsOf(model));
      });
    });
  });

  describe("f16 conversion", () => {
    const allHalves = new Uint16Array(65536).map((_, i) => i);
    const isNanHalf = (h: number) => ((h >> 10) & 0x1f) === 31 && (h & 0x3ff) !== 0;

    it("f16 → f32 is exact for all 65536 values (NaN payloads kept)", () => {
      const m = fresh();
      const src = m.u16(allHalves);
      for (const k of ["f16_to_f32", "f16_to_f32_scalar"] as const) {
        const dst = m.f32(65536);
        m.e.kernels[k](src, dst, 65536);
        const got = bitsOf(m.readF32(dst, 65536));
        for (let h = 0; h < 65536; h++) {
          if (got[h] !== halfToF32Bits(h)) expect(`${k}(0x${h.toString(16)}) = 0x${got[h].toString(16)}`).toBe(`0x${halfToF32Bits(h).toString(16)}`);
        }
      }
    });

    it("f16 → f32 → f16 gives every f16 back (NaN: quieted, payload kept)", () => {
      const m = fresh();
      const src = m.u16(allHalves);
      const mid = m.f32(65536);
      m.e.kernels.f16_to_f32(src, mid, 65536);
      for (const k of ["f32_to_f16", "f32_to_f16_scalar"] as const) {
        const back = m.u16(65536);
        m.e.kernels[k](mid, back, 65536);
        const got = m.readU16(back, 65536);
        const want = allHalves.map((h) => (isNanHalf(h) ? h | 0x200 : h));
        expect(got).toEqual(want);
      }
    });

    it("f32 → f16 rounds to nearest even: halfway points, their neighbours, overflow, subnormals, inf, NaN", () => {
      const cases: number[] = [];
      const f32bits = (v: number) => bitsOf(new Float32Array([v]))[0];
      for (let h = 0; h < 0x7c00; h++) {
        // halfway between h and h+1 (an f32 exactly: 12 significant bits), and one f32 ulp either side
        const mid = f32bits((halfValue(h) + halfValue(h + 1)) / 2);
        for (const b of [mid - 1, mid, mid + 1]) cases.push(b, (b | 0x80000000) >>> 0);
      }
      for (const v of [65504, 65519.99609375, 65520, 65536, 1e10, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -26, 2 ** -14, 1e-10, 0]) {
        cases.push(f32bits(v), (f32bits(v) | 0x80000000) >>> 0);
      }
      cases.push(0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff, 0x7fffffff, 0x7f802000, 0x7fc02000);
      cases.push(f32bits(2 ** -25) + 1, f32bits(65520) - 1, 0x00000001, 0x007fffff, 0x33000000, 0x33000001, 0x337fffff);
      const r = rng(3);
      for (let i = 0; i < 20000; i++) cases.push(Math.floor(r() * 2 ** 32) >>> 0);
      const src = new Uint32Array(cases);
      const want = Array.from(src, f32BitsToHalfRef);
      // spot checks of the reference itself
      expect(f32BitsToHalfRef(f32bits(65520))).toBe(0x7c00);
      expect(f32BitsToHalfRef(f32bits(2 ** -25))).toBe(0);
      expect(f32BitsToHalfRef(f32bits(2 ** -25) + 1)).toBe(1);
      expect(f32BitsToHalfRef(f32bits(3 * 2 ** -25))).toBe(2);
      expect(f32BitsToHalfRef(f32bits(1 + 2 ** -11))).toBe(0x3c00);
      expect(f32BitsToHalfRef(f32bits(1 + 3 * 2 ** -11))).toBe(0x3c02);

      const m = fresh();
      const p = m.f32(new Float32Array(src.buffer));
      for (const k of ["f32_to_f16", "f32_to_f16_scalar"] as const) {
        for (const skip of [0, 3]) {
          // an offset of 3 moves every value between the 8-wide body and the tail at least once
          const dst = m.u16(src.length);
          m.e.kernels[k](p + 4 * skip, dst, src.length - skip);
          const got = m.readU16(dst, src.length - skip);
          for (let i = 0; i < got.length; i++) {
            if (got[i] !== want[i + skip]) {
              expect(`${k}(0x${src[i + skip].toString(16)}) = 0x${got[i].toString(16)}`).toBe(`0x${want[i + skip].toString(16)}`);
            }
          }
        }
      }
    });
  });

  describe("attention", () => {
    interface Case { nHeads: number; nKvHeads: number; headDim: number; nPos: number }
    const cases: Case[] = [];
    for (const nPos of [1, 7, 300]) {
      cases.push({ nHeads: 8, nKvHeads: 2, headDim: 64, nPos }); // GQA ratio 4, two 32-element blocks
      cases.push({ nHeads: 8, nKvHeads: 2, headDim: 8, nPos }); // stories260K: the whole dot in the f64 tail
    }
    cases.push({ nHeads: 4, nKvHeads: 1, headDim: 80, nPos: 33 }); // blocks + tail; V in 16s
    cases.push({ nHeads: 4, nKvHeads: 4, headDim: 38, nPos: 9 }); // V in 16, 16, 4 and 2 singles
    cases.push({ nHeads: 2, nKvHeads: 1, headDim: 128, nPos: 5 });

    /** Random q, f16 caches with NaN in the rows past nPos (so reading them would show). */
    function setup(m: Mem, c: Case, seed: number) {
      const nCtx = c.nPos + 3;
      const kvDim = c.nKvHeads * c.headDim;
      const q = randomF32(c.nHeads * c.headDim, seed, -2, 2);
      const kv = (s: number) => {
        const vals = randomF32(nCtx * kvDim, s, -1.5, 1.5);
        const h = Uint16Array.from(vals, (v) => f32BitsToHalfRef(bitsOf(new Float32Array([v]))[0]));
        h.fill(0x7e00, c.nPos * kvDim);
        return h;
      };
      const k = kv(seed + 1);
      const v = kv(seed + 2);
      return { q, k, v, kvDim, pq: m.f32(q), pk: m.u16(k), pv: m.u16(v), scale: f(1 / Math.sqrt(c.headDim)) };
    }

    /** ggml_vec_dot_f16 as built for AVX2 (simd-mappings.h, GGML_F16_STEP 32, GGML_F16_EPR 8, F32x8_REDUCE). */
    function ggmlDotF16(x: number[], y: number[]): number {
      const n = x.length;
      const np = n & ~31;
      const sum = [0, 1, 2, 3].map(() => new Array<number>(8).fill(0));
      for (let i = 0; i < np; i += 32) {
        for (let j = 0; j < 4; j++) {
          for (let l = 0; l < 8; l++) sum[j][l] = f(x[i + 8 * j + l] * y[i + 8 * j + l] + sum[j][l]); // exact product
        }
      }
      for (let off = 2; off > 0; off >>= 1) {
        for (let i = 0; i < off; i++) for (let l = 0; l < 8; l++) sum[i][l] = f(sum[i][l] + sum[off + i][l]);
      }
      const t0 = [0, 1, 2, 3].map((l) => f(sum[0][l] + sum[0][l + 4]));
      let sumf = f(f(t0[0] + t0[1]) + f(t0[2] + t0[3]));
      for (let i = np; i < n; i++) sumf += f(x[i] * y[i]);
      return f(sumf);
    }

    /**
     * ggml_vec_soft_max_f32 (AVX2 + FMA) over one row: e_t = exp(x_t - max) and Σ e_t in f64, chunks of 8
     * through ggml_v_expf, each chunk summed in f32 as ((v4 + v0) + (v6 + v2)) + ((v5 + v1) + (v7 + v3));
     * the last n % 8 scores as a chunk padded with zeros (llama.cpp's n_kv is a multiple of 8 and its
     * positions past nPos are masked to -inf, for which ggml_v_expf gives exactly 0).
     */
    function ggmlSoftMaxNumerators(x: number[], max: number): { e: number[]; sum: number } {
      const e = x.map((v) => ggmlExpf(f(v - max)));
      let sum = 0;
      for (let i = 0; i < e.length; i += 8) {
        const v = Array.from({ length: 8 }, (_, l) => e[i + l] ?? 0);
        sum += f(f(f(v[4] + v[0]) + f(v[6] + v[2])) + f(f(v[5] + v[1]) + f(v[7] + v[3])));
      }
      return { e, sum };
    }

    function run(m: Mem, c: Case, s: ReturnType<typeof setup>, kernel: "attention" | "attention_scalar", h0 = 0, h1 = c.nHeads, softcap = 0, batch = 1) {
      const out = m.f32(c.nHeads * c.headDim);
      const scores = m.f32(c.nHeads * c.nPos);
      m.e.kernels[kernel](s.pq, s.pk, s.pv, out, scores, c.nHeads, c.nKvHeads, c.headDim, c.nPos, s.scale, softcap, batch, h0, h1);
      return { out, scores, outV: m.readF32(out, c.nHeads * c.headDim), scoresV: m.readF32(scores, c.nHeads * c.nPos) };
    }

    it.each(cases)("%o: SIMD = scalar; scores are ggml's f16 dot and exp to the bit; f64 within tolerance", (c) => {
      const m = fresh();
      const s = setup(m, c, c.headDim * 1000 + c.nPos);
      const a = run(m, c, s, "attention");
      const b = run(m, c, s, "attention_scalar");
      expect(bitsOf(a.outV)).toEqual(bitsOf(b.outV));
      expect(bitsOf(a.scoresV)).toEqual(bitsOf(b.scoresV));

      const group = c.nHeads / c.nKvHeads;
      for (let h = 0; h < c.nHeads; h++) {
        const kvh = Math.floor(h / group);
        const qh = Array.from(s.q.subarray(h * c.headDim, (h + 1) * c.headDim), roundToHalf);
        const row = (cache: Uint16Array, t: number) =>
          Array.from(cache.subarray(t * s.kvDim + kvh * c.headDim, t * s.kvDim + (kvh + 1) * c.headDim), halfValue);
        // the scratch holds the f16 probabilities * 2^112, s_t from ggml's dot and the softmax replayed in f32
        const st = Array.from({ length: c.nPos }, (_, t) => f(ggmlDotF16(row(s.k, t), qh) * s.scale));
        const { e, sum } = ggmlSoftMaxNumerators(st, Math.max(...st));
        const inv = f(1 / sum);
        const pt = e.map((v) => roundToHalf(f(v * inv)) * 2 ** 112);
        expect(bitsOf(a.scoresV.subarray(h * c.nPos, (h + 1) * c.nPos))).toEqual(bitsOf(new Float32Array(pt)));

        // f64 reference of the same f16-rounded q, k, v
        const s64 = Array.from({ length: c.nPos }, (_, t) => row(s.k, t).reduce((acc, kv, i) => acc + kv * qh[i], 0) * s.scale);
        const m64 = Math.max(...s64);
        const e64 = s64.map((v) => Math.exp(v - m64));
        const z64 = e64.reduce((x, y) => x + y, 0);
        // Tolerance: each score is off by at most headDim·u·Σ|q k|·scale (f32 summation bound) plus its own
        // rounding; that moves each weight p_t/Σp by at most twice the worst score error (numerator and
        // normalisation), the exp approximation adds 2 ulp, the f32 V sum nPos·u relative, and rounding each
        // probability to f16 2^-11 relative (or 2^-25 absolute where it is subnormal in f16, below 2^-14),
        // which sums over t to at most 2^-11 + nPos·2^-25. All of it scales with max|v|. These are
        // worst-case bounds; the observed error is far smaller.
        let sErr = 0;
        for (let t = 0; t < c.nPos; t++) {
          const mag = row(s.k, t).reduce((acc, kv, i) => acc + Math.abs(kv * qh[i]), 0) * s.scale;
          sErr = Math.max(sErr, (c.headDim + 1) * U * mag + U * Math.abs(s64[t]));
        }
        const vmax = 1.5;
        const tol = vmax * (2 * sErr + 4 * U + (c.nPos + 2) * U + 2 ** -11 + c.nPos * 2 ** -25);
        for (let d = 0; d < c.headDim; d++) {
          let ref = 0;
          for (let t = 0; t < c.nPos; t++) ref += (e64[t] / z64) * row(s.v, t)[d];
          expect(Math.abs(a.outV[h * c.headDim + d] - ref)).toBeLessThanOrEqual(tol);
        }
      }
    });

    it.each(cases)("%o: the V sum to the bit, for a batch (tinyBLAS's 8 lanes) and for one token (ggml_vec_dot_f16's 32 lanes)", (c) => {
      const m = fresh();
      const s = setup(m, c, c.headDim * 31 + c.nPos);
      const group = c.nHeads / c.nKvHeads;
      for (const batch of [1, 0]) {
        const a = run(m, c, s, "attention", 0, c.nHeads, 0, batch);
        const b = run(m, c, s, "attention_scalar", 0, c.nHeads, 0, batch);
        expect(bitsOf(a.outV)).toEqual(bitsOf(b.outV));
        for (let h = 0; h < c.nHeads; h++) {
          const kvh = Math.floor(h / group);
          const p = Array.from(a.scoresV.subarray(h * c.nPos, (h + 1) * c.nPos), (x) => f(x * 2 ** -112));
          for (let d = 0; d < c.headDim; d++) {
            const prod = (t: number) => f(p[t] * halfValue(s.v[t * s.kvDim + kvh * c.headDim + d]));
            const lanes = batch ? 8 : 32;
            const acc = new Array<number>(lanes).fill(0);
            for (let t = 0; t < c.nPos; t++) acc[t % lanes] = f(acc[t % lanes] + prod(t));
            let want: number;
            if (batch) want = f(f(f(acc[0] + acc[4]) + f(acc[2] + acc[6])) + f(f(acc[1] + acc[5]) + f(acc[3] + acc[7])));
            else {
              const y = Array.from({ length: 8 }, (_, l) => f(f(acc[l] + acc[l + 16]) + f(acc[l + 8] + acc[l + 24])));
              const t4 = [0, 1, 2, 3].map((i) => f(y[i] + y[i + 4]));
              want = f(f(t4[0] + t4[1]) + f(t4[2] + t4[3]));
            }
            expect(a.outV[h * c.headDim + d], `batch ${batch} head ${h} element ${d}`).toBe(want);
          }
        }
      }
    });

    it("h0..h1 sub-ranges write only their heads' output and scratch, and together give the full result", () => {
      const c = { nHeads: 8, nKvHeads: 2, headDim: 64, nPos: 7 };
      for (const kernel of ["attention", "attention_scalar"] as const) {
        const m = fresh();
        const s = setup(m, c, 77);
        const full = run(m, c, s, kernel);
        const out = m.f32(new Float32Array(c.nHeads * c.headDim).fill(-123));
        const scores = m.f32(new Float32Array(c.nHeads * c.nPos).fill(-456));
        m.e.kernels[kernel](s.pq, s.pk, s.pv, out, scores, c.nHeads, c.nKvHeads, c.headDim, c.nPos, s.scale, 0, 1, 3, 6);
        const o = m.readF32(out, c.nHeads * c.headDim);
        const sc = m.readF32(scores, c.nHeads * c.nPos);
        for (let h = 0; h < c.nHeads; h++) {
          const mine = h >= 3 && h < 6;
          const oh = o.subarray(h * c.headDim, (h + 1) * c.headDim);
          const sh = sc.subarray(h * c.nPos, (h + 1) * c.nPos);
          if (mine) {
            expect(bitsOf(oh)).toEqual(bitsOf(full.outV.subarray(h * c.headDim, (h + 1) * c.headDim)));
            expect(bitsOf(sh)).toEqual(bitsOf(full.scoresV.subarray(h * c.nPos, (h + 1) * c.nPos)));
          } else {
            expect(oh.every((v) => v === -123)).toBe(true);
            expect(sh.every((v) => v === -456)).toBe(true);
          }
        }
        m.e.kernels[kernel](s.pq, s.pk, s.pv, out, scores, c.nHeads, c.nKvHeads, c.headDim, c.nPos, s.scale, 0, 1, 0, 3);
        m.e.kernels[kernel](s.pq, s.pk, s.pv, out, scores, c.nHeads, c.nKvHeads, c.headDim, c.nPos, s.scale, 0, 1, 6, 8);
        expect(bitsOf(m.readF32(out, c.nHeads * c.headDim))).toEqual(bitsOf(full.outV));
      }
    });

    it("SIMD = scalar even with inf and NaN in the cache; nPos = 0 writes zeros", () => {
      const c = { nHeads: 8, nKvHeads: 2, headDim: 64, nPos: 20 };
      const m = fresh();
      const s = setup(m, c, 11);
      const u16 = new Uint16Array(m.e.memory.buffer);
      for (const [i, bits] of [[3, 0x7c00], [70, 0xfc00], [200, 0x7e00], [333, 0x7c01]]) {
        u16[s.pk / 2 + i] = bits;
        u16[s.pv / 2 + i + 5] = bits;
      }
      const a = run(m, c, s, "attention");
      const b = run(m, c, s, "attention_scalar");
      expect(bitsOf(a.outV)).toEqual(bitsOf(b.outV));
      expect(bitsOf(a.scoresV)).toEqual(bitsOf(b.scoresV));
      for (const kernel of ["attention", "attention_scalar"] as const) {
        const out = m.f32(new Float32Array(c.nHeads * c.headDim).fill(7));
        m.e.kernels[kernel](s.pq, s.pk, s.pv, out, m.f32(16), c.nHeads, c.nKvHeads, c.headDim, 0, s.scale, 0, 1, 2, 5);
        const o = m.readF32(out, c.nHeads * c.headDim);
        o.forEach((v, i) => expect(v).toBe(i >= 2 * c.headDim && i < 5 * c.headDim ? 0 : 7));
      }
    });

    // The SIMD kernel runs a group's heads four (then two, then one) at a time and its scores four
    // positions at a time: every split of heads and positions against the per-head scalar twin.
    it.each([
      { nHeads: 16, nKvHeads: 2, headDim: 64 }, // group 8 (TinyLlama)
      { nHeads: 24, nKvHeads: 3, headDim: 64 }, // heads 1..23: part of a group, a whole one (one row walk), part
      { nHeads: 8, nKvHeads: 2, headDim: 128 }, // group 4 (Llama-3)
      { nHeads: 6, nKvHeads: 3, headDim: 128 }, // group 2 (Qwen3)
      { nHeads: 7, nKvHeads: 1, headDim: 32 }, // group 7: four, two and one head
      { nHeads: 3, nKvHeads: 3, headDim: 96 }, // group 1 (Phi-3)
      { nHeads: 4, nKvHeads: 2, headDim: 256 }, // group 2 (Gemma)
      { nHeads: 4, nKvHeads: 1, headDim: 80 }, // V pass of 8-wide quads plus per-head columns
    ])("%o: SIMD = scalar to the bit for head ranges that split groups, odd nPos, soft-cap, batch 0 and 1", (shape) => {
      const m = fresh();
      const group = shape.nHeads / shape.nKvHeads;
      const ranges = [[0, shape.nHeads], [1, shape.nHeads - 1], [group - 1, Math.min(shape.nHeads, group + 2)], [0, 1]];
      for (const nPos of [1, 6, 35, 130]) {
        const c = { ...shape, nPos };
        const s = setup(m, c, shape.headDim * 7 + nPos);
        for (const [h0, h1] of ranges) {
          if (h1 <= h0) continue;
          for (const softcap of nPos === 35 ? [0, 30] : [0]) {
            for (const batch of [0, 1]) {
              const a = run(m, c, s, "attention", h0, h1, softcap, batch);
              const b = run(m, c, s, "attention_scalar", h0, h1, softcap, batch);
              const at = `nPos ${nPos} heads ${h0}..${h1} softcap ${softcap} batch ${batch}`;
              const o = [h0 * c.headDim, h1 * c.headDim];
              expect(bitsOf(a.outV.subarray(o[0], o[1])), at).toEqual(bitsOf(b.outV.subarray(o[0], o[1])));
              const sc = [h0 * nPos, h1 * nPos];
              expect(bitsOf(a.scoresV.subarray(sc[0], sc[1])), at).toEqual(bitsOf(b.scoresV.subarray(sc[0], sc[1])));
            }
          }
        }
      }
    });

    it("softmax_numerators: ggml_v_expf of x - max and ggml's sum to the bit, SIMD = scalar", () => {
      // dense over [-110, 1] (the fast path, |n| > 124 and the flush to 0 past -103.97), plus exact zeros,
      // values within a few ulps of the fallback thresholds, and an n % 8 tail
      const r = rng(2024);
      const xs = [0, -0, 1e-30, -1e-30, -87.33, -87.34, -86.0, -103.97, -103.98, -200, -1e30, -Infinity];
      // four at a time around -134, where a vector of lanes all below returns 0 early
      xs.push(-133.99, -134.01, -135, -140, -134.01, -134.02, -1e4, -150, -130, -131, -132, -133);
      while (xs.length < 40_003) xs.push(f(1 - 111 * r()));
      for (const max of [0, 0.75]) {
        const x = Float32Array.from(xs, (v) => f(v + max));
        const want = ggmlSoftMaxNumerators(Array.from(x), max);
        const m = fresh();
        for (const k of ["softmax_numerators", "softmax_numerators_scalar"] as const) {
          const p = m.f32(x);
          const sum = m.e.kernels[k](p, x.length, max);
          expect(bitsOf(m.readF32(p, x.length)), k).toEqual(bitsOf(new Float32Array(want.e)));
          expect(sum, k).toBe(want.sum);
        }
      }
    });

    // The same inside attention, with 45,000 positions: every f16 in [-100, 100] as a key, times four
    // query scales c (one per head), puts s - max densely over [-600, 0].
    it("softmax over every f16 in [-100, 100] as a score: SIMD = scalar to the bit", () => {
      const m = fresh();
      const keys: number[] = [];
      for (let h = 0; h < 0x10000; h++) if (Math.abs(halfValue(h)) <= 100) keys.push(h);
      const c = { nHeads: 4, nKvHeads: 1, headDim: 32, nPos: keys.length };
      const k = new Uint16Array(c.nPos * 32);
      keys.forEach((h, t) => (k[t * 32] = h));
      const v = Uint16Array.from({ length: c.nPos * 32 }, (_, i) => 0x3c00 + (i % 977));
      const q = new Float32Array(4 * 32);
      [1, 2 ** -10, 3, -(2 ** -6)].forEach((s, h) => (q[h * 32] = s));
      const s = { q, k, v, kvDim: 32, pq: m.f32(q), pk: m.u16(k), pv: m.u16(v), scale: 1 };
      for (const batch of [0, 1]) {
        const a = run(m, c, s, "attention", 0, 4, 0, batch);
        const b = run(m, c, s, "attention_scalar", 0, 4, 0, batch);
        expect(bitsOf(a.scoresV)).toEqual(bitsOf(b.scoresV));
        expect(bitsOf(a.outV)).toEqual(bitsOf(b.outV));
      }
    });

    it("out may alias q", () => {
      const c = { nHeads: 4, nKvHeads: 1, headDim: 64, nPos: 12 };
      const m = fresh();
      const s = setup(m, c, 5);
      const want = run(m, c, s, "attention").outV;
      const scores = m.f32(c.nHeads * c.nPos);
      m.e.kernels.attention(s.pq, s.pk, s.pv, s.pq, scores, c.nHeads, c.nKvHeads, c.headDim, c.nPos, s.scale, 0, 1, 0, c.nHeads);
      expect(bitsOf(m.readF32(s.pq, c.nHeads * c.headDim))).toEqual(bitsOf(want));
    });
  });

  describe("vec_copy", () => {
    it.each([[0, 40, 100], [40, 0, 100], [8, 11, 53], [0, 0, 7], [5, 200, 0]])("src +%i → dst +%i, %i bytes (overlap allowed)", (s, d, bytes) => {
      for (const k of ["vec_copy", "vec_copy_scalar"] as const) {
        const m = fresh();
        const base = m.e.alloc(512, "copy");
        const init = Uint8Array.from({ length: 512 }, (_, i) => (i * 37) & 0xff);
        m.e.u8().set(init, base);
        m.e.kernels[k](base + s, base + d, bytes);
        const want = new Uint8Array(init).copyWithin(d, s, s + bytes);
        expect(m.e.u8().slice(base, base + 512)).toEqual(want);
      }
    });
  });

  describe("argmax", () => {
    const firstMax = (x: Float32Array) => {
      let m = -Infinity;
      let mi = 0;
      x.forEach((v, i) => {
        if (v > m) {
          m = v;
          mi = i;
        }
      });
      return mi;
    };
    const arrays: [string, Float32Array][] = [
      ["single", new Float32Array([3])],
      ["short", new Float32Array([1, 5, 2, 5, 0])],
      ["9 with max at the tail", new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9])],
      ["ties in different lanes", new Float32Array([0, 0, 7, 0, 0, 7, 0, 0, 7, 7, 0, 0])],
      ["tie, later lane first", new Float32Array([0, 0, 0, 0, 0, 9, 0, 0, 9, 0, 0, 0])],
      ["all -inf", new Float32Array(13).fill(-Infinity)],
      ["NaN never wins", new Float32Array([NaN, 1, NaN, 2, NaN, 2, 0, 0, NaN])],
      ["vocab, max at the end", (() => { const a = randomF32(32003, 1); a[32002] = 5; return a; })()],
      ["vocab, max twice", (() => { const a = randomF32(32000, 2); a[17] = 3; a[31000] = 3; return a; })()],
    ];
    it.each(arrays)("%s", (_, x) => {
      const m = fresh();
      const p = m.f32(x);
      const want = firstMax(x);
      expect(m.e.kernels.argmax(p, x.length)).toBe(want);
      expect(m.e.kernels.argmax_scalar(p, x.length)).toBe(want);
    });
  });
});
