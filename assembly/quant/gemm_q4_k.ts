// GEMM tile for Q4_K weights (layout: q4_k.ts) against Q8_K activations (act_q8_k.ts): one weight
// row × four activation columns. Each 32-element sub-block's nibbles (and, in the baseline build,
// its scale) are unpacked once and used for all four columns; the per-super-block tail (the mins
// term, the horizontal sums, the f32 update) runs once for the four columns, lane c = column c.
//
//   y + c·yStride  ←  W·X[c],  X[c] at xq + c·xqStride (bytes), c = 0..3
//
// Bit-identical to dot_q4_k for every column: per super-block the same two exact integers
// sumi = Σ_s sc_s·Σ q·x and summ = Σ_s m_s·(bsums pair of s), then the same f32 expression
//   sum += (dx·d)·f32(sumi) − (dx·dmin)·f32(summ)
// evaluated lane-wise (f32x4 mul/sub/add round each lane exactly as the scalar ops do; wasm never
// fuses them). Only the way the integers are reached differs, and integers are exact:
//   relaxed:  as dot_q4_k (kcommon.ts scaled32v: relaxed_dot pair sums × the scale by dot_i16x8_s);
//   baseline: the nibbles are multiplied by the sub-block scale as i16 once per row (q·sc ≤ 15·63 =
//             945; × |x| ≤ 127 and two per dot_i16x8_s lane: ≤ 240030, far inside i32), so each
//             column needs only the four dot_i16x8_s of the sub-block and no multiply.
// One sub-block per loop pass: V8 hoists every load of a straight block to its top, and the four
// columns' activation loads of two sub-blocks would not fit the 16 registers.
import { hadd4_i32, gather4_32 } from "./common";
import { q8k_qs, Q8K_QS_SHIFT } from "./act_q8_k";
import { k4_sc03, k4_m03, k4_sc47, k4_m47, scaled32v, mask, MASK_0F, MASK_000F, load_f16_finite } from "./kcommon";

/** Σ_s m_s·(bsums[2s] + bsums[2s+1]) as i32x4 partial sums (mins_dot_pairs before its hsum). */
@inline
function mins4(bs: usize, m: v128): v128 {
  const p = i16x8.narrow_i32x4_s(
    i32x4.extadd_pairwise_i16x8_s(v128.load(bs, 0)),
    i32x4.extadd_pairwise_i16x8_s(v128.load(bs, 16)),
  );
  return i32x4.dot_i16x8_s(p, m);
}

/** Baseline: the sub-block's 32 weights as four i16 vectors against one column's x at `x`. */
@inline
function sub_i16(e0: v128, o0: v128, e1: v128, o1: v128, x: usize, acc: v128): v128 {
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(e0, v128.load(x, 0)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(o0, v128.load(x, 16)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(e1, v128.load(x, 32)));
  return i32x4.add(acc, i32x4.dot_i16x8_s(o1, v128.load(x, 48)));
}

/** Measured: see dispatch.ts's matmul header. */
export function gemm4_q4_k(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  const nb = n >> 8;
  const m = mask(ASC_FEATURE_RELAXED_SIMD ? MASK_0F : MASK_000F);
  const dArr = xq + ((<usize>n) << Q8K_QS_SHIFT); // column 0's d[0]
  const bsArr = dArr + ((<usize>nb) << 2); // column 0's bsums of super-block 0
  let sum = f32x4.splat(0);
  for (let b = 0; b < nb; b++) {
    const u0 = load<u32>(w, 4);
    const u1 = load<u32>(w, 8);
    const u2 = load<u32>(w, 12);
    let sc = <u64>k4_sc03(u0) | (<u64>k4_sc47(u0, u2) << 32);
    let q = w + 16;
    let x = q8k_qs(xq, b);
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    let sh = 0; // 0: low nibbles (even sub-block), 4: high nibbles (odd)
    for (let s = 0; s < 8; s++) {
      const v0 = v128.load(q, 0);
      const v1 = v128.load(q, 16);
      const x1 = x + xqStride;
      const x2 = x1 + xqStride;
      const x3 = x2 + xqStride;
      if (ASC_FEATURE_RELAXED_SIMD) {
        const wa = v128.and(i16x8.shr_u(v0, sh), m);
        const wb = v128.and(i16x8.shr_u(v1, sh), m);
        const ss = i16x8.splat(<i16>(sc & 0xff));
        a0 = scaled32v(wa, wb, x, ss, a0);
        a1 = scaled32v(wa, wb, x1, ss, a1);
        a2 = scaled32v(wa, wb, x2, ss, a2);
        a3 = scaled32v(wa, wb, x3, ss, a3);
      } else {
        const ss = i16x8.splat(<i16>(sc & 0xff));
        const e0 = i16x8.mul(v128.and(i16x8.shr_u(v0, sh), m), ss);
        const o0 = i16x8.mul(v128.and(i16x8.shr_u(v0, sh + 8), m), ss);
        const e1 = i16x8.mul(v128.and(i16x8.shr_u(v1, sh), m), ss);
        const o1 = i16x8.mul(v128.and(i16x8.shr_u(v1, sh + 8), m), ss);
        a0 = sub_i16(e0, o0, e1, o1, x, a0);
        a1 = sub_i16(e0, o0, e1, o1, x1, a1);
        a2 = sub_i16(e0, o0, e1, o1, x2, a2);
        a3 = sub_i16(e0, o0, e1, o1, x3, a3);
      }
      sc >>= 8;
      q += <usize>(sh << 3); // the next 32 bytes after an odd sub-block
      sh ^= 4;
      x += 32 << Q8K_QS_SHIFT;
    }
    const sumi = hadd4_i32(a0, a1, a2, a3);
    const mv = i16x8.extend_low_i8x16_u(i32x4.replace_lane(i32x4.splat(<i32>k4_m03(u1)), 1, <i32>k4_m47(u1, u2)));
    const bs = bsArr + ((<usize>b) << 5);
    const summ = hadd4_i32(mins4(bs, mv), mins4(bs + xqStride, mv), mins4(bs + 2 * xqStride, mv), mins4(bs + 3 * xqStride, mv));
    const dx = gather4_32(dArr + ((<usize>b) << 2), xqStride);
    const t1 = f32x4.mul(f32x4.mul(dx, f32x4.splat(load_f16_finite(w))), f32x4.convert_i32x4_s(sumi));
    const t2 = f32x4.mul(f32x4.mul(dx, f32x4.splat(load_f16_finite(w + 2))), f32x4.convert_i32x4_s(summ));
    sum = f32x4.add(sum, f32x4.sub(t1, t2));
    w += 144;
  }
  store<f32>(y, f32x4.extract_lane(sum, 0));
  store<f32>(y + yStride, f32x4.extract_lane(sum, 1));
  store<f32>(y + 2 * yStride, f32x4.extract_lane(sum, 2));
  store<f32>(y + 3 * yStride, f32x4.extract_lane(sum, 3));
}
