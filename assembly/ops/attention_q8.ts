// Attention over an 8-bit KV cache (load option kvType "q8_0"), and the quantizer that fills it.
//
//   kCache, vCache: (nCtx, nKvHeads, headDim) as ggml block_q8_0, 34 bytes per 32 values, position stride
//                   rowBytes = nKvHeads * headDim / 32 * 34; kv head h at h * headDim / 32 * 34 in a row:
//
//        byte 0       2                                      34
//             ┌───────┬──────────────────────────────────────┐
//             │ d f16 │ qs i8[32]   q0 q1 … q31, in order    │     x_i ≈ d · q_i
//             └───────┴──────────────────────────────────────┘
//
//   q:      (nHeads, headDim) f32
//   out:    (nHeads, headDim) f32; may alias q
//   scores: (nHeads, nPos) f32 scratch, head h at scores + h*nPos*4; left holding e_t = exp(s_t - max)
//   qq:     nHeads slots of qSlotBytes(headDim) bytes: head h's query as Q8_0 activations (quant/act_q8_0.ts),
//           then (once its scores are done) 1/Σe in the slot's first f32
//   heads h in [h0, h1) are computed (the unit threads split); query head h reads kv head h / (nHeads/nKvHeads).
//   headDim % 32 == 0 (the loader refuses kvType "q8_0" otherwise).
//
// What llama.cpp's CPU backend computes for a q8_0 cache (it requires flash attention for a quantized V:
// ggml-cpu/ops.cpp ggml_compute_forward_flash_attn_ext_f16_one_chunk), per query head:
//   * K and V rows are stored by ggml_cpy into the q8_0 cache, through from_float = quantize_row_q8_0,
//     which on x86 is the AVX2 one (ggml-cpu/arch/x86/quants.c): d = amax / 127 stored as f16, quants
//     round_half_even(x · 127/amax) with the UNROUNDED multiplier (kv_quantize_q8_0 below; the scalar
//     quantize_row_q8_0_ref's roundf(x / d) can differ by one);
//   * Q is converted to K's vec_dot_type, Q8_0, by the same quantizer (quantize_q8_0 of quant/act_q8_0.ts);
//   * s_t = ggml_vec_dot_q8_0_q8_0(k_t, Q) * scale (soft-cap: cap · tanh(s / cap), see below): exact integer
//     sums per block, each times d_k·d_q;
//   * softmax in f32 without rounding the probabilities (the non-flash f16 path rounds them to f16);
//   * V rows through to_float (dequantize_row_q8_0: d · q, exact in f32), accumulated in f32, and the sum
//     divided by Σ e_t at the end (VKQ32 * (1/S)).
// Two things differ, on purpose, at the level of f32 rounding (bit-exactness with the flash path is not
// the goal: the fixtures hold non-flash, f16-cache references only):
//   * ggml's loop is an online softmax (a running maximum, the accumulator rescaled by expf(Mold - M) when
//     it grows). Here the scores are kept (scratch), the maximum found first and exp(s_t - max) taken once
//     through ggml_v_expf (as ggml_soft_max does): the same function with fewer roundings, and it lets the
//     V pass keep its sums in registers instead of rescaling them.
//   * sums run in fixed lane orders of this file's own (below), with separate multiplies and adds, never
//     relaxed_madd: whether that fuses depends on the engine, and the scalar twins must give the same bits.
// The soft-cap is applied as the f16 path applies it (attention_scores.ts capped(s) then scale; gemma2 runs
// with scale 1, where it is the flash path's s·(scale/cap) too).
//
// Orders (what the scalar twin replays):
//   K·Q: per block, lane j (0..3) gets the exact integer sums of elements 4j..4j+3 (lo) and 16+4j..16+4j+3
//        (hi), as quant/act_q8_0.ts's signed_half gives them; lo_j += f32(sum) * (d_k·d_q) over the blocks in
//        order (mul, then add), likewise hi_j; then a_j = lo_j + hi_j and s = (a0 + a2) + (a1 + a3).
//        d_k·d_q is exact (two f16 values).
//   V:   out_h[i] = (Σ_t e_t · (d_t · q_t,i), t in order, mul then add) · f32(1 / Σ e_t), Σ e_t in f64 in
//        ggml_vec_soft_max_f32's order (attention_softmax.ts).
// Every head's arithmetic is its own, whatever heads share a pass, so any split of heads (threads) gives
// the same bits.
//
// Grouped queries, as the f16 kernel: the heads of one KV head run together. The K pass takes four heads per
// key row (the row's blocks loaded once for the four), the V pass four heads × 8 values, two × 16 or one ×
// 32 per walk over the positions (each V row piece converted to f32 once for the heads of the pass),
// eight v128 sums in registers. Tried (Dec 2026): the f16 kernel's one walk over the rows for the scores of
// all groups (attention_scores.ts scoresGroups) was 17-23% slower here at 2048 positions for 16% faster
// at 8192 (A/B, Node 24 relaxed), so each KV head keeps its own walk.
import { f16_raw, f32_to_f16 } from "../quant/common";
import { act_q, HALF, QS_BLOCK, qs_bytes, quantize_q8_0, quantize_q8_0_scalar, signed_half } from "../quant/act_q8_0";
import { capped, TWO_P112 } from "./attention_scores";
import { rowMax, softmaxNumeratorsS, softmaxNumeratorsV } from "./attention_softmax";

/** Bytes of one block_q8_0. */
const BLOCK: usize = 34;

/**
 * Bytes of one head's slot in qq: the Q8_0 activations of headDim values in the larger (baseline, i16)
 * layout, 2·headDim + 44·headDim/32, rounded up to 16. The same in both builds (src/model/kv-cache.ts sizes it).
 */
@inline function qSlotBytes(headDim: i32): usize {
  return (<usize>(2 * headDim + 44 * (headDim >> 5)) + 15) & ~(<usize>15);
}

// ── Storing: f32 → block_q8_0 ────────────────────────────────────────────────────────────────────────

/**
 * n f32 at x (n % 32 == 0) → n / 32 ggml block_q8_0 at dst, as ggml's AVX2 quantize_row_q8_0: amax over the
 * block, d = amax / 127 (stored as f16, round to nearest even), q_i = round_half_even(x_i · (127 / amax))
 * (0 for an all-zero block). |q_i| ≤ 127.
 */
export function kv_quantize_q8_0(x: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  for (let b = 0; b < nb; b++) {
    const p = x + ((<usize>b) << 7);
    const o = dst + <usize>b * BLOCK;
    const v0 = v128.load(p, 0), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
    const v4 = v128.load(p, 64), v5 = v128.load(p, 80), v6 = v128.load(p, 96), v7 = v128.load(p, 112);
    let m = f32x4.pmax(f32x4.pmax(f32x4.abs(v0), f32x4.abs(v1)), f32x4.pmax(f32x4.abs(v2), f32x4.abs(v3)));
    m = f32x4.pmax(m, f32x4.pmax(f32x4.pmax(f32x4.abs(v4), f32x4.abs(v5)), f32x4.pmax(f32x4.abs(v6), f32x4.abs(v7))));
    m = f32x4.pmax(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
    const amax = max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1));
    const id = f32x4.splat(amax != 0 ? <f32>127 / amax : 0);
    const q0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v0, id)));
    const q1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v1, id)));
    const q2 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v2, id)));
    const q3 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v3, id)));
    const q4 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v4, id)));
    const q5 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v5, id)));
    const q6 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v6, id)));
    const q7 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v7, id)));
    store<u16>(o, <u16>f32_to_f16(amax / 127));
    v128.store(o, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3)), 2);
    v128.store(o, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q4, q5), i16x8.narrow_i32x4_s(q6, q7)), 18);
  }
}

/** The scalar twin of kv_quantize_q8_0: the same bytes. */
export function kv_quantize_q8_0_scalar(x: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  for (let b = 0; b < nb; b++) {
    const p = x + ((<usize>b) << 7);
    const o = dst + <usize>b * BLOCK;
    let amax: f32 = 0;
    for (let i = 0; i < 32; i++) amax = max(amax, abs(load<f32>(p + ((<usize>i) << 2))));
    const id: f32 = amax != 0 ? <f32>127 / amax : 0;
    store<u16>(o, <u16>f32_to_f16(amax / 127));
    for (let i = 0; i < 32; i++) store<i8>(o + 2 + <usize>i, <i8><i32>nearest(load<f32>(p + ((<usize>i) << 2)) * id));
  }
}

// ── Attention ────────────────────────────────────────────────────────────────────────────────────────

export function attention_q8(
  q: usize, kCache: usize, vCache: usize, out: usize, scores: usize, qq: usize,
  nHeads: i32, nKvHeads: i32, headDim: i32, nPos: i32, scale: f32, softcap: f32, h0: i32, h1: i32,
): void {
  const headBytes = <usize>headDim << 2;
  if (nPos <= 0) {
    if (h1 > h0) memory.fill(out + <usize>h0 * headBytes, 0, <usize>(h1 - h0) * headBytes);
    return;
  }
  const group = nHeads / nKvHeads;
  const nb = headDim >> 5;
  const kvBytes = <usize>nb * BLOCK;
  const rowBytes = <usize>nKvHeads * kvBytes;
  const slot = qSlotBytes(headDim);
  const scBytes = <usize>nPos << 2;
  let h = h0;
  while (h < h1) {
    const kvh = h / group;
    const end = min(h1, (kvh + 1) * group);
    const nh = end - h;
    const qs = qq + <usize>h * slot;
    const sc = scores + <usize>h * scBytes;
    for (let j = 0; j < nh; j++) quantize_q8_0(q + <usize>(h + j) * headBytes, qs + <usize>j * slot, headDim);
    const k = kCache + <usize>kvh * kvBytes;
    let i = 0;
    for (; i + 4 <= nh; i += 4) scoresSet(k, rowBytes, qs + <usize>i * slot, slot, sc + <usize>i * scBytes, scBytes, nPos, nb, scale, softcap, 4);
    for (; i < nh; i++) scoresSet(k, rowBytes, qs + <usize>i * slot, slot, sc + <usize>i * scBytes, scBytes, nPos, nb, scale, softcap, 1);
    for (i = 0; i < nh; i++) {
      const row = sc + <usize>i * scBytes;
      // the quants are spent: the slot keeps 1/Σe for the V pass
      store<f32>(qs + <usize>i * slot, <f32>(1.0 / softmaxNumeratorsV(row, nPos, rowMax(row, nPos), 1)));
    }
    const v = vCache + <usize>kvh * kvBytes;
    const o = out + <usize>h * headBytes;
    i = 0;
    for (; i + 4 <= nh; i += 4) valuesSet(v, rowBytes, sc + <usize>i * scBytes, scBytes, nPos, qs + <usize>i * slot, slot, o + <usize>i * headBytes, headBytes, nb, 4);
    if (i + 2 <= nh) {
      valuesSet(v, rowBytes, sc + <usize>i * scBytes, scBytes, nPos, qs + <usize>i * slot, slot, o + <usize>i * headBytes, headBytes, nb, 2);
      i += 2;
    }
    if (i < nh) valuesSet(v, rowBytes, sc + <usize>i * scBytes, scBytes, nPos, qs + <usize>i * slot, slot, o + <usize>i * headBytes, headBytes, nb, 1);
    h = end;
  }
}

/** lo + f32(sum) · d, as two operations (never fused: see the header). */
@inline function addProduct(acc: v128, sum: v128, d: v128): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(sum), d));
}

/**
 * Scores of `heads` (4 or 1, a constant at each call) consecutive query heads, Q8_0 activations at qs,
 * qs + slot, …, against every key row of one KV head: head i's row at sc + i*scBytes.
 */
@inline function scoresSet(
  k: usize, rowBytes: usize, qs: usize, slot: usize, sc: usize, scBytes: usize, nPos: i32, nb: i32, scale: f32, softcap: f32, heads: i32,
): void {
  const zero = f32x4.splat(0);
  const dq = qs + qs_bytes(nb << 5); // head 0's d array (f32 · 2^112); head i's at dq + i*slot
  let row = k;
  let o = sc;
  for (let t = 0; t < nPos; t++) {
    let l0 = zero, h0 = zero, l1 = zero, h1 = zero, l2 = zero, h2 = zero, l3 = zero, h3 = zero;
    let blk = row;
    let y = qs;
    let dp = dq;
    for (let b = 0; b < nb; b++) {
      const lo = v128.load(blk, 2);
      const hi = v128.load(blk, 18);
      const dk = f16_raw(blk); // d_k · 2^-112: times d_q · 2^112 gives d_k·d_q exactly
      const d0 = f32x4.splat(dk * load<f32>(dp));
      l0 = addProduct(l0, signed_half(lo, y), d0);
      h0 = addProduct(h0, signed_half(hi, y + HALF), d0);
      if (heads == 4) {
        const d1 = f32x4.splat(dk * load<f32>(dp + slot));
        const d2 = f32x4.splat(dk * load<f32>(dp + 2 * slot));
        const d3 = f32x4.splat(dk * load<f32>(dp + 3 * slot));
        l1 = addProduct(l1, signed_half(lo, y + slot), d1);
        h1 = addProduct(h1, signed_half(hi, y + slot + HALF), d1);
        l2 = addProduct(l2, signed_half(lo, y + 2 * slot), d2);
        h2 = addProduct(h2, signed_half(hi, y + 2 * slot + HALF), d2);
        l3 = addProduct(l3, signed_half(lo, y + 3 * slot), d3);
        h3 = addProduct(h3, signed_half(hi, y + 3 * slot + HALF), d3);
      }
      blk += BLOCK;
      y += QS_BLOCK;
      dp += 4;
    }
    if (heads == 4) {
      // lane i: (a0 + a2) + (a1 + a3) of head i's a = lo + hi
      const a = f32x4.add(l0, h0), b = f32x4.add(l1, h1), c = f32x4.add(l2, h2), d = f32x4.add(l3, h3);
      const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 1, 4, 5), v128.shuffle<f32>(a, b, 2, 3, 6, 7));
      const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 1, 4, 5), v128.shuffle<f32>(c, d, 2, 3, 6, 7));
      let s = f32x4.add(v128.shuffle<f32>(ab, cd, 0, 2, 4, 6), v128.shuffle<f32>(ab, cd, 1, 3, 5, 7));
      if (softcap == 0) {
        s = f32x4.mul(s, f32x4.splat(scale));
        store<f32>(o, f32x4.extract_lane(s, 0));
        store<f32>(o + scBytes, f32x4.extract_lane(s, 1));
        store<f32>(o + 2 * scBytes, f32x4.extract_lane(s, 2));
        store<f32>(o + 3 * scBytes, f32x4.extract_lane(s, 3));
      } else {
        store<f32>(o, capped(f32x4.extract_lane(s, 0), softcap) * scale);
        store<f32>(o + scBytes, capped(f32x4.extract_lane(s, 1), softcap) * scale);
        store<f32>(o + 2 * scBytes, capped(f32x4.extract_lane(s, 2), softcap) * scale);
        store<f32>(o + 3 * scBytes, capped(f32x4.extract_lane(s, 3), softcap) * scale);
      }
    } else {
      const a = f32x4.add(l0, h0);
      const p = f32x4.add(a, i32x4.shuffle(a, a, 2, 3, 0, 1));
      store<f32>(o, capped(f32x4.extract_lane(p, 0) + f32x4.extract_lane(p, 1), softcap) * scale);
    }
    row += rowBytes;
    o += 4;
  }
}

/** e · (d · q) added to acc: the V row piece `v` is already d · q (exact). */
@inline function addWeighted(acc: v128, e: v128, v: v128): v128 {
  return f32x4.add(acc, f32x4.mul(e, v));
}

/** Four i32 lanes to f32 times d (exact: |q| ≤ 127 times an f16). */
@inline function dequant4(q: v128, d: v128): v128 {
  return f32x4.mul(f32x4.convert_i32x4_s(q), d);
}

/**
 * The V pass of `heads` (4, 2 or 1, a constant at each call) consecutive heads: scores rows e_t at sc,
 * sc + scBytes, …; 1/Σe in the first f32 of each head's slot; outputs at out, out + headBytes, …. Each walk
 * over the positions covers 32 / heads values of every head, in eight v128 sums.
 */
@inline function valuesSet(
  v: usize, rowBytes: usize, sc: usize, scBytes: usize, nPos: i32, qs: usize, slot: usize, out: usize, headBytes: usize, nb: i32, heads: i32,
): void {
  const zero = f32x4.splat(0);
  const up = reinterpret<f32>(TWO_P112);
  const width = 32 / heads;
  const headDim = nb << 5;
  for (let c0 = 0; c0 < headDim; c0 += width) {
    let a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
    let row = v + <usize>(c0 >> 5) * BLOCK;
    const off = <usize>(2 + (c0 & 31));
    let p = sc;
    for (let t = 0; t < nPos; t++) {
      const d = f32x4.splat(f16_raw(row) * up);
      if (heads == 4) {
        const x = v128.load8x8_s(row + off);
        const v0 = dequant4(i32x4.extend_low_i16x8_s(x), d);
        const v1 = dequant4(i32x4.extend_high_i16x8_s(x), d);
        const e0 = v128.load32_splat(p), e1 = v128.load32_splat(p + scBytes);
        const e2 = v128.load32_splat(p + 2 * scBytes), e3 = v128.load32_splat(p + 3 * scBytes);
        a0 = addWeighted(a0, e0, v0); a1 = addWeighted(a1, e0, v1);
        a2 = addWeighted(a2, e1, v0); a3 = addWeighted(a3, e1, v1);
        a4 = addWeighted(a4, e2, v0); a5 = addWeighted(a5, e2, v1);
        a6 = addWeighted(a6, e3, v0); a7 = addWeighted(a7, e3, v1);
      } else if (heads == 2) {
        const x = v128.load(row + off);
        const lo = i16x8.extend_low_i8x16_s(x);
        const hi = i16x8.extend_high_i8x16_s(x);
        const v0 = dequant4(i32x4.extend_low_i16x8_s(lo), d);
        const v1 = dequant4(i32x4.extend_high_i16x8_s(lo), d);
        const v2 = dequant4(i32x4.extend_low_i16x8_s(hi), d);
        const v3 = dequant4(i32x4.extend_high_i16x8_s(hi), d);
        const e0 = v128.load32_splat(p), e1 = v128.load32_splat(p + scBytes);
        a0 = addWeighted(a0, e0, v0); a1 = addWeighted(a1, e0, v1); a2 = addWeighted(a2, e0, v2); a3 = addWeighted(a3, e0, v3);
        a4 = addWeighted(a4, e1, v0); a5 = addWeighted(a5, e1, v1); a6 = addWeighted(a6, e1, v2); a7 = addWeighted(a7, e1, v3);
      } else {
        const x = v128.load(row + off);
        const y = v128.load(row + off, 16);
        const xl = i16x8.extend_low_i8x16_s(x), xh = i16x8.extend_high_i8x16_s(x);
        const yl = i16x8.extend_low_i8x16_s(y), yh = i16x8.extend_high_i8x16_s(y);
        const e0 = v128.load32_splat(p);
        a0 = addWeighted(a0, e0, dequant4(i32x4.extend_low_i16x8_s(xl), d));
        a1 = addWeighted(a1, e0, dequant4(i32x4.extend_high_i16x8_s(xl), d));
        a2 = addWeighted(a2, e0, dequant4(i32x4.extend_low_i16x8_s(xh), d));
        a3 = addWeighted(a3, e0, dequant4(i32x4.extend_high_i16x8_s(xh), d));
        a4 = addWeighted(a4, e0, dequant4(i32x4.extend_low_i16x8_s(yl), d));
        a5 = addWeighted(a5, e0, dequant4(i32x4.extend_high_i16x8_s(yl), d));
        a6 = addWeighted(a6, e0, dequant4(i32x4.extend_low_i16x8_s(yh), d));
        a7 = addWeighted(a7, e0, dequant4(i32x4.extend_high_i16x8_s(yh), d));
      }
      row += rowBytes;
      p += 4;
    }
    const o = out + (<usize>c0 << 2);
    if (heads == 4) {
      const i0 = v128.load32_splat(qs), i1 = v128.load32_splat(qs + slot);
      const i2 = v128.load32_splat(qs + 2 * slot), i3 = v128.load32_splat(qs + 3 * slot);
      v128.store(o, f32x4.mul(a0, i0)); v128.store(o, f32x4.mul(a1, i0), 16);
      v128.store(o + headBytes, f32x4.mul(a2, i1)); v128.store(o + headBytes, f32x4.mul(a3, i1), 16);
      v128.store(o + 2 * headBytes, f32x4.mul(a4, i2)); v128.store(o + 2 * headBytes, f32x4.mul(a5, i2), 16);
      v128.store(o + 3 * headBytes, f32x4.mul(a6, i3)); v128.store(o + 3 * headBytes, f32x4.mul(a7, i3), 16);
    } else if (heads == 2) {
      const i0 = v128.load32_splat(qs), i1 = v128.load32_splat(qs + slot);
      v128.store(o, f32x4.mul(a0, i0)); v128.store(o, f32x4.mul(a1, i0), 16);
      v128.store(o, f32x4.mul(a2, i0), 32); v128.store(o, f32x4.mul(a3, i0), 48);
      v128.store(o + headBytes, f32x4.mul(a4, i1)); v128.store(o + headBytes, f32x4.mul(a5, i1), 16);
      v128.store(o + headBytes, f32x4.mul(a6, i1), 32); v128.store(o + headBytes, f32x4.mul(a7, i1), 48);
    } else {
      const i0 = v128.load32_splat(qs);
      v128.store(o, f32x4.mul(a0, i0)); v128.store(o, f32x4.mul(a1, i0), 16);
      v128.store(o, f32x4.mul(a2, i0), 32); v128.store(o, f32x4.mul(a3, i0), 48);
      v128.store(o, f32x4.mul(a4, i0), 64); v128.store(o, f32x4.mul(a5, i0), 80);
      v128.store(o, f32x4.mul(a6, i0), 96); v128.store(o, f32x4.mul(a7, i0), 112);
    }
  }
}

/** The scalar twin of attention_q8: one head, one position, one value at a time; the same bits. */
export function attention_q8_scalar(
  q: usize, kCache: usize, vCache: usize, out: usize, scores: usize, qq: usize,
  nHeads: i32, nKvHeads: i32, headDim: i32, nPos: i32, scale: f32, softcap: f32, h0: i32, h1: i32,
): void {
  const group = nHeads / nKvHeads;
  const nb = headDim >> 5;
  const kvBytes = <usize>nb * BLOCK;
  const rowBytes = <usize>nKvHeads * kvBytes;
  const slot = qSlotBytes(headDim);
  const up = reinterpret<f32>(TWO_P112);
  for (let h = h0; h < h1; h++) {
    const oh = out + (<usize>(h * headDim) << 2);
    if (nPos <= 0) {
      for (let i = 0; i < headDim; i++) store<f32>(oh + (<usize>i << 2), 0);
      continue;
    }
    const qs = qq + <usize>h * slot;
    const sc = scores + ((<usize>h * <usize>nPos) << 2);
    const kv = <usize>(h / group) * kvBytes;
    quantize_q8_0_scalar(q + (<usize>(h * headDim) << 2), qs, headDim);
    let mx: f32 = -Infinity;
    for (let t = 0; t < nPos; t++) {
      const s = capped(dotQ8S(kCache + <usize>t * rowBytes + kv, qs, nb), softcap) * scale;
      store<f32>(sc + (<usize>t << 2), s);
      if (s > mx) mx = s;
    }
    const inv = <f32>(1.0 / softmaxNumeratorsS(sc, nPos, mx, 1));
    for (let i = 0; i < headDim; i++) {
      const at = <usize>(i >> 5) * BLOCK;
      const qi = <usize>(2 + (i & 31));
      let acc: f32 = 0;
      for (let t = 0; t < nPos; t++) {
        const blk = vCache + <usize>t * rowBytes + kv + at;
        const value = (f16_raw(blk) * up) * <f32>load<i8>(blk + qi);
        acc = acc + load<f32>(sc + (<usize>t << 2)) * value;
      }
      store<f32>(oh + (<usize>i << 2), acc * inv);
    }
    store<f32>(qs, inv);
  }
}

/** K row piece (nb blocks) · Q8_0 activations, in the lane order of scoresSet. */
function dotQ8S(k: usize, qs: usize, nb: i32): f32 {
  const dq = qs + qs_bytes(nb << 5);
  let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0;
  for (let j = 0; j < 4; j++) {
    let lo: f32 = 0, hi: f32 = 0;
    for (let b = 0; b < nb; b++) {
      const blk = k + <usize>b * BLOCK;
      const y = qs + <usize>b * QS_BLOCK;
      const d = f16_raw(blk) * load<f32>(dq + ((<usize>b) << 2));
      let sl = 0, sh = 0;
      for (let e = 4 * j; e < 4 * j + 4; e++) {
        sl += <i32>load<i8>(blk + 2 + <usize>e) * act_q(y, e);
        sh += <i32>load<i8>(blk + 18 + <usize>e) * act_q(y, 16 + e);
      }
      lo = lo + <f32>sl * d;
      hi = hi + <f32>sh * d;
    }
    const a = lo + hi;
    if (j == 0) a0 = a;
    else if (j == 1) a1 = a;
    else if (j == 2) a2 = a;
    else a3 = a;
  }
  return (a0 + a2) + (a1 + a3);
}
