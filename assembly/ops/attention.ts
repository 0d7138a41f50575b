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
// Grouped queries: the query heads of one KV head (a group: 8 in TinyLlama, 4 in Llama-3-8B, 2 in Qwen3)
// read the same K and V rows, so each pass runs several heads at once and converts every f16 it reads
// once for them (ops/attention_scores.ts, ops/attention_values.ts say how ggml's lane orders survive
// that). A call runs the whole groups of heads [h0, h1) together where a group is a multiple of 4 heads
// and headDim of 32: q of all their heads to f16 * 2^112 in out, all their scores in ONE walk over the
// cache rows (ops/attention_scores.ts's scoresGroups: a row holds every KV head's keys side by side, so
// the walk reads the cache front to back), then per head the softmax and per group the V pass, which
// overwrites out. Anything else (a range that starts or ends inside a group, groups of 1 or 2, headDim %
// 32 != 0) runs group by group: q, scores, softmax, V pass. headDim % 32 != 0 (stories260K's 8) computes
// the scores one head and one position at a time.
//
// Measured on TinyLlama's shapes (32 heads, 4 KV heads, headDim 64), one layer, Node 20, best of 7, at 512 /
// 2048 positions: exact conversion 1.09 / 4.47 ms; scaled f16 0.48 / 1.90 ms; and grouped in-order V 0.435 /
// 1.74 ms (before the tinyBLAS V order). One token (decode), Node 24, relaxed build, both versions in one
// process, median of 25, 2 cores shared (load ~4): per head, 32-lane V walked per element 1.01 / 6.50 /
// 21.2 ms at 512 / 2048 / 8192 positions; grouped 0.30 / 1.78 / 6.3 ms (`woolly-bench kernels`).
// Dec 2026, same shapes and build, A/B in one process (`npm run bench:ab -- --mode attn512,attn2048,…`),
// medians, load 4-8: the softmax's constants from memory and its f16 rounding by an add (attention_softmax.ts)
// 1.34 -> 1.02 ms at 2048 (the profile had the softmax at 23% of the kernel); one row walk for all groups
// 7.2 -> 4.0 ms at 8192, 0.90 -> 0.83 ms at 2048. What is left at 2048 is about half scores and half V
// pass, each near its count of v128 operations (one q load per multiply-add in the K pass; a V row load,
// its conversion and one probability splat per head in the V pass), not memory. In a model's decode the
// cache is cold (the layers' weights stream through between two attentions): TinyLlama Q4_K_M, 1 thread,
// 32 tokens at depth 2048 against depth 16, the builds alternating in one process (load 1.4-4): 90.4 vs 58.0
// ms/token before these changes, 77.2 vs 57.1 after (ratio 0.64 -> 0.74); without scoresGroups' V touch 84.3.
import { floatToHalf, floatToHalfV, halfToFloat, halfToFloatV } from "./math";

import { capped, dotScaledS, scaledS, scoresGroups, scoresHeads, scoresOne, scoresRows4, TWO_M112, TWO_P112 } from "./attention_scores";
import { probability, softmax, softmaxNumeratorsS, softmaxNumeratorsV } from "./attention_softmax";
import { dotOrderS, tinyOrderS, valuesGroup } from "./attention_values";

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
  const nb = headDim >> 5;
  // Whole groups of a multiple of 4 heads (TinyLlama's 8, Llama-3's 4): every group's q, then their scores
  // in one walk over the rows (scoresGroups), then per group the softmax and V pass. Anything else (a
  // range starting or ending inside a group, groups of 2, headDim % 32 != 0) group by group below.
  const g0 = (h0 + group - 1) / group, g1 = h1 / group;
  if (g1 > g0 && (group & 3) == 0 && (headDim & 31) == 0) {
    const ha = g0 * group, hb = g1 * group;
    if (ha > h0) attentionPart(q, kCache, vCache, out, scores, group, headDim, rowBytes, nPos, scale, softcap, batch, h0, ha);
    scaledQueryV(q + <usize>ha * headBytes, out + <usize>ha * headBytes, (hb - ha) * headDim);
    const kvBytes = <usize>headDim << 1;
    const touch = scoresGroups(
      out + <usize>ha * headBytes, headBytes, kCache + <usize>g0 * kvBytes, rowBytes, kvBytes, scores + <usize>ha * scBytes, scBytes,
      nPos, nb, g1 - g0, group >> 2, scale, softcap, vCache + <usize>g0 * kvBytes,
    );
    // q is spent: the V pass overwrites these 16 bytes (keeps the V loads of scoresGroups)
    v128.store(out + <usize>ha * headBytes, touch);
    for (let h = ha; h < hb; h++) softmax(scores + <usize>h * scBytes, nPos);
    for (let g = g0; g < g1; g++) {
      const h = g * group;
      valuesGroup(vCache + <usize>g * kvBytes, rowBytes, scores + <usize>h * scBytes, scBytes, nPos, out + <usize>h * headBytes, headBytes, group, headDim, batch != 0 ? 8 : 32);
    }
    if (h1 > hb) attentionPart(q, kCache, vCache, out, scores, group, headDim, rowBytes, nPos, scale, softcap, batch, hb, h1);
    return;
  }
  attentionPart(q, kCache, vCache, out, scores, group, headDim, rowBytes, nPos, scale, softcap, batch, h0, h1);
}

/** attention of heads [h0, h1) group by group (nPos > 0). */
function attentionPart(
  q: usize, kCache: usize, vCache: usize, out: usize, scores: usize,
  group: i32, headDim: i32, rowBytes: usize, nPos: i32, scale: f32, softcap: f32, batch: i32, h0: i32, h1: i32,
): void {
  const headBytes = <usize>headDim << 2;
  const scBytes = <usize>nPos << 2;
  const nb = headDim >> 5;
  let h = h0;
  while (h < h1) {
    const kvh = h / group;
    const end = min(h1, (kvh + 1) * group);
    const k = kCache + (<usize>(kvh * headDim) << 1);
    const qh = out + <usize>h * headBytes;
    const sc = scores + <usize>h * scBytes;
    scaledQueryV(q + <usize>h * headBytes, qh, (end - h) * headDim);
    const nh = end - h;
    let i = 0;
    if (headDim & 31) {
      for (; i < nh; i++) scoresOne(qh + <usize>i * headBytes, k, rowBytes, sc + <usize>i * scBytes, nPos, headDim, scale, softcap);
    } else {
      if (nh >= 4) scoresHeads(qh, headBytes, k, rowBytes, sc, scBytes, nPos, nb, nh >> 2, scale, softcap);
      for (i = nh & ~3; i < nh; i++) scoresRows4(qh + <usize>i * headBytes, k, rowBytes, sc + <usize>i * scBytes, nPos, nb, scale, softcap);
    }
    for (i = 0; i < nh; i++) softmax(sc + <usize>i * scBytes, nPos);
    const v = vCache + (<usize>(kvh * headDim) << 1);
    valuesGroup(v, rowBytes, sc, scBytes, nPos, qh, headBytes, nh, headDim, batch != 0 ? 8 : 32);
    h = end;
  }
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
    const sum = softmaxNumeratorsS(sc, nPos, max, reinterpret<f32>(TWO_P112));
    const inv = <f32>(1.0 / sum);
    for (let t = 0; t < nPos; t++) probability(sc + (<usize>t << 2), inv);
    // one query token: ggml_vec_dot_f16's 32 lanes over positions; a batch: tinyBLAS's eight lanes
    for (let d = 0; d < headDim; d++) {
      const col = vCache + kvOff + (<usize>d << 1);
      store<f32>(oh + (<usize>d << 2), batch == 0 ? dotOrderS(col, rowBytes, sc, nPos) : tinyOrderS(col, rowBytes, sc, nPos));
    }
  }
}

/**
 * The softmax's numerators over one row (ggml_vec_soft_max_f32, AVX2 + FMA): x[t] = ggml_v_expf(x[t] - max)
 * for t < n; returns Σ in ggml's order (f64). attention runs the same code on its scores.
 */
export function softmax_numerators(x: usize, n: i32, max: f32): f64 {
  return softmaxNumeratorsV(x, n, max, 1);
}

/** The scalar twin of softmax_numerators. */
export function softmax_numerators_scalar(x: usize, n: i32, max: f32): f64 {
  return softmaxNumeratorsS(x, n, max, 1);
}
