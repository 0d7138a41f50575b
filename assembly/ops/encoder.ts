// The encoder's (BERT's) own kernels: LayerNorm with weight and bias, plain GELU, and bidirectional
// attention over f32 K and V. llama.cpp runs an embedding model without a KV cache, so its K and V stay
// f32 (build_attn_mha's non-flash path: kq = ggml_mul_mat(K, Q) over f32 rows, ggml_soft_max_ext, then
// kqv = ggml_mul_mat(V^T, kq) over f32 rows); the f16 kernel of attention.ts would round q, K, V and the
// probabilities to f16 where llama.cpp does not.
//
// f32 dot products follow the AVX2 + FMA build, which produced the reference fixtures:
//   ggml_vec_dot_f32: 32-element steps in four 8-lane FMA accumulators, reduced as GGML_F32x8_REDUCE,
//     then the n % 32 leftovers as `sumf += x[i]*y[i]` in f32, which GCC and Clang contract to an FMA
//     (ggml builds as gnu11/gnu++17, where contraction is on).
//   llamafile's tinyBLAS (sgemm.cpp), which ggml_mul_mat takes for f32 x f32 when the shared dimension is
//     a multiple of 8 and both operands are contiguous: 8 FMA lanes over the shared dimension, then hsum
//     ((v4 + v0) + (v6 + v2)) + ((v5 + v1) + (v7 + v3)). For kqv this is when nPos % 8 == 0 (kq's rows
//     are contiguous; Q, permuted, is not, so kq always takes ggml_vec_dot_f32).
import { expPreciseS, expS, expV, floatToHalf, fmaS, fmaV, halfToFloat } from "./math";

// ── LayerNorm ──────────────────────────────────────────────────────────────────────────────────────

/**
 * out = (x - mean) / sqrt(var + eps) * weight + bias, out may alias x; x, weight, bias, out: (n). As
 * ggml_compute_forward_norm_f32 then ggml_mul then ggml_add: sum in f64 in index order, mean = f32(sum) / n
 * in f32; the centred values' squares summed per 8 in f32 (ggml_vec_cvar_f32's AVX2 hsum order) into an
 * f64, the n % 8 tail one by one; var = f32(sum / n); scale = 1 / sqrtf(var + eps); then three roundings:
 * (x - mean) * scale, times weight, plus bias.
 */
export function layernorm(x: usize, weight: usize, bias: usize, out: usize, n: i32, eps: f32): void {
  const mean = meanOf(x, n);
  const mv = f32x4.splat(mean);
  let sum: f64 = 0;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = x + (<usize>i << 2);
    const d0 = f32x4.sub(v128.load(p), mv);
    const d1 = f32x4.sub(v128.load(p, 16), mv);
    const a = f32x4.add(f32x4.mul(d1, d1), f32x4.mul(d0, d0));
    sum += <f64>((f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 2)) + (f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 3)));
  }
  for (; i < n; i++) {
    const d = load<f32>(x + (<usize>i << 2)) - mean;
    sum += <f64>(d * d);
  }
  const scale = normScale(sum, n, eps);
  const sv = f32x4.splat(scale);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const y = f32x4.mul(f32x4.sub(v128.load(x + o), mv), sv);
    v128.store(out + o, f32x4.add(f32x4.mul(y, v128.load(weight + o)), v128.load(bias + o)));
  }
  for (; i < n; i++) normOne(x, weight, bias, out, i, mean, scale);
}

export function layernorm_scalar(x: usize, weight: usize, bias: usize, out: usize, n: i32, eps: f32): void {
  const mean = meanOf(x, n);
  let sum: f64 = 0;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = x + (<usize>i << 2);
    const q0 = sq(p, 0, mean), q1 = sq(p, 1, mean), q2 = sq(p, 2, mean), q3 = sq(p, 3, mean);
    const q4 = sq(p, 4, mean), q5 = sq(p, 5, mean), q6 = sq(p, 6, mean), q7 = sq(p, 7, mean);
    sum += <f64>(((q4 + q0) + (q6 + q2)) + ((q5 + q1) + (q7 + q3)));
  }
  for (; i < n; i++) sum += <f64>sq(x, i, mean);
  const scale = normScale(sum, n, eps);
  for (i = 0; i < n; i++) normOne(x, weight, bias, out, i, mean, scale);
}

@inline function meanOf(x: usize, n: i32): f32 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) s += <f64>load<f32>(x + (<usize>i << 2));
  return <f32>s / <f32>n;
}

@inline function sq(p: usize, i: i32, mean: f32): f32 {
  const d = load<f32>(p + (<usize>i << 2)) - mean;
  return d * d;
}

@inline function normScale(sum: f64, n: i32, eps: f32): f32 {
  const variance = <f32>(sum / <f64>n);
  return <f32>1 / sqrt<f32>(variance + eps);
}

@inline function normOne(x: usize, weight: usize, bias: usize, out: usize, i: i32, mean: f32, scale: f32): void {
  const o = <usize>i << 2;
  const y = (load<f32>(x + o) - mean) * scale;
  store<f32>(out + o, y * load<f32>(weight + o) + load<f32>(bias + o));
}

// ── GELU ───────────────────────────────────────────────────────────────────────────────────────────

/**
 * out = gelu(x) through the f16 table (gelu_table), out may alias x: ggml_vec_gelu_f32 with GGML_GELU_FP16.
 * x ≤ -10 gives 0, x ≥ 10 gives x, otherwise the table's value at f16(x) widened to f32.
 */
export function gelu(x: usize, out: usize, n: i32, table: usize): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    let y: f32;
    if (v <= <f32>-10) y = 0;
    else if (v >= <f32>10) y = v;
    else y = halfToFloat(<u32>load<u16>(table + (<usize>floatToHalf(v) << 1)));
    store<f32>(out + o, y);
  }
}

/** The scalar twin of gelu (a table lookup per element: scalar already). */
export function gelu_scalar(x: usize, out: usize, n: i32, table: usize): void {
  gelu(x, out, n, table);
}

// ── bidirectional attention over f32 K and V ───────────────────────────────────────────────────────

/**
 * One query token attends to all nPos positions, heads h in [h0, h1):
 *   q:      (nHeads, headDim) f32
 *   k:      nPos rows of kStride floats; kv head j's keys at columns j*headDim..
 *   vT:     (nKvHeads*headDim, nPos) f32: V transposed, as ggml_cont(ggml_transpose(v)) lays it out
 *   out:    (nHeads, headDim) f32, must not alias q
 *   scores: (nHeads, nPos) f32 scratch, left holding the probabilities
 * s_t = (k_t · q_h) * scale; p = softmax(s) as ggml_soft_max_ext; out_h[d] = vT_d · p.
 */
export function attention_f32(
  q: usize, k: usize, kStride: i32, vT: usize, out: usize, scores: usize,
  nHeads: i32, nKvHeads: i32, headDim: i32, nPos: i32, scale: f32, h0: i32, h1: i32,
): void {
  const group = nHeads / nKvHeads;
  const rowBytes = <usize>kStride << 2;
  const tiny = nPos % 8 == 0 && nPos >= 2 && headDim % 4 == 0;
  for (let h = h0; h < h1; h++) {
    const kvh = h / group;
    const qh = q + (<usize>(h * headDim) << 2);
    const sc = scores + ((<usize>h * <usize>nPos) << 2);
    const kh = k + (<usize>(kvh * headDim) << 2);
    let max: f32 = -Infinity;
    for (let t = 0; t < nPos; t++) {
      const s = dotV(kh + <usize>t * rowBytes, qh, headDim) * scale;
      store<f32>(sc + (<usize>t << 2), s);
      if (s > max) max = s;
    }
    const inv = <f32>(1.0 / softmaxV(sc, nPos, max));
    for (let t = 0; t < nPos; t++) store<f32>(sc + (<usize>t << 2), load<f32>(sc + (<usize>t << 2)) * inv);
    const oh = out + (<usize>(h * headDim) << 2);
    const vh = vT + ((<usize>(kvh * headDim) * <usize>nPos) << 2);
    for (let d = 0; d < headDim; d++) {
      const row = vh + ((<usize>d * <usize>nPos) << 2);
      store<f32>(oh + (<usize>d << 2), tiny ? tinyDotV(row, sc, nPos) : dotV(row, sc, nPos));
    }
  }
}

/** The scalar twin of attention_f32: the same lanes emulated one element at a time. */
export function attention_f32_scalar(
  q: usize, k: usize, kStride: i32, vT: usize, out: usize, scores: usize,
  nHeads: i32, nKvHeads: i32, headDim: i32, nPos: i32, scale: f32, h0: i32, h1: i32,
): void {
  const group = nHeads / nKvHeads;
  const rowBytes = <usize>kStride << 2;
  const tiny = nPos % 8 == 0 && nPos >= 2 && headDim % 4 == 0;
  for (let h = h0; h < h1; h++) {
    const kvh = h / group;
    const qh = q + (<usize>(h * headDim) << 2);
    const sc = scores + ((<usize>h * <usize>nPos) << 2);
    const kh = k + (<usize>(kvh * headDim) << 2);
    let max: f32 = -Infinity;
    for (let t = 0; t < nPos; t++) {
      const s = dotS(kh + <usize>t * rowBytes, qh, headDim) * scale;
      store<f32>(sc + (<usize>t << 2), s);
      if (s > max) max = s;
    }
    const inv = <f32>(1.0 / softmaxS(sc, nPos, max));
    for (let t = 0; t < nPos; t++) store<f32>(sc + (<usize>t << 2), load<f32>(sc + (<usize>t << 2)) * inv);
    const oh = out + (<usize>(h * headDim) << 2);
    const vh = vT + ((<usize>(kvh * headDim) * <usize>nPos) << 2);
    for (let d = 0; d < headDim; d++) {
      const row = vh + ((<usize>d * <usize>nPos) << 2);
      store<f32>(oh + (<usize>d << 2), tiny ? tinyDotS(row, sc, nPos) : dotS(row, sc, nPos));
    }
  }
}

/**
 * ggml_vec_dot_f32 (AVX2 + FMA) of a and b (n f32): see the file header. Eight v128 accumulators are the
 * four 8-lane registers, (a0, a1) the first.
 */
@inline function dotV(a: usize, b: usize, n: i32): f32 {
  const zero = f32x4.splat(0);
  let a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
  let i = 0;
  for (; i + 32 <= n; i += 32) {
    const pa = a + (<usize>i << 2);
    const pb = b + (<usize>i << 2);
    a0 = fmaV(v128.load(pa), v128.load(pb), a0);
    a1 = fmaV(v128.load(pa, 16), v128.load(pb, 16), a1);
    a2 = fmaV(v128.load(pa, 32), v128.load(pb, 32), a2);
    a3 = fmaV(v128.load(pa, 48), v128.load(pb, 48), a3);
    a4 = fmaV(v128.load(pa, 64), v128.load(pb, 64), a4);
    a5 = fmaV(v128.load(pa, 80), v128.load(pb, 80), a5);
    a6 = fmaV(v128.load(pa, 96), v128.load(pb, 96), a6);
    a7 = fmaV(v128.load(pa, 112), v128.load(pb, 112), a7);
  }
  a0 = f32x4.add(a0, a4);
  a1 = f32x4.add(a1, a5);
  a2 = f32x4.add(a2, a6);
  a3 = f32x4.add(a3, a7);
  a0 = f32x4.add(a0, a2);
  a1 = f32x4.add(a1, a3);
  const t0 = f32x4.add(a0, a1);
  let r = (f32x4.extract_lane(t0, 0) + f32x4.extract_lane(t0, 1)) + (f32x4.extract_lane(t0, 2) + f32x4.extract_lane(t0, 3));
  for (; i < n; i++) r = fmaS(load<f32>(a + (<usize>i << 2)), load<f32>(b + (<usize>i << 2)), r);
  return r;
}

/** The scalar twin of dotV: lane l of the 32 accumulates element l of every step, reduced in the same tree. */
function dotS(a: usize, b: usize, n: i32): f32 {
  const steps = n >> 5;
  let r: f32 = 0;
  if (steps > 0) {
    let t01: f32 = 0, t23: f32 = 0;
    for (let p = 0; p < 4; p++) {
      const lo = (lane(a, b, steps, p) + lane(a, b, steps, 16 + p)) + (lane(a, b, steps, 8 + p) + lane(a, b, steps, 24 + p));
      const hi = (lane(a, b, steps, 4 + p) + lane(a, b, steps, 20 + p)) + (lane(a, b, steps, 12 + p) + lane(a, b, steps, 28 + p));
      const t = lo + hi;
      if (p == 0) t01 = t;
      else if (p == 1) t01 += t;
      else if (p == 2) t23 = t;
      else t23 += t;
    }
    r = t01 + t23;
  }
  for (let i = steps << 5; i < n; i++) r = fmaS(load<f32>(a + (<usize>i << 2)), load<f32>(b + (<usize>i << 2)), r);
  return r;
}

@inline function lane(a: usize, b: usize, steps: i32, l: i32): f32 {
  let s: f32 = 0;
  for (let j = 0; j < steps; j++) {
    const o = <usize>((j << 5) + l) << 2;
    s = fmaS(load<f32>(a + o), load<f32>(b + o), s);
  }
  return s;
}

/** tinyBLAS's f32 dot (n % 8 == 0): 8 FMA lanes, then hsum. */
@inline function tinyDotV(a: usize, b: usize, n: i32): f32 {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  for (let i = 0; i < n; i += 8) {
    const o = <usize>i << 2;
    c0 = fmaV(v128.load(a + o), v128.load(b + o), c0);
    c1 = fmaV(v128.load(a + o, 16), v128.load(b + o, 16), c1);
  }
  const u = f32x4.add(c1, c0);
  return (f32x4.extract_lane(u, 0) + f32x4.extract_lane(u, 2)) + (f32x4.extract_lane(u, 1) + f32x4.extract_lane(u, 3));
}

function tinyDotS(a: usize, b: usize, n: i32): f32 {
  return ((tinyLane(a, b, n, 4) + tinyLane(a, b, n, 0)) + (tinyLane(a, b, n, 6) + tinyLane(a, b, n, 2))) +
    ((tinyLane(a, b, n, 5) + tinyLane(a, b, n, 1)) + (tinyLane(a, b, n, 7) + tinyLane(a, b, n, 3)));
}

@inline function tinyLane(a: usize, b: usize, n: i32, j: i32): f32 {
  let s: f32 = 0;
  for (let i = j; i < n; i += 8) s = fmaS(load<f32>(a + (<usize>i << 2)), load<f32>(b + (<usize>i << 2)), s);
  return s;
}

/**
 * ggml_vec_soft_max_f32 over one row of n scores (AVX2 + FMA): chunks of 8 through ggml_v_expf, each chunk
 * summed in f32 in hsum order into an f64; the n % 8 tail through libm expf. sc[t] becomes exp(s_t - max).
 * No padding here: without a KV cache llama.cpp's mask is n_tokens wide, so the tail is real.
 */
@inline function softmaxV(sc: usize, n: i32, max: f32): f64 {
  const mv = f32x4.splat(max);
  let sum: f64 = 0;
  let t = 0;
  for (; t + 8 <= n; t += 8) {
    const p = sc + (<usize>t << 2);
    const e0 = expV(f32x4.sub(v128.load(p), mv));
    const e1 = expV(f32x4.sub(v128.load(p, 16), mv));
    v128.store(p, e0);
    v128.store(p, e1, 16);
    const a = f32x4.add(e1, e0);
    sum += <f64>((f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 2)) + (f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 3)));
  }
  return softmaxTail(sc, t, n, max, sum);
}

function softmaxS(sc: usize, n: i32, max: f32): f64 {
  let sum: f64 = 0;
  let t = 0;
  for (; t + 8 <= n; t += 8) {
    const p = sc + (<usize>t << 2);
    const v0 = ex(p, 0, max), v1 = ex(p, 1, max), v2 = ex(p, 2, max), v3 = ex(p, 3, max);
    const v4 = ex(p, 4, max), v5 = ex(p, 5, max), v6 = ex(p, 6, max), v7 = ex(p, 7, max);
    sum += <f64>(((v4 + v0) + (v6 + v2)) + ((v5 + v1) + (v7 + v3)));
  }
  return softmaxTail(sc, t, n, max, sum);
}

@inline function ex(p: usize, i: i32, max: f32): f32 {
  const a = p + (<usize>i << 2);
  const e = expS(load<f32>(a) - max);
  store<f32>(a, e);
  return e;
}

@inline function softmaxTail(sc: usize, t: i32, n: i32, max: f32, sum: f64): f64 {
  for (; t < n; t++) {
    const a = sc + (<usize>t << 2);
    const e = expPreciseS(load<f32>(a) - max);
    store<f32>(a, e);
    sum += <f64>e;
  }
  return sum;
}

// ── pooling ────────────────────────────────────────────────────────────────────────────────────────

/**
 * out[d] = Σ_t x[t][d] · w for d < dim, x: (T, dim) rows; as llama.cpp's mean pooling computes it for one
 * sequence: ggml_mul_mat(ggml_cont(ggml_transpose(x)), mean) with mean = f32(1/T) per token, one
 * ggml_vec_dot_f32 per dimension (a single column: tinyBLAS wants two). Rows are gathered to `col` (T f32).
 */
export function pool_mean(x: usize, T: i32, dim: i32, w: f32, col: usize, wcol: usize, out: usize): void {
  for (let t = 0; t < T; t++) store<f32>(wcol + (<usize>t << 2), w);
  for (let d = 0; d < dim; d++) {
    for (let t = 0; t < T; t++) store<f32>(col + (<usize>t << 2), load<f32>(x + ((<usize>t * <usize>dim + <usize>d) << 2)));
    store<f32>(out + (<usize>d << 2), dotV(col, wcol, T));
  }
}

export function pool_mean_scalar(x: usize, T: i32, dim: i32, w: f32, col: usize, wcol: usize, out: usize): void {
  for (let t = 0; t < T; t++) store<f32>(wcol + (<usize>t << 2), w);
  for (let d = 0; d < dim; d++) {
    for (let t = 0; t < T; t++) store<f32>(col + (<usize>t << 2), load<f32>(x + ((<usize>t * <usize>dim + <usize>d) << 2)));
    store<f32>(out + (<usize>d << 2), dotS(col, wcol, T));
  }
}
