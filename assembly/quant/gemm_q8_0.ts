// GEMM tile for Q8_0 weights (layout: q8_0.ts) against Q8_0 activations (act_q8_0.ts): one weight
// row × four activation columns. Each 34-byte block is loaded and unpacked once (relaxed: |q| and
// the sign mask; baseline: the even and odd bytes as i16 lanes) and used for all four columns.
//
//   y + c·yStride  ←  W·X[c],  X[c] at xq + c·xqStride (bytes), c = 0..3
//
// Bit-identical to dot_q8_0 for every column: each column keeps dot_q8_0's two f32x4 accumulators
// (elements 0..15 and 16..31 of each block, eight lanes of four consecutive products each), gets
// the same exact lane integers, the same d_w·d_x product and the same multiply-add per block, and
// the same final hsum. Only the integer arithmetic is shared across columns, and integers are exact.
import { f16_raw, hsum_f32x4, madd_f32x4 } from "./common";
import { QS_BLOCK, HALF, qs_bytes, half_i16, half_s8_pre } from "./act_q8_0";

/** The eight lane sums of one column's block: lo (elements 0..15) or hi (16..31) of the half's weights. */
@inline
function half4(ae: v128, ao: v128, x: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    // ae = |q|, ao = the sign mask of q (half_s8_pre)
    return half_s8_pre(ae, ao, x);
  } else {
    // ae / ao = the even / odd quants as i16 lanes
    return half_i16(ae, ao, x);
  }
}

/**
 * Measured (4096×4096, 128 columns, medians on a shared 2-core machine, so ±10%): see the
 * figures in dispatch.ts's matmul header.
 */
export function gemm4_q8_0(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  if (!ASC_FEATURE_RELAXED_SIMD) {
    // Baseline: two passes of two columns. Four columns' i16 activations (four v128 per block
    // each) hoisted by V8 next to eight accumulators spill: measured 0.88x of column by column
    // (interleaved A/B, 1024×4096 by 64 columns, median of 25).
    gemm2_q8_0_i16(w, xq, xqStride, n, y, yStride);
    gemm2_q8_0_i16(w, xq + 2 * xqStride, xqStride, n, y + 2 * yStride, yStride);
    return;
  }
  let p = w;
  let x0 = xq; // column 0's quants of block b; column c's at x0 + c·xqStride
  let d0 = xq + qs_bytes(n); // column 0's d entry of block b
  let l0 = f32x4.splat(0);
  let h0 = f32x4.splat(0);
  let l1 = f32x4.splat(0);
  let h1 = f32x4.splat(0);
  let l2 = f32x4.splat(0);
  let h2 = f32x4.splat(0);
  let l3 = f32x4.splat(0);
  let h3 = f32x4.splat(0);
  for (let b = n >> 5; b > 0; b--) {
    const dw = f16_raw(p);
    const x1 = x0 + xqStride;
    const x2 = x1 + xqStride;
    const x3 = x2 + xqStride;
    const d1 = d0 + xqStride;
    const d2 = d1 + xqStride;
    const d3 = d2 + xqStride;
    // Low half for the four columns, then the high half: fewer weight vectors live at once.
    const a = v128.load(p, 2);
    let ae: v128, ao: v128;
    if (ASC_FEATURE_RELAXED_SIMD) {
      ae = i8x16.abs(a);
      ao = i8x16.lt_s(a, i8x16.splat(0));
    } else {
      ae = i16x8.shr_s(i16x8.shl(a, 8), 8);
      ao = i16x8.shr_s(a, 8);
    }
    l0 = madd_f32x4(f32x4.convert_i32x4_s(half4(ae, ao, x0)), f32x4.splat(dw * load<f32>(d0)), l0);
    l1 = madd_f32x4(f32x4.convert_i32x4_s(half4(ae, ao, x1)), f32x4.splat(dw * load<f32>(d1)), l1);
    l2 = madd_f32x4(f32x4.convert_i32x4_s(half4(ae, ao, x2)), f32x4.splat(dw * load<f32>(d2)), l2);
    l3 = madd_f32x4(f32x4.convert_i32x4_s(half4(ae, ao, x3)), f32x4.splat(dw * load<f32>(d3)), l3);
    const c = v128.load(p, 18);
    let ce: v128, co: v128;
    if (ASC_FEATURE_RELAXED_SIMD) {
      ce = i8x16.abs(c);
      co = i8x16.lt_s(c, i8x16.splat(0));
    } else {
      ce = i16x8.shr_s(i16x8.shl(c, 8), 8);
      co = i16x8.shr_s(c, 8);
    }
    h0 = madd_f32x4(f32x4.convert_i32x4_s(half4(ce, co, x0 + HALF)), f32x4.splat(dw * load<f32>(d0)), h0);
    h1 = madd_f32x4(f32x4.convert_i32x4_s(half4(ce, co, x1 + HALF)), f32x4.splat(dw * load<f32>(d1)), h1);
    h2 = madd_f32x4(f32x4.convert_i32x4_s(half4(ce, co, x2 + HALF)), f32x4.splat(dw * load<f32>(d2)), h2);
    h3 = madd_f32x4(f32x4.convert_i32x4_s(half4(ce, co, x3 + HALF)), f32x4.splat(dw * load<f32>(d3)), h3);
    p += 34;
    x0 += QS_BLOCK;
    d0 += 4;
  }
  store<f32>(y, hsum_f32x4(f32x4.add(l0, h0)));
  store<f32>(y + yStride, hsum_f32x4(f32x4.add(l1, h1)));
  store<f32>(y + 2 * yStride, hsum_f32x4(f32x4.add(l2, h2)));
  store<f32>(y + 3 * yStride, hsum_f32x4(f32x4.add(l3, h3)));
}

/** Baseline build: two columns at once, otherwise as gemm4_q8_0. */
@inline
function gemm2_q8_0_i16(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  let p = w;
  let x0 = xq;
  let d0 = xq + qs_bytes(n);
  let l0 = f32x4.splat(0);
  let h0 = f32x4.splat(0);
  let l1 = f32x4.splat(0);
  let h1 = f32x4.splat(0);
  for (let b = n >> 5; b > 0; b--) {
    const dw = f16_raw(p);
    const x1 = x0 + xqStride;
    const d1 = d0 + xqStride;
    const a = v128.load(p, 2);
    const ae = i16x8.shr_s(i16x8.shl(a, 8), 8);
    const ao = i16x8.shr_s(a, 8);
    l0 = madd_f32x4(f32x4.convert_i32x4_s(half_i16(ae, ao, x0)), f32x4.splat(dw * load<f32>(d0)), l0);
    l1 = madd_f32x4(f32x4.convert_i32x4_s(half_i16(ae, ao, x1)), f32x4.splat(dw * load<f32>(d1)), l1);
    const c = v128.load(p, 18);
    const ce = i16x8.shr_s(i16x8.shl(c, 8), 8);
    const co = i16x8.shr_s(c, 8);
    h0 = madd_f32x4(f32x4.convert_i32x4_s(half_i16(ce, co, x0 + HALF)), f32x4.splat(dw * load<f32>(d0)), h0);
    h1 = madd_f32x4(f32x4.convert_i32x4_s(half_i16(ce, co, x1 + HALF)), f32x4.splat(dw * load<f32>(d1)), h1);
    p += 34;
    x0 += QS_BLOCK;
    d0 += 4;
  }
  store<f32>(y, hsum_f32x4(f32x4.add(l0, h0)));
  store<f32>(y + yStride, hsum_f32x4(f32x4.add(l1, h1)));
}
