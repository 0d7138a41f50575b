// Q4_1 weights: blocks of 32 elements, 20 bytes (ggml block_q4_1).
//
//   byte 0       2       4                                  20
//        ┌───────┬───────┬──────────────────────────────────┐
//        │ d f16 │ m f16 │ qs u8[16]                        │   w_i = d · q_i + m,  q_i in 0..15
//        └───────┴───────┴──────────────────────────────────┘
//   qs[j] = q_j | q_(j+16) << 4    (low nibbles: elements 0..15, high nibbles: 16..31)
//
// Activations: act_q8_0.ts, using its s = f16(d_x·Σq_x) like ggml's Q8_1:
//   Σ w·x̂ = d·d_x·Σ q·q_x + m·s    (ggml_vec_dot_q4_1_q8_1, in its summation order: act_q8_0.ts,
//   the m·s terms summed apart in sequence and added last)
import { load_f16, f16_raw, hsum_f32x4, madd_f32x4, store_u8x16_scaled, nibbles_lo, nibbles_hi } from "./common";
import { QS_BLOCK, qs_bytes, act_q, act_scale, nibble_mask, nib_lo, nib_hi } from "./act_q8_0";

export const Q4_1_BYTES: i32 = 20;

export function dequant_row_q4_1(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 20;
    const d = f32x4.splat(load_f16(p));
    const m = f32x4.splat(load_f16(p + 2));
    const v = v128.load(p, 4);
    const o = dst + ((<usize>b) << 7);
    store_u8x16_scaled(o, nibbles_lo(v), d, m);
    store_u8x16_scaled(o + 64, nibbles_hi(v), d, m);
  }
}

export function dot_q4_1(w: usize, xq: usize, n: i32): f32 {
  const m = nibble_mask();
  const nb = n >> 5;
  let dp = xq + qs_bytes(n);
  const sOff = (<usize>nb) << 2;
  let p = w;
  let y = xq;
  let accLo = f32x4.splat(0);
  let accHi = f32x4.splat(0);
  let mins: f32 = 0;
  for (let b = nb; b > 0; b--) {
    const v = v128.load(p, 4);
    const d = f32x4.splat(f16_raw(p) * load<f32>(dp));
    accLo = madd_f32x4(f32x4.convert_i32x4_s(nib_lo(v, y, m)), d, accLo);
    accHi = madd_f32x4(f32x4.convert_i32x4_s(nib_hi(v, y, m)), d, accHi);
    mins += f16_raw(p + 2) * load<f32>(dp + sOff);
    p += 20;
    y += QS_BLOCK;
    dp += 4;
  }
  return hsum_f32x4(f32x4.add(accLo, accHi)) + mins;
}

export function dot_q4_1_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  const sx = dx + ((<usize>nb) << 2);
  let sum: f32 = 0;
  let mins: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const p = w + <usize>b * 20;
    const y = xq + <usize>b * QS_BLOCK;
    const bo = (<usize>b) << 2;
    let s = 0;
    for (let j = 0; j < 16; j++) {
      const q = <i32>load<u8>(p + 4 + <usize>j);
      s += (q & 15) * act_q(y, j) + (q >> 4) * act_q(y, j + 16);
    }
    sum += <f32>s * (load_f16(p) * act_scale(dx + bo));
    mins += load_f16(p + 2) * act_scale(sx + bo);
  }
  return sum + mins;
}
