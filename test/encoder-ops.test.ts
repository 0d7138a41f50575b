// The encoder's kernels (assembly/ops/encoder.ts): each SIMD kernel gives its scalar twin's bits; layernorm
// gives the bits of ggml's norm + mul + add replayed with Math.fround; attention_f32 and pool_mean agree
// with plain f64 mathematics to a few f32 roundings.
import { describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../src/wasm/engine.js";
import { rng, randomF32 } from "./helpers/random.js";

const f = Math.fround;

const engine: Engine = createEngine({ simd: "simd" });
const k = engine.kernels;
const put = (a: Float32Array | number): number => {
  const n = typeof a === "number" ? a : a.length;
  const p = engine.alloc(Math.max(16, n * 4), "test");
  if (typeof a !== "number") engine.f32().set(a, p >> 2);
  return p;
};
const read = (p: number, n: number): Float32Array => engine.f32().slice(p >> 2, (p >> 2) + n);

describe("layernorm", () => {
  it.each([7, 37, 256, 384])("n = %i: SIMD = scalar = ggml's op sequence replayed", (n) => {
    const x = randomF32(n, n, -3, 5);
    const w = randomF32(n, n + 1, 0.5, 1.5);
    const b = randomF32(n, n + 2);
    const [px, pw, pb, o1, o2] = [put(x), put(w), put(b), put(n), put(n)];
    const eps = f(1e-12);
    k.layernorm(px, pw, pb, o1, n, eps);
    k.layernorm_scalar(px, pw, pb, o2, n, eps);
    // ggml_compute_forward_norm_f32 (AVX2 ggml_vec_cvar_f32), then ggml_mul, then ggml_add
    let s = 0;
    for (const v of x) s += v;
    const mean = f(f(s) / n);
    let sq = 0;
    let i = 0;
    for (; i + 8 <= n; i += 8) {
      const q = Array.from({ length: 8 }, (_, j) => f(f(x[i + j] - mean) ** 2));
      sq += f(f(f(q[4] + q[0]) + f(q[6] + q[2])) + f(f(q[5] + q[1]) + f(q[7] + q[3])));
    }
    for (; i < n; i++) sq += f(f(x[i] - mean) ** 2);
    const scale = f(1 / f(Math.sqrt(f(f(sq / n) + eps))));
    const want = Float32Array.from(x, (v, j) => f(f(f(f(v - mean) * scale) * w[j]) + b[j]));
    expect(Array.from(read(o1, n))).toEqual(Array.from(want));
    expect(Array.from(read(o2, n))).toEqual(Array.from(want));
    k.layernorm(px, pw, pb, px, n, eps); // in place
    expect(Array.from(read(px, n))).toEqual(Array.from(want));
  });
});

describe("gelu", () => {
  it("is the table's value at f16(x), x itself from 10, 0 from -10; SIMD = scalar", () => {
    const table = engine.alloc(65536 * 2, "gelu table");
    k.gelu_table(table);
    const x = Float32Array.from([-20, -10, -1, -0.5, 0, 0.25, 1, 3, 9.99, 10, 42]);
    const [px, o1, o2] = [put(x), put(x.length), put(x.length)];
    k.gelu(px, o1, x.length, table);
    k.gelu_scalar(px, o2, x.length, table);
    const y = read(o1, x.length);
    expect(Array.from(read(o2, x.length))).toEqual(Array.from(y));
    expect([y[0], y[1], y[9], y[10]]).toEqual([0, 0, 10, 42]);
    const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * v * (1 + 0.044715 * v * v)));
    for (let i = 2; i < 9; i++) expect(Math.abs(y[i] - gelu(x[i]))).toBeLessThan(2e-3 * Math.max(1, Math.abs(x[i])));
  });
});

describe("attention_f32", () => {
  // nPos 12 (ggml_vec_dot_f32 leftovers), 16 (tinyBLAS lanes), 40 (32-steps + leftovers); GQA 4 heads on 2.
  it.each([
    [4, 2, 32, 12],
    [4, 2, 32, 16],
    [4, 4, 40, 40],
    [8, 8, 32, 1],
  ])("%i heads on %i kv heads, headDim %i, nPos %i: SIMD = scalar, and f64 attention to 1e-5", (nHeads, nKv, hd, nPos) => {
    const kvDim = nKv * hd;
    const stride = kvDim + 8; // rows wider than K, as the encoder's Q|K|V rows are
    const q = randomF32(nHeads * hd, nPos, -2, 2);
    const kr = randomF32(nPos * stride, nPos + 1, -2, 2);
    const vT = randomF32(kvDim * nPos, nPos + 2);
    const [pq, pk, pv, o1, o2, sc] = [put(q), put(kr), put(vT), put(nHeads * hd), put(nHeads * hd), put(nHeads * nPos)];
    const scale = f(1 / Math.sqrt(hd));
    k.attention_f32(pq, pk, stride, pv, o1, sc, nHeads, nKv, hd, nPos, scale, 0, nHeads);
    k.attention_f32_scalar(pq, pk, stride, pv, o2, sc, nHeads, nKv, hd, nPos, scale, 0, nHeads);
    const got = read(o1, nHeads * hd);
    expect(Array.from(read(o2, nHeads * hd))).toEqual(Array.from(got));
    for (let h = 0; h < nHeads; h++) {
      const kvh = Math.floor(h / (nHeads / nKv));
      const s = Array.from({ length: nPos }, (_, t) => {
        let d = 0;
        for (let i = 0; i < hd; i++) d += q[h * hd + i] * kr[t * stride + kvh * hd + i];
        return d * scale;
      });
      const m = Math.max(...s);
      const e = s.map((v) => Math.exp(v - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < hd; d++) {
        let o = 0;
        for (let t = 0; t < nPos; t++) o += (e[t] / z) * vT[(kvh * hd + d) * nPos + t];
        expect(Math.abs(got[h * hd + d] - o)).toBeLessThan(1e-5);
      }
    }
  });
});

describe("pool_mean", () => {
  it.each([1, 12, 40, 77])("T = %i: SIMD = scalar, and the f64 mean to 1e-6", (T) => {
    const dim = 24;
    const x = randomF32(T * dim, T, -2, 2);
    const [px, col, wcol, o1, o2] = [put(x), put(T), put(T), put(dim), put(dim)];
    k.pool_mean(px, T, dim, f(1 / T), col, wcol, o1);
    k.pool_mean_scalar(px, T, dim, f(1 / T), col, wcol, o2);
    const got = read(o1, dim);
    expect(Array.from(read(o2, dim))).toEqual(Array.from(got));
    for (let d = 0; d < dim; d++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += x[t * dim + d];
      expect(Math.abs(got[d] - s / T)).toBeLessThan(1e-6);
    }
  });
});
