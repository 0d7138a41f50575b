// Q8_0 weights: blocks of 32 elements, 34 bytes (ggml block_q8_0).
//
//   byte 0       2                                      34
//        ┌───────┬──────────────────────────────────────┐
//        │ d f16 │ qs i8[32]   q0 q1 … q31, in order    │     w_i = d · q_i
//        └───────┴──────────────────────────────────────┘
//
// Activations: act_q8_0.ts, whose header gives the summation order (ggml's: eight exact lane sums
// per block, one multiply-add by d_w·d_x each). One block per iteration, pointers stepped (see
// q4_0.ts). The relaxed build needs |q_w| ≤ 127 (ggml's quantizers never write -128).
import { load_f16, f16_raw, hsum_f32x4, madd_f32x4, store_s8x16_scaled } from "./common";
import { QS_BLOCK, HALF, qs_bytes, act_q, act_scale, signed_half } from "./act_q8_0";

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

export function dot_q8_0(w: usize, xq: usize, n: i32): f32 {
  let dp = xq + qs_bytes(n);
  let p = w;
  let y = xq;
  let accLo = f32x4.splat(0);
  let accHi = f32x4.splat(0);
  for (let b = n >> 5; b > 0; b--) {
    const lo = signed_half(v128.load(p, 2), y);
    const hi = signed_half(v128.load(p, 18), y + HALF);
    const d = f32x4.splat(f16_raw(p) * load<f32>(dp));
    accLo = madd_f32x4(f32x4.convert_i32x4_s(lo), d, accLo);
    accHi = madd_f32x4(f32x4.convert_i32x4_s(hi), d, accHi);
    p += 34;
    y += QS_BLOCK;
    dp += 4;
  }
  return hsum_f32x4(f32x4.add(accLo, accHi));
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
    sum += <f32>s * (load_f16(p) * act_scale(dx + ((<usize>b) << 2)));
  }
  return sum;
}
