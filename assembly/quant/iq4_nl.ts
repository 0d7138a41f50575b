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
// sign moves to x, as in common.ts dot_s8).
import { load_f16, hadd4_i32, gather_f16x4, hsum_f32x4, hsum_i32x4, madd_f32x4, store_s8x16_scaled, nibbles_lo, nibbles_hi } from "./common";
import { QS_BLOCK, qs_bytes, act_q, dot_signed } from "./act_q8_0";

export const IQ4_NL_BYTES: i32 = 18;

const KVALUES: v128 = i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

export function dequant_row_iq4_nl(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 18;
    const d = f32x4.splat(load_f16(p));
    const v = v128.load(p, 2);
    const o = dst + ((<usize>b) << 7);
    store_s8x16_scaled(o, i8x16.swizzle(KVALUES, nibbles_lo(v)), d);
    store_s8x16_scaled(o + 64, i8x16.swizzle(KVALUES, nibbles_hi(v)), d);
  }
}

/** Σ K[q]·q_x of one block, spread over four i32 lanes. */
@inline
function block_sum(p: usize, y: usize): v128 {
  const v = v128.load(p, 2);
  return dot_signed(i8x16.swizzle(KVALUES, nibbles_lo(v)), i8x16.swizzle(KVALUES, nibbles_hi(v)), y, i32x4.splat(0));
}

export function dot_iq4_nl(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  let acc = f32x4.splat(0);
  let b = 0;
  for (; b + 4 <= nb; b += 4) {
    const p = w + <usize>b * 18;
    const y = xq + <usize>b * QS_BLOCK;
    const s = hadd4_i32(block_sum(p, y), block_sum(p + 18, y + QS_BLOCK),
      block_sum(p + 36, y + 2 * QS_BLOCK), block_sum(p + 54, y + 3 * QS_BLOCK));
    const scale = f32x4.mul(gather_f16x4(p, 18), v128.load(dx + ((<usize>b) << 2)));
    acc = madd_f32x4(f32x4.convert_i32x4_s(s), scale, acc);
  }
  let sum = hsum_f32x4(acc);
  // the last nb mod 4 blocks, one at a time
  for (; b < nb; b++) {
    const p = w + <usize>b * 18;
    const isum = hsum_i32x4(block_sum(p, xq + <usize>b * QS_BLOCK));
    sum += <f32>isum * (load_f16(p) * load<f32>(dx + ((<usize>b) << 2)));
  }
  return sum;
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
    sum += <f32>s * (load_f16(p) * load<f32>(dx + ((<usize>b) << 2)));
  }
  return sum;
}
