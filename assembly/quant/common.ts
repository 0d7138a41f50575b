// Helpers shared by every quant kernel: f16 / bf16 ↔ f32 conversion (scalar and v128), horizontal
// sums, block dequantization stores, nibble extraction, and v128 constants kept in memory.
//
// ggml's conversions, reproduced bit for bit:
//   f16 → f32  exact (every f16 is an f32), subnormals and ±inf/NaN included.
//   f32 → f16  round to nearest even, overflow to ±inf (ggml_compute_fp32_to_fp16 / F16C, mode 0).
//   f32 → bf16 round to nearest even, NaN made quiet, subnormals kept (GGML_FP32_TO_BF16).
import { FMA } from "../fma";

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

/** f16hi_to_f32x4 with its two constants passed in (kconst K_F16_BITS, K_F16_SCALE), for loops. */
@inline
export function f16hi_to_f32x4_k(v: v128, bits: v128, scale: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shr_s(v, 3), bits), scale);
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

/** Sum of the four f32 lanes as (v0 + v2) + (v1 + v3): with v = lo + hi of eight lanes, this is
 * ggml's hsum_float_8 order exactly. */
@inline
export function hsum_f32x4(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/**
 * ggml's hsum_float_8 of eight lanes a0..a7 held as even = [a0 a2 a4 a6], odd = [a1 a3 a5 a7]:
 * ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)), the same roundings in the same order.
 */
@inline
export function hsum8_even_odd(even: v128, odd: v128): f32 {
  const e = f32x4.add(even, i32x4.shuffle(even, even, 2, 3, 0, 1)); // a0+a4, a2+a6
  const o = f32x4.add(odd, i32x4.shuffle(odd, odd, 2, 3, 0, 1)); //     a1+a5, a3+a7
  return (f32x4.extract_lane(e, 0) + f32x4.extract_lane(e, 1)) + (f32x4.extract_lane(o, 0) + f32x4.extract_lane(o, 1));
}

/** Sum of the four i32 lanes. */
@inline
export function hsum_i32x4(v: v128): i32 {
  const s = i32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1);
}

/** [Σ lanes of s0, Σ s1, Σ s2, Σ s3]: four i32 horizontal sums at once (exact, any order). */
@inline
export function hadd4_i32(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const u0 = i32x4.add(i32x4.shuffle(s0, s1, 0, 1, 4, 5), i32x4.shuffle(s0, s1, 2, 3, 6, 7));
  const u1 = i32x4.add(i32x4.shuffle(s2, s3, 0, 1, 4, 5), i32x4.shuffle(s2, s3, 2, 3, 6, 7));
  return i32x4.add(i32x4.shuffle(u0, u1, 0, 2, 4, 6), i32x4.shuffle(u0, u1, 1, 3, 5, 7));
}

/** The four 32-bit values at p, p + stride, p + 2·stride, p + 3·stride as one v128 (one per column). */
@inline
export function gather4_32(p: usize, stride: usize): v128 {
  let v = v128.load32_zero(p);
  v = v128.load32_lane(p + stride, v, 1);
  v = v128.load32_lane(p + 2 * stride, v, 2);
  return v128.load32_lane(p + 3 * stride, v, 3);
}

/**
 * swizzle(table, idx) for indices known to be in 0..15: the relaxed build uses relaxed_swizzle,
 * which V8 lowers to a bare pshufb; i8x16.swizzle must zero out-of-range lanes and costs a
 * constant load and a saturating add more.
 */
@inline
export function swizzle16(table: v128, idx: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return i8x16.relaxed_swizzle(table, idx);
  } else {
    return i8x16.swizzle(table, idx);
  }
}

/**
 * acc + v·s lane by lane: fused in the relaxed build (V8 emits vfmadd on x86 with FMA3), as ggml's
 * _mm256_fmadd_ps; mul then add in the baseline build, which has no FMA. The baseline's extra
 * rounding makes its matvec outputs differ from llama.cpp's by an ulp now and then (see
 * act_q8_0.ts). Emulating the fused rounding through f64 (promote, multiply, add, demote) was
 * measured at 4.7 ns per Q8_0 block against 2.4: the demote/promote latency chain per lane.
 */
@inline
export function madd_f32x4(v: v128, s: v128, acc: v128): v128 {
  if (FMA) {
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


/**
 * The f16 at p read as raw bits into an f32 whose exponent is still biased by 15, i.e. the f16's
 * value · 2^-112 (exact, sign and subnormals included; ±inf/NaN become finite garbage). Kernels
 * multiply it by an activation scale stored ·2^112 (act_q8_0.ts), which gives d_w·d_x exactly as
 * f16_to_f32(h)·d_x would, in four integer instructions and no branch.
 */
@inline
export function f16_raw(p: usize): f32 {
  return reinterpret<f32>(((<i32>load<i16>(p) << 16) >> 3) & 0x8fffe000);
}

/** Index of a v128 constant in KCONST (kconst). */
export const K_NIB16: i32 = 0; //   i16 0x000f: a nibble in a 16-bit lane
export const K_NIB8: i32 = 1; //    i8 0x0f
export const K_BYTE16: i32 = 2; //  i16 0x00ff: the low byte of a 16-bit lane
export const K_QH_LO: i32 = 3; //   Q5: which qh byte holds bit 4 of element k (k < 16) …
export const K_QH_HI: i32 = 4; //   … and of element 16 + k
export const K_QH_BIT: i32 = 5; //  … and which bit of that byte
export const K_SIXTEEN: i32 = 6; // i8 16
export const K_IQ4NL: i32 = 7; //   the IQ4_NL codebook, i8
export const K_F16_BITS: i32 = 8; // i32 0x8fffe000: sign, exponent and mantissa of an f16 shifted right by 3
export const K_F16_SCALE: i32 = 9; // f32 2^112: rebias an f16 exponent
export const K_HI16: i32 = 10; //  i32 0xffff0000: the high half of a 32-bit lane

/**
 * v128 constants in memory, loaded into locals once per kernel call: V8 rematerializes a
 * v128.const at every use inside a loop (2-4 instructions each), while a local loaded from memory
 * stays in a register (measured: the Q4_0 integer loop 7% faster), and Binaryen cannot fold a load.
 */
const KCONST: StaticArray<u32> = [
  0x000f000f, 0x000f000f, 0x000f000f, 0x000f000f,
  0x0f0f0f0f, 0x0f0f0f0f, 0x0f0f0f0f, 0x0f0f0f0f,
  0x00ff00ff, 0x00ff00ff, 0x00ff00ff, 0x00ff00ff,
  0x00000000, 0x00000000, 0x01010101, 0x01010101,
  0x02020202, 0x02020202, 0x03030303, 0x03030303,
  0x08040201, 0x80402010, 0x08040201, 0x80402010,
  0x10101010, 0x10101010, 0x10101010, 0x10101010,
  // -127 -104 -83 -65 | -49 -35 -22 -10 | 1 13 25 38 | 53 69 89 113
  0xbfad9881, 0xf6eaddcf, 0x26190d01, 0x71594535,
  0x8fffe000, 0x8fffe000, 0x8fffe000, 0x8fffe000,
  0x77800000, 0x77800000, 0x77800000, 0x77800000,
  0xffff0000, 0xffff0000, 0xffff0000, 0xffff0000,
];

@inline
export function kconst(i: i32): v128 {
  return v128.load(changetype<usize>(KCONST) + ((<usize>i) << 4));
}
