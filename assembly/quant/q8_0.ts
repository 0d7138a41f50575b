// Q8_0 weights: blocks of 32 elements, 34 bytes (ggml block_q8_0).
//
//   byte 0       2                                      34
//        ┌───────┬──────────────────────────────────────┐
//        │ d f16 │ qs i8[32]   q0 q1 … q31, in order    │     w_i = d · q_i
//        └───────┴──────────────────────────────────────┘
//
// Activations: act_q8_0.ts. Per block the integer sum Σ q_w·q_x is exact; four blocks at a time
// share one conversion to f32 and one multiply by their scales d_w·d_x (ggml_vec_dot_q8_0_q8_0).
import { load_f16, hadd4_i32, gather_f16x4, hsum_f32x4, hsum_i32x4, madd_f32x4, store_s8x16_scaled } from "./common";
import { QS_BLOCK, qs_bytes, act_q, dot_signed } from "./act_q8_0";

export const Q8_0_BYTES: i32 = 34;

export function dequant_row_q8_0(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 34;
    const d = f32x4.splat(load_f16(p));
    const o = dst + ((<usize>b) << 7);
    store_s8x16_scaled(o, v128.load(p, 2), d);
    store_s8x16_scaled(o + 64, v128.load(p, 18), d);
  }
}

/** Σ q·q_x of one block, spread over four i32 lanes. */
@inline
function block_sum(p: usize, y: usize): v128 {
  return dot_signed(v128.load(p, 2), v128.load(p, 18), y, i32x4.splat(0));
}

export function dot_q8_0(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  let acc = f32x4.splat(0);
  let b = 0;
  for (; b + 4 <= nb; b += 4) {
    const p = w + <usize>b * 34;
    const y = xq + <usize>b * QS_BLOCK;
    const s = hadd4_i32(block_sum(p, y), block_sum(p + 34, y + QS_BLOCK),
      block_sum(p + 68, y + 2 * QS_BLOCK), block_sum(p + 102, y + 3 * QS_BLOCK));
    const scale = f32x4.mul(gather_f16x4(p, 34), v128.load(dx + ((<usize>b) << 2)));
    acc = madd_f32x4(f32x4.convert_i32x4_s(s), scale, acc);
  }
  let sum = hsum_f32x4(acc);
  // the last nb mod 4 blocks, one at a time
  for (; b < nb; b++) {
    const p = w + <usize>b * 34;
    const isum = hsum_i32x4(block_sum(p, xq + <usize>b * QS_BLOCK));
    sum += <f32>isum * (load_f16(p) * load<f32>(dx + ((<usize>b) << 2)));
  }
  return sum;
}

export function dot_q8_0_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const p = w + <usize>b * 34;
    const y = xq + <usize>b * QS_BLOCK;
    let s = 0;
    for (let j = 0; j < 32; j++) s += <i32>load<i8>(p + 2 + <usize>j) * act_q(y, j);
    sum += <f32>s * (load_f16(p) * load<f32>(dx + ((<usize>b) << 2)));
  }
  return sum;
}
