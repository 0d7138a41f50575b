// The 8-bit KV cache (load option kvType "q8_0"):
// 1. the kernels: kv_quantize_q8_0 gives ggml's AVX2 quantize_row_q8_0 bytes; attention_q8's SIMD and scalar
//    twins agree to the bit for every head split, and its scores are the exact Q8_0 integer dot replayed in
//    JavaScript; its output is the softmax-weighted V of the dequantized cache within an f32 bound;
// 2. models: the logits' distance from llama.cpp's (f16-cache) references, measured and bounded per model;
//    greedy text; 1 and 2 threads bit-identical; memories split; sessions; options and their errors; memory.
import { describe, expect, it } from "vitest";
import { createEngine, type Engine, type SimdFlavour } from "../src/wasm/engine.js";
import { detectFeatures } from "../src/wasm/features.js";

const flavours: SimdFlavour[] = detectFeatures().relaxed ? ["simd", "relaxed"] : ["simd"];
const f = Math.fround;
const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function randomF32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** f32 value → f16 bits, round to nearest even (normal and subnormal; the values here stay finite). */
function toHalf(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | m;
}

function halfValue(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** ggml's AVX2 quantize_row_q8_0 of 32 values: [d as f16 bits, 32 quants]. */
function quantizeBlock(x: ArrayLike<number>): { d: number; q: number[] } {
  let amax = 0;
  for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[i]));
  const id = amax !== 0 ? f(127 / amax) : 0;
  return { d: toHalf(f(amax / 127)), q: Array.from({ length: 32 }, (_, i) => roundHalfEven(f(x[i] * id))) };
}

/** Rows of block_q8_0 bytes for `values` (length a multiple of 32). */
function quantizeRows(values: Float32Array): Uint8Array {
  const nb = values.length / 32;
  const out = new Uint8Array(nb * 34);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const { d, q } = quantizeBlock(values.subarray(32 * b, 32 * b + 32));
    dv.setUint16(34 * b, d, true);
    q.forEach((v, i) => dv.setInt8(34 * b + 2 + i, v));
  }
  return out;
}

/** Block b's d and quants within a buffer of block_q8_0. */
function blockAt(bytes: Uint8Array, at: number): { d: number; q: Int8Array } {
  return { d: halfValue(bytes[at] | (bytes[at + 1] << 8)), q: new Int8Array(bytes.buffer, bytes.byteOffset + at + 2, 32) };
}

describe.each(flavours)("kv q8_0 kernels (%s)", (flavour) => {
  const fresh = () => createEngine({ simd: flavour });
  const put = (e: Engine, bytes: Uint8Array | Float32Array, extra = 0): number => {
    const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const p = e.alloc(u8.length + extra + 16, "test");
    e.u8().set(u8, p);
    return p;
  };

  it("kv_quantize_q8_0 = ggml's AVX2 quantize_row_q8_0, byte for byte, SIMD = scalar", () => {
    const e = fresh();
    // random rows at several scales, ties (x · 127/amax exactly k + 0.5), an all-zero block, tiny values
    const n = 32 * 40;
    const x = randomF32(n, 7, -3, 3);
    for (let i = 32; i < 64; i++) x[i] = [0.5, 1.5, 2.5, -0.5, -1.5, 127, -127, 3.5][i % 8] / 127; // amax 1: halves
    x.fill(0, 64, 96);
    for (let i = 96; i < 128; i++) x[i] = (i - 112) * 1e-8;
    for (let i = 128; i < 160; i++) x[i] *= 5000;
    const want = quantizeRows(x);
    for (const k of ["kv_quantize_q8_0", "kv_quantize_q8_0_scalar"] as const) {
      const src = put(e, x);
      const dst = e.alloc(want.length, "q");
      e.kernels[k](src, dst, n);
      expect(e.u8().slice(dst, dst + want.length), k).toEqual(want);
    }
  });

  interface Shape { nHeads: number; nKvHeads: number; headDim: number }
  const slotBytes = (headDim: number) => Math.ceil((2 * headDim + 44 * (headDim / 32)) / 16) * 16;

  function setup(e: Engine, c: Shape & { nPos: number }, seed: number) {
    const kvDim = c.nKvHeads * c.headDim;
    const q = randomF32(c.nHeads * c.headDim, seed, -2, 2);
    const k = quantizeRows(randomF32((c.nPos + 2) * kvDim, seed + 1, -1.5, 1.5));
    const v = quantizeRows(randomF32((c.nPos + 2) * kvDim, seed + 2, -1.5, 1.5));
    return { q, k, v, kvDim, pq: put(e, q), pk: put(e, k), pv: put(e, v), scale: f(1 / Math.sqrt(c.headDim)) };
  }

  function run(e: Engine, c: Shape & { nPos: number }, s: ReturnType<typeof setup>, kernel: "attention_q8" | "attention_q8_scalar", h0 = 0, h1 = c.nHeads, softcap = 0) {
    const out = e.alloc(c.nHeads * c.headDim * 4, "out");
    const scores = e.alloc(Math.max(16, c.nHeads * c.nPos * 4), "scores");
    const qq = e.alloc(c.nHeads * slotBytes(c.headDim), "qq");
    e.f32().fill(-7, out / 4, out / 4 + c.nHeads * c.headDim);
    e.kernels[kernel](s.pq, s.pk, s.pv, out, scores, qq, c.nHeads, c.nKvHeads, c.headDim, c.nPos, s.scale, softcap, h0, h1);
    return { out: e.f32().slice(out / 4, out / 4 + c.nHeads * c.headDim), scores: e.f32().slice(scores / 4, scores / 4 + c.nHeads * c.nPos) };
  }

  // Every way the SIMD kernel runs heads (sets of four in the K pass, four/two/one in the V pass) against
  // the per-head scalar twin, with head ranges that split groups (the thread pool's chunks).
  it.each([
    { nHeads: 16, nKvHeads: 2, headDim: 64 }, // group 8 (TinyLlama)
    { nHeads: 8, nKvHeads: 2, headDim: 128 }, // group 4 (Llama 3)
    { nHeads: 7, nKvHeads: 1, headDim: 32 }, // group 7: four, two and one
    { nHeads: 3, nKvHeads: 3, headDim: 96 }, // group 1 (Phi-3)
    { nHeads: 4, nKvHeads: 2, headDim: 256 }, // group 2 (Gemma)
  ])("%o: SIMD = scalar to the bit for split head ranges, odd nPos, soft-cap", (shape) => {
    const e = fresh();
    const group = shape.nHeads / shape.nKvHeads;
    const ranges = [[0, shape.nHeads], [1, shape.nHeads - 1], [group - 1, Math.min(shape.nHeads, group + 2)], [0, 1]];
    for (const nPos of [1, 6, 35, 130]) {
      const c = { ...shape, nPos };
      const s = setup(e, c, shape.headDim * 7 + nPos);
      const whole = run(e, c, s, "attention_q8");
      for (const [h0, h1] of ranges) {
        if (h1 <= h0) continue;
        for (const softcap of nPos === 35 ? [0, 30] : [0]) {
          const a = run(e, c, s, "attention_q8", h0, h1, softcap);
          const b = run(e, c, s, "attention_q8_scalar", h0, h1, softcap);
          const at = `nPos ${nPos} heads ${h0}..${h1} softcap ${softcap}`;
          expect(bitsOf(a.out), at).toEqual(bitsOf(b.out));
          expect(bitsOf(a.scores.subarray(h0 * nPos, h1 * nPos)), at).toEqual(bitsOf(b.scores.subarray(h0 * nPos, h1 * nPos)));
          // outside [h0, h1) nothing is written; inside, the same bits as the whole call
          for (let h = 0; h < c.nHeads; h++) {
            const oh = a.out.subarray(h * c.headDim, (h + 1) * c.headDim);
            if (h < h0 || h >= h1) expect(oh.every((x) => x === -7), at).toBe(true);
            else if (softcap === 0) expect(bitsOf(oh), at).toEqual(bitsOf(whole.out.subarray(h * c.headDim, (h + 1) * c.headDim)));
          }
        }
      }
    }
  });

  it.each([
    { nHeads: 8, nKvHeads: 2, headDim: 64, nPos: 1 },
    { nHeads: 8, nKvHeads: 2, headDim: 64, nPos: 37 },
    { nHeads: 4, nKvHeads: 4, headDim: 128, nPos: 200 },
  ])("%o: scores are the Q8_0 integer dot replayed exactly; the output is Σ softmax · dequantized V within f32 rounding", (c) => {
    const e = fresh();
    const s = setup(e, c, c.nPos * 13 + c.headDim);
    const a = run(e, c, s, "attention_q8");
    const group = c.nHeads / c.nKvHeads;
    const nb = c.headDim / 32;
    const rowBytes = (s.kvDim / 32) * 34;
    for (let h = 0; h < c.nHeads; h++) {
      const kvh = Math.floor(h / group);
      const qBlocks = Array.from({ length: nb }, (_, b) => quantizeBlock(s.q.subarray(h * c.headDim + 32 * b, h * c.headDim + 32 * b + 32)));
      const st: number[] = [];
      for (let t = 0; t < c.nPos; t++) {
        // lanes j: lo_j, hi_j over blocks in order, then (a0 + a2) + (a1 + a3)
        const lane = [0, 1, 2, 3].map((j) => {
          let lo = 0;
          let hi = 0;
          for (let b = 0; b < nb; b++) {
            const kb = blockAt(s.k, t * rowBytes + (kvh * nb + b) * 34);
            const qb = qBlocks[b];
            const d = f(kb.d * halfValue(qb.d));
            let sl = 0;
            let sh = 0;
            for (let i = 4 * j; i < 4 * j + 4; i++) {
              sl += kb.q[i] * qb.q[i];
              sh += kb.q[16 + i] * qb.q[16 + i];
            }
            lo = f(lo + f(sl * d));
            hi = f(hi + f(sh * d));
          }
          return f(lo + hi);
        });
        st.push(f(f(f(lane[0] + lane[2]) + f(lane[1] + lane[3])) * s.scale));
      }
      // the scratch ends holding exp(s_t - max): its log recovers the scores to within the exp's few ulps
      const mx = Math.max(...st);
      const sc = a.scores.subarray(h * c.nPos, (h + 1) * c.nPos);
      st.forEach((x, t) => expect(Math.abs(sc[t] - Math.exp(x - mx))).toBeLessThanOrEqual(4 * 2 ** -24));
      // f64 reference from the same scores and the dequantized V. Bound: each weight e_t/Σ within a few
      // f32 ulps (exp approximation, f32 products and sums over nPos terms) times max|v| ≤ 1.5.
      const z = st.reduce((acc, x) => acc + Math.exp(x - mx), 0);
      const tol = 1.5 * (c.nPos + 8) * 2 ** -23;
      for (let i = 0; i < c.headDim; i++) {
        let ref = 0;
        for (let t = 0; t < c.nPos; t++) {
          const vb = blockAt(s.v, t * rowBytes + (kvh * nb + (i >> 5)) * 34);
          ref += (Math.exp(st[t] - mx) / z) * vb.d * vb.q[i & 31];
        }
        expect(Math.abs(a.out[h * c.headDim + i] - ref), `head ${h} value ${i}`).toBeLessThanOrEqual(tol);
      }
    }
  });

  it("nPos = 0 writes zeros to the heads asked; out may alias q", () => {
    const e = fresh();
    const c = { nHeads: 4, nKvHeads: 1, headDim: 64, nPos: 12 };
    const s = setup(e, c, 5);
    const want = run(e, c, s, "attention_q8").out;
    for (const k of ["attention_q8", "attention_q8_scalar"] as const) {
      const pq = put(e, s.q);
      e.kernels[k](pq, s.pk, s.pv, pq, e.alloc(c.nHeads * c.nPos * 4, "sc"), e.alloc(4 * slotBytes(64), "qq"), 4, 1, 64, 12, s.scale, 0, 0, 4);
      expect(bitsOf(e.f32().slice(pq / 4, pq / 4 + 256)), k).toEqual(bitsOf(want));
      const out = put(e, new Float32Array(256).fill(3));
      e.kernels[k](pq, s.pk, s.pv, out, e.alloc(16, "sc"), e.alloc(4 * slotBytes(64), "qq"), 4, 1, 64, 0, s.scale, 0, 1, 3);
      e.f32().slice(out / 4, out / 4 + 256).forEach((x, i) => expect(x).toBe(i >= 64 && i < 192 ? 0 : 3));
    }
  });
});
