// Grouped-query attention of ONE query token over the first nPos positions of one layer's f16 KV cache.
//
//   q:      (nHeads, headDim) f32
//   kCache: (nCtx, nKvHeads, headDim) f16, position stride nKvHeads*headDim; rows 0..nPos-1 are read
//   vCache: (nCtx, nKvHeads, headDim) f16, same layout
//   out:    (nHeads, headDim) f32; out may alias q
//   scores: (nHeads, nPos) f32 scratch, head h at scores + h*nPos*4; left holding exp(s_t - max) * 2^112
//   heads h in [h0, h1) are computed (the unit threads split); query head h reads kv head h / (nHeads/nKvHeads)
//
// Per head: s_t = cap(f16(q_h) · k_t) * scale (cap: the optional soft-cap, see capped); e_t = exp(s_t - max_t s); p_t = f16(e_t * f32(1 / Σ e_t));
// out_h = Σ_t p_t v_t. nPos = 0 writes zeros.
//
// This is llama.cpp's non-flash-attention CPU path, which is what produced the reference fixtures (checked:
// replaying it matches their logits to 1e-7, while the flash-attention path's f16 V accumulation is 1e-2
// away on quantized models): kq = K·f16(q) with ggml_vec_dot_f16; ggml_soft_max_ext (scale, max, exp summed
// in f64, then one multiply by f32(1/Σ)); kqv = V·f16(p), the probabilities rounded to f16 because the
// cache's V is f16 (vec_dot_type F16). Here the K·Q dot is ggml_vec_dot_f16 as AVX2 computes it, to the bit:
// f16 products are exact in f32, summed in 32 f32 lanes (element i in lane i % 32) over each 32-element
// block, lanes combined in GGML_F32x8_REDUCE's order, the n % 32 leftovers added in f64 (the NEON and
// AVX-512 builds differ). The softmax is ggml_vec_soft_max_f32 to the bit (see softmaxNumeratorsV): ggml's
// AVX2 + FMA ggml_v_expf for every score, summed in ggml's order. The V sum is kqv as a prompt batch
// computes it: ggml_compute_forward_mul_mat hands F16 x F16 with two or more tokens to llamafile_sgemm
// (ggml-cpu.c, after converting the probabilities to f16; llamafile/sgemm.cpp, `n < 2` returns false),
// whose AVX2 tinyBLAS<8> keeps eight f32 lanes over the n_kv positions (position t in lane t % 8, each
// lane summed in t order with exact f16 products), then hsum: ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7));
// the masked positions past nPos add exact zeros (see weightedSumV). Measured on the fixtures (with
// exact multiply-adds in the matmuls): every flip of the Sep-2026 Q8_0 references and most of the
// Feb-2025 ones came from the earlier in-order sum. A single token (decode) goes to ggml_vec_dot_f16
// instead (32 lanes): the references are prompts, so this follows the batch.
//
// Scaled f16. Converting f16 to f32 exactly costs about ten v128 operations per four values (ops/math.ts),
// and the K and V passes convert every cached value they read, nPos*headDim twice per head. But the f16
// bits moved into f32 position (sign to bit 31, exponent and mantissa
// shifted left 13) read as exactly k * 2^-112, for normal and subnormal f16 alike: three operations
// (unpack, arithmetic shift, and). So q is stored as f16(q) * 2^112 and the probabilities as p * 2^112
// (both exact: |f16| < 2^16 and p <= 1 stay below 2^128), and every product (q*2^112)(k*2^-112) or
// (p*2^112)(v*2^-112) is the same real number as q*k or p*v, rounded the same way: the results are
// bit-identical to converting first. The one difference: an infinite or NaN f16 in the cache (an
// activation that overflowed f16 when it was stored, which already ruins the output) reads as a large
// finite value instead of propagating.
//
// Grouped queries: both passes stay per head: keeping ggml's lane orders needs 8 accumulators per head,
// so sharing a K or V row between heads would need more than the 16 SIMD registers of x86. (An
// earlier V pass summed in t order and shared each V row between four heads.)
//
// Measured on TinyLlama's shapes (32 heads, 4 KV heads, headDim 64), one layer, Node 20, best of 7, at 512 /
// 2048 positions: exact conversion 1.09 / 4.47 ms; scaled f16 0.48 / 1.90 ms; and grouped in-order V 0.435 /
// 1.74 ms (before the tinyBLAS V order).
import { expS, expV, floatToHalf, floatToHalfV, halfToFloat, halfToFloatV } from "./math";

/**
 * Gemma 2's attention soft-cap: cap · tanh(s · f32(1/cap)), as llama.cpp's graph applies ggml_scale, ggml_tanh
 * (libm tanhf) and ggml_scale to kq before the softmax's own scale; cap = 0 leaves s as it is.
 */
@inline function capped(s: f32, cap: f32): f32 {
  return cap == 0 ? s : Mathf.tanh(s * (<f32>1 / cap)) * cap;
}

/** 2^112 as f32 bits: f16 bits in f32 position read as the value times 2^-112 (see "Scaled f16" above). */
const TWO_P112: u32 = 0x77800000;
/** 2^-112 as f32 bits. */
const TWO_M112: u32 = 0x07800000;
/** After the arithmetic shift by 3: keeps the sign (bit 31) and the f16 exponent and mantissa (bits 27..13). */
const SCALED_MASK: i32 = <i32>0x8FFFE000;

export function attention(
  q: usize, kCache: usize, vCache: usize, out: usize, scores: usize,
  nHeads: i32, nKvHeads: i32, headDim: i32, nPos: i32, scale: f32, softcap: f32, batch: i32, h0: i32, h1: i32,
): void {
  if (nPos <= 0) {
    if (h1 > h0) memory.fill(out + (<usize>(h0 * headDim) << 2), 0, <usize>((h1 - h0) * headDim) << 2);
    return;
  }
  const group = nHeads / nKvHeads;
  const rowBytes = <usize>(nKvHeads * headDim) << 1;
  const headBytes = <usize>headDim << 2;
  const scBytes = <usize>nPos << 2;
  let h = h0;
  while (h < h1) {
    const kvh = h / group;
    const v = vCache + (<usize>(kvh * headDim) << 1);
    const oh = out + <usize>h * headBytes;
    const sc = scores + <usize>h * scBytes;
    const inv = scoresSoftmaxV(q, kCache, out, scores, h, kvh, headDim, nPos, rowBytes, scale, softcap);
    if (batch != 0) weightedSumV(v, rowBytes, sc, nPos, oh, headDim, inv);
    else weightedSumDotV(v, rowBytes, sc, nPos, oh, headDim);
    h++;
  }
}

/**
 * For head h: out_h = f16(q_h) * 2^112 (it lives there until the V pass overwrites it: out_h is exactly
 * headDim floats), scores_h[t] = (q_h · k_t) * scale, then exp(s - max) * 2^112. Returns 1 / Σ exp(s - max).
 */
@inline function scoresSoftmaxV(
  q: usize, kCache: usize, out: usize, scores: usize, h: i32, kvh: i32, headDim: i32, nPos: i32, rowBytes: usize, scale: f32,
  softcap: f32,
): f32 {
  const oh = out + (<usize>(h * headDim) << 2);
  const sc = scores + ((<usize>h * <usize>nPos) << 2);
  const k = kCache + (<usize>(kvh * headDim) << 1);
  scaledQueryV(q + (<usize>(h * headDim) << 2), oh, headDim);
  let max: f32 = -Infinity;
  for (let t = 0; t < nPos; t++) {
    const s = capped(dotScaledV(oh, k + <usize>t * rowBytes, headDim), softcap) * scale;
    store<f32>(sc + (<usize>t << 2), s);
    if (s > max) max = s;
  }
  probabilitiesV(sc, nPos, <f32>(1.0 / softmaxNumeratorsV(sc, nPos, max)));
  return 1;
}

/**
 * sc[t] = f16(e_t * inv) * 2^112 where sc[t] held e_t * 2^112: the softmax normalized as ggml_soft_max
 * does (1/Σ in f64, rounded to f32, one f32 multiply), then rounded to f16 as ggml_mul_mat rounds kq for
 * the f16 V (vec_dot_type F16). This is what makes the logits match llama.cpp's to 1e-7 (measured).
 */
@inline function probabilitiesV(sc: usize, n: i32, inv: f32): void {
  const down = f32x4.splat(reinterpret<f32>(TWO_M112));
  const up = f32x4.splat(reinterpret<f32>(TWO_P112));
  const iv = f32x4.splat(inv);
  let t = 0;
  for (; t + 4 <= n; t += 4) {
    const p = sc + (<usize>t << 2);
    const prob = f32x4.mul(f32x4.mul(v128.load(p), down), iv);
    v128.store(p, f32x4.mul(halfToFloatV(floatToHalfV(prob)), up));
  }
  for (; t < n; t++) probability(sc + (<usize>t << 2), inv);
}

/** The scalar twin of probabilitiesV for one score. */
@inline function probability(sc: usize, inv: f32): void {
  const prob = load<f32>(sc) * reinterpret<f32>(TWO_M112) * inv;
  store<f32>(sc, halfToFloat(floatToHalf(prob)) * reinterpret<f32>(TWO_P112));
}

/** The scalar twin: the same arithmetic in the same order, so the same bits as attention. */
export function attention_scalar(
  q: usize, kCache: usize, vCache: usize, out: usize, scores: usize,
  nHeads: i32, nKvHeads: i32, headDim: i32, nPos: i32, scale: f32, softcap: f32, batch: i32, h0: i32, h1: i32,
): void {
  const group = nHeads / nKvHeads;
  const rowBytes = <usize>(nKvHeads * headDim) << 1;
  for (let h = h0; h < h1; h++) {
    const qh = q + (<usize>(h * headDim) << 2);
    const oh = out + (<usize>(h * headDim) << 2);
    const sc = scores + ((<usize>h * <usize>nPos) << 2);
    const kvOff = <usize>((h / group) * headDim) << 1;
    for (let i = 0; i < headDim; i++) {
      const v = halfToFloat(floatToHalf(load<f32>(qh + (<usize>i << 2)))) * reinterpret<f32>(TWO_P112);
      store<f32>(oh + (<usize>i << 2), v);
    }
    if (nPos <= 0) {
      for (let i = 0; i < headDim; i++) store<f32>(oh + (<usize>i << 2), 0);
      continue;
    }
    let max: f32 = -Infinity;
    for (let t = 0; t < nPos; t++) {
      const s = capped(dotScaledS(oh, kCache + <usize>t * rowBytes + kvOff, headDim), softcap) * scale;
      store<f32>(sc + (<usize>t << 2), s);
      if (s > max) max = s;
    }
    const sum = softmaxNumeratorsS(sc, nPos, max);
    const inv = <f32>(1.0 / sum);
    for (let t = 0; t < nPos; t++) probability(sc + (<usize>t << 2), inv);
    if (batch == 0) {
      // one query token: ggml_vec_dot_f16's 32 lanes over positions (see weightedSumDotV)
      for (let d = 0; d < headDim; d++) store<f32>(oh + (<usize>d << 2), dotOrderS(vCache + kvOff + (<usize>d << 1), rowBytes, sc, nPos));
      continue;
    }
    // tinyBLAS's eight lanes: position t in lane t % 8, then its hsum (see weightedSumV)
    for (let d = 0; d < headDim; d++) store<f32>(oh + (<usize>d << 2), tinyOrderS(vCache + kvOff + (<usize>d << 1), rowBytes, sc, nPos) * <f32>1);
  }
}

/** Elements 0..3 of eight f16 as f32 times 2^-112: each f16 moved to the top half of an i32, shifted into place. */
@inline function scaledLo(h: v128): v128 {
  const w = v128.shuffle<u16>(i32x4.splat(0), h, 0, 8, 1, 9, 2, 10, 3, 11);
  return v128.and(i32x4.shr_s(w, 3), i32x4.splat(SCALED_MASK));
}

/** Elements 4..7 of eight f16 as f32 times 2^-112. */
@inline function scaledHi(h: v128): v128 {
  const w = v128.shuffle<u16>(i32x4.splat(0), h, 4, 12, 5, 13, 6, 14, 7, 15);
  return v128.and(i32x4.shr_s(w, 3), i32x4.splat(SCALED_MASK));
}

/** The scalar twin of scaledLo / scaledHi for one f16. */
@inline function scaledS(h: u32): f32 {
  return reinterpret<f32>(((<i32>(h << 16)) >> 3) & SCALED_MASK);
}

/** dst = f32(f16(src)) * 2^112 for n floats; dst may equal src. */
@inline function scaledQueryV(src: usize, dst: usize, n: i32): void {
  const scale = f32x4.splat(reinterpret<f32>(TWO_P112));
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.mul(halfToFloatV(floatToHalfV(v128.load(src + o))), scale));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, halfToFloat(floatToHalf(load<f32>(src + o))) * reinterpret<f32>(TWO_P112));
  }
}

/**
 * ggml_vec_dot_f16 as the AVX2 build computes it, of a (n) f32 (f16 values * 2^112) and k (n) f16.
 * GGML_F16_STEP = 32 elements per step in four 8-lane registers x[0..3]; here x[r] is the pair of v128
 * (a{2r}, a{2r+1}). GGML_F32x8_REDUCE: x0 += x2, x1 += x3, x0 += x1, then t0 = lo + hi and two hadds,
 * (t0[0] + t0[1]) + (t0[2] + t0[3]). The n % 32 leftovers are added in f64, as ggml does.
 */
@inline function dotScaledV(a: usize, k: usize, n: i32): f32 {
  const zero = f32x4.splat(0);
  let a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
  let i = 0;
  for (; i + 32 <= n; i += 32) {
    const pa = a + (<usize>i << 2);
    const pk = k + (<usize>i << 1);
    const k0 = v128.load(pk);
    const k1 = v128.load(pk, 16);
    const k2 = v128.load(pk, 32);
    const k3 = v128.load(pk, 48);
    a0 = f32x4.add(a0, f32x4.mul(v128.load(pa), scaledLo(k0)));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(pa, 16), scaledHi(k0)));
    a2 = f32x4.add(a2, f32x4.mul(v128.load(pa, 32), scaledLo(k1)));
    a3 = f32x4.add(a3, f32x4.mul(v128.load(pa, 48), scaledHi(k1)));
    a4 = f32x4.add(a4, f32x4.mul(v128.load(pa, 64), scaledLo(k2)));
    a5 = f32x4.add(a5, f32x4.mul(v128.load(pa, 80), scaledHi(k2)));
    a6 = f32x4.add(a6, f32x4.mul(v128.load(pa, 96), scaledLo(k3)));
    a7 = f32x4.add(a7, f32x4.mul(v128.load(pa, 112), scaledHi(k3)));
  }
  a0 = f32x4.add(a0, a4);
  a1 = f32x4.add(a1, a5);
  a2 = f32x4.add(a2, a6);
  a3 = f32x4.add(a3, a7);
  a0 = f32x4.add(a0, a2);
  a1 = f32x4.add(a1, a3);
  const t0 = f32x4.add(a0, a1);
  const r = (f32x4.extract_lane(t0, 0) + f32x4.extract_lane(t0, 1)) +
    (f32x4.extract_lane(t0, 2) + f32x4.extract_lane(t0, 3));
  if (i == n) return r;
  let sum = <f64>r;
  for (; i < n; i++) {
    sum += <f64>(load<f32>(a + (<usize>i << 2)) * scaledS(<u32>load<u16>(k + (<usize>i << 1))));
  }
  return <f32>sum;
}

/** The scalar twin of dotScaledV: lane l of the 32 sums element l of every block, combined in the same tree. */
function dotScaledS(a: usize, k: usize, n: i32): f32 {
  const blocks = n >> 5;
  let r: f32 = 0;
  if (blocks > 0) {
    let t01: f32 = 0, t23: f32 = 0;
    for (let p = 0; p < 4; p++) {
      // lane p of x0 after the reduction, and of x0's high half (elements 4..7 of each 8)
      const lo = (laneSum(a, k, blocks, p) + laneSum(a, k, blocks, 16 + p)) +
        (laneSum(a, k, blocks, 8 + p) + laneSum(a, k, blocks, 24 + p));
      const hi = (laneSum(a, k, blocks, 4 + p) + laneSum(a, k, blocks, 20 + p)) +
        (laneSum(a, k, blocks, 12 + p) + laneSum(a, k, blocks, 28 + p));
      const t = lo + hi;
      if (p == 0) t01 = t;
      else if (p == 1) t01 += t;
      else if (p == 2) t23 = t;
      else t23 += t;
    }
    r = t01 + t23;
  }
  const done = blocks << 5;
  if (done == n) return r;
  let sum = <f64>r;
  for (let i = done; i < n; i++) {
    sum += <f64>(load<f32>(a + (<usize>i << 2)) * scaledS(<u32>load<u16>(k + (<usize>i << 1))));
  }
  return <f32>sum;
}

@inline function laneSum(a: usize, k: usize, blocks: i32, lane: i32): f32 {
  let s: f32 = 0;
  for (let b = 0; b < blocks; b++) {
    const i = (b << 5) + lane;
    s += load<f32>(a + (<usize>i << 2)) * scaledS(<u32>load<u16>(k + (<usize>i << 1)));
  }
  return s;
}

// ggml_vec_soft_max_f32 (ggml-cpu/vec.cpp) as the AVX2 + FMA build runs it over one row of scores: chunks
// of 8 through ggml_v_expf (expV, with ggml's fused multiply-adds), each chunk's 8 values summed in f32 as
// _mm256_extractf128_ps + _mm_movehl_ps + _mm_movehdup_ps/_mm_add_ss do, ((v4 + v0) + (v6 + v2)) +
// ((v5 + v1) + (v7 + v3)), that f32 added to the f64 sum. ggml's row is not nPos long but n_kv: llama.cpp
// pads its KV cache view to a multiple of 256 (32 in older builds; llama_kv_cache::get_n_kv) and masks
// the positions past nPos to -inf, for which ggml_v_expf gives exactly 0. So the n % 8 tail that
// ggml_vec_soft_max_f32 would send to libm expf is never reached, and the last partial chunk here is a
// chunk of 8 padded with zeros (adding an exact 0 changes no sum). Measured against the fixtures: the
// libm-tail alternative put synth-llama-BF16 prompt 2 at 1.5e-3 relative RMS; this puts it at 1.8e-7.

/** p = exp(*sc - max) through ggml_v_expf; stores p * 2^112 (exact) for the V pass and returns p. */
@inline function expNumerator(sc: usize, max: f32): f32 {
  const e = expS(load<f32>(sc) - max);
  store<f32>(sc, e * reinterpret<f32>(TWO_P112));
  return e;
}

/** The last n % 8 scores from t as one chunk of 8 padded with zeros, its f32 sum added to sum. */
@inline function softmaxTail(sc: usize, t: i32, n: i32, max: f32, sum: f64): f64 {
  if (t >= n) return sum;
  const m = n - t;
  const p = sc + (<usize>t << 2);
  const v0 = expNumerator(p, max);
  const v1: f32 = m > 1 ? expNumerator(p + 4, max) : 0;
  const v2: f32 = m > 2 ? expNumerator(p + 8, max) : 0;
  const v3: f32 = m > 3 ? expNumerator(p + 12, max) : 0;
  const v4: f32 = m > 4 ? expNumerator(p + 16, max) : 0;
  const v5: f32 = m > 5 ? expNumerator(p + 20, max) : 0;
  const v6: f32 = m > 6 ? expNumerator(p + 24, max) : 0;
  return sum + <f64>(((v4 + v0) + (v6 + v2)) + ((v5 + v1) + (<f32>0 + v3)));
}

/** sc[t] = exp(sc[t] - max) * 2^112 for t < n; returns Σ exp(sc[t] - max) in f64 as ggml sums it. */
@inline function softmaxNumeratorsV(sc: usize, n: i32, max: f32): f64 {
  const mv = f32x4.splat(max);
  const up = f32x4.splat(reinterpret<f32>(TWO_P112));
  let sum: f64 = 0;
  let t = 0;
  for (; t + 8 <= n; t += 8) {
    const p = sc + (<usize>t << 2);
    const e0 = expV(f32x4.sub(v128.load(p), mv));
    const e1 = expV(f32x4.sub(v128.load(p, 16), mv));
    v128.store(p, f32x4.mul(e0, up));
    v128.store(p, f32x4.mul(e1, up), 16);
    const a = f32x4.add(e1, e0);
    sum += <f64>((f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 2)) + (f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 3)));
  }
  return softmaxTail(sc, t, n, max, sum);
}

/** The scalar twin of softmaxNumeratorsV. */
function softmaxNumeratorsS(sc: usize, n: i32, max: f32): f64 {
  let sum: f64 = 0;
  let t = 0;
  for (; t + 8 <= n; t += 8) {
    const p = sc + (<usize>t << 2);
    const v0 = expNumerator(p, max);
    const v1 = expNumerator(p + 4, max);
    const v2 = expNumerator(p + 8, max);
    const v3 = expNumerator(p + 12, max);
    const v4 = expNumerator(p + 16, max);
    const v5 = expNumerator(p + 20, max);
    const v6 = expNumerator(p + 24, max);
    const v7 = expNumerator(p + 28, max);
    sum += <f64>(((v4 + v0) + (v6 + v2)) + ((v5 + v1) + (v7 + v3)));
  }
  return softmaxTail(sc, t, n, max, sum);
}

/**
 * The V pass for ONE query token, as llama.cpp computes kqv for a single token: ggml_compute_forward_mul_mat
 * does not take llamafile's path for n < 2, so each output element is ggml_vec_dot_f16 over the positions:
 * 32 lanes (position t in lane t % 32, each lane summed in t order, products exact), then GGML_F16_VEC_REDUCE:
 * lanes l, l+16, l+8, l+24 as (a_l + a_{l+16}) + (a_{l+8} + a_{l+24}) for l < 8, then y_i + y_{i+4}, then
 * (t_0 + t_1) + (t_2 + t_3). Positions past nPos (llama.cpp's padding to 256) add exact zeros. Lane by lane,
 * four elements per v128: eight partial results stay in registers and every V row is read once.
 */
@inline function weightedSumDotV(v: usize, rowBytes: usize, sc: usize, nPos: i32, out: usize, headDim: i32): void {
  let d = 0;
  for (; d + 4 <= headDim; d += 4) {
    const col = v + (<usize>d << 1);
    const y0 = laneQuad(col, rowBytes, sc, nPos, 0);
    const y1 = laneQuad(col, rowBytes, sc, nPos, 1);
    const y2 = laneQuad(col, rowBytes, sc, nPos, 2);
    const y3 = laneQuad(col, rowBytes, sc, nPos, 3);
    const y4 = laneQuad(col, rowBytes, sc, nPos, 4);
    const y5 = laneQuad(col, rowBytes, sc, nPos, 5);
    const y6 = laneQuad(col, rowBytes, sc, nPos, 6);
    const y7 = laneQuad(col, rowBytes, sc, nPos, 7);
    const t0 = f32x4.add(y0, y4);
    const t1 = f32x4.add(y1, y5);
    const t2 = f32x4.add(y2, y6);
    const t3 = f32x4.add(y3, y7);
    v128.store(out + (<usize>d << 2), f32x4.add(f32x4.add(t0, t1), f32x4.add(t2, t3)));
  }
  for (; d < headDim; d++) store<f32>(out + (<usize>d << 2), dotOrderS(v + (<usize>d << 1), rowBytes, sc, nPos));
}

/** (a_l + a_{l+16}) + (a_{l+8} + a_{l+24}) for four elements, a_L the lane-L sum over positions t ≡ L (mod 32). */
@inline function laneQuad(col: usize, rowBytes: usize, sc: usize, nPos: i32, l: i32): v128 {
  return f32x4.add(
    f32x4.add(laneSum4(col, rowBytes, sc, nPos, l), laneSum4(col, rowBytes, sc, nPos, l + 16)),
    f32x4.add(laneSum4(col, rowBytes, sc, nPos, l + 8), laneSum4(col, rowBytes, sc, nPos, l + 24)),
  );
}

@inline function laneSum4(col: usize, rowBytes: usize, sc: usize, nPos: i32, lane: i32): v128 {
  let acc = f32x4.splat(0);
  for (let t = lane; t < nPos; t += 32) {
    acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(sc + (<usize>t << 2)), scaledLo(v128.load64_zero(col + <usize>t * rowBytes))));
  }
  return acc;
}

/** The scalar twin of weightedSumDotV for one element (V column at col, stride rowBytes). */
function dotOrderS(col: usize, rowBytes: usize, sc: usize, nPos: i32): f32 {
  const y0 = laneQuadS(col, rowBytes, sc, nPos, 0);
  const y1 = laneQuadS(col, rowBytes, sc, nPos, 1);
  const y2 = laneQuadS(col, rowBytes, sc, nPos, 2);
  const y3 = laneQuadS(col, rowBytes, sc, nPos, 3);
  const y4 = laneQuadS(col, rowBytes, sc, nPos, 4);
  const y5 = laneQuadS(col, rowBytes, sc, nPos, 5);
  const y6 = laneQuadS(col, rowBytes, sc, nPos, 6);
  const y7 = laneQuadS(col, rowBytes, sc, nPos, 7);
  return ((y0 + y4) + (y1 + y5)) + ((y2 + y6) + (y3 + y7));
}

@inline function laneQuadS(col: usize, rowBytes: usize, sc: usize, nPos: i32, l: i32): f32 {
  return (laneS(col, rowBytes, sc, nPos, l, 32) + laneS(col, rowBytes, sc, nPos, l + 16, 32)) +
    (laneS(col, rowBytes, sc, nPos, l + 8, 32) + laneS(col, rowBytes, sc, nPos, l + 24, 32));
}

/** One element of the batch V pass (weightedSumV's order), scalar: lanes t % 8, then tinyBLAS's hsum. */
function tinyOrderS(col: usize, rowBytes: usize, sc: usize, nPos: i32): f32 {
  const l0 = laneS(col, rowBytes, sc, nPos, 0, 8), l1 = laneS(col, rowBytes, sc, nPos, 1, 8);
  const l2 = laneS(col, rowBytes, sc, nPos, 2, 8), l3 = laneS(col, rowBytes, sc, nPos, 3, 8);
  const l4 = laneS(col, rowBytes, sc, nPos, 4, 8), l5 = laneS(col, rowBytes, sc, nPos, 5, 8);
  const l6 = laneS(col, rowBytes, sc, nPos, 6, 8), l7 = laneS(col, rowBytes, sc, nPos, 7, 8);
  return ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7));
}

/** Σ p_t v_t over positions t = lane, lane + step, … in order. */
@inline function laneS(col: usize, rowBytes: usize, sc: usize, nPos: i32, lane: i32, step: i32): f32 {
  let acc: f32 = 0;
  for (let t = lane; t < nPos; t += step) acc += load<f32>(sc + (<usize>t << 2)) * scaledS(<u32>load<u16>(col + <usize>t * rowBytes));
  return acc;
}

/**
 * out (headDim) = inv * Σ_t p_t v_t, with sc holding p_t * 2^112 and V rows at v + t*rowBytes (f16), summed
 * as llamafile's tinyBLAS<8> sums a row of kqv: eight accumulators, position t into accumulator t % 8 in
 * t order (each product exact: f16(p) times an f16), then ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7)).
 * tinyBLAS runs over all n_kv cells, nPos rounded up to llama.cpp's KV padding, and those past nPos add
 * p = 0 times a zeroed cell: exact no-ops, so stopping at nPos gives the same bits. Four elements per
 * pass (8 accumulators of v128 fit x86's 16 registers with the loads); the last headDim % 4 one by one.
 */
@inline function weightedSumV(v: usize, rowBytes: usize, sc: usize, nPos: i32, out: usize, headDim: i32, inv: f32): void {
  const iv = f32x4.splat(inv);
  const zero = f32x4.splat(0);
  const full = nPos & ~7;
  let d = 0;
  for (; d + 4 <= headDim; d += 4) {
    let l0 = zero, l1 = zero, l2 = zero, l3 = zero, l4 = zero, l5 = zero, l6 = zero, l7 = zero;
    let row = v + (<usize>d << 1);
    const r8 = rowBytes << 3;
    let t = 0;
    for (; t < full; t += 8) {
      const p = sc + (<usize>t << 2);
      l0 = f32x4.add(l0, f32x4.mul(v128.load32_splat(p), scaledLo(v128.load64_zero(row))));
      l1 = f32x4.add(l1, f32x4.mul(v128.load32_splat(p, 4), scaledLo(v128.load64_zero(row + rowBytes))));
      l2 = f32x4.add(l2, f32x4.mul(v128.load32_splat(p, 8), scaledLo(v128.load64_zero(row + 2 * rowBytes))));
      l3 = f32x4.add(l3, f32x4.mul(v128.load32_splat(p, 12), scaledLo(v128.load64_zero(row + 3 * rowBytes))));
      l4 = f32x4.add(l4, f32x4.mul(v128.load32_splat(p, 16), scaledLo(v128.load64_zero(row + 4 * rowBytes))));
      l5 = f32x4.add(l5, f32x4.mul(v128.load32_splat(p, 20), scaledLo(v128.load64_zero(row + 5 * rowBytes))));
      l6 = f32x4.add(l6, f32x4.mul(v128.load32_splat(p, 24), scaledLo(v128.load64_zero(row + 6 * rowBytes))));
      l7 = f32x4.add(l7, f32x4.mul(v128.load32_splat(p, 28), scaledLo(v128.load64_zero(row + 7 * rowBytes))));
      row += r8;
    }
    // the last nPos % 8 positions go to lanes 0 .. nPos % 8 - 1
    const m = nPos - t;
    const p = sc + (<usize>t << 2);
    if (m > 0) l0 = f32x4.add(l0, f32x4.mul(v128.load32_splat(p), scaledLo(v128.load64_zero(row))));
    if (m > 1) l1 = f32x4.add(l1, f32x4.mul(v128.load32_splat(p, 4), scaledLo(v128.load64_zero(row + rowBytes))));
    if (m > 2) l2 = f32x4.add(l2, f32x4.mul(v128.load32_splat(p, 8), scaledLo(v128.load64_zero(row + 2 * rowBytes))));
    if (m > 3) l3 = f32x4.add(l3, f32x4.mul(v128.load32_splat(p, 12), scaledLo(v128.load64_zero(row + 3 * rowBytes))));
    if (m > 4) l4 = f32x4.add(l4, f32x4.mul(v128.load32_splat(p, 16), scaledLo(v128.load64_zero(row + 4 * rowBytes))));
    if (m > 5) l5 = f32x4.add(l5, f32x4.mul(v128.load32_splat(p, 20), scaledLo(v128.load64_zero(row + 5 * rowBytes))));
    if (m > 6) l6 = f32x4.add(l6, f32x4.mul(v128.load32_splat(p, 24), scaledLo(v128.load64_zero(row + 6 * rowBytes))));
    const r = f32x4.add(f32x4.add(f32x4.add(l0, l4), f32x4.add(l2, l6)), f32x4.add(f32x4.add(l1, l5), f32x4.add(l3, l7)));
    v128.store(out + (<usize>d << 2), f32x4.mul(r, iv));
  }
  for (; d < headDim; d++) store<f32>(out + (<usize>d << 2), tinyOrderS(v + (<usize>d << 1), rowBytes, sc, nPos) * inv);
}
