// Helpers shared by every quant kernel: f16 / bf16 ↔ f32 conversion (scalar and v128), the two
// integer dot-product building blocks (signed×signed and 7-bit-unsigned×signed bytes) in both
// builds, and horizontal sums.
//
// ggml's conversions, reproduced bit for bit:
//   f16 → f32  exact (every f16 is an f32), subnormals and ±inf/NaN included.
//   f32 → f16  round to nearest even, overflow to ±inf (ggml_compute_fp32_to_fp16 / F16C, mode 0).
//   f32 → bf16 round to nearest even, NaN made quiet, subnormals kept (GGML_FP32_TO_BF16).

/** 2^112: turns an f16 exponent (bias 15) placed in an f32 exponent field (bias 127) into the right value. */
const F16_EXP_ADJUST: f32 = 5.192296858534828e33;

/** f16 bits (low 16 bits of `h`) → f32, exact. */
@inline
export function f16_to_f32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const em = h & 0x7fff;
  if (em >= 0x7c00) return reinterpret<f32>(sign | 0x7f800000 | ((em & 0x3ff) << 13));
  // (em << 13) puts exponent and mantissa under the f32 fields; the product rebiases the exponent,
  // and is exact for subnormal f16 too (they become normal f32).
  return reinterpret<f32>(sign | reinterpret<u32>(reinterpret<f32>(em << 13) * F16_EXP_ADJUST));
}

/** The f16 at byte address p → f32. */
@inline
export function load_f16(p: usize): f32 {
  return f16_to_f32(<u32>load<u16>(p));
}

/** f32 → f16 bits, round to nearest even (ggml's GGML_FP32_TO_FP16). */
export function f32_to_f16(x: f32): u32 {
  const u = reinterpret<u32>(x);
  const sign = (u >> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00 | ((a >> 13) & 0x3ff); // NaN stays NaN (quiet)
  if (a >= 0x477ff000) return sign | 0x7c00; // rounds to ≥ 65520: ±inf
  if (a < 0x38800000) {
    // below 2^-14: f16 subnormal, a fixed step of 2^-24. Adding 0.5 makes the f32 step 2^-24 too,
    // so the hardware's round-to-nearest-even does the rounding.
    const r = reinterpret<f32>(a) + 0.5;
    return sign | (reinterpret<u32>(r) - reinterpret<u32>(<f32>0.5));
  }
  const r = a + 0xfff + ((a >> 13) & 1); // round the 13 dropped bits to nearest even
  return sign | ((r - 0x38000000) >> 13); // rebias 127 → 15
}

/** x rounded to f16 precision, as f32 (what ggml's F16 activations hold, kept as f32 here). */
@inline
export function round_f16(x: f32): f32 {
  return f16_to_f32(f32_to_f16(x));
}

/** f32 bits → bf16 bits in the top half (low half zero), ggml's GGML_FP32_TO_BF16. */
@inline
export function round_bf16_bits(u: u32): u32 {
  if ((u & 0x7fffffff) > 0x7f800000) return (u & 0xffff0000) | 0x00400000; // quiet NaN
  return (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000;
}

/**
 * Four f16 values held in the top 16 bits of each i32 lane (low bits ignored) → f32x4, exact for
 * finite values. ±inf/NaN come out as ±65536·(1 + m/1024): finite garbage, never silently a
 * plausible weight; callers that must be exact (dequantization) fix them with `f16_fix_special`.
 */
@inline
export function f16hi_to_f32x4(v: v128): v128 {
  // s e e e e e m…m (top 16 bits) → arithmetic shift by 3 → s s s s e e e e e m…m; clearing bits
  // 30..28 and the 13 low bits leaves s 000 eeeee m…m 0…0, an f32 whose exponent is the f16's
  // with bias 15 instead of 127. Multiplying by 2^112 rebiases it (sign and subnormals included).
  const b = v128.and(i32x4.shr_s(v, 3), i32x4.splat(0x8fffe000));
  return f32x4.mul(b, f32x4.splat(F16_EXP_ADJUST));
}

/** Exactness for ±inf/NaN after f16hi_to_f32x4: `v` is the same input (f16 in the top 16 bits). */
@inline
export function f16_fix_special(f: v128, v: v128): v128 {
  const special = i32x4.gt_u(v128.and(v, i32x4.splat(0x7fff0000)), i32x4.splat(0x7bffffff));
  return v128.or(f, v128.and(special, i32x4.splat(0x7f800000)));
}

/** f32x4 → f32x4 rounded to f16 precision (round to nearest even, overflow to inf, NaN kept). */
@inline
export function round_f16_x4(x: v128): v128 {
  const sign = v128.and(x, i32x4.splat(0x80000000));
  const a = v128.and(x, i32x4.splat(0x7fffffff));
  // normal f16 range: round away the 13 low mantissa bits, to nearest even
  const odd = v128.and(i32x4.shr_u(a, 13), i32x4.splat(1));
  let r = v128.and(i32x4.add(i32x4.add(a, i32x4.splat(0xfff)), odd), i32x4.splat(0xffffe000));
  // subnormal f16 range (below 2^-14): a fixed step of 2^-24, rounded by the FPU (see f32_to_f16)
  const half = f32x4.splat(0.5);
  const sub = f32x4.sub(f32x4.add(a, half), half);
  r = v128.bitselect(sub, r, i32x4.lt_u(a, i32x4.splat(0x38800000)));
  // overflow: inf; NaN: the input itself
  r = v128.bitselect(i32x4.splat(0x7f800000), r, i32x4.gt_u(a, i32x4.splat(0x477fefff)));
  r = v128.bitselect(a, r, i32x4.gt_u(a, i32x4.splat(0x7f800000)));
  return v128.or(r, sign);
}

/** f32x4 → bf16 precision as f32x4 (the low 16 bits zero), as round_bf16_bits lane by lane. */
@inline
export function round_bf16_x4(u: v128): v128 {
  const odd = v128.and(i32x4.shr_u(u, 16), i32x4.splat(1));
  const r = v128.and(i32x4.add(i32x4.add(u, i32x4.splat(0x7fff)), odd), i32x4.splat(0xffff0000));
  const quiet = v128.or(v128.and(u, i32x4.splat(0xffff0000)), i32x4.splat(0x00400000));
  const nan = i32x4.gt_u(v128.and(u, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  return v128.bitselect(quiet, r, nan);
}

/** Sum of the four f32 lanes. */
@inline
export function hsum_f32x4(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** Sum of the four i32 lanes. */
@inline
export function hsum_i32x4(v: v128): i32 {
  const s = i32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1);
}

/**
 * acc + the dot products of 16 signed bytes `a` and 16 signed bytes `b`, four at a time per lane.
 * Baseline: widen to i16 and i32x4.dot_i16x8_s. Relaxed: relaxed_dot wants its second operand in
 * 0..127, so move the sign of `a` onto `b` (ggml's _mm_sign_epi8 trick): |a|·(b·sign a) = a·b.
 * |a| must stay ≤ 127 (ggml's quantizers never produce -128) and b ≠ -128 (activations are ≥ -127).
 */
@inline
export function dot_s8(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const neg = i8x16.lt_s(a, i8x16.splat(0));
    const sb = i8x16.sub(v128.xor(b, neg), neg);
    return i32x4.relaxed_dot_i8x16_i7x16_add_s(sb, i8x16.abs(a), acc);
  } else {
    const lo = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_s(b));
    const hi = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_s(b));
    return i32x4.add(acc, i32x4.add(lo, hi));
  }
}

/** acc + the dot products of 16 unsigned bytes `u` (each 0..127) and 16 signed bytes `b`. */
@inline
export function dot_u7s8(u: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return i32x4.relaxed_dot_i8x16_i7x16_add_s(b, u, acc);
  } else {
    const lo = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(u), i16x8.extend_low_i8x16_s(b));
    const hi = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(u), i16x8.extend_high_i8x16_s(b));
    return i32x4.add(acc, i32x4.add(lo, hi));
  }
}

/** acc + v·s lane by lane; fused in the relaxed build (ggml's AVX2 path uses FMA too). */
@inline
export function madd_f32x4(v: v128, s: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(v, s, acc);
  } else {
    return f32x4.add(acc, f32x4.mul(v, s));
  }
}

/** dst[0..16) = d · v, for 16 signed bytes v (d splat in every lane; d·q is exact in f32). */
@inline
export function store_s8x16_scaled(dst: usize, v: v128, d: v128): void {
  const l = i16x8.extend_low_i8x16_s(v);
  const h = i16x8.extend_high_i8x16_s(v);
  v128.store(dst, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(l)), d), 0);
  v128.store(dst, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(l)), d), 16);
  v128.store(dst, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h)), d), 32);
  v128.store(dst, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h)), d), 48);
}

/** dst[0..16) = d · v + m, for 16 unsigned bytes v (gguf-py rounds once, after the exact d·q). */
@inline
export function store_u8x16_scaled(dst: usize, v: v128, d: v128, m: v128): void {
  const l = i16x8.extend_low_i8x16_u(v);
  const h = i16x8.extend_high_i8x16_u(v);
  v128.store(dst, f32x4.add(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(l)), d), m), 0);
  v128.store(dst, f32x4.add(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(l)), d), m), 16);
  v128.store(dst, f32x4.add(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(h)), d), m), 32);
  v128.store(dst, f32x4.add(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(h)), d), m), 48);
}

/** Low nibbles of 16 bytes, as bytes 0..15. */
@inline
export function nibbles_lo(v: v128): v128 {
  return v128.and(v, i8x16.splat(0x0f));
}

/** High nibbles of 16 bytes, as bytes 0..15 (a 16-bit shift: the mask drops what crossed bytes). */
@inline
export function nibbles_hi(v: v128): v128 {
  return v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f));
}

/** [Σ lanes of s0, Σ s1, Σ s2, Σ s3]: four blocks' integer sums in one vector. */
@inline
export function hadd4_i32(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const u0 = i32x4.add(i32x4.shuffle(s0, s1, 0, 1, 4, 5), i32x4.shuffle(s0, s1, 2, 3, 6, 7));
  const u1 = i32x4.add(i32x4.shuffle(s2, s3, 0, 1, 4, 5), i32x4.shuffle(s2, s3, 2, 3, 6, 7));
  return i32x4.add(i32x4.shuffle(u0, u1, 0, 2, 4, 6), i32x4.shuffle(u0, u1, 1, 3, 5, 7));
}

/** The f16 at p, p + stride, p + 2·stride, p + 3·stride → f32x4, exact (one scale per block). */
@inline
export function gather_f16x4(p: usize, stride: usize): v128 {
  let v = i32x4.splat(<i32>load<u16>(p));
  v = i32x4.replace_lane(v, 1, <i32>load<u16>(p + stride));
  v = i32x4.replace_lane(v, 2, <i32>load<u16>(p + 2 * stride));
  v = i32x4.replace_lane(v, 3, <i32>load<u16>(p + 3 * stride));
  v = i32x4.shl(v, 16);
  return f16_fix_special(f16hi_to_f32x4(v), v);
}
