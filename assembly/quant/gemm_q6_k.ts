// GEMM tile for Q6_K weights (layout: q6_k.ts) against Q8_K activations (act_q8_k.ts): one weight
// row × four activation columns. Each 16-element sub-block's 6-bit quants are assembled once (ql
// nibbles | qh bit pairs) and used for all four columns; the per-super-block tail runs once for
// the four columns, lane c = column c.
//
//   y + c·yStride  ←  W·X[c],  X[c] at xq + c·xqStride (bytes), c = 0..3
//
// Bit-identical to dot_q6_k for every column: per super-block the same exact integer
// sumi = Σ_s sc_s·Σ (q − 32)·x, then sum += (dx·d)·f32(sumi), evaluated lane-wise (f32x4 mul/add
// round each lane as the scalar ops do; wasm never fuses them). How the integer is reached:
//   relaxed:  as dot_q6_k: unsigned q (0..63) into relaxed_dot, × the scale by dot_i16x8_s, and the
//             −32 back through the bsums (32·Σ_s sc_s·bsums_s);
//   baseline: the weights (q − 32)·sc are made as i16 once per row (|·| ≤ 32·128 = 4096; × |x| ≤
//             127, two per dot_i16x8_s lane: ≤ 1040384, inside i32), so a column costs two
//             dot_i16x8_s per sub-block, and no multiply and no bsums term.
// One sub-block per loop pass: V8 hoists every load of a straight block to its top, and more
// than one sub-block's activation loads for four columns would not fit the 16 registers.
import { hadd4_i32, gather4_32 } from "./common";
import { q8k_qs, Q8K_QS_SHIFT } from "./act_q8_k";
import { scaled16v, mask, MASK_0F, MASK_30, load_f16_finite } from "./kcommon";

/** Σ_g s_g·bsums[g] as i32x4 partial sums (kcommon.ts scales_dot_bsums before its hsum). */
@inline
function offs4(bs: usize, slo: v128, shi: v128): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(slo, v128.load(bs, 0)), i32x4.dot_i16x8_s(shi, v128.load(bs, 16)));
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
  let sum = f32x4.splat(0);
  for (let b = 0; b < nb; b++) {
    let x = q8k_qs(xq, b);
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    // Sub-block g = elements 16g … 16g+15: half h = g >> 3, quarter k = (g >> 1) & 3, l-group o.
    for (let g = 0; g < 16; g++) {
      const h = g >> 3;
      const k = (g >> 1) & 3;
      const o = (g & 1) << 4;
      const ql = v128.load(w + <usize>((h << 6) + o + ((k & 1) << 5)));
      const hb = v128.load(w + <usize>(128 + (h << 5) + o));
      // q = (ql nibble k >> 1) | (qh bits 2k, 2k+1) << 4; 16-bit shifts, the masks drop what crossed bytes
      const q = v128.or(v128.and(i16x8.shr_u(ql, (k >> 1) << 2), m0f), v128.and(i16x8.shl(i16x8.shr_u(hb, k << 1), 4), m30));
      const sc = <i32>load<i8>(w + 192 + <usize>g);
      const x1 = x + xqStride;
      const x2 = x1 + xqStride;
      const x3 = x2 + xqStride;
      if (ASC_FEATURE_RELAXED_SIMD) {
        const ss = i16x8.splat(<i16>sc);
        a0 = scaled16v(q, x, ss, a0);
        a1 = scaled16v(q, x1, ss, a1);
        a2 = scaled16v(q, x2, ss, a2);
        a3 = scaled16v(q, x3, ss, a3);
      } else {
        const ss = i16x8.splat(<i16>sc);
        const t = i16x8.splat(32);
        const we = i16x8.mul(i16x8.sub(i16x8.shr_u(i16x8.shl(q, 8), 8), t), ss);
        const wo = i16x8.mul(i16x8.sub(i16x8.shr_u(q, 8), t), ss);
        a0 = sub_i16(we, wo, x, a0);
        a1 = sub_i16(we, wo, x1, a1);
        a2 = sub_i16(we, wo, x2, a2);
        a3 = sub_i16(we, wo, x3, a3);
      }
      x += 16 << Q8K_QS_SHIFT;
    }
    let sumi = hadd4_i32(a0, a1, a2, a3);
    if (ASC_FEATURE_RELAXED_SIMD) {
      const s = v128.load(w, 192);
      const slo = i16x8.extend_low_i8x16_s(s);
      const shi = i16x8.extend_high_i8x16_s(s);
      const bs = bsArr + ((<usize>b) << 5);
      const off = hadd4_i32(offs4(bs, slo, shi), offs4(bs + xqStride, slo, shi), offs4(bs + 2 * xqStride, slo, shi), offs4(bs + 3 * xqStride, slo, shi));
      sumi = i32x4.sub(sumi, i32x4.shl(off, 5));
    }
    const dx = gather4_32(dArr + ((<usize>b) << 2), xqStride);
    sum = f32x4.add(sum, f32x4.mul(f32x4.mul(dx, f32x4.splat(load_f16_finite(w + 208))), f32x4.convert_i32x4_s(sumi)));
    w += 210;
  }
  store<f32>(y, f32x4.extract_lane(sum, 0));
  store<f32>(y + yStride, f32x4.extract_lane(sum, 1));
  store<f32>(y + 2 * yStride, f32x4.extract_lane(sum, 2));
  store<f32>(y + 3 * yStride, f32x4.extract_lane(sum, 3));
}
