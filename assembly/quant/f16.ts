// F16 weights: no blocks, 2 bytes per element.
//
//   byte  0        2        4
//         ┌────────┬────────┬───
//         │ w0 f16 │ w1 f16 │ …      little-endian IEEE binary16, in order
//
// Activations: act_f16.ts (x rounded to f16, as ggml's vec_dot_type F16, held as f32 and stored
// even-first within each group of 8). One v128 of weights is four i32 lanes h(2k) | h(2k+1) << 16:
// the high halves convert directly (f16hi_to_f32x4), the low halves after a shift left by 16.
import { f16_to_f32, f16hi_to_f32x4, f16hi_to_f32x4_k, f16_fix_special, hsum8_even_odd, madd_f32x4, kconst, K_F16_BITS, K_F16_SCALE } from "./common";

export function dequant_row_f16(src: usize, dst: usize, n: i32): void {
  const groups = n >> 3;
  for (let g = 0; g < groups; g++) {
    const v = v128.load(src + ((<usize>g) << 4));
    const lo = i32x4.shl(i32x4.extend_low_i16x8_u(v), 16);
    const hi = i32x4.shl(i32x4.extend_high_i16x8_u(v), 16);
    const o = dst + ((<usize>g) << 5);
    v128.store(o, f16_fix_special(f16hi_to_f32x4(lo), lo), 0);
    v128.store(o, f16_fix_special(f16hi_to_f32x4(hi), hi), 16);
  }
  const done = <usize>groups << 3;
  dequant_row_f16_scalar(src + (done << 1), dst + (done << 2), n & 7);
}

export function dequant_row_f16_scalar(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(dst + ((<usize>i) << 2), f16_to_f32(load<u16>(src + ((<usize>i) << 1))));
}

/**
 * ggml's summation order (llamafile tinyBLAS<8, __m256, ggml_fp16_t> on AVX2+F16C): eight lane
 * accumulators, lane k summing w_i·x_i for i ≡ k (mod 8), fused multiply-add (relaxed build), then
 * hsum_float_8 = ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)). Here `even` holds lanes 0 2 4 6 and
 * `odd` lanes 1 3 5 7 (the weights widen that way), and the final sum is taken in that order.
 * Weights that are ±inf/NaN give finite garbage (see f16hi_to_f32x4): such a model is broken anyway.
 * The last n mod 8 elements (tinyBLAS needs n ≡ 0 mod 8) go through the scalar twin.
 */
export function dot_f16(w: usize, xq: usize, n: i32): f32 {
  const bits = kconst(K_F16_BITS);
  const scale = kconst(K_F16_SCALE);
  let even = f32x4.splat(0);
  let odd = f32x4.splat(0);
  let p = w;
  let x = xq;
  for (let g = n >> 3; g > 0; g--) {
    const v = v128.load(p);
    even = madd_f32x4(f16hi_to_f32x4_k(i32x4.shl(v, 16), bits, scale), v128.load(x, 0), even);
    odd = madd_f32x4(f16hi_to_f32x4_k(v, bits, scale), v128.load(x, 16), odd);
    p += 16;
    x += 32;
  }
  return hsum8_even_odd(even, odd) + dot_f16_scalar(p, x, n & 7);
}

export function dot_f16_scalar(w: usize, xq: usize, n: i32): f32 {
  const full = n & ~7;
  let s: f32 = 0;
  for (let i = 0; i < n; i++) {
    const j = i < full ? (i & ~7) | (((i & 1) << 2) | ((i & 7) >> 1)) : i;
    s += f16_to_f32(load<u16>(w + ((<usize>i) << 1))) * load<f32>(xq + ((<usize>j) << 2));
  }
  return s;
}
