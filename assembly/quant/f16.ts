// F16 weights: no blocks, 2 bytes per element.
//
//   byte  0        2        4
//         ┌────────┬────────┬───
//         │ w0 f16 │ w1 f16 │ …      little-endian IEEE binary16, in order
//
// Activations: act_f16.ts (x rounded to f16, as ggml's vec_dot_type F16, held as f32 and stored
// even-first within each group of 8). One v128 of weights is four i32 lanes h(2k) | h(2k+1) << 16:
// the high halves convert directly (f16hi_to_f32x4), the low halves after a shift left by 16.
import { f16_to_f32, f16hi_to_f32x4, f16_fix_special, hsum_f32x4, madd_f32x4 } from "./common";

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

/** Weights that are ±inf/NaN give finite garbage here (see f16hi_to_f32x4): such a model is broken anyway. */
export function dot_f16(w: usize, xq: usize, n: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  const groups = n >> 3;
  for (let g = 0; g < groups; g++) {
    const v = v128.load(w + ((<usize>g) << 4));
    const x = xq + ((<usize>g) << 5);
    a0 = madd_f32x4(f16hi_to_f32x4(i32x4.shl(v, 16)), v128.load(x, 0), a0);
    a1 = madd_f32x4(f16hi_to_f32x4(v), v128.load(x, 16), a1);
  }
  const done = <usize>groups << 3;
  // the last n mod 8 elements (stored in order): the scalar twin on that short range
  return hsum_f32x4(f32x4.add(a0, a1)) + dot_f16_scalar(w + (done << 1), xq + (done << 2), n & 7);
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
