// The softmax of attention (ops/attention.ts): one row of scores s_t to f16(p_t) * 2^112, as llama.cpp's
// ggml_soft_max_ext and the f16 rounding of kq before the V product compute it, with a faster route to
// ggml_v_expf's exact bits (expSoftmaxV).
import {
  EXP_C0, EXP_C1, EXP_C2, EXP_C3, EXP_C4, EXP_LN2_HI, EXP_LN2_LO, EXP_LOG2E, EXP_SHIFT, F32_ONE,
  expS, expV, floatToHalf, floatToHalfV, halfToFloat, halfToFloatV,
} from "./math";
import { TWO_M112, TWO_P112 } from "./attention_scores";
import { FMA } from "../fma";

/** scores row sc (nPos) from s_t to f16(p_t) * 2^112. */
export function softmax(sc: usize, nPos: i32): void {
  const max = rowMax(sc, nPos);
  probabilitiesV(sc, nPos, <f32>(1.0 / softmaxNumeratorsV(sc, nPos, max, reinterpret<f32>(TWO_P112))));
}

/**
 * The largest of n scores, as `if (s > max) max = s` from -Infinity finds it (pmax(max, s) is
 * max < s ? s : max: NaN scores are skipped the same way). Lane i takes positions t ≡ i (mod 4), then the
 * lanes and the tail are combined: the same value as a scan in t order, but of two equal zeros of
 * opposite sign it may keep the other one, which no result can see (s - max is then s for every s != 0,
 * and ±0 for s = ±0, whose exp is 1).
 */
@inline export function rowMax(sc: usize, n: i32): f32 {
  let m = f32x4.splat(-Infinity);
  let t = 0;
  for (; t + 4 <= n; t += 4) m = f32x4.pmax(m, v128.load(sc + (<usize>t << 2)));
  let max = larger(larger(larger(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), f32x4.extract_lane(m, 2)), f32x4.extract_lane(m, 3));
  for (; t < n; t++) max = larger(max, load<f32>(sc + (<usize>t << 2)));
  return max;
}

/** `if (s > max) max = s`: a NaN s leaves max. */
@inline function larger(max: f32, s: f32): f32 {
  return s > max ? s : max;
}

/**
 * sc[t] = f16(e_t * inv) * 2^112 where sc[t] held e_t * 2^112: the softmax normalized as ggml_soft_max
 * does (1/Σ in f64, rounded to f32, one f32 multiply), then rounded to f16 as ggml_mul_mat rounds kq for
 * the f16 V (vec_dot_type F16). This is what makes the logits match llama.cpp's to 1e-7 (measured).
 */
@inline function probabilitiesV(sc: usize, n: i32, inv: f32): void {
  const iv = f32x4.splat(inv);
  let t = 0;
  for (; t + 4 <= n; t += 4) {
    const p = sc + (<usize>t << 2);
    const prob = f32x4.mul(f32x4.mul(v128.load(p), splatC(C_TWO_M112)), iv);
    // f16(prob) as f32 where 0 <= prob <= 1 (every lane, unless a NaN score made the row NaN): prob + B - B
    // with B = 2^(max(E, -14) + 13), E the exponent of prob, whose ulp is the f16 ulp at prob's exponent
    // (2^-24 below the f16 normals): the f32 add rounds prob to that ulp, nearest even (a carry into the
    // next binade included), and the subtraction is exact. These are floatToHalfV then halfToFloatV's bits
    // (checked for every f32 in [0, 1] against both, Dec 2026), in 5 operations instead of some 25.
    if (i32x4.all_true(i32x4.le_u(prob, splatC(C_ONE)))) {
      const b = i32x4.add(i32x4.max_u(v128.and(prob, splatC(C_EXP_BITS)), splatC(C_MIN_NORMAL16)), splatC(C_13_ULPS));
      v128.store(p, f32x4.mul(f32x4.sub(f32x4.add(prob, b), b), splatC(C_TWO_P112)));
    } else {
      v128.store(p, f32x4.mul(halfToFloatV(floatToHalfV(prob)), splatC(C_TWO_P112)));
    }
  }
  for (; t < n; t++) probability(sc + (<usize>t << 2), inv);
}

/** The scalar twin of probabilitiesV for one score. */
@inline export function probability(sc: usize, inv: f32): void {
  const prob = load<f32>(sc) * reinterpret<f32>(TWO_M112) * inv;
  store<f32>(sc, halfToFloat(floatToHalf(prob)) * reinterpret<f32>(TWO_P112));
}

// ggml_vec_soft_max_f32 (ggml-cpu/vec.cpp) as the AVX2 + FMA build runs it over one row of scores: chunks
// of 8 through ggml_v_expf (expV, with ggml's fused multiply-adds), each chunk's 8 values summed in f32 as
// _mm256_extractf128_ps + _mm_movehl_ps + _mm_movehdup_ps/_mm_add_ss do, ((v4 + v0) + (v6 + v2)) +
// ((v5 + v1) + (v7 + v3)), that f32 added to the f64 sum. ggml's row is not nPos long but n_kv: llama.cpp
// pads its KV cache view to a multiple of 256 (32 in older builds; llama_kv_cache::get_n_kv) and masks
// the positions past nPos to -inf, for which ggml_v_expf gives exactly 0. So the n % 8 tail that
// ggml_vec_soft_max_f32 would send to libm expf is never reached, and the last partial chunk here is a
// chunk of 8 padded with zeros (adding an exact 0 changes no sum). Measured against the fixtures: the
// libm-tail alternative put synth-llama-BF16 prompt 2 at 1.5e-3 relative RMS; this puts it at 1.8e-7.

/** p = exp(*sc - max) through ggml_v_expf; stores p * up (a power of 2: 2^112 for the V pass) and returns p. */
@inline function expNumerator(sc: usize, max: f32, up: f32): f32 {
  const e = expS(load<f32>(sc) - max);
  store<f32>(sc, e * up);
  return e;
}

/** The last n % 8 scores from t as one chunk of 8 padded with zeros, its f32 sum added to sum. */
@inline function softmaxTail(sc: usize, t: i32, n: i32, max: f32, up: f32, sum: f64): f64 {
  if (t >= n) return sum;
  const m = n - t;
  const p = sc + (<usize>t << 2);
  const v0 = expNumerator(p, max, up);
  const v1: f32 = m > 1 ? expNumerator(p + 4, max, up) : 0;
  const v2: f32 = m > 2 ? expNumerator(p + 8, max, up) : 0;
  const v3: f32 = m > 3 ? expNumerator(p + 12, max, up) : 0;
  const v4: f32 = m > 4 ? expNumerator(p + 16, max, up) : 0;
  const v5: f32 = m > 5 ? expNumerator(p + 20, max, up) : 0;
  const v6: f32 = m > 6 ? expNumerator(p + 24, max, up) : 0;
  return sum + <f64>(((v4 + v0) + (v6 + v2)) + ((v5 + v1) + (<f32>0 + v3)));
}

/** sc[t] = exp(sc[t] - max) * up for t < n; returns Σ exp(sc[t] - max) in f64 as ggml sums it. */
@inline export function softmaxNumeratorsV(sc: usize, n: i32, max: f32, up: f32): f64 {
  const mv = f32x4.splat(max);
  const upV = f32x4.splat(up);
  let sum: f64 = 0;
  let t = 0;
  for (; t + 8 <= n; t += 8) {
    const p = sc + (<usize>t << 2);
    const e0 = expSoftmaxV(f32x4.sub(v128.load(p), mv), p);
    const e1 = expSoftmaxV(f32x4.sub(v128.load(p, 16), mv), p + 16);
    v128.store(p, f32x4.mul(e0, upV));
    v128.store(p, f32x4.mul(e1, upV), 16);
    const a = f32x4.add(e1, e0);
    sum += <f64>((f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 2)) + (f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 3)));
  }
  return softmaxTail(sc, t, n, max, up, sum);
}

/** The scalar twin of softmaxNumeratorsV. */
export function softmaxNumeratorsS(sc: usize, n: i32, max: f32, up: f32): f64 {
  let sum: f64 = 0;
  let t = 0;
  for (; t + 8 <= n; t += 8) {
    const p = sc + (<usize>t << 2);
    const v0 = expNumerator(p, max, up);
    const v1 = expNumerator(p + 4, max, up);
    const v2 = expNumerator(p + 8, max, up);
    const v3 = expNumerator(p + 12, max, up);
    const v4 = expNumerator(p + 16, max, up);
    const v5 = expNumerator(p + 20, max, up);
    const v6 = expNumerator(p + 24, max, up);
    const v7 = expNumerator(p + 28, max, up);
    sum += <f64>(((v4 + v0) + (v6 + v2)) + ((v5 + v1) + (v7 + v3)));
  }
  return softmaxTail(sc, t, n, max, up, sum);
}

// ── ggml_v_expf, the softmax's route in the baseline build ──────────────────────────────────────────
// (The relaxed build has true fused multiply-adds and uses math.ts's expV.) In the baseline build
// math.ts's expV emulates each of ggml_v_expf's seven fused multiply-adds on its own: four lanes split
// into two f64 pairs and joined again, a midpoint test and a branch, each time. Here the whole chain runs
// in f64 pairs holding f32 values (every product of two f32 is exact in f64; rounding to f32 is a demote
// and a promote), with a midpoint test where the f64 sum may be inexact and one branch at the end: where
// no lane can be wrong, these are expV's bits; where one might, expV itself runs. The reasons:
//   * a fused a*b + c: s = f64(a*b + c) (a*b exact) rounds to the f32 of the exact sum unless s is an f32
//     midpoint (see math.ts) or below 2^-126 (f32 subnormal midpoints are finer). Where s is exact
//     (rounding it is the one rounding), no test is needed: b = b1 - n*LN2_LO (b1 is a multiple of 2^-25
//     below 1, n*LN2_LO of 2^-42 below 2^-13, or b = x when n = 0) and kj = j*k + k (k a power of two,
//     j 24 bits near 0: 1 + j fits 26 bits; it is often exactly a midpoint, so testing it would send half
//     the vectors to expV). z, p1, p2, p3 and j are tested;
//   * no tested result can fall below 2^-126: z ~ 2^23 and p1, p2, p3 ~ 0.04 .. 0.5 by their ranges, and
//     j is 0 or above 2^-60 when x is 0 or above 2^-100 (b is a multiple of 2^-42 when n != 0), so x
//     below 2^-100 (but not 0) takes expV;
//   * x - n*LN2_HI and b*b, C4*b are one f32 rounding of an exact f64 value (n*LN2_HI has at most 23 bits
//     for |n| < 256 and is within a factor 2 of x, or 0), so need no test; nor does |n| > 126, ggml's
//     second scaling path (its fma has a power of two for a and c, and its products are powers of two);
//   * past |n| > 192 ggml's result is s1 * s1 (0 below, inf above) whatever the chain gave, so those lanes'
//     tests do not count (scores far below the maximum are common: a sharp attention, or a synthesized
//     model's scores 1e8 apart, where counting them sent most vectors to expV).
// Measured (32 rows of 2048 scores in [-6, 0], Node 24): 0.84 ms with math.ts's expV (2.5 ms scalar).

const MID_MASK: i32 = 0x1FFFFFFF;
const MID_BITS: i32 = 0x10000000;
/** 2^-100 as f32 bits: smaller inputs (but 0) take expV. */
const X_TINY: i32 = 0x0D800000;

@inline function lo64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

@inline function hi64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
}

/** An f64 pair rounded to f32 and back. */
@inline function round32(s: v128): v128 {
  return f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(s));
}

/** Lanes (of the four, as i32 masks) where s_lo, s_hi are f32 midpoints: their low 29 bits are 1 << 28. */
@inline function midpoints(sl: v128, sh: v128): v128 {
  const low = v128.shuffle<i32>(sl, sh, 0, 2, 4, 6);
  return i32x4.eq(v128.and(low, i32x4.splat(MID_MASK)), i32x4.splat(MID_BITS));
}

/**
 * ggml_v_expf's constants as f64 pairs (each the exact f32 value), read from memory at each use: V8
 * rebuilds a v128.const at every use (three instructions), where a load can be an operand of the mul or add.
 */
const EXP64: StaticArray<f64> = [
  <f64>reinterpret<f32>(EXP_SHIFT), <f64>reinterpret<f32>(EXP_SHIFT),
  <f64>reinterpret<f32>(EXP_LOG2E), <f64>reinterpret<f32>(EXP_LOG2E),
  <f64>reinterpret<f32>(EXP_LN2_HI), <f64>reinterpret<f32>(EXP_LN2_HI),
  <f64>reinterpret<f32>(EXP_LN2_LO), <f64>reinterpret<f32>(EXP_LN2_LO),
  <f64>reinterpret<f32>(EXP_C0), <f64>reinterpret<f32>(EXP_C0),
  <f64>reinterpret<f32>(EXP_C1), <f64>reinterpret<f32>(EXP_C1),
  <f64>reinterpret<f32>(EXP_C2), <f64>reinterpret<f32>(EXP_C2),
  <f64>reinterpret<f32>(EXP_C3), <f64>reinterpret<f32>(EXP_C3),
  <f64>reinterpret<f32>(EXP_C4), <f64>reinterpret<f32>(EXP_C4),
];
const I_SHIFT = 0, I_LOG2E = 1, I_LN2_HI = 2, I_LN2_LO = 3, I_C0 = 4, I_C1 = 5, I_C2 = 6, I_C3 = 7, I_C4 = 8;

@inline function splat64(i: i32): v128 {
  return v128.load(changetype<usize>(EXP64) + (<usize>i << 4));
}

/**
 * math.ts's expV, called (not inlined) on the rare vectors that leave the fast path, its result stored at
 * dst: Binaryen turns `if (c) return f(x)` into a br_if that calls f every time when f has no side effect
 * (measured: the fast route ran 3.7x slower, calling expV for every vector).
 */
function expExactAt(x: v128, dst: usize): void {
  v128.store(dst, expV(x));
}

/** ggml_v_expf on four lanes, the bits of math.ts's expV (see above); dst: 16 bytes of scratch. */
@inline function expSoftmaxV(x: v128, dst: usize): v128 {
  // x < -134: x * log2(e) < -193.3, so n <= -193 and ggml returns s1 * s1 = 2^-250 -> +0. Scores that far
  // below the maximum are most of a long row in a sharp head (or in a synthesized model).
  if (i32x4.all_true(f32x4.lt(x, f32x4.splat(-134)))) return f32x4.splat(0);
  // the relaxed build runs only where relaxed_madd fuses (src/wasm/features.ts): math.ts's expV is then
  // ggml's chain of fused multiply-adds itself (32 rows x 2048 scores: 0.08 ms, this route 0.35 ms)
  if (FMA) return expV(x);
  const xl = lo64(x), xh = hi64(x);
  const r = splat64(I_SHIFT);
  // z = fma(x, log2e, r); n = z - r (exact)
  let sl = f64x2.add(f64x2.mul(xl, splat64(I_LOG2E)), r);
  let sh = f64x2.add(f64x2.mul(xh, splat64(I_LOG2E)), r);
  let risk = midpoints(sl, sh);
  const z = v128.shuffle<f32>(f32x4.demote_f64x2_zero(sl), f32x4.demote_f64x2_zero(sh), 0, 1, 4, 5);
  const n = f32x4.sub(z, f32x4.splat(reinterpret<f32>(EXP_SHIFT)));
  const nl = lo64(n), nh = hi64(n);
  // b = fma(-n, ln2_lo, fma(-n, ln2_hi, x)), the inner one exact before its rounding
  const bl1 = round32(f64x2.sub(xl, f64x2.mul(nl, splat64(I_LN2_HI))));
  const bh1 = round32(f64x2.sub(xh, f64x2.mul(nh, splat64(I_LN2_HI))));
  const bl = round32(f64x2.sub(bl1, f64x2.mul(nl, splat64(I_LN2_LO))));
  const bh = round32(f64x2.sub(bh1, f64x2.mul(nh, splat64(I_LN2_LO))));
  const ul = round32(f64x2.mul(bl, bl)), uh = round32(f64x2.mul(bh, bh));
  // j = fma(fma(fma(c0, b, c1), u, fma(c2, b, c3)), u, c4 * b)
  sl = f64x2.add(f64x2.mul(splat64(I_C0), bl), splat64(I_C1));
  sh = f64x2.add(f64x2.mul(splat64(I_C0), bh), splat64(I_C1));
  risk = v128.or(risk, midpoints(sl, sh));
  const p1l = round32(sl), p1h = round32(sh);
  sl = f64x2.add(f64x2.mul(splat64(I_C2), bl), splat64(I_C3));
  sh = f64x2.add(f64x2.mul(splat64(I_C2), bh), splat64(I_C3));
  risk = v128.or(risk, midpoints(sl, sh));
  const p2l = round32(sl), p2h = round32(sh);
  sl = f64x2.add(f64x2.mul(p1l, ul), p2l);
  sh = f64x2.add(f64x2.mul(p1h, uh), p2h);
  risk = v128.or(risk, midpoints(sl, sh));
  const p3l = round32(sl), p3h = round32(sh);
  sl = f64x2.add(f64x2.mul(p3l, ul), round32(f64x2.mul(splat64(I_C4), bl)));
  sh = f64x2.add(f64x2.mul(p3h, uh), round32(f64x2.mul(splat64(I_C4), bh)));
  risk = v128.or(risk, midpoints(sl, sh));
  const jl = round32(sl), jh = round32(sh);
  // inputs that leave the fast path: 0 < |x| < 2^-100; lanes past |n| > 192 saturate whatever j is
  risk = v128.or(risk, i32x4.lt_u(i32x4.sub(v128.and(x, i32x4.splat(0x7FFFFFFF)), i32x4.splat(1)), i32x4.splat(X_TINY - 1)));
  const an = f32x4.abs(n);
  const d = f32x4.gt(an, f32x4.splat(192));
  if (v128.any_true(v128.andnot(risk, d))) {
    expExactAt(x, dst);
    return v128.load(dst);
  }
  // k = 2^n from z's bits, as ggml; kj = fma(j, k, k), exact in f64
  const e = i32x4.shl(z, 23);
  const k = i32x4.add(e, i32x4.splat(F32_ONE));
  const kl = lo64(k), kh = hi64(k);
  const kj = join32(f64x2.add(f64x2.mul(jl, kl), kl), f64x2.add(f64x2.mul(jh, kh), kh));
  const c = f32x4.gt(an, f32x4.splat(126));
  if (!v128.any_true(c)) return kj;
  // |n| > 126: ggml scales in two steps, fma(s2, j, s2) * s1 (the fma exact in f64: s2 is a power of
  // two), or saturates past 192 to s1 * s1 (0 or inf)
  const g = v128.and(f32x4.le(n, f32x4.splat(0)), i32x4.splat(<i32>0x82000000));
  const s1 = i32x4.add(g, i32x4.splat(0x7F000000));
  const s2 = i32x4.sub(e, g);
  const s2l = lo64(s2), s2h = hi64(s2);
  const big = f32x4.mul(join32(f64x2.add(f64x2.mul(s2l, jl), s2l), f64x2.add(f64x2.mul(s2h, jh), s2h)), s1);
  return v128.bitselect(f32x4.mul(s1, s1), v128.bitselect(big, kj, c), d);
}

/** Constants of probabilitiesV, four lanes each (splatC: V8 rebuilds a v128.const at every use in a loop). */
const CONSTS: StaticArray<u32> = [
  F32_ONE, F32_ONE, F32_ONE, F32_ONE,
  0x7F800000, 0x7F800000, 0x7F800000, 0x7F800000, // f32 exponent bits
  0x38800000, 0x38800000, 0x38800000, 0x38800000, // 2^-14, the smallest normal f16
  0x06800000, 0x06800000, 0x06800000, 0x06800000, // 13 in the exponent field: x 2^13
  TWO_M112, TWO_M112, TWO_M112, TWO_M112,
  TWO_P112, TWO_P112, TWO_P112, TWO_P112,
];
const C_ONE = 0, C_EXP_BITS = 1, C_MIN_NORMAL16 = 2, C_13_ULPS = 3, C_TWO_M112 = 4, C_TWO_P112 = 5;

@inline function splatC(i: i32): v128 {
  return v128.load(changetype<usize>(CONSTS) + (<usize>i << 4));
}

/** Two f64 pairs rounded to one f32x4. */
@inline function join32(lo: v128, hi: v128): v128 {
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}
