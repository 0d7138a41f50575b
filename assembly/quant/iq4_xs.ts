// IQ4_XS weights: super-blocks of 256 elements, 136 bytes (ggml block_iq4_xs), 8 sub-blocks of 32
// elements, each with a signed 6-bit scale; IQ4_NL's non-linear codebook instead of q − 8.
//
//   byte 0       2               4                8                                            136
//        ┌───────┬───────────────┬────────────────┬────────────────────────────────────────────┐
//        │ d f16 │ scales_h u16  │ scales_l u8[4] │ qs u8[128]                                 │
//        └───────┴───────────────┴────────────────┴────────────────────────────────────────────┘
//   w = d·(ls_s − 32)·K[q]   for element i in sub-block s = i / 32, q in 0..15
//
//   ls_s (6 bits) = (scales_l[s / 2] >> 4·(s % 2)) & 0xF  |  ((scales_h >> 2s) & 3) << 4
//   qs: 16 bytes per sub-block; byte j of sub-block s holds element 32s + j in its low nibble and
//       element 32s + 16 + j in its high nibble.
//   K = kvalues_iq4nl = -127 -104 -83 -65 -49 -35 -22 -10 1 13 25 38 53 69 89 113
//
// Dot against Q8_K x (act_q8_k.ts), as ggml's ggml_vec_dot_iq4_xs_q8_K: the codebook lookup is one
// swizzle per 16 quants; Σ_s (ls_s − 32)·Σ K[q]·x, then Σ += dx·d·sumi. K is signed, so the relaxed
// build moves each weight's sign onto x (K is negative exactly for q < 8, a second swizzle gives the
// mask) and feeds |K| ≤ 127 to relaxed_dot as its 7-bit operand; pair sums ≤ 2·127·127 fit i16.
// The SIMD kernel and its scalar twin agree bit for bit.
import { load_f16, store_s8x16_scaled, hsum_i32x4 } from "./common";
import { q8k_qs, q8k_d, q8k_at } from "./act_q8_k";
import { xat, dot_s8_x16 } from "./kcommon";

export const IQ4_XS_BYTES: i32 = 136;

const KVALUES: v128 = i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
const KABS: v128 = i8x16(127, 104, 83, 65, 49, 35, 22, 10, 1, 13, 25, 38, 53, 69, 89, 113);
const KNEG: v128 = i8x16(-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0);

/** Scale of sub-block s minus 32. */
@inline
function iq4_scale(w: usize, s: i32): i32 {
  const l = (<i32>load<u8>(w + 4 + <usize>(s >> 1)) >> ((s & 1) << 2)) & 15;
  const h = (<i32>load<u16>(w, 2) >> (s << 1)) & 3;
  return (l | (h << 4)) - 32;
}

export function dequant_row_iq4_xs(src: usize, dst: usize, n: i32): void {
  const nb = n >> 8;
  const m4 = i8x16.splat(0x0f);
  for (let b = 0; b < nb; b++) {
    const w = src + <usize>b * IQ4_XS_BYTES;
    const d = load_f16(w);
    const o = dst + ((<usize>b) << 10);
    for (let s = 0; s < 8; s++) {
      const v = v128.load(w + 8 + (<usize>s << 4));
      // gguf-py: (d·(ls − 32))·K[q], one rounding after the exact scale product
      const dl = f32x4.splat(d * <f32>iq4_scale(w, s));
      const e = o + (<usize>s << 7);
      store_s8x16_scaled(e, i8x16.swizzle(KVALUES, v128.and(v, m4)), dl);
      store_s8x16_scaled(e + 64, i8x16.swizzle(KVALUES, v128.and(i16x8.shr_u(v, 4), m4)), dl);
    }
  }
}

/** acc + sc · Σ K[idx]·x over 16 elements (idx: 16 nibbles 0..15, x: their activation quants). */
@inline
function kdot16(idx: v128, x: usize, sc: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    // idx ≤ 15, so the relaxed swizzle is exact; x·sign(K) by (x ^ neg) − neg, x is never −128
    const neg = i8x16.relaxed_swizzle(KNEG, idx);
    const sx = i8x16.sub(v128.xor(v128.load(x), neg), neg);
    const p = i16x8.relaxed_dot_i8x16_i7x16_s(sx, i8x16.relaxed_swizzle(KABS, idx));
    return i32x4.add(acc, i32x4.dot_i16x8_s(p, sc));
  } else {
    return i32x4.add(acc, i32x4.mul(dot_s8_x16(i8x16.swizzle(KVALUES, idx), x), sc));
  }
}

export function dot_iq4_xs(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  const m4 = i8x16.splat(0x0f);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    let acc = i32x4.splat(0);
    let x = q8k_qs(xq, b);
    let q = w + 8;
    for (let s = 0; s < 8; s++) {
      const sc = ASC_FEATURE_RELAXED_SIMD ? i16x8.splat(<i16>iq4_scale(w, s)) : i32x4.splat(iq4_scale(w, s));
      const v = v128.load(q);
      acc = kdot16(v128.and(v, m4), x, sc, acc);
      acc = kdot16(v128.and(i16x8.shr_u(v, 4), m4), xat(x, 16), sc, acc);
      q += 16;
      x = xat(x, 32);
    }
    sum += (q8k_d(xq, n, b) * load_f16(w)) * <f32>hsum_i32x4(acc);
    w += IQ4_XS_BYTES;
  }
  return sum;
}

/** The codebook for the scalar twin. */
const KVALUE_TABLE: StaticArray<i8> = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

export function dot_iq4_xs_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  const kv = changetype<usize>(KVALUE_TABLE);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const qs = q8k_qs(xq, b);
    let sumi = 0;
    for (let s = 0; s < 8; s++) {
      let dot = 0;
      for (let j = 0; j < 16; j++) {
        const byte = <i32>load<u8>(w + 8 + <usize>((s << 4) + j));
        dot += <i32>load<i8>(kv + <usize>(byte & 15)) * q8k_at(qs, (s << 5) + j);
        dot += <i32>load<i8>(kv + <usize>(byte >> 4)) * q8k_at(qs, (s << 5) + 16 + j);
      }
      sumi += iq4_scale(w, s) * dot;
    }
    sum += (q8k_d(xq, n, b) * load_f16(w)) * <f32>sumi;
    w += IQ4_XS_BYTES;
  }
  return sum;
}
