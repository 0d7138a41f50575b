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
// Two sub-blocks per loop pass (the two that share their ql and qh bytes): V8 hoists every load of
// a straight block to its top, and more activation loads for four columns would not fit the 16
// registers.
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
    const x = q8k_qs(xq, b);
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    // One pass per (l-group t, quarter pair kk): sub-blocks A (quarter kk, the low nibbles of the
    // ql bytes, qh bits 2kk..2kk+1) and A + 4 (quarter kk + 2, the high nibbles, qh bits 2kk+4..+5)
    // from one ql load and one qh shift. Half h = t >> 1, l-group offset o = 16·(t & 1).
    for (let it = 0; it < 8; it++) {
      const t = it >> 1;
      const kk = it & 1;
      const o = (t & 1) << 4;
      const ql = v128.load(w + <usize>(((t >> 1) << 6) + o + (kk << 5))); // ql[64h + o + 32kk …]
      const hs = i16x8.shr_u(v128.load(w + <usize>(128 + ((t >> 1) << 5) + o)), kk << 1); // qh[32h + o …]
      // 16-bit shifts: the masks drop every bit that crossed into the neighbouring byte
      const qa = v128.or(v128.and(ql, m0f), v128.and(i16x8.shl(hs, 4), m30));
      const qb = v128.or(v128.and(i16x8.shr_u(ql, 4), m0f), v128.and(hs, m30));
      const sa = ((t >> 1) << 3) + (kk << 1) + (t & 1); // sub-block A = 8h + 2kk + (t & 1)
      const xa = x + ((<usize>(sa << 4)) << Q8K_QS_SHIFT);
      const xb = xa + (64 << Q8K_QS_SHIFT);
      const sca = <i32>load<i8>(w + 192 + <usize>sa);
      const scb = <i32>load<i8>(w + 196 + <usize>sa);
      if (ASC_FEATURE_RELAXED_SIMD) {
        const ssa = i16x8.splat(<i16>sca);
        const ssb = i16x8.splat(<i16>scb);
        a0 = scaled16v(qb, xb, ssb, scaled16v(qa, xa, ssa, a0));
        a1 = scaled16v(qb, xb + xqStride, ssb, scaled16v(qa, xa + xqStride, ssa, a1));
        a2 = scaled16v(qb, xb + 2 * xqStride, ssb, scaled16v(qa, xa + 2 * xqStride, ssa, a2));
        a3 = scaled16v(qb, xb + 3 * xqStride, ssb, scaled16v(qa, xa + 3 * xqStride, ssa, a3));
      } else {
        const t32 = i16x8.splat(32);
        const ssa = i16x8.splat(<i16>sca);
        const wae = i16x8.mul(i16x8.sub(i16x8.shr_u(i16x8.shl(qa, 8), 8), t32), ssa);
        const wao = i16x8.mul(i16x8.sub(i16x8.shr_u(qa, 8), t32), ssa);
        a0 = sub_i16(wae, wao, xa, a0);
        a1 = sub_i16(wae, wao, xa + xqStride, a1);
        a2 = sub_i16(wae, wao, xa + 2 * xqStride, a2);
        a3 = sub_i16(wae, wao, xa + 3 * xqStride, a3);
        const ssb = i16x8.splat(<i16>scb);
        const wbe = i16x8.mul(i16x8.sub(i16x8.shr_u(i16x8.shl(qb, 8), 8), t32), ssb);
        const wbo = i16x8.mul(i16x8.sub(i16x8.shr_u(qb, 8), t32), ssb);
        a0 = sub_i16(wbe, wbo, xb, a0);
        a1 = sub_i16(wbe, wbo, xb + xqStride, a1);
        a2 = sub_i16(wbe, wbo, xb + 2 * xqStride, a2);
        a3 = sub_i16(wbe, wbo, xb + 3 * xqStride, a3);
      }
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
