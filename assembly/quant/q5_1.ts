// Q5_1 weights: blocks of 32 elements, 24 bytes (ggml block_q5_1).
//
//   byte 0       2       4             8                                  24
//        ┌───────┬───────┬─────────────┬──────────────────────────────────┐
//        │ d f16 │ m f16 │ qh u8[4]    │ qs u8[16]                        │   w_i = d · q_i + m
//        └───────┴───────┴─────────────┴──────────────────────────────────┘
//   qs[j] = low 4 bits of q_j | low 4 bits of q_(j+16) << 4          q_i in 0..31
//   qh as a little-endian u32: bit i = bit 4 (the 16s) of q_i, i = 0..31
//
// Activations: act_q8_0.ts with s = f16(d_x·Σq_x) (ggml's Q8_1): Σ w·x̂ = d·d_x·Σ q·q_x + m·s, in
// ggml_vec_dot_q5_1_q8_1's summation order (act_q8_0.ts; the m·s terms summed apart, added last).
import { load_f16, f16_raw, swizzle16, hsum_f32x4, madd_f32x4, store_u8x16_scaled, kconst, K_NIB8, K_BYTE16, K_QH_LO, K_QH_HI, K_QH_BIT, K_SIXTEEN } from "./common";
import { QS_BLOCK, HALF, qs_bytes, act_q, act_scale, unsigned_half } from "./act_q8_0";

export const Q5_1_BYTES: i32 = 24;


/** The 16s bits of 16 elements chosen by `sel` from qh (u32 splat): 16 or 0 per byte. */
@inline
function q5_bits(qh: v128, sel: v128, bit: v128, sixteen: v128): v128 {
  const b = v128.and(swizzle16(qh, sel), bit);
  return v128.and(i8x16.eq(b, bit), sixteen);
}

/** Quants 0..15 (values 0..31) of a Q5 block from qs (16 bytes) and qh (u32 splat). */
@inline
export function q5_lo(qs: v128, qh: v128, nib: v128, sel: v128, bit: v128, sixteen: v128): v128 {
  return v128.or(v128.and(qs, nib), q5_bits(qh, sel, bit, sixteen));
}

/** Quants 16..31 (values 0..31). */
@inline
export function q5_hi(qs: v128, qh: v128, nib: v128, sel: v128, bit: v128, sixteen: v128): v128 {
  return v128.or(v128.and(i16x8.shr_u(qs, 4), nib), q5_bits(qh, sel, bit, sixteen));
}

export function dequant_row_q5_1(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  const nib = kconst(K_NIB8);
  const selLo = kconst(K_QH_LO);
  const selHi = kconst(K_QH_HI);
  const bit = kconst(K_QH_BIT);
  const sixteen = kconst(K_SIXTEEN);
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 24;
    const d = f32x4.splat(load_f16(p));
    const m = f32x4.splat(load_f16(p + 2));
    const qh = i32x4.splat(load<i32>(p + 4));
    const v = v128.load(p, 8);
    const o = dst + ((<usize>b) << 7);
    store_u8x16_scaled(o, q5_lo(v, qh, nib, selLo, bit, sixteen), d, m);
    store_u8x16_scaled(o + 64, q5_hi(v, qh, nib, selHi, bit, sixteen), d, m);
  }
}

export function dot_q5_1(w: usize, xq: usize, n: i32): f32 {
  const nib = kconst(K_NIB8);
  const selLo = kconst(K_QH_LO);
  const selHi = kconst(K_QH_HI);
  const bit = kconst(K_QH_BIT);
  const sixteen = kconst(K_SIXTEEN);
  const mb = kconst(K_BYTE16);
  const nb = n >> 5;
  let dp = xq + qs_bytes(n);
  const sOff = (<usize>nb) << 2;
  let p = w;
  let y = xq;
  let accLo = f32x4.splat(0);
  let accHi = f32x4.splat(0);
  let mins: f32 = 0;
  for (let b = nb; b > 0; b--) {
    const qh = i32x4.splat(load<i32>(p + 4));
    const v = v128.load(p, 8);
    const d = f32x4.splat(f16_raw(p) * load<f32>(dp));
    const lo = unsigned_half(q5_lo(v, qh, nib, selLo, bit, sixteen), y, mb);
    const hi = unsigned_half(q5_hi(v, qh, nib, selHi, bit, sixteen), y + HALF, mb);
    accLo = madd_f32x4(f32x4.convert_i32x4_s(lo), d, accLo);
    accHi = madd_f32x4(f32x4.convert_i32x4_s(hi), d, accHi);
    mins += f16_raw(p + 2) * load<f32>(dp + sOff);
    p += 24;
    y += QS_BLOCK;
    dp += 4;
  }
  return hsum_f32x4(f32x4.add(accLo, accHi)) + mins;
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
    sum += <f32>s * (load_f16(p) * act_scale(dx + bo));
    mins += load_f16(p + 2) * act_scale(sx + bo);
  }
  return sum + mins;
}
