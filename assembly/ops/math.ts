// Internal helpers of the ops kernels (not exported from the module): an exact f32 fused multiply-add,
// ggml's f32 exp approximation as its AVX2 + FMA build computes it, a precise expf, and the f16 <-> f32
// conversions, each as a v128 function and its scalar twin that gives the same bits.
// assembly/ops.ts does not re-export this file, so nothing here becomes a wasm export.
import { FMA } from "../fma";

// ── exp: ggml_v_expf (ggml/src/ggml-cpu/vec.h) ──────────────────────────────────────────────────────
// "adapted from arm limited optimized routine; the maximum error is 1.45358 plus 0.5 ulps; numbers above
// 88.38 will flush to infinity, numbers beneath -103.97 will flush to zero." Constants as f32 bit patterns
// (AssemblyScript has no hex-float literals); the comment is ggml's spelling.
export const EXP_SHIFT: u32 = 0x4B400000; // 0x1.8p23f: adding it rounds x*log2(e) to an integer n
export const EXP_LOG2E: u32 = 0x3FB8AA3B; // 0x1.715476p+0f
export const EXP_LN2_HI: u32 = 0x3F317200; // 0x1.62e4p-1f  (n*LN2_HI is exact for |n| < 128)
export const EXP_LN2_LO: u32 = 0x35BFBE8E; // 0x1.7f7d1cp-20f
export const EXP_C0: u32 = 0x3C072010; // 0x1.0e4020p-7f
export const EXP_C1: u32 = 0x3D2B9F17; // 0x1.573e2ep-5f
export const EXP_C2: u32 = 0x3E2AAF33; // 0x1.555e66p-3f
export const EXP_C3: u32 = 0x3EFFFEDB; // 0x1.fffdb6p-2f
export const EXP_C4: u32 = 0x3F7FFFF6; // 0x1.ffffecp-1f
export const F32_ONE: u32 = 0x3F800000;

/**
 * expV's constants, four lanes each, read from memory at each use (expConst): V8 rebuilds a v128.const at
 * every use inside a loop (three instructions), where a load can be an operand of the multiply-add. Measured
 * in the attention softmax (its profile share at 2,048 positions went from 23% to 7% with this and the f16
 * shortcut of attention_softmax.ts).
 */
const EXP_CONSTS: StaticArray<u32> = [
  EXP_SHIFT, EXP_SHIFT, EXP_SHIFT, EXP_SHIFT,
  EXP_LOG2E, EXP_LOG2E, EXP_LOG2E, EXP_LOG2E,
  EXP_LN2_HI, EXP_LN2_HI, EXP_LN2_HI, EXP_LN2_HI,
  EXP_LN2_LO, EXP_LN2_LO, EXP_LN2_LO, EXP_LN2_LO,
  EXP_C0, EXP_C0, EXP_C0, EXP_C0,
  EXP_C1, EXP_C1, EXP_C1, EXP_C1,
  EXP_C2, EXP_C2, EXP_C2, EXP_C2,
  EXP_C3, EXP_C3, EXP_C3, EXP_C3,
  EXP_C4, EXP_C4, EXP_C4, EXP_C4,
  F32_ONE, F32_ONE, F32_ONE, F32_ONE,
];
const X_SHIFT = 0, X_LOG2E = 1, X_LN2_HI = 2, X_LN2_LO = 3, X_C0 = 4, X_C1 = 5, X_C2 = 6, X_C3 = 7, X_C4 = 8, X_ONE = 9;

@inline function expConst(i: i32): v128 {
  return v128.load(changetype<usize>(EXP_CONSTS) + (<usize>i << 4));
}

// ── fused multiply-add ──────────────────────────────────────────────────────────────────────────────
// ggml's AVX2 build (the llama.cpp reference machine: x86 AVX2 + FMA) computes ggml_v_expf with
// _mm256_fmadd_ps / _mm256_fnmadd_ps: a*b + c rounded once. Baseline WASM SIMD has no fused multiply-add,
// and relaxed_madd may or may not fuse depending on the engine (Bun does not); the loader takes the relaxed
// build only where it fuses (src/wasm/features.ts), and there fmaV is relaxed_madd (FMA, ../fma.ts). The
// baseline and relaxed-nofma builds go through f64: a*b of two f32 is exact in f64 (24 + 24 bits <= 53), so
// s = f64(a*b + c) has one rounding. Rounding s again to f32 is a double rounding, wrong exactly when s
// lands on an f32 midpoint (half-way between two f32) that the exact sum is not on: if s is no midpoint,
// none lies strictly between s and the exact sum (it would be an f64 nearer the exact sum than s), so both
// round to the same f32. Measured against exact rational arithmetic (BigInt): double rounding was never
// wrong on 2M random triples, nor on any of the 16M fused multiply-adds of ggml_v_expf over 2M x in
// [-20, 20]; but on 11.5% of 2M triples built to land near midpoints (test/ops.test.ts keeps a smaller
// run). So where s is a midpoint (or below 2^-126, where f32's subnormal midpoints are coarser), the
// error of s is recovered by TwoSum (Knuth; exact without overflow, which f32 operands cannot reach) and
// s is rounded to odd (truncated towards zero, the last bit set if inexact): rounding to odd with
// 53 >= 24 + 2 bits, then to nearest f32, is the correctly rounded f32 of a*b + c (Boldo and Melquiond,
// "Emulation of FMA and correctly rounded sums: proved algorithms using rounding to odd", IEEE TC 2008),
// subnormals included: 0 wrong on all the triples above. An infinite or NaN sum makes the error NaN and is
// left alone. The scalar twin rounds to odd always (the same correctly rounded result).
// Measured (Node 20; silu_mul over 5632 elements / attention with 32 heads, 4 KV heads, headDim 64, 512
// positions): double rounding alone 38 us / 0.64 ms; this 65 us / 0.72 ms; rounding to odd on every lane
// 130 us / 0.84 ms.

/**
 * a*b + c on two f64 lanes holding f32 values, returned as an f64 whose rounding to f32 is the correctly
 * rounded a*b + c: the f64 sum itself when it is not an f32 midpoint (then no f32 rounding boundary lies
 * between it and the exact sum, so rounding it again is exact), else the sum rounded to odd.
 */
@inline function fmaOddF64x2(a: v128, b: v128, c: v128): v128 {
  const p = f64x2.mul(a, b);
  const s = f64x2.add(p, c);
  // an f32 midpoint in f64 bits: the 29 mantissa bits f32 drops are 1000...0; below 2^-126 (f32
  // subnormal) the f32 ulp is coarser and the test would miss midpoints, so those take the slow path too
  const midpoint = i64x2.eq(v128.and(s, i64x2.splat(0x1FFFFFFF)), i64x2.splat(0x10000000));
  const tiny = f64x2.lt(f64x2.abs(s), f64x2.splat(reinterpret<f64>(<u64>0x3810000000000000)));
  if (!v128.any_true(v128.or(midpoint, tiny))) return s;
  const bb = f64x2.sub(s, p);
  const err = f64x2.add(f64x2.sub(p, f64x2.sub(s, bb)), f64x2.sub(c, bb));
  // Round to odd = truncate towards zero, then set the last bit if inexact. s was rounded away from zero
  // exactly when err and s have opposite signs (err * s < 0: no underflow, both are multiples of 2^-298
  // or 0), and then truncation is one ulp below s in magnitude: bits - 1 (the mask is -1). A NaN err (s
  // infinite or NaN) compares false both times and leaves s alone.
  const away = f64x2.lt(f64x2.mul(err, s), f64x2.splat(0));
  const inexact = f64x2.gt(f64x2.abs(err), f64x2.splat(0));
  return v128.or(i64x2.add(s, away), v128.and(inexact, i64x2.splat(1)));
}

/**
 * a*b + c on four f32 lanes, rounded once (an exact fused multiply-add; see above). The relaxed build
 * is only chosen where relaxed_madd fuses (src/wasm/features.ts), so there it is the one instruction.
 */
@inline export function fmaV(a: v128, b: v128, c: v128): v128 {
  if (FMA) return f32x4.relaxed_madd(a, b, c);
  const lo = fmaOddF64x2(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(b), f64x2.promote_low_f32x4(c));
  const hi = fmaOddF64x2(
    f64x2.promote_low_f32x4(v128.shuffle<f32>(a, a, 2, 3, 2, 3)),
    f64x2.promote_low_f32x4(v128.shuffle<f32>(b, b, 2, 3, 2, 3)),
    f64x2.promote_low_f32x4(v128.shuffle<f32>(c, c, 2, 3, 2, 3)),
  );
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** The scalar twin of fmaV: the same correctly rounded result, so the same bits. */
@inline export function fmaS(a: f32, b: f32, c: f32): f32 {
  if (FMA) {
    return f32x4.extract_lane(f32x4.relaxed_madd(f32x4.splat(a), f32x4.splat(b), f32x4.splat(c)), 0);
  }
  const pa = <f64>a * <f64>b;
  const pc = <f64>c;
  const s = pa + pc;
  const bb = s - pa;
  const err = (pa - (s - bb)) + (pc - bb);
  let bits = reinterpret<u64>(s);
  if (err * s < 0) bits -= 1;
  if (abs<f64>(err) > 0) bits |= 1;
  return <f32>reinterpret<f64>(bits);
}

/**
 * ggml_v_expf as ggml's AVX2 + FMA build computes it, on four lanes: every _mm256_fmadd_ps is fmaV and
 * every _mm256_fnmadd_ps(a, b, c) = c - a*b is fmaV(-a, b, c) (negation is exact). The 8-lane branch test
 * (_mm256_movemask_ps) selects per lane, so four lanes give the same values as eight.
 */
@inline export function expV(x: v128): v128 {
  const r = expConst(X_SHIFT);
  const z = fmaV(x, expConst(X_LOG2E), r);
  const n = f32x4.sub(z, r);
  const nn = f32x4.neg(n);
  const b = fmaV(nn, expConst(X_LN2_LO), fmaV(nn, expConst(X_LN2_HI), x));
  const e = i32x4.shl(z, 23);
  const k = i32x4.add(e, expConst(X_ONE));
  const an = f32x4.abs(n);
  const c = f32x4.gt(an, f32x4.splat(126));
  const u = f32x4.mul(b, b);
  const j = fmaV(
    fmaV(fmaV(expConst(X_C0), b, expConst(X_C1)), u, fmaV(expConst(X_C2), b, expConst(X_C3))),
    u,
    f32x4.mul(expConst(X_C4), b),
  );
  const kj = fmaV(j, k, k);
  if (!v128.any_true(c)) return kj;
  // |n| > 126: 2^n does not fit one f32 exponent; scale in two steps (s2 * s1), or saturate past 192.
  const g = v128.and(f32x4.le(n, f32x4.splat(0)), i32x4.splat(<i32>0x82000000));
  const s1 = i32x4.add(g, i32x4.splat(0x7F000000));
  const s2 = i32x4.sub(e, g);
  const d = f32x4.gt(an, f32x4.splat(192));
  const big = f32x4.mul(fmaV(s2, j, s2), s1);
  return v128.bitselect(f32x4.mul(s1, s1), v128.bitselect(big, kj, c), d);
}

/** The scalar twin of expV: the same operations in the same order, so the same bits. */
@inline export function expS(x: f32): f32 {
  const r = reinterpret<f32>(EXP_SHIFT);
  const z = fmaS(x, reinterpret<f32>(EXP_LOG2E), r);
  const n = z - r;
  const b = fmaS(-n, reinterpret<f32>(EXP_LN2_LO), fmaS(-n, reinterpret<f32>(EXP_LN2_HI), x));
  const e = reinterpret<u32>(z) << 23;
  const k = reinterpret<f32>(e + F32_ONE);
  const an = abs<f32>(n);
  const u = b * b;
  const j = fmaS(
    fmaS(fmaS(reinterpret<f32>(EXP_C0), b, reinterpret<f32>(EXP_C1)), u, fmaS(reinterpret<f32>(EXP_C2), b, reinterpret<f32>(EXP_C3))),
    u,
    reinterpret<f32>(EXP_C4) * b,
  );
  if (!(an > 126)) return fmaS(j, k, k);
  const g: u32 = n <= 0 ? 0x82000000 : 0;
  const s1 = reinterpret<f32>(g + 0x7F000000);
  const s2 = reinterpret<f32>(e - g);
  if (an > 192) return s1 * s1;
  return fmaS(s2, j, s2) * s1;
}

/**
 * expf(x) for the elements ggml sends to libm (the n % 8 tails of ggml_vec_soft_max_f32 and
 * ggml_vec_swiglu_f32): exp in f64 (AssemblyScript's NativeMath.exp, musl's, under 1 f64 ulp) rounded to
 * f32, correctly rounded except when exp(x) lies within about 2^-29 f32 ulp of an f32 midpoint. glibc's
 * expf (the reference machine's libm) documents 0.502 ulp at most (sysdeps/ieee754/flt-32/e_expf.c), so it
 * too is correctly rounded on almost every input, but not provably on the same ones.
 */
@inline export function expPreciseS(x: f32): f32 {
  return <f32>Math.exp(<f64>x);
}

// ── f16 <-> f32 ─────────────────────────────────────────────────────────────────────────────────────
// f16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
const TWO_P112: u32 = 0x77800000; // 2^112 = 2^(127-15): re-biases an f16 exponent placed in f32 bits
const TWO_M110: u32 = 0x08800000; // 2^-110

/**
 * f16 → f32 on four i32 lanes each holding an f16 in its low 16 bits. Exact for every input: the f16 bits
 * shifted into f32 position read as 2^-112 times the value (subnormal f16 land on subnormal f32, which
 * WebAssembly keeps), so one multiply by 2^112 re-biases; exponent 31 (inf, nan) is forced to 255 and
 * keeps its mantissa bits.
 */
@inline export function halfToFloatV(w: v128): v128 {
  const nosign = i32x4.shl(v128.and(w, i32x4.splat(0x7FFF)), 13);
  const f = f32x4.mul(nosign, f32x4.splat(reinterpret<f32>(TWO_P112)));
  const special = i32x4.gt_u(nosign, i32x4.splat(0x0F7FFFFF));
  const sign = i32x4.shl(v128.and(w, i32x4.splat(0x8000)), 16);
  return v128.or(v128.or(f, v128.and(special, i32x4.splat(0x7F800000))), sign);
}

/** The scalar twin of halfToFloatV. */
@inline export function halfToFloat(h: u32): f32 {
  const nosign = (h & 0x7FFF) << 13;
  let bits = reinterpret<u32>(reinterpret<f32>(nosign) * reinterpret<f32>(TWO_P112));
  if (nosign > 0x0F7FFFFF) bits |= 0x7F800000;
  return reinterpret<f32>(bits | ((h & 0x8000) << 16));
}

/**
 * f32 → f16 bits (in the low 16 bits of each i32 lane), rounding to nearest even. The algorithm of the
 * FP16 library's fp16_ieee_from_fp32_value (ggml's GGML_FP32_TO_FP16 without F16C): scaling by 2^112 then
 * 2^-110 sends too-large values to inf, and adding a power of two whose ulp is the f16 ulp at that exponent
 * (never below the subnormal ulp 2^-24) lets the f32 adder round. NaN keeps its top 9 payload bits with
 * the quiet bit set, as x86's F16C (vcvtps2ph) does, so that f16 NaNs round-trip.
 */
@inline export function floatToHalfV(f: v128): v128 {
  const shl1 = i32x4.shl(f, 1);
  const sign = v128.and(f, i32x4.splat(<i32>0x80000000));
  const bias = i32x4.max_u(v128.and(shl1, i32x4.splat(<i32>0xFF000000)), i32x4.splat(0x71000000));
  let base = f32x4.mul(
    f32x4.mul(f32x4.abs(f), f32x4.splat(reinterpret<f32>(TWO_P112))),
    f32x4.splat(reinterpret<f32>(TWO_M110)),
  );
  base = f32x4.add(i32x4.add(i32x4.shr_u(bias, 1), i32x4.splat(0x07800000)), base);
  const nonsign = i32x4.add(
    v128.and(i32x4.shr_u(base, 13), i32x4.splat(0x7C00)),
    v128.and(base, i32x4.splat(0x0FFF)),
  );
  const nan = v128.or(v128.and(i32x4.shr_u(f, 13), i32x4.splat(0x1FF)), i32x4.splat(0x7E00));
  const isNan = i32x4.gt_u(shl1, i32x4.splat(<i32>0xFF000000));
  return v128.or(i32x4.shr_u(sign, 16), v128.bitselect(nan, nonsign, isNan));
}

/** The scalar twin of floatToHalfV. */
@inline export function floatToHalf(f: f32): u32 {
  const w = reinterpret<u32>(f);
  const shl1 = w << 1;
  let bias = shl1 & 0xFF000000;
  if (bias < 0x71000000) bias = 0x71000000;
  let base = abs<f32>(f) * reinterpret<f32>(TWO_P112) * reinterpret<f32>(TWO_M110);
  base = reinterpret<f32>((bias >> 1) + 0x07800000) + base;
  const bits = reinterpret<u32>(base);
  const nonsign = ((bits >> 13) & 0x7C00) + (bits & 0x0FFF);
  const nan = 0x7E00 | ((w >> 13) & 0x1FF);
  return ((w & 0x80000000) >> 16) | (shl1 > 0xFF000000 ? nan : nonsign);
}
