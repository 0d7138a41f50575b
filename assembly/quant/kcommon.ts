// Building blocks shared by the super-block kernels (q2_k … q6_k, iq4_xs) against Q8_K activations
// (act_q8_k.ts): the 6-bit scale unpacking of Q4_K/Q5_K, the bsums-based min term, and the
// "16 consecutive weights × their 16 activation quants, times a sub-block scale" step in both builds.
//
// The weight operand is always 16 unsigned bytes w (each 0..127), the weights of 16 consecutive
// elements starting at element e of a super-block whose activation quants start at `qs`:
//   relaxed:  i16x8.relaxed_dot_i8x16_i7x16_s(x, w) gives 8 pair sums (16 products, one op); pair
//             sums of two 16-groups still fit i16 for ≤ 5-bit weights (2·2·31·127 = 15748), and the
//             sub-block scale is applied by dot_i16x8_s with the scale splat (pair sums × scale → i32).
//   baseline: x is stored as i16, evens then odds (act_q8_k.ts), so w splits into i16 lanes with
//             shifts (even bytes: left then right by 8; odd bytes: right by 8), two dot_i16x8_s, and
//             the scale is an i32x4.mul.
import { Q8K_QS_SHIFT } from "./act_q8_k";
import { hsum_i32x4 } from "./common";
import { FMA } from "../fma";

// Loop-invariant v128 masks, loaded from memory once per call. V8 (Node 20 and 24 alike) rebuilds a
// v128.const at every use inside a loop (movq + vmovq + vpunpcklqdq); a loaded value stays in a
// register. Measured on the Q4_K kernel: see q4_k.ts.
const MASK_TABLE: StaticArray<u8> = [
  0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, // bytes 0x0f
  0x0f, 0x00, 0x0f, 0x00, 0x0f, 0x00, 0x0f, 0x00, 0x0f, 0x00, 0x0f, 0x00, 0x0f, 0x00, 0x0f, 0x00, // i16 0x000f
  0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, // bytes 0x03
  0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, // bytes 0x04
  0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, // bytes 0x10
  0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, // bytes 0x30
];
export const MASK_0F: i32 = 0;
export const MASK_000F: i32 = 1;
export const MASK_03: i32 = 2;
export const MASK_04: i32 = 3;
export const MASK_10: i32 = 4;
export const MASK_30: i32 = 5;

/** One of the masks above (load it before a loop and pass it in). */
@inline
export function mask(k: i32): v128 {
  return v128.load(changetype<usize>(MASK_TABLE) + ((<usize>k) << 4));
}

/**
 * f16 bits → f32 for finite values (inf/NaN come out as large finite numbers), for the block scales
 * in the dot kernels and their scalar twins (ggml's quantizers never store inf/NaN there);
 * dequantization uses common.ts's exact load_f16. No f32 arithmetic touches a denormal: the usual
 * "f16 bits << 13, times 2^112" makes a denormal f32 for every f16 subnormal, and x86 takes a
 * microcode assist on it. Q6_K's d is often an f16 subnormal (d ≈ max|w| / 4096); measured on a
 * Q6_K matvec with such scales (Node 20, in cache): 3.8 GB/s with the multiply, 5.6 without.
 */
@inline
export function load_f16_finite(p: usize): f32 {
  const h = <u32>load<u16>(p);
  const em = h & 0x7fff;
  const normal = reinterpret<f32>((em << 13) + 0x38000000); // exponent rebiased 15 → 127
  const sub = <f32>em * <f32>5.9604644775390625e-8; // em < 0x400: m · 2^-24, exact
  const mag = select<f32>(sub, normal, em < 0x400);
  return reinterpret<f32>(reinterpret<u32>(mag) | ((h & 0x8000) << 16));
}

/**
 * f16 bits → f32, exact for every input (±inf and NaN included) and, like load_f16_finite, with no
 * denormal f32 arithmetic: what the dequantizers use (common.ts's f16_to_f32 multiplies a denormal
 * f32 for f16 subnormals, which x86 runs through a microcode assist).
 */
@inline
export function load_f16_exact(p: usize): f32 {
  const h = <u32>load<u16>(p);
  const em = h & 0x7fff;
  const normal = em >= 0x7c00 ? 0x7f800000 | ((em & 0x3ff) << 13) : (em << 13) + 0x38000000;
  const sub = <f32>em * <f32>5.9604644775390625e-8;
  const mag = select<f32>(sub, reinterpret<f32>(normal), em < 0x400);
  return reinterpret<f32>(reinterpret<u32>(mag) | ((h & 0x8000) << 16));
}

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
  return hsum_i32x4(mins_pairs_lanes(bs, m03, m47));
}

/**
 * mins_dot_pairs before its horizontal sum: lane k = m_{2k}·bsum32_{2k} + m_{2k+1}·bsum32_{2k+1}, with
 * bsum32_s = bsums[2s] + bsums[2s+1], the four i32 lanes of the AVX2 kernels' _mm_madd_epi16(mins,
 * _mm_hadd_epi16(bsums)) (ggml_vec_dot_q4_K_q8_K's `prod`).
 */
@inline
export function mins_pairs_lanes(bs: usize, m03: u32, m47: u32): v128 {
  const p = i16x8.narrow_i32x4_s(
    i32x4.extadd_pairwise_i16x8_s(v128.load(bs, 0)),
    i32x4.extadd_pairwise_i16x8_s(v128.load(bs, 16)),
  );
  const m = i16x8.extend_low_i8x16_u(i32x4.replace_lane(i32x4.splat(<i32>m03), 1, <i32>m47));
  return i32x4.dot_i16x8_s(p, m);
}

/**
 * fma(d, v, acc) lane by lane, as the AVX2 kernels' _mm256_fmadd_ps(d, cvtepi32_ps(sumi), acc) once per
 * super-block (d an f32, v an f32x4 of integers below 2^25).
 *   relaxed build: f32x4.relaxed_madd, which the loader only picks when it fuses (src/wasm/features.ts
 *     runs a case where fused and unfused differ; x86 with FMA3 and ARM do, V8 then emits vfmadd/fmla):
 *     one rounding, ggml's exactly. (An engine whose relaxed_madd does not fuse, Bun's, gets the
 *     relaxed-nofma build, FMA false (../fma.ts): choosing the f64 path at run time instead, a flag read
 *     once per call and both paths compiled, cost V8 9% on the Q4_K matvec: scripts/kernel-ab.mjs.)
 *   baseline and relaxed-nofma builds: in f64: d·v is exact there, so the only roundings are the f64 sum's and then the
 *     f32 one. That double rounding differs from the single fused rounding only when the f64 sum lands
 *     exactly halfway between two f32 values without the exact sum being there (about one operation
 *     in 2^28 for random data).
 */
@inline
export function fma_d_f32x4(d: f32, v: v128, acc: v128): v128 {
  if (FMA) {
    return f32x4.relaxed_madd(f32x4.splat(d), v, acc);
  } else {
    const dv = f64x2.splat(<f64>d);
    const lo = f64x2.add(f64x2.mul(dv, f64x2.promote_low_f32x4(v)), f64x2.promote_low_f32x4(acc));
    const hi = f64x2.add(
      f64x2.mul(dv, f64x2.promote_low_f32x4(v128.shuffle<u32>(v, v, 2, 3, 0, 1))),
      f64x2.promote_low_f32x4(v128.shuffle<u32>(acc, acc, 2, 3, 0, 1)),
    );
    return v128.shuffle<u32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
  }
}

/** The scalar twin of fma_d_f32x4 for one lane (the relaxed build's through the same relaxed_madd). */
@inline
export function fma_d_f32(d: f32, v: f32, acc: f32): f32 {
  if (FMA) {
    return f32x4.extract_lane(f32x4.relaxed_madd(f32x4.splat(d), f32x4.splat(v), f32x4.splat(acc)), 0);
  } else {
    return <f32>(<f64>d * <f64>v + <f64>acc);
  }
}

/** Σ_g s_g · bsums[g] over 16 signed byte scales s (a v128) and the block's 16 bsums at `bs`. */
@inline
export function scales_dot_bsums(bs: usize, s: v128): i32 {
  const lo = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(s), v128.load(bs, 0));
  const hi = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(s), v128.load(bs, 16));
  return hsum_i32x4(i32x4.add(lo, hi));
}

/**
 * Baseline: i32x4 partial sums of 16 unsigned byte weights × the i16 evens/odds of x at `x` (the
 * even bytes by two shifts rather than a mask: no v128 constant to rebuild inside loops).
 */
@inline
export function dot_u8_x16(w: v128, x: usize): v128 {
  const even = i32x4.dot_i16x8_s(i16x8.shr_u(i16x8.shl(w, 8), 8), v128.load(x, 0));
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
 * The four sub-block scales packed as bytes in `sc` (scale k in bits 8k..8k+7), as the splat
 * operands scaled16v/scaled32v take: i16 lanes (relaxed) or i32 lanes (baseline), scale k in lane
 * k and again in lane k + 4 (relaxed). Lane k is then splat with a constant shuffle (pshuflw/pshufd),
 * two instructions instead of the five of a scalar extract and splat.
 */
@inline
export function scales4(sc: u32): v128 {
  const b = i16x8.extend_low_i8x16_u(i32x4.splat(<i32>sc));
  return ASC_FEATURE_RELAXED_SIMD ? b : i32x4.extend_low_i16x8_u(b);
}

/** Scale k (0..3) of scales4() in every lane. */
@inline
export function scale_splat0(s: v128): v128 {
  return ASC_FEATURE_RELAXED_SIMD ? v128.shuffle<i16>(s, s, 0, 0, 0, 0, 0, 0, 0, 0) : v128.shuffle<i32>(s, s, 0, 0, 0, 0);
}
@inline
export function scale_splat1(s: v128): v128 {
  return ASC_FEATURE_RELAXED_SIMD ? v128.shuffle<i16>(s, s, 1, 1, 1, 1, 1, 1, 1, 1) : v128.shuffle<i32>(s, s, 1, 1, 1, 1);
}
@inline
export function scale_splat2(s: v128): v128 {
  return ASC_FEATURE_RELAXED_SIMD ? v128.shuffle<i16>(s, s, 2, 2, 2, 2, 2, 2, 2, 2) : v128.shuffle<i32>(s, s, 2, 2, 2, 2);
}
@inline
export function scale_splat3(s: v128): v128 {
  return ASC_FEATURE_RELAXED_SIMD ? v128.shuffle<i16>(s, s, 3, 3, 3, 3, 3, 3, 3, 3) : v128.shuffle<i32>(s, s, 3, 3, 3, 3);
}

/**
 * acc + s · Σ w·x over one 32-element sub-block given as two 16-groups (wa at x, wb at the next 16
 * elements), s the sub-block scale splat (scale_splat*). Weights ≤ 31, so the relaxed pair sums
 * of both groups fit one i16x8 (2·2·31·127 = 15748).
 */
@inline
export function scaled32v(wa: v128, wb: v128, x: usize, s: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const p = i16x8.add(
      i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x, 0), wa),
      i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x, 16), wb),
    );
    return i32x4.add(acc, i32x4.dot_i16x8_s(p, s));
  } else {
    const d = i32x4.add(dot_u8_x16(wa, x), dot_u8_x16(wb, x + 32));
    return i32x4.add(acc, i32x4.mul(d, s));
  }
}

/** scaled16 with the scale already splat (scale_splat*). */
@inline
export function scaled16v(w: v128, x: usize, s: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x), w), s));
  } else {
    return i32x4.add(acc, i32x4.mul(dot_u8_x16(w, x), s));
  }
}
