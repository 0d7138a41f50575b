// Activations for the 32-element weight formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL): ggml's
// Q8_0 and Q8_1 in one buffer, quantized once per matvec and shared by every matrix that reads x.
//
// n elements (a multiple of 32), nb = n / 32 blocks, Q = the quants' bytes (see below); the quants
// come first, contiguous, then the per-block numbers, one array each:
//
//   xq + 0          ┌──────────────────────────────┐
//                   │ qs   Q bytes                 │  q_i = round_half_even(x_i · 127/amax)
//   xq + Q          ├──────────────────────────────┤
//                   │ d    f32[nb]                 │  f16(amax/127) · 2^112
//   xq + Q + 4·nb   ├──────────────────────────────┤
//                   │ s    f32[nb]                 │  f16((amax/127) · Σq) · 2^112: ggml Q8_1's s (Q4_1, Q5_1)
//   xq + Q + 8·nb   ├──────────────────────────────┤
//                   │ sum  i32[nb]                 │  Σq of the block, for the "unsigned quants −
//   xq + Q + 12·nb  ├──────────────────────────────┤  offset" correction of Q4_0
//                   │ sum4 i32[8·nb]               │  per block, Σ of each 4 consecutive quants
//                   └──────────────────────────────┘  (q0..q3, q4..q7, …, q28..q31): the same
//                                                      correction lane by lane, for Q5_0
//   q8_0_bytes(n) = Q + 44·nb
//
// What quantize_act writes for matvec (dispatch.ts act_bytes) has, in the relaxed build only, a
// sign-split copy of the quants after that, for Q8_0 weights (q8_0.ts matvec2_q8_0):
//
//   xq + q8_0_bytes(n)  ┌──────────────────────────────┐  per block 64 bytes:
//                       │ split  u8[2n]                │    max(q,0) of q0..q15, of q16..q31,
//                       └──────────────────────────────┘    max(−q,0) of q0..q15, of q16..q31
//   split_bytes(n) = 2n (relaxed), 0 (baseline)
//
// relaxed_dot wants one operand in 0..127; both parts are, so w·q = relaxed_dot(w, max(q,0)) −
// relaxed_dot(w, max(−q,0)) lane by lane, for every signed weight byte w (−128 included), with no
// per-weight sign handling. The attention's query slots (ops/attention_q8.ts) hold q8_0_bytes
// only: quantize_q8_0 itself does not write the copy.
//
// Summation order: the kernels sum in the f32 order of the code llama.cpp runs on x86 AVX2,
// because one ulp of difference in a matvec output flips an 8-bit or f16 rounding of the next
// layer's activations now and then, which moves that position's logits by ~1e-2 (measured against
// the fixtures' llama.cpp logits). Q8_0, Q5_0, IQ4_NL (ggml_vec_dot_*_q8_0, llamafile's
// tinyBLAS_Q0_AVX) and Q4_1, Q5_1 (ggml_vec_dot_*_q8_1): per block, eight exact integer sums of 4
// consecutive products (lanes 0..3 = elements 0..15, 4..7 = 16..31), each lane accumulated as
// acc = fma(sum, d_w·d_x, acc), then hsum_float_8: ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)).
// Q4_0, which llama.cpp repacks: see q4_0.ts. The multiply-add is fused in the relaxed build (V8
// emits vfmadd) and not in the baseline build, which has no FMA (common.ts madd_f32x4).
// Measured (test/parity.test.ts, the fixture models): relaxed build within 2e-7 of llama.cpp's
// logits at every position for Q8_0, Q4_1, Q5_0, Q5_1, IQ4_NL; the baseline build 1e-3..3e-3 on
// some prompts (the missing FMA's extra rounding flips a quantization now and then).
//
// d and s hold exactly ggml's f16 values, widened to f32 and scaled by 2^112 (exact: a power of
// two, and f16's range times 2^112 stays below f32's maximum), so that a weight's f16 scale read as
// raw bits (common.ts f16_raw, its value · 2^-112) times d is d_w·d_x with no conversion.
//
// The quants' form differs between the two builds, each the one its dot products consume directly:
//   relaxed build   Q = n:    i8[n] in order (relaxed_dot multiplies bytes)
//   baseline build  Q = 2·n:  i16, each 16-element group stored even-indexed first:
//                             q0 q2 … q14 q1 q3 … q15 | q16 q18 … q30 q17 … q31 | …
//     i32x4.dot_i16x8_s wants 16-bit lanes; weights give them without any widening as the even and
//     odd bytes of a 16-bit lane (v & 0xff, v >> 8; nibbles likewise), so x is stored to match.
//
// Rounding as ggml's AVX2 quantize_row_q8_0 / q8_1 (ggml-cpu/arch/x86/quants.c), which is what
// llama.cpp runs on x86: d = amax / 127 in f32 and stored as f16; the quants use the UNROUNDED
// multiplier id = 127 / amax (0 for an all-zero block) and _mm256_round_ps(_MM_ROUND_NEAREST), i.e.
// round half to even (the scalar reference quantize_row_q8_0_ref uses roundf and 1/d instead,
// which can differ by one in a quant).
import { round_f16, hsum_i32x4, hadd4_i32, K_NIB16, K_NIB8, kconst } from "./common";

/** Quants stored as i16 (baseline build) rather than i8 (relaxed build). */
export const ACT_I16: bool = !ASC_FEATURE_RELAXED_SIMD;
/** Bytes of one block's quants. */
export const QS_BLOCK: usize = ACT_I16 ? 64 : 32;
/** 2^112 and 2^-112: see the header. */
const TWO_112: f32 = 5.192296858534828e33;
const TWO_M112: f32 = 1.925929944387236e-34;

/** Bytes of the quants of n elements: where the d array starts. */
@inline
export function qs_bytes(n: i32): usize {
  return ACT_I16 ? (<usize>n) << 1 : <usize>n;
}

/** Bytes of the activation buffer for n elements (n a multiple of 32). */
export function q8_0_bytes(n: i32): i32 {
  return <i32>qs_bytes(n) + 44 * (n >> 5);
}

/** A d or s entry at p as its plain value (for scalar code). */
@inline
export function act_scale(p: usize): f32 {
  return load<f32>(p) * TWO_M112;
}

/** Quant j (0..31) of the block whose quants start at y, in either build's layout (scalar code). */
@inline
export function act_q(y: usize, j: i32): i32 {
  if (ACT_I16) {
    const k = j & 15;
    return <i32>load<i16>(y + ((<usize>((j & 16) | ((k & 1) << 3) | (k >> 1))) << 1));
  } else {
    return <i32>load<i8>(y + <usize>j);
  }
}

/** The nibble mask nib_lo / nib_hi want (load it once per kernel call). */
@inline
export function nibble_mask(): v128 {
  return kconst(ACT_I16 ? K_NIB16 : K_NIB8);
}

// The integer half-block sums, four lanes each, lane j = Σ q_k·q_x,k over k = 4j..4j+3 of the
// half (ggml's lane partition). `y` points at the half's quants.

/** Baseline build: w_even / w_odd are the half's even / odd elements in 16-bit lanes. */
@inline
export function half_i16(wEven: v128, wOdd: v128, y: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(wEven, v128.load(y, 0)), i32x4.dot_i16x8_s(wOdd, v128.load(y, 16)));
}

/** Relaxed build: 16 unsigned quants 0..127 (in order) against the half's 16 bytes. */
@inline
export function half_u7(u: v128, y: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(y), u));
  } else {
    return unreachable();
  }
}

/**
 * Relaxed build: 16 signed quants (|q| ≤ 127, in order) against the half's 16 bytes. relaxed_dot
 * wants its second operand in 0..127, so the sign of q moves onto x (ggml's _mm_sign_epi8 trick):
 * |q|·(x·sign q) = q·x; x is never -128 (|q_x| ≤ 127), so negating it is safe.
 */
@inline
function half_s8(a: v128, y: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const neg = i8x16.lt_s(a, i8x16.splat(0));
    const sy = i8x16.sub(v128.xor(v128.load(y), neg), neg);
    return i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(sy, i8x16.abs(a)));
  } else {
    return unreachable();
  }
}

/** half_s8 with |a| and the sign mask of a (a < 0) computed once, for several columns. */
@inline
export function half_s8_pre(absA: v128, negA: v128, y: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const sy = i8x16.sub(v128.xor(v128.load(y), negA), negA);
    return i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(sy, absA));
  } else {
    return unreachable();
  }
}

/** Byte offset of a block's second half within its quants. */
export const HALF: usize = QS_BLOCK >> 1;

/** Lanes of the low half (elements 0..15) for nibbles v (q_j = low nibble of byte j, q_16+j = high). */
@inline
export function nib_lo(v: v128, y: usize, m: v128): v128 {
  if (ACT_I16) {
    return half_i16(v128.and(v, m), v128.and(i16x8.shr_u(v, 8), m), y);
  } else {
    return half_u7(v128.and(v, m), y);
  }
}

/** Lanes of the high half (elements 16..31) for nibbles v. */
@inline
export function nib_hi(v: v128, y: usize, m: v128): v128 {
  if (ACT_I16) {
    return half_i16(v128.and(i16x8.shr_u(v, 4), m), i16x8.shr_u(v, 12), y + HALF);
  } else {
    return half_u7(v128.and(i16x8.shr_u(v, 4), m), y + HALF);
  }
}

/** Lanes of one half for 16 signed byte quants a (in order; |q| ≤ 127); `y` = the block's quants. */
@inline
export function signed_half(a: v128, y: usize): v128 {
  if (ACT_I16) {
    return half_i16(i16x8.shr_s(i16x8.shl(a, 8), 8), i16x8.shr_s(a, 8), y);
  } else {
    return half_s8(a, y);
  }
}

/** Lanes of one half for 16 unsigned byte quants u (in order, 0..127); `mb` = kconst(K_BYTE16). */
@inline
export function unsigned_half(u: v128, y: usize, mb: v128): v128 {
  if (ACT_I16) {
    return half_i16(v128.and(u, mb), i16x8.shr_u(u, 8), y);
  } else {
    return half_u7(u, y);
  }
}

/** x (f32[n]) → the layout above at xq. */
export function quantize_q8_0(x: usize, xq: usize, n: i32): void {
  const nb = n >> 5;
  const dp = xq + qs_bytes(n);
  const sp = dp + ((<usize>nb) << 2);
  const np = sp + ((<usize>nb) << 2);
  for (let b = 0; b < nb; b++) {
    const p = x + ((<usize>b) << 7);
    const v0 = v128.load(p, 0);
    const v1 = v128.load(p, 16);
    const v2 = v128.load(p, 32);
    const v3 = v128.load(p, 48);
    const v4 = v128.load(p, 64);
    const v5 = v128.load(p, 80);
    const v6 = v128.load(p, 96);
    const v7 = v128.load(p, 112);
    // pmax, not max: f32x4.max's NaN rules cost V8 eight instructions (NaN input is garbage anyway)
    let m = f32x4.pmax(f32x4.pmax(f32x4.abs(v0), f32x4.abs(v1)), f32x4.pmax(f32x4.abs(v2), f32x4.abs(v3)));
    m = f32x4.pmax(m, f32x4.pmax(f32x4.pmax(f32x4.abs(v4), f32x4.abs(v5)), f32x4.pmax(f32x4.abs(v6), f32x4.abs(v7))));
    m = f32x4.pmax(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
    const amax = max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1));
    const d: f32 = amax / 127;
    const id = f32x4.splat(amax != 0 ? <f32>127 / amax : 0);
    const q0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v0, id)));
    const q1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v1, id)));
    const q2 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v2, id)));
    const q3 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v3, id)));
    const q4 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v4, id)));
    const q5 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v5, id)));
    const q6 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v6, id)));
    const q7 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v7, id)));
    const s4lo = hadd4_i32(q0, q1, q2, q3);
    const s4hi = hadd4_i32(q4, q5, q6, q7);
    const sum = hsum_i32x4(i32x4.add(s4lo, s4hi));
    const a = i16x8.narrow_i32x4_s(q0, q1); // elements 0..7
    const c = i16x8.narrow_i32x4_s(q2, q3); // 8..15
    const e = i16x8.narrow_i32x4_s(q4, q5); // 16..23
    const g = i16x8.narrow_i32x4_s(q6, q7); // 24..31
    const o = xq + (<usize>b) * QS_BLOCK;
    if (ACT_I16) {
      v128.store(o, i16x8.shuffle(a, c, 0, 2, 4, 6, 8, 10, 12, 14), 0);
      v128.store(o, i16x8.shuffle(a, c, 1, 3, 5, 7, 9, 11, 13, 15), 16);
      v128.store(o, i16x8.shuffle(e, g, 0, 2, 4, 6, 8, 10, 12, 14), 32);
      v128.store(o, i16x8.shuffle(e, g, 1, 3, 5, 7, 9, 11, 13, 15), 48);
    } else {
      v128.store(o, i8x16.narrow_i16x8_s(a, c), 0);
      v128.store(o, i8x16.narrow_i16x8_s(e, g), 16);
    }
    const bo = (<usize>b) << 2;
    store<f32>(dp + bo, round_f16(d) * TWO_112);
    store<f32>(sp + bo, round_f16(d * <f32>sum) * TWO_112);
    store<i32>(np + bo, sum);
    v128.store(np + ((<usize>nb) << 2) + (bo << 3), s4lo, 0);
    v128.store(np + ((<usize>nb) << 2) + (bo << 3), s4hi, 16);
  }
}

/** Scalar twin of quantize_q8_0: the same bytes, one element at a time. */
export function quantize_q8_0_scalar(x: usize, xq: usize, n: i32): void {
  const nb = n >> 5;
  const dp = xq + qs_bytes(n);
  const sp = dp + ((<usize>nb) << 2);
  const np = sp + ((<usize>nb) << 2);
  for (let b = 0; b < nb; b++) {
    const p = x + ((<usize>b) << 7);
    let amax: f32 = 0;
    for (let i = 0; i < 32; i++) amax = max(amax, abs(load<f32>(p + ((<usize>i) << 2))));
    const d: f32 = amax / 127;
    const id: f32 = amax != 0 ? <f32>127 / amax : 0;
    let sum = 0;
    const o = xq + (<usize>b) * QS_BLOCK;
    const bo = (<usize>b) << 2;
    for (let j = 0; j < 32; j++) {
      const q = <i32>nearest(load<f32>(p + ((<usize>j) << 2)) * id);
      if (ACT_I16) {
        const k = j & 15;
        store<i16>(o + ((<usize>((j & 16) | ((k & 1) << 3) | (k >> 1))) << 1), <i16>q);
      } else {
        store<i8>(o + <usize>j, <i8>q);
      }
      sum += q;
      const g = np + ((<usize>nb) << 2) + (bo << 3) + ((<usize>(j >> 2)) << 2);
      store<i32>(g, (j & 3) == 0 ? q : load<i32>(g) + q);
    }
    store<f32>(dp + bo, round_f16(d) * TWO_112);
    store<f32>(sp + bo, round_f16(d * <f32>sum) * TWO_112);
    store<i32>(np + bo, sum);
  }
}

/** Bytes of the sign-split copy that follows q8_0_bytes(n) in matvec activations (see the header). */
export function split_bytes(n: i32): i32 {
  return ACT_I16 ? 0 : n << 1;
}

/** The sign-split copy of the quants at xq (written by quantize_q8_0), at xq + q8_0_bytes(n). */
export function split_q8_0(xq: usize, n: i32): void {
  if (ACT_I16) return;
  const zero = i8x16.splat(0);
  let o = xq + <usize>q8_0_bytes(n);
  let y = xq;
  for (let b = n >> 5; b > 0; b--) {
    const lo = v128.load(y, 0);
    const hi = v128.load(y, 16);
    v128.store(o, i8x16.max_s(lo, zero), 0);
    v128.store(o, i8x16.max_s(hi, zero), 16);
    v128.store(o, i8x16.max_s(i8x16.sub(zero, lo), zero), 32);
    v128.store(o, i8x16.max_s(i8x16.sub(zero, hi), zero), 48);
    y += 32;
    o += 64;
  }
}

/** Scalar twin of split_q8_0: the same bytes. */
export function split_q8_0_scalar(xq: usize, n: i32): void {
  if (ACT_I16) return;
  const o = xq + <usize>q8_0_bytes(n);
  for (let i = 0; i < n; i++) {
    const q = <i32>load<i8>(xq + <usize>i);
    const at = o + (<usize>(i >> 5) << 6) + <usize>(i & 31);
    store<u8>(at, q > 0 ? q : 0);
    store<u8>(at + 32, q < 0 ? -q : 0);
  }
}

/** i16 1 in every lane, in memory (common.ts kconst says why): load once per kernel call, see pair_sums. */
const ONES16: StaticArray<u32> = [0x00010001, 0x00010001, 0x00010001, 0x00010001];

@inline
export function ones16(): v128 {
  return v128.load(changetype<usize>(ONES16));
}

/**
 * i32x4.extadd_pairwise_i16x8_s(v) with the i16 ones in a register (`ones` = ones16()): V8 emits
 * extadd_pairwise as vpmaddwd with a memory constant whose address it reloads into a register at
 * every use in a loop (one mov more each); i32x4.dot_i16x8_s against ones is the same vpmaddwd.
 */
@inline
export function pair_sums(v: v128, ones: v128): v128 {
  return i32x4.dot_i16x8_s(v, ones);
}
