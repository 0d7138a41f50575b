// BF16 weights: no blocks, 2 bytes per element.
//
//   byte  0         2         4
//         ┌─────────┬─────────┬───
//         │ w0 bf16 │ w1 bf16 │ …    the top 16 bits of an f32, little-endian, in order
//
// Activations: act_bf16.ts (x rounded to bf16, as ggml's vec_dot_type BF16, held as f32 and stored
// even-first within each group of 8). One v128 of weights is four i32 lanes b(2k) | b(2k+1) << 16:
// masking the low half off gives the odd elements as f32, shifting left by 16 the even ones.
import { hsum8_even_odd, madd_f32x4, kconst, K_HI16 } from "./common";

export function dequant_row_bf16(src: usize, dst: usize, n: i32): void {
  const groups = n >> 3;
  for (let g = 0; g < groups; g++) {
    const v = v128.load(src + ((<usize>g) << 4));
    const o = dst + ((<usize>g) << 5);
    v128.store(o, i32x4.shl(i32x4.extend_low_i16x8_u(v), 16), 0);
    v128.store(o, i32x4.shl(i32x4.extend_high_i16x8_u(v), 16), 16);
  }
  const done = <usize>groups << 3;
  dequant_row_bf16_scalar(src + (done << 1), dst + (done << 2), n & 7);
}

export function dequant_row_bf16_scalar(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<u32>(dst + ((<usize>i) << 2), (<u32>load<u16>(src + ((<usize>i) << 1))) << 16);
}

/** ggml's summation order, as dot_f16 (f16.ts): tinyBLAS<8, __m256, ggml_bf16_t>. */
export function dot_bf16(w: usize, xq: usize, n: i32): f32 {
  const hi = kconst(K_HI16);
  let even = f32x4.splat(0);
  let odd = f32x4.splat(0);
  let p = w;
  let x = xq;
  for (let g = n >> 3; g > 0; g--) {
    const v = v128.load(p);
    even = madd_f32x4(i32x4.shl(v, 16), v128.load(x, 0), even);
    odd = madd_f32x4(v128.and(v, hi), v128.load(x, 16), odd);
    p += 16;
    x += 32;
  }
  return hsum8_even_odd(even, odd) + dot_bf16_scalar(p, x, n & 7);
}

export function dot_bf16_scalar(w: usize, xq: usize, n: i32): f32 {
  const full = n & ~7;
  let s: f32 = 0;
  for (let i = 0; i < n; i++) {
    const j = i < full ? (i & ~7) | (((i & 1) << 2) | ((i & 7) >> 1)) : i;
    s += reinterpret<f32>((<u32>load<u16>(w + ((<usize>i) << 1))) << 16) * load<f32>(xq + ((<usize>j) << 2));
  }
  return s;
}
