// Building blocks shared by the super-block kernels (q2_k … q6_k, iq4_xs) against Q8_K activations
// (act_q8_k.ts): the 6-bit scale unpacking of Q4_K/Q5_K, the bsums-based min term, and the
// "16 consecutive weights × their 16 activation quants, times a sub-block scale" step in both builds.
//
// The weight operand is always 16 unsigned bytes w (each 0..127), the weights of 16 consecutive
// elements starting at element e of a super-block whose activation quants start at `qs`:
//   relaxed:  i16x8.relaxed_dot_i8x16_i7x16_s(x, w) gives 8 pair sums (16 products, one op); pair
//             sums of two 16-groups still fit i16 for ≤ 5-bit weights (2·2·31·127 = 15748), and the
//             sub-block scale is applied by dot_i16x8_s with the scale splat (pair sums × scale → i32).
//   baseline: x is stored as i16, evens then odds (act_q8_k.ts), so w splits into i16 lanes with one
//             mask (even bytes) and one shift (odd bytes), two dot_i16x8_s, and the scale is an i32x4.mul.
import { Q8K_QS_SHIFT } from "./act_q8_k";
import { hsum_i32x4 } from "./common";

/** Address of the activation quants of element e (a multiple of 16) of the block at qs. */
@inline
export function xat(qs: usize, e: i32): usize {
  return qs + ((<usize>e) << Q8K_QS_SHIFT);
}

/** Byte k (0..3) of a u32. */
@inline
export function byte_of(u: u32, k: i32): i32 {
  return <i32>((u >> (<u32>k << 3)) & 0xff);
}

// Q4_K / Q5_K scales: 12 bytes = u32 words u0 u1 u2 holding 8 six-bit scales sc0..7 and mins m0..7
// (ggml's get_scale_min_k4, four at a time as its AVX2 code does with kmask1..3):
//   u0 bytes: sc0..3 (bits 0-5) | sc4..7 bits 4-5 (bits 6-7)
//   u1 bytes: m0..3  (bits 0-5) | m4..7  bits 4-5 (bits 6-7)
//   u2 bytes: sc4..7 bits 0-3 (bits 0-3) | m4..7 bits 0-3 (bits 4-7)
@inline
export function k4_sc03(u0: u32): u32 {
  return u0 & 0x3f3f3f3f;
}
@inline
export function k4_m03(u1: u32): u32 {
  return u1 & 0x3f3f3f3f;
}
@inline
export function k4_sc47(u0: u32, u2: u32): u32 {
  return (u2 & 0x0f0f0f0f) | (((u0 >> 6) & 0x03030303) << 4);
}
@inline
export function k4_m47(u1: u32, u2: u32): u32 {
  return ((u2 >> 4) & 0x0f0f0f0f) | (((u1 >> 6) & 0x03030303) << 4);
}

/**
 * Σ_s m_s · (bsums[2s] + bsums[2s+1]) for the 8 mins of a 32-element-sub-block format (Q4_K, Q5_K),
 * mins packed as bytes in m03 (m0..3) and m47 (m4..7), bsums the block's 16 i16 at `bs`.
 */
@inline
export function mins_dot_pairs(bs: usize, m03: u32, m47: u32): i32 {
  const p = i16x8.narrow_i32x4_s(
    i32x4.extadd_pairwise_i16x8_s(v128.load(bs, 0)),
    i32x4.extadd_pairwise_i16x8_s(v128.load(bs, 16)),
  );
  const m = i16x8.extend_low_i8x16_u(i32x4.replace_lane(i32x4.splat(<i32>m03), 1, <i32>m47));
  return hsum_i32x4(i32x4.dot_i16x8_s(p, m));
}

/** Σ_g s_g · bsums[g] over 16 signed byte scales s (a v128) and the block's 16 bsums at `bs`. */
@inline
export function scales_dot_bsums(bs: usize, s: v128): i32 {
  const lo = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(s), v128.load(bs, 0));
  const hi = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(s), v128.load(bs, 16));
  return hsum_i32x4(i32x4.add(lo, hi));
}

/** Baseline: i32x4 partial sums of 16 unsigned byte weights × the i16 evens/odds of x at `x`. */
@inline
export function dot_u8_x16(w: v128, x: usize): v128 {
  const even = i32x4.dot_i16x8_s(v128.and(w, i16x8.splat(0xff)), v128.load(x, 0));
  return i32x4.add(even, i32x4.dot_i16x8_s(i16x8.shr_u(w, 8), v128.load(x, 16)));
}

/** Baseline: i32x4 partial sums of 16 signed byte weights × the i16 evens/odds of x at `x`. */
@inline
export function dot_s8_x16(w: v128, x: usize): v128 {
  const even = i32x4.dot_i16x8_s(i16x8.shr_s(i16x8.shl(w, 8), 8), v128.load(x, 0));
  return i32x4.add(even, i32x4.dot_i16x8_s(i16x8.shr_s(w, 8), v128.load(x, 16)));
}

/**
 * acc + sc · Σ w·x over one 16-element sub-block (w: 16 unsigned bytes ≤ 63, x at `x`).
 * Relaxed: pair sums ≤ 2·63·127 = 16002 fit i16.
 */
@inline
export function scaled16(w: v128, x: usize, sc: i32, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const p = i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x), w);
    return i32x4.add(acc, i32x4.dot_i16x8_s(p, i16x8.splat(<i16>sc)));
  } else {
    return i32x4.add(acc, i32x4.mul(dot_u8_x16(w, x), i32x4.splat(sc)));
  }
}

/**
 * acc + sc · Σ w·x over one 32-element sub-block given as two 16-groups (wa at x, wb at the next
 * 16 elements), weights unsigned ≤ 31 so the relaxed pair sums of both groups fit one i16x8.
 */
@inline
export function scaled32(wa: v128, wb: v128, x: usize, sc: i32, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const p = i16x8.add(
      i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x, 0), wa),
      i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x, 16), wb),
    );
    return i32x4.add(acc, i32x4.dot_i16x8_s(p, i16x8.splat(<i16>sc)));
  } else {
    const s = i32x4.add(dot_u8_x16(wa, x), dot_u8_x16(wb, x + 32));
    return i32x4.add(acc, i32x4.mul(s, i32x4.splat(sc)));
  }
}
