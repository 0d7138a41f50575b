// Internal helpers of the ops kernels (not exported from the module): ggml's f32 exp approximation and
// the f16 <-> f32 conversions, each as a v128 function and its scalar twin that gives the same bits.
// assembly/ops.ts does not re-export this file, so nothing here becomes a wasm export.

// ── exp: ggml_v_expf (ggml/src/ggml-cpu/vec.h) ──────────────────────────────────────────────────────
// "adapted from arm limited optimized routine; the maximum error is 1.45358 plus 0.5 ulps; numbers above
// 88.38 will flush to infinity, numbers beneath -103.97 will flush to zero." Constants as f32 bit patterns
// (AssemblyScript has no hex-float literals); the comment is ggml's spelling.
const EXP_SHIFT: u32 = 0x4B400000; // 0x1.8p23f: adding it rounds x*log2(e) to an integer n
const EXP_LOG2E: u32 = 0x3FB8AA3B; // 0x1.715476p+0f
const EXP_LN2_HI: u32 = 0x3F317200; // 0x1.62e4p-1f  (n*LN2_HI is exact for |n| < 128)
const EXP_LN2_LO: u32 = 0x35BFBE8E; // 0x1.7f7d1cp-20f
const EXP_C0: u32 = 0x3C072010; // 0x1.0e4020p-7f
const EXP_C1: u32 = 0x3D2B9F17; // 0x1.573e2ep-5f
const EXP_C2: u32 = 0x3E2AAF33; // 0x1.555e66p-3f
const EXP_C3: u32 = 0x3EFFFEDB; // 0x1.fffdb6p-2f
const EXP_C4: u32 = 0x3F7FFFF6; // 0x1.ffffecp-1f
const F32_ONE: u32 = 0x3F800000;

// Each multiply-add is a multiply then an add, as in ggml's SSE2 build without FMA (MADD128 / NMADD128 =
// _mm_add_ps(_mm_mul_ps(..))). ggml's AVX2, AVX-512 and NEON builds fuse them (one rounding instead of
// two), so this differs from those builds: measured over 2M uniform x in [-20, 20], exp by 1 ulp on 1.1% of
// inputs, silu by 2 to 4 ulp on 0.06% (where 1 + exp(-x) crosses 2^24). Baseline WASM SIMD has no fused
// multiply-add, and relaxed_madd may or may not fuse depending on the engine (Bun does not), so the
// unfused form is the only one that gives the same bits everywhere.

/** ggml_v_expf on four lanes. */
@inline export function expV(x: v128): v128 {
  const r = f32x4.splat(reinterpret<f32>(EXP_SHIFT));
  const z = f32x4.add(f32x4.mul(x, f32x4.splat(reinterpret<f32>(EXP_LOG2E))), r);
  const n = f32x4.sub(z, r);
  const b = f32x4.sub(
    f32x4.sub(x, f32x4.mul(n, f32x4.splat(reinterpret<f32>(EXP_LN2_HI)))),
    f32x4.mul(n, f32x4.splat(reinterpret<f32>(EXP_LN2_LO))),
  );
  const e = i32x4.shl(z, 23);
  const k = i32x4.add(e, i32x4.splat(F32_ONE));
  const an = f32x4.abs(n);
  const c = f32x4.gt(an, f32x4.splat(126));
  const u = f32x4.mul(b, b);
  const p1 = f32x4.add(f32x4.mul(f32x4.splat(reinterpret<f32>(EXP_C0)), b), f32x4.splat(reinterpret<f32>(EXP_C1)));
  const p2 = f32x4.add(f32x4.mul(f32x4.splat(reinterpret<f32>(EXP_C2)), b), f32x4.splat(reinterpret<f32>(EXP_C3)));
  const j = f32x4.add(
    f32x4.mul(f32x4.add(f32x4.mul(p1, u), p2), u),
    f32x4.mul(f32x4.splat(reinterpret<f32>(EXP_C4)), b),
  );
  const kj = f32x4.add(f32x4.mul(j, k), k);
  if (!v128.any_true(c)) return kj;
  // |n| > 126: 2^n does not fit one f32 exponent; scale in two steps (s2 * s1), or saturate past 192.
  const g = v128.and(f32x4.le(n, f32x4.splat(0)), i32x4.splat(<i32>0x82000000));
  const s1 = i32x4.add(g, i32x4.splat(0x7F000000));
  const s2 = i32x4.sub(e, g);
  const d = f32x4.gt(an, f32x4.splat(192));
  const big = f32x4.mul(f32x4.add(f32x4.mul(s2, j), s2), s1);
  return v128.bitselect(f32x4.mul(s1, s1), v128.bitselect(big, kj, c), d);
}

/** The scalar twin of expV: the same operations in the same order, so the same bits. */
@inline export function expS(x: f32): f32 {
  const r = reinterpret<f32>(EXP_SHIFT);
  const z = x * reinterpret<f32>(EXP_LOG2E) + r;
  const n = z - r;
  const b = (x - n * reinterpret<f32>(EXP_LN2_HI)) - n * reinterpret<f32>(EXP_LN2_LO);
  const e = reinterpret<u32>(z) << 23;
  const k = reinterpret<f32>(e + F32_ONE);
  const an = abs<f32>(n);
  const u = b * b;
  const p1 = reinterpret<f32>(EXP_C0) * b + reinterpret<f32>(EXP_C1);
  const p2 = reinterpret<f32>(EXP_C2) * b + reinterpret<f32>(EXP_C3);
  const j = (p1 * u + p2) * u + reinterpret<f32>(EXP_C4) * b;
  if (!(an > 126)) return j * k + k;
  const g: u32 = n <= 0 ? 0x82000000 : 0;
  const s1 = reinterpret<f32>(g + 0x7F000000);
  const s2 = reinterpret<f32>(e - g);
  if (an > 192) return s1 * s1;
  return (s2 * j + s2) * s1;
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
