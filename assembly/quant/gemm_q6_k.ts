// GEMM tile for Q6_K weights (layout: q6_k.ts) against Q8_K activations (act_q8_k.ts): one weight
// row × four activation columns. Each 16-element sub-block's 6-bit quants are assembled once (ql
// nibbles | qh bit pairs; in the baseline build also multiplied by the sub-block scale) and used
// for all four columns.
//
//   y + c·yStride  ←  W·X[c],  X[c] at xq + c·xqStride (bytes), c = 0..3
//
// Bit-identical to dot_q6_k for every column: the same ggml AVX2 lanes (q6_k.ts header). Lanes
// 0..3 gather the l-groups at o = 0 (sub-blocks 0, 2, 4, …, 14), lanes 4..7 those at o = 16
// (sub-blocks 1, 3, …, 15), lane p holding elements 4p … 4p+3 of each of its sub-blocks, minus the
// −32 offset as ggml groups it (lanes 0..3: 32·(sc_{2l}·bsums_{2l} + sc_{2l+1}·bsums_{2l+1}) over
// sub-blocks 0..7, lanes 4..7 over 8..15); per super-block and column the same exact integers go
// through the same fma_d_f32x4 with the same f32 d = dx·d into the column's accLo / accHi, and the
// result is dot_q6_k's hsum_f32x4(accLo + accHi). How the integers are reached:
//   relaxed:  as dot_q6_k: unsigned q (0..63) into relaxed_dot, × the scale by dot_i16x8_s;
//   baseline: the weights q·sc are made as i16 once per row (|·| ≤ 63·128 = 8064; × |x| ≤ 128,
//             two per dot_i16x8_s lane: ≤ 2064384, inside i32), so a column costs two
//             dot_i16x8_s per sub-block and no multiply.
//   both:     the offset from the bsums (kcommon.ts scales · bsums, << 5), as dot_q6_k.
// The two lane sets run one after the other (o outer), so one i32 accumulator per column is live
// in the inner loop; a pass takes the two sub-blocks that share their ql and qh bytes. V8 hoists
// every load of a straight block to its top, and more activation loads for four columns would not
// fit the 16 registers; the eight f32 accumulators are touched once per lane set and super-block.
import { hsum_f32x4 } from "./common";
import { q8k_qs, Q8K_QS_SHIFT } from "./act_q8_k";
import { scaled16v, mask, MASK_0F, MASK_30, load_f16_finite, fma_d_f32x4 } from "./kcommon";

/** The −32 offset of one lane set: 32·(sc_{2l}·bsums_{2l} + sc_{2l+1}·bsums_{2l+1}), sc 8 i16 scales. */
@inline
function offset32(bs: usize, sc: v128): v128 {
  return i32x4.shl(i32x4.dot_i16x8_s(sc, v128.load(bs)), 5);
}

/** Baseline: one sub-block's 16 weights as i16 evens / odds against one column's x at `x`. */
@inline
function sub_i16(we: v128, wo: v128, x: usize, acc: v128): v128 {
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(we, v128.load(x, 0)));
  return i32x4.add(acc, i32x4.dot_i16x8_s(wo, v128.load(x, 16)));
}

/** Measured: see dispatch.ts's matmul header. */
export function gemm4_q6_k(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  const nb = n >> 8;
  const m0f = mask(MASK_0F);
  const m30 = mask(MASK_30);
  const dArr = xq + ((<usize>n) << Q8K_QS_SHIFT); // column 0's d[0]
  const bsArr = dArr + ((<usize>nb) << 2); // column 0's bsums of super-block 0
  let l0 = f32x4.splat(0), l1 = f32x4.splat(0), l2 = f32x4.splat(0), l3 = f32x4.splat(0); // accLo per column
  let h0 = f32x4.splat(0), h1 = f32x4.splat(0), h2 = f32x4.splat(0), h3 = f32x4.splat(0); // accHi
  for (let b = 0; b < nb; b++) {
    const x = q8k_qs(xq, b);
    const dp = dArr + ((<usize>b) << 2);
    const bs = bsArr + ((<usize>b) << 5);
    for (let oh = 0; oh < 2; oh++) {
      let a0 = i32x4.splat(0);
      let a1 = i32x4.splat(0);
      let a2 = i32x4.splat(0);
      let a3 = i32x4.splat(0);
      const o = oh << 4;
      // One pass per (half h, quarter pair kk): sub-blocks A = 8h + 2kk + oh (quarter kk: the low
      // nibbles of the ql bytes, qh bits 2kk..2kk+1) and A + 4 (quarter kk + 2: the high nibbles,
      // qh bits 2kk+4..+5), from one ql load and one qh shift.
      for (let it = 0; it < 4; it++) {
        const h = it >> 1;
        const kk = it & 1;
        const ql = v128.load(w + <usize>((h << 6) + o + (kk << 5))); // ql[64h + o + 32kk …]
        const hs = i16x8.shr_u(v128.load(w + <usize>(128 + (h << 5) + o)), kk << 1); // qh[32h + o …]
        // 16-bit shifts: the masks drop every bit that crossed into the neighbouring byte
        const qa = v128.or(v128.and(ql, m0f), v128.and(i16x8.shl(hs, 4), m30));
        const qb = v128.or(v128.and(i16x8.shr_u(ql, 4), m0f), v128.and(hs, m30));
        const sa = (h << 3) + (kk << 1) + oh; // sub-block A
        const xa = x + ((<usize>(sa << 4)) << Q8K_QS_SHIFT);
        const xb = xa + (64 << Q8K_QS_SHIFT);
        const ssa = i16x8.splat(<i16>load<i8>(w + 192 + <usize>sa));
        const ssb = i16x8.splat(<i16>load<i8>(w + 196 + <usize>sa));
        if (ASC_FEATURE_RELAXED_SIMD) {
          a0 = scaled16v(qb, xb, ssb, scaled16v(qa, xa, ssa, a0));
          a1 = scaled16v(qb, xb + xqStride, ssb, scaled16v(qa, xa + xqStride, ssa, a1));
          a2 = scaled16v(qb, xb + 2 * xqStride, ssb, scaled16v(qa, xa + 2 * xqStride, ssa, a2));
          a3 = scaled16v(qb, xb + 3 * xqStride, ssb, scaled16v(qa, xa + 3 * xqStride, ssa, a3));
        } else {
          const wae = i16x8.mul(i16x8.shr_u(i16x8.shl(qa, 8), 8), ssa);
          const wao = i16x8.mul(i16x8.shr_u(qa, 8), ssa);
          a0 = sub_i16(wae, wao, xa, a0);
          a1 = sub_i16(wae, wao, xa + xqStride, a1);
          a2 = sub_i16(wae, wao, xa + 2 * xqStride, a2);
          a3 = sub_i16(wae, wao, xa + 3 * xqStride, a3);
          const wbe = i16x8.mul(i16x8.shr_u(i16x8.shl(qb, 8), 8), ssb);
          const wbo = i16x8.mul(i16x8.shr_u(qb, 8), ssb);
          a0 = sub_i16(wbe, wbo, xb, a0);
          a1 = sub_i16(wbe, wbo, xb + xqStride, a1);
          a2 = sub_i16(wbe, wbo, xb + 2 * xqStride, a2);
          a3 = sub_i16(wbe, wbo, xb + 3 * xqStride, a3);
        }
      }
      // lane set oh: scales 8oh … 8oh+7 against bsums 8oh … 8oh+7
      const sv = i16x8.extend_low_i8x16_s(v128.load64_zero(w + 192 + (<usize>oh << 3)));
      const bso = bs + (<usize>oh << 4);
      a0 = i32x4.sub(a0, offset32(bso, sv));
      a1 = i32x4.sub(a1, offset32(bso + xqStride, sv));
      a2 = i32x4.sub(a2, offset32(bso + 2 * xqStride, sv));
      a3 = i32x4.sub(a3, offset32(bso + 3 * xqStride, sv));
      const dw = load_f16_finite(w + 208);
      const d0 = (load<f32>(dp) * dw);
      const d1 = (load<f32>(dp + xqStride) * dw);
      const d2 = (load<f32>(dp + 2 * xqStride) * dw);
      const d3 = (load<f32>(dp + 3 * xqStride) * dw);
      if (oh == 0) {
        l0 = fma_d_f32x4(d0, f32x4.convert_i32x4_s(a0), l0);
        l1 = fma_d_f32x4(d1, f32x4.convert_i32x4_s(a1), l1);
        l2 = fma_d_f32x4(d2, f32x4.convert_i32x4_s(a2), l2);
        l3 = fma_d_f32x4(d3, f32x4.convert_i32x4_s(a3), l3);
      } else {
        h0 = fma_d_f32x4(d0, f32x4.convert_i32x4_s(a0), h0);
        h1 = fma_d_f32x4(d1, f32x4.convert_i32x4_s(a1), h1);
        h2 = fma_d_f32x4(d2, f32x4.convert_i32x4_s(a2), h2);
        h3 = fma_d_f32x4(d3, f32x4.convert_i32x4_s(a3), h3);
      }
    }
    w += 210;
  }
  store<f32>(y, hsum_f32x4(f32x4.add(l0, h0)));
  store<f32>(y + yStride, hsum_f32x4(f32x4.add(l1, h1)));
  store<f32>(y + 2 * yStride, hsum_f32x4(f32x4.add(l2, h2)));
  store<f32>(y + 3 * yStride, hsum_f32x4(f32x4.add(l3, h3)));
}

/**
 * gemm4_q6_k for eight columns (y + c·yStride, X[c] at xq + c·xqStride, c = 0..7), relaxed build
 * only (dispatch.ts): the same integers and f32 operations per column as dot_q6_k, so the same
 * bits; each pass's 6-bit quants are assembled once for eight columns instead of four.
 * Measured, kernel-ab 2048×2048 by 64 columns, Node 24, min of 30: 10.42 → 9.17 ms against gemm4_q6_k.
 */
export function gemm8_q6_k(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  if (!ASC_FEATURE_RELAXED_SIMD) return;
  const nb = n >> 8;
  const m0f = mask(MASK_0F);
  const m30 = mask(MASK_30);
  const dArr = xq + ((<usize>n) << Q8K_QS_SHIFT); // column 0's d[0]
  const bsArr = dArr + ((<usize>nb) << 2); // column 0's bsums of super-block 0
  const s4: usize = 4 * xqStride;
  let l0 = f32x4.splat(0), l1 = f32x4.splat(0), l2 = f32x4.splat(0), l3 = f32x4.splat(0); // accLo per column
  let l4 = f32x4.splat(0), l5 = f32x4.splat(0), l6 = f32x4.splat(0), l7 = f32x4.splat(0);
  let h0 = f32x4.splat(0), h1 = f32x4.splat(0), h2 = f32x4.splat(0), h3 = f32x4.splat(0); // accHi
  let h4 = f32x4.splat(0), h5 = f32x4.splat(0), h6 = f32x4.splat(0), h7 = f32x4.splat(0);
  for (let b = 0; b < nb; b++) {
    const x = q8k_qs(xq, b);
    const dp = dArr + ((<usize>b) << 2);
    const bs = bsArr + ((<usize>b) << 5);
    for (let oh = 0; oh < 2; oh++) {
      let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
      let a4 = i32x4.splat(0), a5 = i32x4.splat(0), a6 = i32x4.splat(0), a7 = i32x4.splat(0);
      const o = oh << 4;
      for (let it = 0; it < 4; it++) {
        const h = it >> 1;
        const kk = it & 1;
        const ql = v128.load(w + <usize>((h << 6) + o + (kk << 5)));
        const hs = i16x8.shr_u(v128.load(w + <usize>(128 + (h << 5) + o)), kk << 1);
        const qa = v128.or(v128.and(ql, m0f), v128.and(i16x8.shl(hs, 4), m30));
        const qb = v128.or(v128.and(i16x8.shr_u(ql, 4), m0f), v128.and(hs, m30));
        const sa = (h << 3) + (kk << 1) + oh; // sub-block A (B = A + 4)
        const xa = x + ((<usize>(sa << 4)) << Q8K_QS_SHIFT);
        const xb = xa + (64 << Q8K_QS_SHIFT);
        const xe = xa + s4;
        const xf = xb + s4;
        const ssa = i16x8.splat(<i16>load<i8>(w + 192 + <usize>sa));
        const ssb = i16x8.splat(<i16>load<i8>(w + 196 + <usize>sa));
        a0 = scaled16v(qb, xb, ssb, scaled16v(qa, xa, ssa, a0));
        a1 = scaled16v(qb, xb + xqStride, ssb, scaled16v(qa, xa + xqStride, ssa, a1));
        a2 = scaled16v(qb, xb + 2 * xqStride, ssb, scaled16v(qa, xa + 2 * xqStride, ssa, a2));
        a3 = scaled16v(qb, xb + 3 * xqStride, ssb, scaled16v(qa, xa + 3 * xqStride, ssa, a3));
        a4 = scaled16v(qb, xf, ssb, scaled16v(qa, xe, ssa, a4));
        a5 = scaled16v(qb, xf + xqStride, ssb, scaled16v(qa, xe + xqStride, ssa, a5));
        a6 = scaled16v(qb, xf + 2 * xqStride, ssb, scaled16v(qa, xe + 2 * xqStride, ssa, a6));
        a7 = scaled16v(qb, xf + 3 * xqStride, ssb, scaled16v(qa, xe + 3 * xqStride, ssa, a7));
      }
      const sv = i16x8.extend_low_i8x16_s(v128.load64_zero(w + 192 + (<usize>oh << 3)));
      const bso = bs + (<usize>oh << 4);
      a0 = i32x4.sub(a0, offset32(bso, sv));
      a1 = i32x4.sub(a1, offset32(bso + xqStride, sv));
      a2 = i32x4.sub(a2, offset32(bso + 2 * xqStride, sv));
      a3 = i32x4.sub(a3, offset32(bso + 3 * xqStride, sv));
      a4 = i32x4.sub(a4, offset32(bso + s4, sv));
      a5 = i32x4.sub(a5, offset32(bso + s4 + xqStride, sv));
      a6 = i32x4.sub(a6, offset32(bso + s4 + 2 * xqStride, sv));
      a7 = i32x4.sub(a7, offset32(bso + s4 + 3 * xqStride, sv));
      const dw = load_f16_finite(w + 208);
      const d0 = (load<f32>(dp) * dw);
      const d1 = (load<f32>(dp + xqStride) * dw);
      const d2 = (load<f32>(dp + 2 * xqStride) * dw);
      const d3 = (load<f32>(dp + 3 * xqStride) * dw);
      const d4 = (load<f32>(dp + s4) * dw);
      const d5 = (load<f32>(dp + s4 + xqStride) * dw);
      const d6 = (load<f32>(dp + s4 + 2 * xqStride) * dw);
      const d7 = (load<f32>(dp + s4 + 3 * xqStride) * dw);
      if (oh == 0) {
        l0 = fma_d_f32x4(d0, f32x4.convert_i32x4_s(a0), l0);
        l1 = fma_d_f32x4(d1, f32x4.convert_i32x4_s(a1), l1);
        l2 = fma_d_f32x4(d2, f32x4.convert_i32x4_s(a2), l2);
        l3 = fma_d_f32x4(d3, f32x4.convert_i32x4_s(a3), l3);
        l4 = fma_d_f32x4(d4, f32x4.convert_i32x4_s(a4), l4);
        l5 = fma_d_f32x4(d5, f32x4.convert_i32x4_s(a5), l5);
        l6 = fma_d_f32x4(d6, f32x4.convert_i32x4_s(a6), l6);
        l7 = fma_d_f32x4(d7, f32x4.convert_i32x4_s(a7), l7);
      } else {
        h0 = fma_d_f32x4(d0, f32x4.convert_i32x4_s(a0), h0);
        h1 = fma_d_f32x4(d1, f32x4.convert_i32x4_s(a1), h1);
        h2 = fma_d_f32x4(d2, f32x4.convert_i32x4_s(a2), h2);
        h3 = fma_d_f32x4(d3, f32x4.convert_i32x4_s(a3), h3);
        h4 = fma_d_f32x4(d4, f32x4.convert_i32x4_s(a4), h4);
        h5 = fma_d_f32x4(d5, f32x4.convert_i32x4_s(a5), h5);
        h6 = fma_d_f32x4(d6, f32x4.convert_i32x4_s(a6), h6);
        h7 = fma_d_f32x4(d7, f32x4.convert_i32x4_s(a7), h7);
      }
    }
    w += 210;
  }
  store<f32>(y, hsum_f32x4(f32x4.add(l0, h0)));
  store<f32>(y + yStride, hsum_f32x4(f32x4.add(l1, h1)));
  store<f32>(y + 2 * yStride, hsum_f32x4(f32x4.add(l2, h2)));
  store<f32>(y + 3 * yStride, hsum_f32x4(f32x4.add(l3, h3)));
  store<f32>(y + 4 * yStride, hsum_f32x4(f32x4.add(l4, h4)));
  store<f32>(y + 5 * yStride, hsum_f32x4(f32x4.add(l5, h5)));
  store<f32>(y + 6 * yStride, hsum_f32x4(f32x4.add(l6, h6)));
  store<f32>(y + 7 * yStride, hsum_f32x4(f32x4.add(l7, h7)));
}
