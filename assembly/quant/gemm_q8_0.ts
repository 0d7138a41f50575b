// GEMM tile for Q8_0 weights (layout: q8_0.ts) against Q8_0 activations (act_q8_0.ts): one weight
// row × four activation columns, relaxed build only. Each 34-byte block is loaded and unpacked once
// (|q| and the sign mask, for relaxed_dot) and used for all four columns.
//
//   y + c·yStride  ←  W·X[c],  X[c] at xq + c·xqStride (bytes), c = 0..3
//
// Bit-identical to dot_q8_0 for every column: each column keeps dot_q8_0's two f32x4 accumulators
// (elements 0..15 and 16..31 of each block, eight lanes of four consecutive products each), gets
// the same exact lane integers, the same d_w·d_x product and the same multiply-add per block, and
// the same final hsum. Only the integer arithmetic is shared across columns, and integers are exact.
import { f16_raw, hsum_f32x4, madd_f32x4 } from "./common";
import { QS_BLOCK, HALF, qs_bytes, half_s8_pre } from "./act_q8_0";

/**
 * Relaxed build only (dispatch.ts does not call it in the baseline build). The baseline build has
 * no Q8_0 tile: its activations are i16, four v128 per block and column, and V8 hoists every load
 * of the block to its top, so even two columns per pass spill (seen in --print-wasm-code), and the
 * unpacking it would save is three shifts per half-block. Measured, interleaved A/B, 1024×4096 by
 * 64 columns, medians of 15-25 on the loaded 2-core machine: four columns 0.88x of column by
 * column, two passes of two columns 0.93x-1.33x across three runs.
 */
export function gemm4_q8_0(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  tile4(w, xq, xqStride, n, y, yStride, false);
}

/**
 * gemm4_q8_0 summing with i32x4.relaxed_dot_i8x16_i7x16_add_s (four products per i32 lane, exactly
 * the lanes dot_q8_0 keeps), for engines that run it as one instruction (features.ts fusedDot: x86
 * with AVX-VNNI, one vpdpbusd); without it V8 makes it pmaddubsw, pmaddwd and paddd with the ones
 * constant rebuilt, slower than half_s8_pre (15.5 vs 12.4 ms, 2048×2048 × 64, node
 * --no-enable-avx-vnni). The same integers: the same bits. Measured: see dispatch.ts's matmul header.
 */
export function gemm4_q8_0_dotadd(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  tile4(w, xq, xqStride, n, y, yStride, true);
}

/** The body of both: dotAdd is a constant at each call, so each export compiles one form. */
@inline
function tile4(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize, dotAdd: bool): void {
  let p = w;
  let x0 = xq; // column 0's quants of block b; column c's at x0 + c·xqStride
  let d0 = xq + qs_bytes(n); // column 0's d entry of block b
  const zero = i32x4.splat(0);
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
    const a = v128.load(p, 2);
    const c = v128.load(p, 18);
    const ae = i8x16.abs(a); //                 |q| …
    const ao = i8x16.lt_s(a, zero); //           … and its sign
    const ce = i8x16.abs(c);
    const co = i8x16.lt_s(c, zero);
    let dd = f32x4.splat(dw * load<f32>(d0));
    l0 = madd_f32x4(f32x4.convert_i32x4_s(sdot(dotAdd, ae, ao, x0)), dd, l0);
    h0 = madd_f32x4(f32x4.convert_i32x4_s(sdot(dotAdd, ce, co, x0 + HALF)), dd, h0);
    dd = f32x4.splat(dw * load<f32>(d0 + xqStride));
    l1 = madd_f32x4(f32x4.convert_i32x4_s(sdot(dotAdd, ae, ao, x0 + xqStride)), dd, l1);
    h1 = madd_f32x4(f32x4.convert_i32x4_s(sdot(dotAdd, ce, co, x0 + xqStride + HALF)), dd, h1);
    dd = f32x4.splat(dw * load<f32>(d0 + 2 * xqStride));
    l2 = madd_f32x4(f32x4.convert_i32x4_s(sdot(dotAdd, ae, ao, x0 + 2 * xqStride)), dd, l2);
    h2 = madd_f32x4(f32x4.convert_i32x4_s(sdot(dotAdd, ce, co, x0 + 2 * xqStride + HALF)), dd, h2);
    dd = f32x4.splat(dw * load<f32>(d0 + 3 * xqStride));
    l3 = madd_f32x4(f32x4.convert_i32x4_s(sdot(dotAdd, ae, ao, x0 + 3 * xqStride)), dd, l3);
    h3 = madd_f32x4(f32x4.convert_i32x4_s(sdot(dotAdd, ce, co, x0 + 3 * xqStride + HALF)), dd, h3);
    p += 34;
    x0 += QS_BLOCK;
    d0 += 4;
  }
  store<f32>(y, hsum_f32x4(f32x4.add(l0, h0)));
  store<f32>(y + yStride, hsum_f32x4(f32x4.add(l1, h1)));
  store<f32>(y + 2 * yStride, hsum_f32x4(f32x4.add(l2, h2)));
  store<f32>(y + 3 * yStride, hsum_f32x4(f32x4.add(l3, h3)));
}

/** The four lane sums of 16 signed quants (|q| = absA, sign mask negA) against the 16 at y, in either form. */
@inline
function sdot(dotAdd: bool, absA: v128, negA: v128, y: usize): v128 {
  if (!ASC_FEATURE_RELAXED_SIMD) return unreachable();
  if (!dotAdd) return half_s8_pre(absA, negA, y);
  const sy = i8x16.sub(v128.xor(v128.load(y), negA), negA);
  return i32x4.relaxed_dot_i8x16_i7x16_add_s(sy, absA, i32x4.splat(0));
}
