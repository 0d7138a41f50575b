// Activations for the 32-element weight formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL): ggml's
// Q8_0 and Q8_1 in one buffer, quantized once per matvec and shared by every matrix that reads x.
//
// n elements (a multiple of 32), nb = n / 32 blocks, Q = the quants' bytes (see below); the quants
// come first, contiguous, then the per-block numbers, one array each:
//
//   xq + 0          ┌──────────────────────────────┐
//                   │ qs   Q bytes                 │  q_i = round_half_even(x_i · 127/amax)
//   xq + Q          ├──────────────────────────────┤
//                   │ d    f32[nb]                 │  f16(amax/127) widened back to f32
//   xq + Q + 4·nb   ├──────────────────────────────┤
//                   │ s    f32[nb]                 │  f16((amax/127) · Σq), ggml Q8_1's s (Q4_1, Q5_1)
//   xq + Q + 8·nb   ├──────────────────────────────┤
//                   │ sum  i32[nb]                 │  Σq exactly, for the "unsigned quants − offset"
//                   └──────────────────────────────┘  correction (Q4_0, Q5_0)
//   q8_0_bytes(n) = Q + 12·nb
//
// The quants' form differs between the two builds, each the one its dot products consume directly:
//   relaxed build   Q = n:    i8[n] in order (relaxed_dot multiplies bytes)
//   baseline build  Q = 2·n:  i16, each 16-element group stored even-indexed first:
//                             q0 q2 … q14 q1 q3 … q15 | q16 q18 … q30 q17 … q31 | …
//     i32x4.dot_i16x8_s wants 16-bit lanes; weights give them without any widening as the even and
//     odd bytes of a 16-bit lane (v & 0xff / v >> 8, nibbles likewise), so x is stored to match.
//     This halves the kernel's instructions against widening both operands (measured on Q4_0).
//
// Rounding as ggml's AVX2 quantize_row_q8_0 / q8_1 (ggml-cpu/arch/x86/quants.c), which is what
// llama.cpp runs on x86: d = amax / 127 in f32 and stored as f16; the quants use the UNROUNDED
// multiplier id = 127 / amax (0 for an all-zero block) and _mm256_round_ps(_MM_ROUND_NEAREST), i.e.
// round half to even (the scalar reference quantize_row_q8_0_ref uses roundf and 1/d instead,
// which can differ by one in a quant). d and s are kept as f32 so the dot kernels need no f16
// conversion per block; their values are exactly ggml's f16 ones.
import { round_f16, hsum_i32x4, dot_s8, dot_u7s8, nibbles_lo, nibbles_hi } from "./common";

/** Quants stored as i16 (baseline build) rather than i8 (relaxed build). */
export const ACT_I16: bool = !ASC_FEATURE_RELAXED_SIMD;
/** Bytes of one block's quants. */
export const QS_BLOCK: usize = ACT_I16 ? 64 : 32;

/** Bytes of the quants of n elements: where the d array starts. */
@inline
export function qs_bytes(n: i32): usize {
  return ACT_I16 ? (<usize>n) << 1 : <usize>n;
}

/** Bytes of the activation buffer for n elements (n a multiple of 32). */
export function q8_0_bytes(n: i32): i32 {
  return <i32>qs_bytes(n) + 12 * (n >> 5);
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

/** acc + Σ q_j·y_j over one block for 16 bytes of nibbles v (q_j = low nibble j, q_16+j = high). */
@inline
export function dot_nibbles(v: v128, y: usize, acc: v128): v128 {
  if (ACT_I16) {
    const m = i16x8.splat(0x0f);
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.and(v, m), v128.load(y, 0)));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 8), m), v128.load(y, 16)));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 4), m), v128.load(y, 32)));
    return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.shr_u(v, 12), v128.load(y, 48)));
  } else {
    acc = dot_u7s8(nibbles_lo(v), v128.load(y, 0), acc);
    return dot_u7s8(nibbles_hi(v), v128.load(y, 16), acc);
  }
}

/** acc + Σ q_j·y_j over one block for quants 0..15 in `lo` and 16..31 in `hi`, signed bytes. */
@inline
export function dot_signed(lo: v128, hi: v128, y: usize, acc: v128): v128 {
  if (ACT_I16) {
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.shr_s(i16x8.shl(lo, 8), 8), v128.load(y, 0)));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.shr_s(lo, 8), v128.load(y, 16)));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.shr_s(i16x8.shl(hi, 8), 8), v128.load(y, 32)));
    return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.shr_s(hi, 8), v128.load(y, 48)));
  } else {
    acc = dot_s8(lo, v128.load(y, 0), acc);
    return dot_s8(hi, v128.load(y, 16), acc);
  }
}

/** As dot_signed for unsigned quants 0..127. */
@inline
export function dot_unsigned(lo: v128, hi: v128, y: usize, acc: v128): v128 {
  if (ACT_I16) {
    const m = i16x8.splat(0xff);
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.and(lo, m), v128.load(y, 0)));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.shr_u(lo, 8), v128.load(y, 16)));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.and(hi, m), v128.load(y, 32)));
    return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.shr_u(hi, 8), v128.load(y, 48)));
  } else {
    acc = dot_u7s8(lo, v128.load(y, 0), acc);
    return dot_u7s8(hi, v128.load(y, 16), acc);
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
    let m = f32x4.max(f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), f32x4.max(f32x4.abs(v2), f32x4.abs(v3)));
    m = f32x4.max(m, f32x4.max(f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), f32x4.max(f32x4.abs(v6), f32x4.abs(v7))));
    m = f32x4.max(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
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
    const sum = hsum_i32x4(i32x4.add(
      i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3)),
      i32x4.add(i32x4.add(q4, q5), i32x4.add(q6, q7)),
    ));
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
    store<f32>(dp + bo, round_f16(d));
    store<f32>(sp + bo, round_f16(d * <f32>sum));
    store<i32>(np + bo, sum);
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
    for (let j = 0; j < 32; j++) {
      const q = <i32>nearest(load<f32>(p + ((<usize>j) << 2)) * id);
      if (ACT_I16) {
        const k = j & 15;
        store<i16>(o + ((<usize>((j & 16) | ((k & 1) << 3) | (k >> 1))) << 1), <i16>q);
      } else {
        store<i8>(o + <usize>j, <i8>q);
      }
      sum += q;
    }
    const bo = (<usize>b) << 2;
    store<f32>(dp + bo, round_f16(d));
    store<f32>(sp + bo, round_f16(d * <f32>sum));
    store<i32>(np + bo, sum);
  }
}
