// Activations for BF16 weights: x rounded to bf16 (round to nearest even, as GGML_FP32_TO_BF16;
// ggml converts x to BF16 for ggml_vec_dot_bf16), kept as f32 (low 16 bits zero).
//
// Same order as act_f16.ts, for the same reason: within each full group of 8, even-indexed first.
//
//   xq + 32·g   f32[8]   x8g+0  x8g+2  x8g+4  x8g+6  x8g+1  x8g+3  x8g+5  x8g+7   (g < n/8)
//   xq + 4·8⌊n/8⌋ f32[n mod 8]  the tail, in order
//   bf16_bytes(n) = 4·n
import { round_bf16_bits, round_bf16_x4 } from "./common";

export function bf16_bytes(n: i32): i32 {
  return n << 2;
}

export function quantize_bf16(x: usize, xq: usize, n: i32): void {
  const groups = n >> 3;
  for (let g = 0; g < groups; g++) {
    const o = (<usize>g) << 5;
    const v0 = v128.load(x + o, 0);
    const v1 = v128.load(x + o, 16);
    v128.store(xq + o, round_bf16_x4(i32x4.shuffle(v0, v1, 0, 2, 4, 6)), 0);
    v128.store(xq + o, round_bf16_x4(i32x4.shuffle(v0, v1, 1, 3, 5, 7)), 16);
  }
  const done = (<usize>groups) << 5;
  quantize_bf16_scalar(x + done, xq + done, n & 7);
}

/** Scalar twin: the same layout (a call with n < 8 writes only an in-order tail). */
export function quantize_bf16_scalar(x: usize, xq: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const j = i < (n & ~7) ? (i & ~7) | (((i & 1) << 2) | ((i & 7) >> 1)) : i;
    store<u32>(xq + ((<usize>j) << 2), round_bf16_bits(load<u32>(x + ((<usize>i) << 2))));
  }
}
