// F32 weights: no blocks, 4 bytes per element.
//
//   byte  0        4        8
//         ┌────────┬────────┬───
//         │ w0 f32 │ w1 f32 │ …      little-endian IEEE binary32, in order
//
// Activations: act_f32.ts (x itself). ggml's vec_dot_type for F32 is F32.
import { hsum_f32x4, madd_f32x4 } from "./common";

export function dequant_row_f32(src: usize, dst: usize, n: i32): void {
  memory.copy(dst, src, (<usize>n) << 2);
}

export function dot_f32(w: usize, xq: usize, n: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  const groups = n >> 3;
  for (let g = 0; g < groups; g++) {
    const o = (<usize>g) << 5;
    a0 = madd_f32x4(v128.load(w + o, 0), v128.load(xq + o, 0), a0);
    a1 = madd_f32x4(v128.load(w + o, 16), v128.load(xq + o, 16), a1);
  }
  const done = (<usize>groups) << 5;
  // the last n mod 8 elements: the scalar twin on that short range
  return hsum_f32x4(f32x4.add(a0, a1)) + dot_f32_scalar(w + done, xq + done, n & 7);
}

export function dot_f32_scalar(w: usize, xq: usize, n: i32): f32 {
  let s: f32 = 0;
  for (let i = 0; i < n; i++) {
    const o = (<usize>i) << 2;
    s += load<f32>(w + o) * load<f32>(xq + o);
  }
  return s;
}
