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

/**
 * ggml's summation order (llamafile tinyBLAS<8, __m256> on AVX2, which llama.cpp runs for F32
 * matmuls): eight lane accumulators, lane k summing w_i·x_i for i ≡ k (mod 8) with one fused
 * multiply-add each (relaxed build; mul then add in the baseline build), then hsum_float_8. See
 * act_q8_0.ts for why the order matters (measured: ggml_vec_dot_f32's four-accumulator order
 * matches the fixtures' logits worse). The last n mod 8 elements (tinyBLAS needs n ≡ 0 mod 8)
 * go through the scalar twin.
 */
export function dot_f32(w: usize, xq: usize, n: i32): f32 {
  let a0 = f32x4.splat(0); // lanes 0..3
  let a1 = f32x4.splat(0); // lanes 4..7
  let p = w;
  let x = xq;
  for (let g = n >> 3; g > 0; g--) {
    a0 = madd_f32x4(v128.load(p, 0), v128.load(x, 0), a0);
    a1 = madd_f32x4(v128.load(p, 16), v128.load(x, 16), a1);
    p += 32;
    x += 32;
  }
  return hsum_f32x4(f32x4.add(a0, a1)) + dot_f32_scalar(p, x, n & 7);
}

export function dot_f32_scalar(w: usize, xq: usize, n: i32): f32 {
  let s: f32 = 0;
  for (let i = 0; i < n; i++) {
    const o = (<usize>i) << 2;
    s += load<f32>(w + o) * load<f32>(xq + o);
  }
  return s;
}
