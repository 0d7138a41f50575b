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
// bits) and 16·Σq_x is subtracted per group of 4 (the activation's sum4): the same eight lane
// integers as ggml's Σ(q − 16)·q_x, summed in its order (act_q8_0.ts).
import { load_f16, f16_raw, hsum_f32x4, madd_f32x4, store_s8x16_scaled, kconst, K_NIB8, K_BYTE16, K_QH_LO, K_QH_HI, K_QH_BIT, K_SIXTEEN } from "./common";
import { QS_BLOCK, HALF, qs_bytes, act_q, act_scale, unsigned_half } from "./act_q8_0";
import { q5_lo, q5_hi } from "./q5_1";

export const Q5_0_BYTES: i32 = 22;

export function dequant_row_q5_0(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  const nib = kconst(K_NIB8);
  const selLo = kconst(K_QH_LO);
  const selHi = kconst(K_QH_HI);
  const bit = kconst(K_QH_BIT);
  const sixteen = kconst(K_SIXTEEN);
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 22;
    const d = f32x4.splat(load_f16(p));
    const qh = i32x4.splat(load<i32>(p + 2));
    const v = v128.load(p, 6);
    const o = dst + ((<usize>b) << 7);
    store_s8x16_scaled(o, i8x16.sub(q5_lo(v, qh, nib, selLo, bit, sixteen), sixteen), d);
    store_s8x16_scaled(o + 64, i8x16.sub(q5_hi(v, qh, nib, selHi, bit, sixteen), sixteen), d);
  }
}

export function dot_q5_0(w: usize, xq: usize, n: i32): f32 {
  const nib = kconst(K_NIB8);
  const selLo = kconst(K_QH_LO);
  const selHi = kconst(K_QH_HI);
  const bit = kconst(K_QH_BIT);
  const sixteen = kconst(K_SIXTEEN);
  const mb = kconst(K_BYTE16);
  const nb = n >> 5;
  let dp = xq + qs_bytes(n);
  let cp = dp + 12 * <usize>nb; // the sum4 entries
  let p = w;
  let y = xq;
  let accLo = f32x4.splat(0);
  let accHi = f32x4.splat(0);
  for (let b = nb; b > 0; b--) {
    const qh = i32x4.splat(load<i32>(p + 2));
    const v = v128.load(p, 6);
    const d = f32x4.splat(f16_raw(p) * load<f32>(dp));
    const lo = i32x4.sub(unsigned_half(q5_lo(v, qh, nib, selLo, bit, sixteen), y, mb), i32x4.shl(v128.load(cp, 0), 4));
    const hi = i32x4.sub(unsigned_half(q5_hi(v, qh, nib, selHi, bit, sixteen), y + HALF, mb), i32x4.shl(v128.load(cp, 16), 4));
    accLo = madd_f32x4(f32x4.convert_i32x4_s(lo), d, accLo);
    accHi = madd_f32x4(f32x4.convert_i32x4_s(hi), d, accHi);
    p += 22;
    y += QS_BLOCK;
    dp += 4;
    cp += 32;
  }
  return hsum_f32x4(f32x4.add(accLo, accHi));
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
    sum += <f32>s * (load_f16(p) * act_scale(dx + ((<usize>b) << 2)));
  }
  return sum;
}
