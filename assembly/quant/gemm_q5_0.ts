// GEMM tile for Q5_0 weights (layout: q5_0.ts) against Q8_0 activations (act_q8_0.ts): one weight
// row × four activation columns, run as two passes of two columns. Each 22-byte block's 5-bit
// quants (nibble | qh bit) are assembled once per pass and used for both of its columns.
//
//   y + c·yStride  ←  W·X[c],  X[c] at xq + c·xqStride (bytes), c = 0..3
//
// Bit-identical to dot_q5_0 for every column: each column keeps dot_q5_0's two f32x4 accumulators
// (elements 0..15 and 16..31 of each block, lane j = four consecutive products, less 16·Σ of the
// four activation quants), the same d_w·d_x product and multiply-add per block, and the same final
// hsum; only the integer work on the weights is shared. Two columns per pass, not four: the five
// v128 constants of the 5-bit unpacking, four accumulators per two columns and the activation loads
// V8 hoists to the top of the block already fill the 16 registers.
import { f16_raw, hsum_f32x4, madd_f32x4, kconst, K_NIB8, K_BYTE16, K_QH_LO, K_QH_HI, K_QH_BIT, K_SIXTEEN } from "./common";
import { QS_BLOCK, HALF, qs_bytes, unsigned_half } from "./act_q8_0";
import { q5_lo, q5_hi } from "./q5_1";

/**
 * Relaxed build only (dispatch.ts): measured, interleaved A/B, 1024×4096 by 64 columns, medians of
 * 15 on the loaded 2-core machine: relaxed 1.32x column by column; baseline 1.12x and 1.00x in two
 * runs (its i16 activations double the loads V8 hoists), not worth the code path.
 */
export function gemm4_q5_0(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  gemm2_q5_0(w, xq, xqStride, n, y, yStride);
  gemm2_q5_0(w, xq + 2 * xqStride, xqStride, n, y + 2 * yStride, yStride);
}

@inline
function gemm2_q5_0(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  const nib = kconst(K_NIB8);
  const selLo = kconst(K_QH_LO);
  const selHi = kconst(K_QH_HI);
  const bit = kconst(K_QH_BIT);
  const sixteen = kconst(K_SIXTEEN);
  const mb = kconst(K_BYTE16);
  const nb = n >> 5;
  let dp = xq + qs_bytes(n); // column 0's d entry of block b
  let cp = dp + 12 * <usize>nb; // column 0's sum4 entries of block b
  let p = w;
  let x0 = xq;
  let l0 = f32x4.splat(0);
  let h0 = f32x4.splat(0);
  let l1 = f32x4.splat(0);
  let h1 = f32x4.splat(0);
  for (let b = nb; b > 0; b--) {
    const qh = i32x4.splat(load<i32>(p + 2));
    const v = v128.load(p, 6);
    const dw = f16_raw(p);
    const x1 = x0 + xqStride;
    const c1 = cp + xqStride;
    const dd0 = f32x4.splat(dw * load<f32>(dp));
    const dd1 = f32x4.splat(dw * load<f32>(dp + xqStride));
    const ql = q5_lo(v, qh, nib, selLo, bit, sixteen);
    l0 = madd_f32x4(f32x4.convert_i32x4_s(i32x4.sub(unsigned_half(ql, x0, mb), i32x4.shl(v128.load(cp, 0), 4))), dd0, l0);
    l1 = madd_f32x4(f32x4.convert_i32x4_s(i32x4.sub(unsigned_half(ql, x1, mb), i32x4.shl(v128.load(c1, 0), 4))), dd1, l1);
    const qv = q5_hi(v, qh, nib, selHi, bit, sixteen);
    h0 = madd_f32x4(f32x4.convert_i32x4_s(i32x4.sub(unsigned_half(qv, x0 + HALF, mb), i32x4.shl(v128.load(cp, 16), 4))), dd0, h0);
    h1 = madd_f32x4(f32x4.convert_i32x4_s(i32x4.sub(unsigned_half(qv, x1 + HALF, mb), i32x4.shl(v128.load(c1, 16), 4))), dd1, h1);
    p += 22;
    x0 += QS_BLOCK;
    dp += 4;
    cp += 32;
  }
  store<f32>(y, hsum_f32x4(f32x4.add(l0, h0)));
  store<f32>(y + yStride, hsum_f32x4(f32x4.add(l1, h1)));
}
