// IQ4_NL weights: blocks of 32 elements, 18 bytes (ggml block_iq4_nl): Q4_0's layout with a
// non-linear codebook instead of q − 8.
//
//   byte 0       2                                  18
//        ┌───────┬──────────────────────────────────┐
//        │ d f16 │ qs u8[16]                        │     w_i = d · K[q_i],  q_i in 0..15
//        └───────┴──────────────────────────────────┘
//   qs[j] = q_j | q_(j+16) << 4    (low nibbles: elements 0..15, high nibbles: 16..31)
//   K = kvalues_iq4nl = -127 -104 -83 -65 -49 -35 -22 -10 1 13 25 38 53 69 89 113
//
// Activations: act_q8_0.ts. The kernel looks the codebook up with one swizzle per 16 quants and
// multiplies signed quants (relaxed build: |K| ≤ 127 fits relaxed_dot's 7-bit operand once the
// sign moves to x, act_q8_0.ts half_s8), summed in ggml's order (act_q8_0.ts; tinyBLAS's, one
// accumulator; ggml_vec_dot_iq4_nl_q8_0 alternates two).
import { load_f16, f16_raw, swizzle16, hsum_f32x4, madd_f32x4, store_s8x16_scaled, nibbles_lo, nibbles_hi, kconst, K_IQ4NL, K_NIB8 } from "./common";
import { QS_BLOCK, HALF, qs_bytes, act_q, act_scale, signed_half } from "./act_q8_0";

export const IQ4_NL_BYTES: i32 = 18;

export function dequant_row_iq4_nl(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  const kv = kconst(K_IQ4NL);
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 18;
    const d = f32x4.splat(load_f16(p));
    const v = v128.load(p, 2);
    const o = dst + ((<usize>b) << 7);
    store_s8x16_scaled(o, swizzle16(kv, nibbles_lo(v)), d);
    store_s8x16_scaled(o + 64, swizzle16(kv, nibbles_hi(v)), d);
  }
}

export function dot_iq4_nl(w: usize, xq: usize, n: i32): f32 {
  const kv = kconst(K_IQ4NL);
  const nib = kconst(K_NIB8);
  let dp = xq + qs_bytes(n);
  let p = w;
  let y = xq;
  let accLo = f32x4.splat(0);
  let accHi = f32x4.splat(0);
  for (let b = n >> 5; b > 0; b--) {
    const v = v128.load(p, 2);
    const lo = signed_half(swizzle16(kv, v128.and(v, nib)), y);
    const hi = signed_half(swizzle16(kv, v128.and(i16x8.shr_u(v, 4), nib)), y + HALF);
    const d = f32x4.splat(f16_raw(p) * load<f32>(dp));
    accLo = madd_f32x4(f32x4.convert_i32x4_s(lo), d, accLo);
    accHi = madd_f32x4(f32x4.convert_i32x4_s(hi), d, accHi);
    p += 18;
    y += QS_BLOCK;
    dp += 4;
  }
  return hsum_f32x4(f32x4.add(accLo, accHi));
}

const KVALUE_TABLE: StaticArray<i8> = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

@inline
function kvalue(q: i32): i32 {
  return <i32>load<i8>(changetype<usize>(KVALUE_TABLE) + <usize>q);
}

export function dot_iq4_nl_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const p = w + <usize>b * 18;
    const y = xq + <usize>b * QS_BLOCK;
    let s = 0;
    for (let j = 0; j < 16; j++) {
      const q = <i32>load<u8>(p + 2 + <usize>j);
      s += kvalue(q & 15) * act_q(y, j) + kvalue(q >> 4) * act_q(y, j + 16);
    }
    sum += <f32>s * (load_f16(p) * act_scale(dx + ((<usize>b) << 2)));
  }
  return sum;
}
