// GEMM tile for Q4_K weights (layout: q4_k.ts) against Q8_K activations (act_q8_k.ts): one weight
// row × four activation columns. Each 16-byte load of qs (one half of two sub-blocks) is unpacked
// once (and, in the baseline build, multiplied by its sub-block scales once) and used for all four
// columns.
//
//   y + c·yStride  ←  W·X[c],  X[c] at xq + c·xqStride (bytes), c = 0..3
//
// Bit-identical to dot_q4_k for every column: the same ggml AVX2 lanes (q4_k.ts header). Per
// super-block and column, the eight i32 lanes (lane p of half h = Σ_s sc_s · Σ q·x over elements
// 16h + 4p … 16h + 4p + 3 of sub-block s) and the four mins lanes (kcommon.ts mins_pairs_lanes)
// are the same exact integers, and each goes through the same fma_d_f32x4 with the same d
// (f32 dx·d, f32 −dx·dmin) into the column's own accLo / accHi / accM; the column's result is
// dot_q4_k's hsum_f32x4(accLo + accHi) + hsum_f32x4(accM). Only the way the integers are reached
// differs, and integers are exact:
//   relaxed:  as dot_q4_k (kcommon.ts scaled16v: relaxed_dot pair sums × the scale by dot_i16x8_s);
//   baseline: the nibbles are multiplied by the sub-block scale as i16 once per row (q·sc ≤ 15·63 =
//             945; × |x| ≤ 127 and two per dot_i16x8_s lane: far inside i32), so each column needs
//             only dot_i16x8_s and no multiply.
// The super-block's halves run one after the other (h outer, the four 64-element chunks inner), so
// only one i32 accumulator per column is live in the inner loop: one 16-byte load per pass. V8
// hoists every load of a straight block to its top; the twelve f32 accumulators are only touched
// once per half and super-block (the register allocator keeps them out of the inner loop).
import { hsum_f32x4 } from "./common";
import { q8k_qs, Q8K_QS_SHIFT } from "./act_q8_k";
import { k4_sc03, k4_m03, k4_sc47, k4_m47, scaled16v, mask, MASK_0F, MASK_000F, load_f16_finite, fma_d_f32x4 } from "./kcommon";

/** mins_pairs_lanes with the mins already widened (m: i16 lanes m0..m7). */
@inline
function mins4(bs: usize, m: v128): v128 {
  const p = i16x8.narrow_i32x4_s(
    i32x4.extadd_pairwise_i16x8_s(v128.load(bs, 0)),
    i32x4.extadd_pairwise_i16x8_s(v128.load(bs, 16)),
  );
  return i32x4.dot_i16x8_s(p, m);
}

/** Baseline: two 16-groups' weights (i16 evens / odds, scale applied) against one column's x at xa, xb. */
@inline
function two16_i16(ea: v128, oa: v128, eb: v128, ob: v128, xa: usize, xb: usize, acc: v128): v128 {
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(ea, v128.load(xa, 0)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(oa, v128.load(xa, 16)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(eb, v128.load(xb, 0)));
  return i32x4.add(acc, i32x4.dot_i16x8_s(ob, v128.load(xb, 16)));
}

/** Measured: see dispatch.ts's matmul header. */
export function gemm4_q4_k(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  const nb = n >> 8;
  const m = mask(ASC_FEATURE_RELAXED_SIMD ? MASK_0F : MASK_000F);
  const dArr = xq + ((<usize>n) << Q8K_QS_SHIFT); // column 0's d[0]
  const bsArr = dArr + ((<usize>nb) << 2); // column 0's bsums of super-block 0
  let l0 = f32x4.splat(0), l1 = f32x4.splat(0), l2 = f32x4.splat(0), l3 = f32x4.splat(0); // accLo per column
  let h0 = f32x4.splat(0), h1 = f32x4.splat(0), h2 = f32x4.splat(0), h3 = f32x4.splat(0); // accHi
  let m0 = f32x4.splat(0), m1 = f32x4.splat(0), m2 = f32x4.splat(0), m3 = f32x4.splat(0); // accM
  for (let b = 0; b < nb; b++) {
    const u0 = load<u32>(w, 4);
    const u1 = load<u32>(w, 8);
    const u2 = load<u32>(w, 12);
    const sc8 = <u64>k4_sc03(u0) | (<u64>k4_sc47(u0, u2) << 32);
    const qs = q8k_qs(xq, b);
    const dp = dArr + ((<usize>b) << 2);
    for (let h = 0; h < 2; h++) {
      let a0 = i32x4.splat(0);
      let a1 = i32x4.splat(0);
      let a2 = i32x4.splat(0);
      let a3 = i32x4.splat(0);
      let sc = sc8;
      let q = w + 16 + (<usize>h << 4); // qs bytes 32c + 16h …: half h of sub-blocks 2c (low), 2c+1 (high)
      let xa = qs + ((<usize>(h << 4)) << Q8K_QS_SHIFT); // x of element 64c + 16h
      for (let c = 0; c < 4; c++) {
        const v = v128.load(q);
        const xb = xa + (32 << Q8K_QS_SHIFT);
        if (ASC_FEATURE_RELAXED_SIMD) {
          const wa = v128.and(v, m);
          const wb = v128.and(i16x8.shr_u(v, 4), m);
          const ssa = i16x8.splat(<i16>(sc & 0xff));
          const ssb = i16x8.splat(<i16>((sc >> 8) & 0xff));
          a0 = scaled16v(wb, xb, ssb, scaled16v(wa, xa, ssa, a0));
          a1 = scaled16v(wb, xb + xqStride, ssb, scaled16v(wa, xa + xqStride, ssa, a1));
          a2 = scaled16v(wb, xb + 2 * xqStride, ssb, scaled16v(wa, xa + 2 * xqStride, ssa, a2));
          a3 = scaled16v(wb, xb + 3 * xqStride, ssb, scaled16v(wa, xa + 3 * xqStride, ssa, a3));
        } else {
          const ssa = i16x8.splat(<i16>(sc & 0xff));
          const ssb = i16x8.splat(<i16>((sc >> 8) & 0xff));
          const ea = i16x8.mul(v128.and(v, m), ssa);
          const oa = i16x8.mul(v128.and(i16x8.shr_u(v, 8), m), ssa);
          const eb = i16x8.mul(v128.and(i16x8.shr_u(v, 4), m), ssb);
          const ob = i16x8.mul(i16x8.shr_u(v, 12), ssb);
          a0 = two16_i16(ea, oa, eb, ob, xa, xb, a0);
          a1 = two16_i16(ea, oa, eb, ob, xa + xqStride, xb + xqStride, a1);
          a2 = two16_i16(ea, oa, eb, ob, xa + 2 * xqStride, xb + 2 * xqStride, a2);
          a3 = two16_i16(ea, oa, eb, ob, xa + 3 * xqStride, xb + 3 * xqStride, a3);
        }
        sc >>= 16;
        q += 32;
        xa += 64 << Q8K_QS_SHIFT;
      }
      const dw = load_f16_finite(w);
      const d0 = (load<f32>(dp) * dw);
      const d1 = (load<f32>(dp + xqStride) * dw);
      const d2 = (load<f32>(dp + 2 * xqStride) * dw);
      const d3 = (load<f32>(dp + 3 * xqStride) * dw);
      if (h == 0) {
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
    const mv = i16x8.extend_low_i8x16_u(i32x4.replace_lane(i32x4.splat(<i32>k4_m03(u1)), 1, <i32>k4_m47(u1, u2)));
    const bs = bsArr + ((<usize>b) << 5);
    const dmin = load_f16_finite(w + 2);
    m0 = fma_d_f32x4((-load<f32>(dp) * dmin), f32x4.convert_i32x4_s(mins4(bs, mv)), m0);
    m1 = fma_d_f32x4((-load<f32>(dp + xqStride) * dmin), f32x4.convert_i32x4_s(mins4(bs + xqStride, mv)), m1);
    m2 = fma_d_f32x4((-load<f32>(dp + 2 * xqStride) * dmin), f32x4.convert_i32x4_s(mins4(bs + 2 * xqStride, mv)), m2);
    m3 = fma_d_f32x4((-load<f32>(dp + 3 * xqStride) * dmin), f32x4.convert_i32x4_s(mins4(bs + 3 * xqStride, mv)), m3);
    w += 144;
  }
  store<f32>(y, hsum_f32x4(f32x4.add(l0, h0)) + hsum_f32x4(m0));
  store<f32>(y + yStride, hsum_f32x4(f32x4.add(l1, h1)) + hsum_f32x4(m1));
  store<f32>(y + 2 * yStride, hsum_f32x4(f32x4.add(l2, h2)) + hsum_f32x4(m2));
  store<f32>(y + 3 * yStride, hsum_f32x4(f32x4.add(l3, h3)) + hsum_f32x4(m3));
}

/**
 * gemm4_q4_k for eight columns (y + c·yStride, X[c] at xq + c·xqStride, c = 0..7): the same
 * integers and f32 operations per column, so the same bits; the unpacking of each 16-byte load of
 * qs and the two scale splats are shared by eight columns instead of four, and the loop and
 * address overhead per column halves. The eight i32 accumulators of the inner loop stay in
 * registers; V8 spills the 24 f32 ones, each touched once per half and super-block.
 *
 * Relaxed build only (dispatch.ts). Measured, kernel-ab 2048×2048 by 64 columns, min of 30:
 * relaxed (Node 24) 8.79 → 8.04 ms against gemm4_q4_k; baseline (Node 20) 18.4 → 26.0 ms (its
 * four i16 weight vectors per pass and eight accumulators spill).
 * What bounds both tiles: per 16 weights and column one relaxed_dot (pmaddubsw), one dot_i16x8_s
 * by the sub-block scale (pmaddwd) and one add, the multiplies on the vector multiply pipes;
 * ggml's lanes (one per four consecutive elements, summed over the sub-blocks after scaling) leave
 * no integer work to share between columns or rows beyond the unpacking. Not pursued (estimated
 * from instruction counts, not built): splitting each scale as 8·hi + lo so the weights carry it
 * (q·hi, q·lo ≤ 105 fit relaxed_dot's 7 bits) trades the pmaddwd for a second dot and two i16
 * multiplies per row; folding two sub-blocks' i32 lanes into one pmaddwd by packing saves one
 * multiply in four for two shuffles. Both need AVX-VNNI to win anything.
 */
export function gemm8_q4_k(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  const nb = n >> 8;
  const m = mask(ASC_FEATURE_RELAXED_SIMD ? MASK_0F : MASK_000F);
  const dArr = xq + ((<usize>n) << Q8K_QS_SHIFT); // column 0's d[0]
  const bsArr = dArr + ((<usize>nb) << 2); // column 0's bsums of super-block 0
  const x4 = xq + 4 * xqStride; // column 4
  let l0 = f32x4.splat(0), l1 = f32x4.splat(0), l2 = f32x4.splat(0), l3 = f32x4.splat(0); // accLo per column
  let l4 = f32x4.splat(0), l5 = f32x4.splat(0), l6 = f32x4.splat(0), l7 = f32x4.splat(0);
  let h0 = f32x4.splat(0), h1 = f32x4.splat(0), h2 = f32x4.splat(0), h3 = f32x4.splat(0); // accHi
  let h4 = f32x4.splat(0), h5 = f32x4.splat(0), h6 = f32x4.splat(0), h7 = f32x4.splat(0);
  let m0 = f32x4.splat(0), m1 = f32x4.splat(0), m2 = f32x4.splat(0), m3 = f32x4.splat(0); // accM
  let m4 = f32x4.splat(0), m5 = f32x4.splat(0), m6 = f32x4.splat(0), m7 = f32x4.splat(0);
  for (let b = 0; b < nb; b++) {
    const u0 = load<u32>(w, 4);
    const u1 = load<u32>(w, 8);
    const u2 = load<u32>(w, 12);
    const sc8 = <u64>k4_sc03(u0) | (<u64>k4_sc47(u0, u2) << 32);
    const qoff = (<usize>b) << (8 + Q8K_QS_SHIFT); // super-block b's quants in a column
    const dp = dArr + ((<usize>b) << 2);
    const dw = load_f16_finite(w);
    for (let h = 0; h < 2; h++) {
      let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
      let a4 = i32x4.splat(0), a5 = i32x4.splat(0), a6 = i32x4.splat(0), a7 = i32x4.splat(0);
      let sc = sc8;
      let q = w + 16 + (<usize>h << 4);
      let xa = xq + qoff + ((<usize>(h << 4)) << Q8K_QS_SHIFT); // column 0's x of element 64c + 16h
      let xe = x4 + qoff + ((<usize>(h << 4)) << Q8K_QS_SHIFT); // column 4's
      for (let c = 0; c < 4; c++) {
        const v = v128.load(q);
        const ssa = i16x8.splat(<i16>(sc & 0xff));
        const ssb = i16x8.splat(<i16>((sc >> 8) & 0xff));
        if (ASC_FEATURE_RELAXED_SIMD) {
          const wa = v128.and(v, m);
          const wb = v128.and(i16x8.shr_u(v, 4), m);
          const o = 32 << Q8K_QS_SHIFT;
          a0 = scaled16v(wb, xa + o, ssb, scaled16v(wa, xa, ssa, a0));
          a1 = scaled16v(wb, xa + xqStride + o, ssb, scaled16v(wa, xa + xqStride, ssa, a1));
          a2 = scaled16v(wb, xa + 2 * xqStride + o, ssb, scaled16v(wa, xa + 2 * xqStride, ssa, a2));
          a3 = scaled16v(wb, xa + 3 * xqStride + o, ssb, scaled16v(wa, xa + 3 * xqStride, ssa, a3));
          a4 = scaled16v(wb, xe + o, ssb, scaled16v(wa, xe, ssa, a4));
          a5 = scaled16v(wb, xe + xqStride + o, ssb, scaled16v(wa, xe + xqStride, ssa, a5));
          a6 = scaled16v(wb, xe + 2 * xqStride + o, ssb, scaled16v(wa, xe + 2 * xqStride, ssa, a6));
          a7 = scaled16v(wb, xe + 3 * xqStride + o, ssb, scaled16v(wa, xe + 3 * xqStride, ssa, a7));
        } else {
          const ea = i16x8.mul(v128.and(v, m), ssa);
          const oa = i16x8.mul(v128.and(i16x8.shr_u(v, 8), m), ssa);
          const eb = i16x8.mul(v128.and(i16x8.shr_u(v, 4), m), ssb);
          const ob = i16x8.mul(i16x8.shr_u(v, 12), ssb);
          const o = 32 << Q8K_QS_SHIFT;
          a0 = two16_i16(ea, oa, eb, ob, xa, xa + o, a0);
          a1 = two16_i16(ea, oa, eb, ob, xa + xqStride, xa + xqStride + o, a1);
          a2 = two16_i16(ea, oa, eb, ob, xa + 2 * xqStride, xa + 2 * xqStride + o, a2);
          a3 = two16_i16(ea, oa, eb, ob, xa + 3 * xqStride, xa + 3 * xqStride + o, a3);
          a4 = two16_i16(ea, oa, eb, ob, xe, xe + o, a4);
          a5 = two16_i16(ea, oa, eb, ob, xe + xqStride, xe + xqStride + o, a5);
          a6 = two16_i16(ea, oa, eb, ob, xe + 2 * xqStride, xe + 2 * xqStride + o, a6);
          a7 = two16_i16(ea, oa, eb, ob, xe + 3 * xqStride, xe + 3 * xqStride + o, a7);
        }
        sc >>= 16;
        q += 32;
        xa += 64 << Q8K_QS_SHIFT;
        xe += 64 << Q8K_QS_SHIFT;
      }
      const d0 = (load<f32>(dp) * dw);
      const d1 = (load<f32>(dp + xqStride) * dw);
      const d2 = (load<f32>(dp + 2 * xqStride) * dw);
      const d3 = (load<f32>(dp + 3 * xqStride) * dw);
      const d4 = (load<f32>(dp + 4 * xqStride) * dw);
      const d5 = (load<f32>(dp + 5 * xqStride) * dw);
      const d6 = (load<f32>(dp + 6 * xqStride) * dw);
      const d7 = (load<f32>(dp + 7 * xqStride) * dw);
      if (h == 0) {
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
    const mv = i16x8.extend_low_i8x16_u(i32x4.replace_lane(i32x4.splat(<i32>k4_m03(u1)), 1, <i32>k4_m47(u1, u2)));
    const bs = bsArr + ((<usize>b) << 5);
    const dmin = load_f16_finite(w + 2);
    m0 = fma_d_f32x4((-load<f32>(dp) * dmin), f32x4.convert_i32x4_s(mins4(bs, mv)), m0);
    m1 = fma_d_f32x4((-load<f32>(dp + xqStride) * dmin), f32x4.convert_i32x4_s(mins4(bs + xqStride, mv)), m1);
    m2 = fma_d_f32x4((-load<f32>(dp + 2 * xqStride) * dmin), f32x4.convert_i32x4_s(mins4(bs + 2 * xqStride, mv)), m2);
    m3 = fma_d_f32x4((-load<f32>(dp + 3 * xqStride) * dmin), f32x4.convert_i32x4_s(mins4(bs + 3 * xqStride, mv)), m3);
    m4 = fma_d_f32x4((-load<f32>(dp + 4 * xqStride) * dmin), f32x4.convert_i32x4_s(mins4(bs + 4 * xqStride, mv)), m4);
    m5 = fma_d_f32x4((-load<f32>(dp + 5 * xqStride) * dmin), f32x4.convert_i32x4_s(mins4(bs + 5 * xqStride, mv)), m5);
    m6 = fma_d_f32x4((-load<f32>(dp + 6 * xqStride) * dmin), f32x4.convert_i32x4_s(mins4(bs + 6 * xqStride, mv)), m6);
    m7 = fma_d_f32x4((-load<f32>(dp + 7 * xqStride) * dmin), f32x4.convert_i32x4_s(mins4(bs + 7 * xqStride, mv)), m7);
    w += 144;
  }
  store<f32>(y, hsum_f32x4(f32x4.add(l0, h0)) + hsum_f32x4(m0));
  store<f32>(y + yStride, hsum_f32x4(f32x4.add(l1, h1)) + hsum_f32x4(m1));
  store<f32>(y + 2 * yStride, hsum_f32x4(f32x4.add(l2, h2)) + hsum_f32x4(m2));
  store<f32>(y + 3 * yStride, hsum_f32x4(f32x4.add(l3, h3)) + hsum_f32x4(m3));
  store<f32>(y + 4 * yStride, hsum_f32x4(f32x4.add(l4, h4)) + hsum_f32x4(m4));
  store<f32>(y + 5 * yStride, hsum_f32x4(f32x4.add(l5, h5)) + hsum_f32x4(m5));
  store<f32>(y + 6 * yStride, hsum_f32x4(f32x4.add(l6, h6)) + hsum_f32x4(m6));
  store<f32>(y + 7 * yStride, hsum_f32x4(f32x4.add(l7, h7)) + hsum_f32x4(m7));
}
