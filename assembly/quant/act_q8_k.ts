// Activations for the 256-element super-block formats (Q2_K … Q6_K, IQ4_XS): ggml's block_q8_K
// numbers, quantized once per matvec, in a layout of our own (one per build) that the kernels
// stream with plain v128 loads. n elements (a multiple of 256), nb = n / 256 super-blocks:
//
//   xq + 0            ┌─────────────────────────────────────────────┐
//                     │ qs     relaxed build:  i8[n], natural order  │  q_i = min(127, nearest(x_i · iscale))
//                     │        baseline build: i16[n], each group of │
//                     │        16 as its evens then its odds:        │
//                     │        q0 q2 q4 … q14 q1 q3 … q15            │
//   xq + QS           ├─────────────────────────────────────────────┤  QS = n (relaxed) or 2n (baseline)
//                     │ d      f32[nb]                               │  1 / iscale
//   xq + QS + 4·nb    ├─────────────────────────────────────────────┤
//                     │ bsums  i16[16·nb]  [16b + g] = Σ q over      │  for the min / offset terms
//                     │        elements 16g … 16g+15 of block b      │
//                     └─────────────────────────────────────────────┘
//   q8_k_bytes(n) = QS + 36·nb
//
// The numbers are ggml's quantize_row_q8_K_ref, which x86 llama.cpp runs too (its quantize_row_q8_K
// calls the reference): max = the x of largest magnitude (the first one on ties), iscale = -127/max,
// q = nearest_int(iscale·x) (round half to even, as f32.nearest), d = 1/iscale; an all-zero block is
// d = 0, q = 0.
//
// Why two layouts: the relaxed kernels feed bytes straight to relaxed_dot_i8x16_i7x16 (16 products
// per op); the baseline kernels multiply i16 lanes with dot_i16x8_s, and a weight vector unpacked
// from 16 bytes splits most cheaply into its even and odd bytes as i16 lanes (a mask and a shift),
// so x is stored already widened and split that way. Measured on a 4096x4096 Q4_K matvec (Node 20,
// data in cache): 10.6 G weights/s with this layout against 8.6 with i8 x split in the kernel.
import { hsum_i32x4 } from "./common";

export const QK_K: i32 = 256;

/** log2 of the bytes per activation quant: 0 (i8) in the relaxed build, 1 (i16) in the baseline build. */
export const Q8K_QS_SHIFT: i32 = ASC_FEATURE_RELAXED_SIMD ? 0 : 1;

/** Bytes of the activation buffer for n elements (n a multiple of 256). */
export function q8_k_bytes(n: i32): i32 {
  return (n << Q8K_QS_SHIFT) + 36 * (n >> 8);
}

/** Address of super-block b's quants. */
@inline
export function q8k_qs(xq: usize, b: i32): usize {
  return xq + ((<usize>b) << (8 + Q8K_QS_SHIFT));
}

/** Super-block b's d. */
@inline
export function q8k_d(xq: usize, n: i32, b: i32): f32 {
  return load<f32>(xq + ((<usize>n) << Q8K_QS_SHIFT) + ((<usize>b) << 2));
}

/** Address of super-block b's 16 bsums. */
@inline
export function q8k_bsums(xq: usize, n: i32, b: i32): usize {
  return xq + ((<usize>n) << Q8K_QS_SHIFT) + ((<usize>(n >> 8)) << 2) + ((<usize>b) << 5);
}

/** Quant i (0..255) of the super-block whose quants start at `qs`, for the scalar kernels. */
@inline
export function q8k_at(qs: usize, i: i32): i32 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return <i32>load<i8>(qs + <usize>i);
  } else {
    const slot = (i & ~15) | ((i & 15) >> 1) | ((i & 1) << 3);
    return <i32>load<i16>(qs + ((<usize>slot) << 1));
  }
}

/** x (f32[n]) → the layout above at xq. */
export function quantize_q8_k(x: usize, xq: usize, n: i32): void {
  const nb = n >> 8;
  for (let b = 0; b < nb; b++) {
    const p = x + ((<usize>b) << 10);
    // amax over the block, then the first element that reaches it (ggml keeps the first on ties).
    // pmax(m, v) keeps m when v is NaN, as ggml's `if (ax > amax)` skips NaN.
    let m = f32x4.splat(0);
    for (let i: usize = 0; i < 1024; i += 16) m = f32x4.pmax(m, f32x4.abs(v128.load(p + i)));
    m = f32x4.pmax(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
    m = f32x4.pmax(m, i32x4.shuffle(m, m, 1, 0, 3, 2));
    const amax = f32x4.extract_lane(m, 0);
    if (amax == 0) {
      write_zero_block(xq, n, b);
      continue;
    }
    const am = f32x4.splat(amax);
    let first = 0;
    while (first < 252 && !v128.any_true(f32x4.eq(f32x4.abs(v128.load(p + ((<usize>first) << 2))), am))) first += 4;
    while (first < 255 && abs(load<f32>(p + ((<usize>first) << 2))) != amax) first++;
    const iscale: f32 = <f32>-127 / load<f32>(p + ((<usize>first) << 2));
    const is = f32x4.splat(iscale);
    const qs = q8k_qs(xq, b);
    const bs = q8k_bsums(xq, n, b);
    for (let g = 0; g < 16; g++) {
      const pg = p + ((<usize>g) << 6);
      const q0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(pg, 0), is)));
      const q1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(pg, 16), is)));
      const q2 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(pg, 32), is)));
      const q3 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(pg, 48), is)));
      // |iscale·x| ≤ 127 (+ rounding), so the saturating narrows equal ggml's MIN(127, q)
      const lo = i16x8.narrow_i32x4_s(q0, q1);
      const hi = i16x8.narrow_i32x4_s(q2, q3);
      store<i16>(bs + ((<usize>g) << 1), <i16>hsum_i32x4(i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3))));
      if (ASC_FEATURE_RELAXED_SIMD) {
        v128.store(qs + ((<usize>g) << 4), i8x16.narrow_i16x8_s(lo, hi));
      } else {
        const o = qs + ((<usize>g) << 5);
        v128.store(o, i8x16.shuffle(lo, hi, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29), 0);
        v128.store(o, i8x16.shuffle(lo, hi, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31), 16);
      }
    }
    store<f32>(xq + ((<usize>n) << Q8K_QS_SHIFT) + ((<usize>b) << 2), <f32>1 / iscale);
  }
}

/** Scalar twin of quantize_q8_k: ggml's quantize_row_q8_K_ref element by element, same bytes out. */
export function quantize_q8_k_scalar(x: usize, xq: usize, n: i32): void {
  const nb = n >> 8;
  for (let b = 0; b < nb; b++) {
    const p = x + ((<usize>b) << 10);
    let amax: f32 = 0;
    let mx: f32 = 0;
    for (let i = 0; i < QK_K; i++) {
      const v = load<f32>(p + ((<usize>i) << 2));
      if (abs(v) > amax) {
        amax = abs(v);
        mx = v;
      }
    }
    if (amax == 0) {
      write_zero_block(xq, n, b);
      continue;
    }
    const iscale: f32 = <f32>-127 / mx;
    const qs = q8k_qs(xq, b);
    const bs = q8k_bsums(xq, n, b);
    for (let g = 0; g < 16; g++) {
      let sum = 0;
      for (let e = 0; e < 16; e++) {
        const i = (g << 4) + e;
        const q = min(127, <i32>nearest(iscale * load<f32>(p + ((<usize>i) << 2))));
        sum += q;
        if (ASC_FEATURE_RELAXED_SIMD) {
          store<i8>(qs + <usize>i, <i8>q);
        } else {
          const slot = (g << 4) | (e >> 1) | ((e & 1) << 3);
          store<i16>(qs + ((<usize>slot) << 1), <i16>q);
        }
      }
      store<i16>(bs + ((<usize>g) << 1), <i16>sum);
    }
    store<f32>(xq + ((<usize>n) << Q8K_QS_SHIFT) + ((<usize>b) << 2), <f32>1 / iscale);
  }
}

/** An all-zero block: d = 0 and every quant and bsum 0 (ggml leaves bsums unset; 0 is what they sum to). */
function write_zero_block(xq: usize, n: i32, b: i32): void {
  memory.fill(q8k_qs(xq, b), 0, (<usize>QK_K) << Q8K_QS_SHIFT);
  memory.fill(q8k_bsums(xq, n, b), 0, 32);
  store<f32>(xq + ((<usize>n) << Q8K_QS_SHIFT) + ((<usize>b) << 2), 0);
}
