// Q4_0 weights: blocks of 32 elements, 18 bytes (ggml block_q4_0).
//
//   byte 0       2                                  18
//        ┌───────┬──────────────────────────────────┐
//        │ d f16 │ qs u8[16]                        │     w_i = d · (q_i − 8),  q_i in 0..15
//        └───────┴──────────────────────────────────┘
//   qs[j] = q_j | q_(j+16) << 4    (low nibbles: elements 0..15, high nibbles: 16..31)
//
// Activations: act_q8_0.ts. The kernel keeps the nibbles unsigned (0..15 fits relaxed_dot's 7-bit
// operand, and the baseline build's 16-bit lanes need no sign) and subtracts 8·Σq_x per block
// instead: Σ(q−8)·y = Σq·y − 8·Σy, the same integer. Four blocks at a time share one conversion
// to f32 and one multiply by their four scales d_w·d_x.
import { load_f16, hadd4_i32, gather_f16x4, hsum_f32x4, hsum_i32x4, madd_f32x4, store_s8x16_scaled, nibbles_lo, nibbles_hi } from "./common";
import { QS_BLOCK, qs_bytes, act_q, dot_nibbles } from "./act_q8_0";

export const Q4_0_BYTES: i32 = 18;

export function dequant_row_q4_0(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  const eight = i8x16.splat(8);
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 18;
    const d = f32x4.splat(load_f16(p));
    const v = v128.load(p, 2);
    const o = dst + ((<usize>b) << 7);
    store_s8x16_scaled(o, i8x16.sub(nibbles_lo(v), eight), d);
    store_s8x16_scaled(o + 64, i8x16.sub(nibbles_hi(v), eight), d);
  }
}

/** Σ q·q_x of one block (unsigned nibbles), spread over four i32 lanes. */
@inline
function block_sum(p: usize, y: usize): v128 {
  return dot_nibbles(v128.load(p, 2), y, i32x4.splat(0));
}

export function dot_q4_0(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  const sx = dx + ((<usize>nb) << 3);
  let acc = f32x4.splat(0);
  let b = 0;
  for (; b + 4 <= nb; b += 4) {
    const p = w + <usize>b * 18;
    const y = xq + <usize>b * QS_BLOCK;
    const s = hadd4_i32(block_sum(p, y), block_sum(p + 18, y + QS_BLOCK),
      block_sum(p + 36, y + 2 * QS_BLOCK), block_sum(p + 54, y + 3 * QS_BLOCK));
    const bo = (<usize>b) << 2;
    const isum = i32x4.sub(s, i32x4.shl(v128.load(sx + bo), 3));
    acc = madd_f32x4(f32x4.convert_i32x4_s(isum), f32x4.mul(gather_f16x4(p, 18), v128.load(dx + bo)), acc);
  }
  let sum = hsum_f32x4(acc);
  // the last nb mod 4 blocks, one at a time
  for (; b < nb; b++) {
    const p = w + <usize>b * 18;
    const bo = (<usize>b) << 2;
    const isum = hsum_i32x4(block_sum(p, xq + <usize>b * QS_BLOCK)) - 8 * load<i32>(sx + bo);
    sum += <f32>isum * (load_f16(p) * load<f32>(dx + bo));
  }
  return sum;
}

export function dot_q4_0_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const p = w + <usize>b * 18;
    const y = xq + <usize>b * QS_BLOCK;
    let s = 0;
    for (let j = 0; j < 16; j++) {
      const q = <i32>load<u8>(p + 2 + <usize>j);
      s += ((q & 15) - 8) * act_q(y, j) + ((q >> 4) - 8) * act_q(y, j + 16);
    }
    sum += <f32>s * (load_f16(p) * load<f32>(dx + ((<usize>b) << 2)));
  }
  return sum;
}
