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
import { store_s8x16_scaled, hsum_i32x4 } from "./common";
import { q8k_qs, q8k_d, q8k_at } from "./act_q8_k";
import { xat, dot_s8_x16, mask, MASK_0F, load_f16_finite, load_f16_exact } from "./kcommon";

export const IQ4_XS_BYTES: i32 = 136;

// The codebook K, |K| and the mask of K < 0, as tables loaded once per call (as kcommon.ts mask():
// V8 rebuilds a v128.const at each use inside a loop).
const TABLES: StaticArray<i8> = [
  -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113, // K
  127, 104, 83, 65, 49, 35, 22, 10, 1, 13, 25, 38, 53, 69, 89, 113, // |K|
  -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0, // K < 0
  0, 64, 0, 16, 0, 4, 0, 1, 64, 0, 16, 0, 4, 0, 1, 0, // i16 2^(14 − 2s), s = 0..7: bits 2s..2s+1 to the top
];
@inline
function table(k: i32): v128 {
  return v128.load(changetype<usize>(TABLES) + ((<usize>k) << 4));
}

/** Scale of sub-block s minus 32. */
@inline
function iq4_scale(w: usize, s: i32): i32 {
  const l = (<i32>load<u8>(w + 4 + <usize>(s >> 1)) >> ((s & 1) << 2)) & 15;
  const h = (<i32>load<u16>(w, 2) >> (s << 1)) & 3;
  return (l | (h << 4)) - 32;
}

export function dequant_row_iq4_xs(src: usize, dst: usize, n: i32): void {
  const nb = n >> 8;
  const m4 = mask(MASK_0F);
  const kv = table(0);
  for (let b = 0; b < nb; b++) {
    const w = src + <usize>b * IQ4_XS_BYTES;
    const d = load_f16_exact(w);
    const o = dst + ((<usize>b) << 10);
    for (let s = 0; s < 8; s++) {
      const v = v128.load(w + 8 + (<usize>s << 4));
      // gguf-py: (d·(ls − 32))·K[q], one rounding after the exact scale product
      const dl = f32x4.splat(d * <f32>iq4_scale(w, s));
      const e = o + (<usize>s << 7);
      store_s8x16_scaled(e, i8x16.swizzle(kv, v128.and(v, m4)), dl);
      store_s8x16_scaled(e + 64, i8x16.swizzle(kv, v128.and(i16x8.shr_u(v, 4), m4)), dl);
    }
  }
}

/**
 * acc + sc · Σ K[idx]·x over 16 elements (idx: 16 nibbles 0..15, x: their activation quants; t0, t1:
 * table(0), table(1) baseline, table(1), table(2) relaxed).
 */
@inline
function kdot16(idx: v128, x: usize, sc: v128, t0: v128, t1: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    // idx ≤ 15, so the relaxed swizzle is exact; x·sign(K) by (x ^ neg) − neg, x is never −128
    const neg = i8x16.relaxed_swizzle(t1, idx);
    const sx = i8x16.sub(v128.xor(v128.load(x), neg), neg);
    const p = i16x8.relaxed_dot_i8x16_i7x16_s(sx, i8x16.relaxed_swizzle(t0, idx));
    return i32x4.add(acc, i32x4.dot_i16x8_s(p, sc));
  } else {
    return i32x4.add(acc, i32x4.mul(dot_s8_x16(i8x16.swizzle(t0, idx), x), sc));
  }
}

/**
 * The 8 sub-block scales ls_s − 32 as i16 lanes, unpacked at once: scales_l nibbles interleaved
 * (low nibble of byte k is sub-block 2k, high nibble 2k + 1), scales_h's bit pairs lifted to the top
 * of each lane by a multiply with 2^(14 − 2s) and brought down by a shift of 14.
 */
@inline
function iq4_scales(w: usize, m0f: v128, pow: v128): v128 {
  const v = i32x4.splat(load<i32>(w, 4));
  const lo = v128.and(v, m0f);
  const hi = v128.and(i16x8.shr_u(v, 4), m0f);
  const l = i16x8.extend_low_i8x16_u(i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 0, 16, 1, 17, 2, 18, 3, 19));
  const h = i16x8.shr_u(i16x8.mul(i16x8.splat(<i16>load<u16>(w, 2)), pow), 14);
  return i16x8.sub(v128.or(l, i16x8.shl(h, 4)), i16x8.splat(32));
}

/** acc + the four sub-blocks at q (16 bytes each), x their first quant, s scales (4 splat-able lanes). */
@inline
function pass4(q: usize, x: usize, s: v128, m4: v128, t0: v128, t1: v128, acc: v128): v128 {
  let sc = ASC_FEATURE_RELAXED_SIMD ? v128.shuffle<i16>(s, s, 0, 0, 0, 0, 0, 0, 0, 0) : v128.shuffle<i32>(s, s, 0, 0, 0, 0);
  let v = v128.load(q, 0);
  acc = kdot16(v128.and(v, m4), x, sc, t0, t1, acc);
  acc = kdot16(v128.and(i16x8.shr_u(v, 4), m4), xat(x, 16), sc, t0, t1, acc);
  sc = ASC_FEATURE_RELAXED_SIMD ? v128.shuffle<i16>(s, s, 1, 1, 1, 1, 1, 1, 1, 1) : v128.shuffle<i32>(s, s, 1, 1, 1, 1);
  v = v128.load(q, 16);
  acc = kdot16(v128.and(v, m4), xat(x, 32), sc, t0, t1, acc);
  acc = kdot16(v128.and(i16x8.shr_u(v, 4), m4), xat(x, 48), sc, t0, t1, acc);
  sc = ASC_FEATURE_RELAXED_SIMD ? v128.shuffle<i16>(s, s, 2, 2, 2, 2, 2, 2, 2, 2) : v128.shuffle<i32>(s, s, 2, 2, 2, 2);
  v = v128.load(q, 32);
  acc = kdot16(v128.and(v, m4), xat(x, 64), sc, t0, t1, acc);
  acc = kdot16(v128.and(i16x8.shr_u(v, 4), m4), xat(x, 80), sc, t0, t1, acc);
  sc = ASC_FEATURE_RELAXED_SIMD ? v128.shuffle<i16>(s, s, 3, 3, 3, 3, 3, 3, 3, 3) : v128.shuffle<i32>(s, s, 3, 3, 3, 3);
  v = v128.load(q, 48);
  acc = kdot16(v128.and(v, m4), xat(x, 96), sc, t0, t1, acc);
  return kdot16(v128.and(i16x8.shr_u(v, 4), m4), xat(x, 112), sc, t0, t1, acc);
}

export function dot_iq4_xs(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  const m4 = mask(MASK_0F);
  const t0 = ASC_FEATURE_RELAXED_SIMD ? table(1) : table(0);
  const t1 = table(2);
  const pow = table(3);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    let acc = i32x4.splat(0);
    const x = q8k_qs(xq, b);
    if (ASC_FEATURE_RELAXED_SIMD) {
      // scales unpacked once per block and splat by shuffles, two passes of four sub-blocks:
      // measured 4.6 → 6.2 GB/s in cache (Node 24) against a scalar unpack per sub-block
      const s = iq4_scales(w, m4, pow);
      acc = pass4(w + 8, x, s, m4, t0, t1, acc);
      acc = pass4(w + 72, xat(x, 128), v128.shuffle<i64>(s, s, 1, 1), m4, t0, t1, acc);
    } else {
      // one sub-block per pass: four per pass spill on Node 20 (4.3 → 2.7 GB/s)
      let q = w + 8;
      let xs = x;
      for (let k = 0; k < 8; k++) {
        const sc = i32x4.splat(iq4_scale(w, k));
        const v = v128.load(q);
        acc = kdot16(v128.and(v, m4), xs, sc, t0, t1, acc);
        acc = kdot16(v128.and(i16x8.shr_u(v, 4), m4), xat(xs, 16), sc, t0, t1, acc);
        q += 16;
        xs = xat(xs, 32);
      }
    }
    sum += (q8k_d(xq, n, b) * load_f16_finite(w)) * <f32>hsum_i32x4(acc);
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
    sum += (q8k_d(xq, n, b) * load_f16_finite(w)) * <f32>sumi;
    w += IQ4_XS_BYTES;
  }
  return sum;
}
