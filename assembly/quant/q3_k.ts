// Q3_K weights: super-blocks of 256 elements, 110 bytes (ggml block_q3_K), 16 sub-blocks of 16
// elements, each with a signed 6-bit scale.
//
//   byte 0              32                              96               108      110
//        ┌──────────────┬───────────────────────────────┬────────────────┬────────┐
//        │ hmask u8[32] │ qs u8[64]                     │ scales u8[12]  │ d f16  │
//        └──────────────┴───────────────────────────────┴────────────────┴────────┘
//   w = d·(sc_s − 32)·(q − 4)   for element i in sub-block s = i / 16, q = lo | hbit << 2 in 0..7
//
//   qs: two halves of 32 bytes; half h byte l, bits 2j..2j+1 = lo of element 128h + 32j + l.
//   hmask[l] bit 4h + j = hbit of element 128h + 32j + l (ggml stores "q ≥ 0", so a clear bit
//   means −4: the value is lo − 4·(1 − hbit) = q − 4).
//   scales, 16 six-bit values (s = sub-block):
//     byte 0..7    bits 0-3: low 4 bits of sc0..sc7      bits 4-7: low 4 bits of sc8..sc15
//     byte 8..11   bits 2k..2k+1 of byte 8 + (s % 4): high 2 bits of sc_s, k = s / 4
//
// Dot against Q8_K x (act_q8_k.ts), as ggml's ggml_vec_dot_q3_K_q8_K: the unsigned q (0..7) go into
// the integer dot, the −4 comes back through the bsums: Σ_s S_s·Σ (q−4)·x = Σ_s S_s·Σ q·x −
// 4·Σ_s S_s·bsums_s with S_s = sc_s − 32; then Σ += dx·d·sumi. SIMD and scalar agree bit for bit.
import { store_s8x16_scaled, hsum_i32x4 } from "./common";
import { q8k_qs, q8k_d, q8k_bsums, q8k_at } from "./act_q8_k";
import { xat, byte_of, scales_dot_bsums, scaled16, scaled16v, mask, MASK_03, MASK_04, load_f16_finite, load_f16_exact } from "./kcommon";

export const Q3_K_BYTES: i32 = 110;

/**
 * The 16 scales minus 32 as signed bytes (ggml's dequantize_row_q3_K aux[] unpacking, kmask1 =
 * 0x03030303, kmask2 = 0x0f0f0f0f), built from the 12 scale bytes at p.
 */
@inline
function q3_scales(p: usize): v128 {
  const a0 = load<u32>(p, 0);
  const a1 = load<u32>(p, 4);
  const t = load<u32>(p, 8);
  const s0 = (a0 & 0x0f0f0f0f) | ((t & 0x03030303) << 4);
  const s1 = (a1 & 0x0f0f0f0f) | (((t >> 2) & 0x03030303) << 4);
  const s2 = ((a0 >> 4) & 0x0f0f0f0f) | (((t >> 4) & 0x03030303) << 4);
  const s3 = ((a1 >> 4) & 0x0f0f0f0f) | (((t >> 6) & 0x03030303) << 4);
  const lo = i32x4.replace_lane(i32x4.splat(<i32>s0), 1, <i32>s1);
  const v = i32x4.replace_lane(i32x4.replace_lane(lo, 2, <i32>s2), 3, <i32>s3);
  return i8x16.sub(v, i8x16.splat(32));
}

/** 16 quants q = lo | hbit << 2: lo from bits 0-1 of each byte of v, hbit from bit 0 of each byte of hc. */
@inline
function q3(v: v128, hc: v128, m3: v128, m4: v128): v128 {
  return v128.or(v128.and(v, m3), v128.and(i16x8.shl(hc, 2), m4));
}
// v and hc are shifted right as 16-bit lanes between steps (by 2 and by 1): bits 0-1 of every byte
// stay that byte's own bits, what crosses over from the next byte lands at bit 8 − shift and above.

export function dequant_row_q3_k(src: usize, dst: usize, n: i32): void {
  const nb = n >> 8;
  const m3 = mask(MASK_03);
  const m4 = mask(MASK_04);
  for (let b = 0; b < nb; b++) {
    const w = src + <usize>b * Q3_K_BYTES;
    const d = load_f16_exact(w + 108);
    const sv = q3_scales(w + 96);
    let h0 = v128.load(w, 0);
    let h1 = v128.load(w, 16);
    const o = dst + ((<usize>b) << 10);
    for (let h = 0; h < 2; h++) {
      let sc = h == 0 ? i64x2.extract_lane(sv, 0) : i64x2.extract_lane(sv, 1);
      let v0 = v128.load(w + 32 + (<usize>h << 5), 0);
      let v1 = v128.load(w + 32 + (<usize>h << 5), 16);
      for (let j = 0; j < 4; j++) {
        const e = o + (<usize>((h << 7) + (j << 5)) << 2);
        // gguf-py: (d·(sc − 32))·(q − 4), one rounding after the exact scale product
        store_s8x16_scaled(e, i8x16.sub(q3(v0, h0, m3, m4), m4), f32x4.splat(d * <f32><i8>sc));
        store_s8x16_scaled(e + 64, i8x16.sub(q3(v1, h1, m3, m4), m4), f32x4.splat(d * <f32><i8>(sc >> 8)));
        sc >>= 16;
        v0 = i16x8.shr_u(v0, 2);
        v1 = i16x8.shr_u(v1, 2);
        h0 = i16x8.shr_u(h0, 1);
        h1 = i16x8.shr_u(h1, 1);
      }
    }
  }
}

/**
 * Relaxed build: acc + the 8 scaled 16-groups of one half (qs bytes at q, hmask bytes hm0 / hm1
 * already shifted to this half, x its first quant), the half's 8 signed scales as i16 lanes in s.
 */
@inline
function half_relaxed(q: usize, hm0: v128, hm1: v128, x: usize, s: v128, m3: v128, m4: v128, acc: v128): v128 {
  const v0 = v128.load(q, 0);
  const v1 = v128.load(q, 16);
  acc = scaled16v(q3(v0, hm0, m3, m4), x, v128.shuffle<i16>(s, s, 0, 0, 0, 0, 0, 0, 0, 0), acc);
  acc = scaled16v(q3(v1, hm1, m3, m4), xat(x, 16), v128.shuffle<i16>(s, s, 1, 1, 1, 1, 1, 1, 1, 1), acc);
  acc = scaled16v(q3(i16x8.shr_u(v0, 2), i16x8.shr_u(hm0, 1), m3, m4), xat(x, 32), v128.shuffle<i16>(s, s, 2, 2, 2, 2, 2, 2, 2, 2), acc);
  acc = scaled16v(q3(i16x8.shr_u(v1, 2), i16x8.shr_u(hm1, 1), m3, m4), xat(x, 48), v128.shuffle<i16>(s, s, 3, 3, 3, 3, 3, 3, 3, 3), acc);
  acc = scaled16v(q3(i16x8.shr_u(v0, 4), i16x8.shr_u(hm0, 2), m3, m4), xat(x, 64), v128.shuffle<i16>(s, s, 4, 4, 4, 4, 4, 4, 4, 4), acc);
  acc = scaled16v(q3(i16x8.shr_u(v1, 4), i16x8.shr_u(hm1, 2), m3, m4), xat(x, 80), v128.shuffle<i16>(s, s, 5, 5, 5, 5, 5, 5, 5, 5), acc);
  acc = scaled16v(q3(i16x8.shr_u(v0, 6), i16x8.shr_u(hm0, 3), m3, m4), xat(x, 96), v128.shuffle<i16>(s, s, 6, 6, 6, 6, 6, 6, 6, 6), acc);
  return scaled16v(q3(i16x8.shr_u(v1, 6), i16x8.shr_u(hm1, 3), m3, m4), xat(x, 112), v128.shuffle<i16>(s, s, 7, 7, 7, 7, 7, 7, 7, 7), acc);
}

export function dot_q3_k(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  const m3 = mask(MASK_03);
  const m4 = mask(MASK_04);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const sv = q3_scales(w + 96);
    let h0 = v128.load(w, 0);
    let h1 = v128.load(w, 16);
    let acc = i32x4.splat(0);
    let x = q8k_qs(xq, b);
    if (ASC_FEATURE_RELAXED_SIMD) {
      // scales widened once and splat by shuffles, each half unrolled: 3.8 → 4.5 GB/s in cache
      // (Node 24) against the loop below, which the baseline build keeps (its steps spill)
      const g0 = i16x8.shr_u(h0, 4);
      const g1 = i16x8.shr_u(h1, 4);
      acc = half_relaxed(w + 32, h0, h1, x, i16x8.extend_low_i8x16_s(sv), m3, m4, acc);
      acc = half_relaxed(w + 64, g0, g1, xat(x, 128), i16x8.extend_high_i8x16_s(sv), m3, m4, acc);
    } else {
      // the 16 signed scales as one u64 per half, a byte each, consumed two per step
      const lo = i64x2.extract_lane(sv, 0);
      const hi = i64x2.extract_lane(sv, 1);
      for (let h = 0; h < 2; h++) {
        let sc = h == 0 ? lo : hi;
        let v0 = v128.load(w + 32 + (<usize>h << 5), 0);
        let v1 = v128.load(w + 32 + (<usize>h << 5), 16);
        for (let j = 0; j < 4; j++) {
          acc = scaled16(q3(v0, h0, m3, m4), x, <i32><i8>sc, acc);
          acc = scaled16(q3(v1, h1, m3, m4), xat(x, 16), <i32><i8>(sc >> 8), acc);
          sc >>= 16;
          v0 = i16x8.shr_u(v0, 2);
          v1 = i16x8.shr_u(v1, 2);
          h0 = i16x8.shr_u(h0, 1);
          h1 = i16x8.shr_u(h1, 1);
          x = xat(x, 32);
        }
      }
    }
    const sumi = hsum_i32x4(acc) - 4 * scales_dot_bsums(q8k_bsums(xq, n, b), sv);
    sum += (q8k_d(xq, n, b) * load_f16_finite(w + 108)) * <f32>sumi;
    w += Q3_K_BYTES;
  }
  return sum;
}

export function dot_q3_k_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const qs = q8k_qs(xq, b);
    const bs = q8k_bsums(xq, n, b);
    const a0 = load<u32>(w, 96);
    const a1 = load<u32>(w, 100);
    const t = load<u32>(w, 104);
    let sumi = 0;
    for (let s = 0; s < 16; s++) {
      // 6-bit scale s: low nibble from byte s % 8 (low half for s < 8, high half above), high 2 bits
      // from byte 8 + s % 4 at bits 2·(s / 4)
      const low = (byte_of(s < 4 || (s >= 8 && s < 12) ? a0 : a1, s & 3) >> ((s >> 3) << 2)) & 15;
      const high = (byte_of(t, s & 3) >> ((s >> 2) << 1)) & 3;
      const scale = (low | (high << 4)) - 32;
      let dot = 0;
      for (let l = 0; l < 16; l++) {
        const i = (s << 4) + l; // half i / 128, pair j = (i / 32) % 4, byte l = i % 32
        const lo2 = (<i32>load<u8>(w + 32 + <usize>(((i >> 7) << 5) + (i & 31))) >> (((i >> 5) & 3) << 1)) & 3;
        const hbit = (<i32>load<u8>(w + <usize>(i & 31)) >> (((i >> 7) << 2) + ((i >> 5) & 3))) & 1;
        dot += ((lo2 | (hbit << 2)) - 4) * q8k_at(qs, i);
      }
      sumi += scale * dot;
    }
    sum += (q8k_d(xq, n, b) * load_f16_finite(w + 108)) * <f32>sumi;
    w += Q3_K_BYTES;
  }
  return sum;
}
