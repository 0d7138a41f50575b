// Q5_1 weights: blocks of 32 elements, 24 bytes (ggml block_q5_1).
//
//   byte 0       2       4             8                                  24
//        ┌───────┬───────┬─────────────┬──────────────────────────────────┐
//        │ d f16 │ m f16 │ qh u8[4]    │ qs u8[16]                        │   w_i = d · q_i + m
//        └───────┴───────┴─────────────┴──────────────────────────────────┘
//   qs[j] = low 4 bits of q_j | low 4 bits of q_(j+16) << 4          q_i in 0..31
//   qh as a little-endian u32: bit i = bit 4 (the 16s) of q_i, i = 0..31
//
// Activations: act_q8_0.ts with s = f16(d_x·Σq_x) (ggml's Q8_1): Σ w·x̂ = d·d_x·Σ q·q_x + m·s.
import { load_f16, hadd4_i32, gather_f16x4, hsum_f32x4, hsum_i32x4, madd_f32x4, store_u8x16_scaled, nibbles_lo, nibbles_hi } from "./common";
import { QS_BLOCK, qs_bytes, act_q, dot_unsigned } from "./act_q8_0";

export const Q5_1_BYTES: i32 = 24;

/** Byte k of these selects which qh byte holds the 16s bit of element k (k < 16) … */
const QH_BYTE_LO: v128 = i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
/** … and of element 16 + k. */
const QH_BYTE_HI: v128 = i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
/** The bit within that byte. */
const QH_BIT: v128 = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);

/** The 16s bits of 16 elements selected by `sel` from qh (splat in every i32 lane): 0 or 16 per byte. */
@inline
function q5_bits(qh: v128, sel: v128): v128 {
  const bit = v128.and(i8x16.swizzle(qh, sel), QH_BIT);
  return v128.and(i8x16.eq(bit, QH_BIT), i8x16.splat(16));
}

/** Quants 0..15 of a Q5 block (values 0..31) from qs (16 bytes) and qh (u32 splat). */
@inline
export function q5_lo(qs: v128, qh: v128): v128 {
  return v128.or(nibbles_lo(qs), q5_bits(qh, QH_BYTE_LO));
}

/** Quants 16..31 of a Q5 block (values 0..31). */
@inline
export function q5_hi(qs: v128, qh: v128): v128 {
  return v128.or(nibbles_hi(qs), q5_bits(qh, QH_BYTE_HI));
}

export function dequant_row_q5_1(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 24;
    const d = f32x4.splat(load_f16(p));
    const m = f32x4.splat(load_f16(p + 2));
    const qh = i32x4.splat(load<i32>(p + 4));
    const v = v128.load(p, 8);
    const o = dst + ((<usize>b) << 7);
    store_u8x16_scaled(o, q5_lo(v, qh), d, m);
    store_u8x16_scaled(o + 64, q5_hi(v, qh), d, m);
  }
}

/** Σ q·q_x of one block (unsigned 0..31), spread over four i32 lanes. */
@inline
function block_sum(p: usize, y: usize): v128 {
  const qh = i32x4.splat(load<i32>(p + 4));
  const v = v128.load(p, 8);
  return dot_unsigned(q5_lo(v, qh), q5_hi(v, qh), y, i32x4.splat(0));
}

export function dot_q5_1(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  const sx = dx + ((<usize>nb) << 2);
  let acc = f32x4.splat(0);
  let accm = f32x4.splat(0);
  let b = 0;
  for (; b + 4 <= nb; b += 4) {
    const p = w + <usize>b * 24;
    const y = xq + <usize>b * QS_BLOCK;
    const s = hadd4_i32(block_sum(p, y), block_sum(p + 24, y + QS_BLOCK),
      block_sum(p + 48, y + 2 * QS_BLOCK), block_sum(p + 72, y + 3 * QS_BLOCK));
    const bo = (<usize>b) << 2;
    acc = madd_f32x4(f32x4.convert_i32x4_s(s), f32x4.mul(gather_f16x4(p, 24), v128.load(dx + bo)), acc);
    accm = madd_f32x4(gather_f16x4(p + 2, 24), v128.load(sx + bo), accm);
  }
  let sum = hsum_f32x4(acc);
  let mins = hsum_f32x4(accm);
  // the last nb mod 4 blocks, one at a time
  for (; b < nb; b++) {
    const p = w + <usize>b * 24;
    const bo = (<usize>b) << 2;
    const isum = hsum_i32x4(block_sum(p, xq + <usize>b * QS_BLOCK));
    sum += <f32>isum * (load_f16(p) * load<f32>(dx + bo));
    mins += load_f16(p + 2) * load<f32>(sx + bo);
  }
  return sum + mins;
}

export function dot_q5_1_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  const sx = dx + ((<usize>nb) << 2);
  let sum: f32 = 0;
  let mins: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const p = w + <usize>b * 24;
    const y = xq + <usize>b * QS_BLOCK;
    const bo = (<usize>b) << 2;
    const qh = load<u32>(p + 4);
    let s = 0;
    for (let j = 0; j < 16; j++) {
      const q = <i32>load<u8>(p + 8 + <usize>j);
      const q0 = (q & 15) | (<i32>((qh >> j) & 1) << 4);
      const q1 = (q >> 4) | (<i32>((qh >> (j + 16)) & 1) << 4);
      s += q0 * act_q(y, j) + q1 * act_q(y, j + 16);
    }
    sum += <f32>s * (load_f16(p) * load<f32>(dx + bo));
    mins += load_f16(p + 2) * load<f32>(sx + bo);
  }
  return sum + mins;
}
