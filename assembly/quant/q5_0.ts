// Q5_0 weights: blocks of 32 elements, 22 bytes (ggml block_q5_0).
//
//   byte 0       2             6                                  22
//        ┌───────┬─────────────┬──────────────────────────────────┐
//        │ d f16 │ qh u8[4]    │ qs u8[16]                        │   w_i = d · (q_i − 16), q_i in 0..31
//        └───────┴─────────────┴──────────────────────────────────┘
//   qs[j] = low 4 bits of q_j | low 4 bits of q_(j+16) << 4
//   qh as a little-endian u32: bit i = bit 4 (the 16s) of q_i, i = 0..31
//
// Activations: act_q8_0.ts. Like Q4_0, the quants stay unsigned (0..31, within relaxed_dot's 7
// bits) and 16·Σq_x is subtracted per block.
import { load_f16, hadd4_i32, gather_f16x4, hsum_f32x4, hsum_i32x4, madd_f32x4, store_s8x16_scaled } from "./common";
import { QS_BLOCK, qs_bytes, act_q, dot_unsigned } from "./act_q8_0";
import { q5_lo, q5_hi } from "./q5_1";

export const Q5_0_BYTES: i32 = 22;

export function dequant_row_q5_0(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  const sixteen = i8x16.splat(16);
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 22;
    const d = f32x4.splat(load_f16(p));
    const qh = i32x4.splat(load<i32>(p + 2));
    const v = v128.load(p, 6);
    const o = dst + ((<usize>b) << 7);
    store_s8x16_scaled(o, i8x16.sub(q5_lo(v, qh), sixteen), d);
    store_s8x16_scaled(o + 64, i8x16.sub(q5_hi(v, qh), sixteen), d);
  }
}

/** Σ q·q_x of one block (unsigned 0..31), spread over four i32 lanes. */
@inline
function block_sum(p: usize, y: usize): v128 {
  const qh = i32x4.splat(load<i32>(p + 2));
  const v = v128.load(p, 6);
  return dot_unsigned(q5_lo(v, qh), q5_hi(v, qh), y, i32x4.splat(0));
}

export function dot_q5_0(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  const sx = dx + ((<usize>nb) << 3);
  let acc = f32x4.splat(0);
  let b = 0;
  for (; b + 4 <= nb; b += 4) {
    const p = w + <usize>b * 22;
    const y = xq + <usize>b * QS_BLOCK;
    const s = hadd4_i32(block_sum(p, y), block_sum(p + 22, y + QS_BLOCK),
      block_sum(p + 44, y + 2 * QS_BLOCK), block_sum(p + 66, y + 3 * QS_BLOCK));
    const bo = (<usize>b) << 2;
    const isum = i32x4.sub(s, i32x4.shl(v128.load(sx + bo), 4));
    acc = madd_f32x4(f32x4.convert_i32x4_s(isum), f32x4.mul(gather_f16x4(p, 22), v128.load(dx + bo)), acc);
  }
  let sum = hsum_f32x4(acc);
  // the last nb mod 4 blocks, one at a time
  for (; b < nb; b++) {
    const p = w + <usize>b * 22;
    const bo = (<usize>b) << 2;
    const isum = hsum_i32x4(block_sum(p, xq + <usize>b * QS_BLOCK)) - 16 * load<i32>(sx + bo);
    sum += <f32>isum * (load_f16(p) * load<f32>(dx + bo));
  }
  return sum;
}

export function dot_q5_0_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const p = w + <usize>b * 22;
    const y = xq + <usize>b * QS_BLOCK;
    const qh = load<u32>(p + 2);
    let s = 0;
    for (let j = 0; j < 16; j++) {
      const q = <i32>load<u8>(p + 6 + <usize>j);
      const q0 = ((q & 15) | (<i32>((qh >> j) & 1) << 4)) - 16;
      const q1 = ((q >> 4) | (<i32>((qh >> (j + 16)) & 1) << 4)) - 16;
      s += q0 * act_q(y, j) + q1 * act_q(y, j + 16);
    }
    sum += <f32>s * (load_f16(p) * load<f32>(dx + ((<usize>b) << 2)));
  }
  return sum;
}
