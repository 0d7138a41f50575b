// Q2_K weights: super-blocks of 256 elements, 84 bytes (ggml block_q2_K), 16 sub-blocks of 16
// elements, each with a 4-bit scale and a 4-bit min.
//
//   byte 0                  16                                   80       82          84
//        ┌──────────────────┬────────────────────────────────────┬────────┬───────────┐
//        │ scales u8[16]    │ qs u8[64]                          │ d f16  │ dmin f16  │
//        └──────────────────┴────────────────────────────────────┴────────┴───────────┘
//   w = d·sc_s·q − dmin·m_s   for element i in sub-block s = i / 16, q in 0..3
//
//   scales[s]: low nibble = sc_s, high nibble = m_s.
//   qs: two halves of 32 bytes; half h byte l holds four 2-bit quants, bits 2j..2j+1 = element
//   128h + 32j + l (j = 0..3).
//
// Dot against Q8_K x (act_q8_k.ts), as ggml's ggml_vec_dot_q2_K_q8_K: Σ_s sc_s·Σ q·x and the min
// term Σ_s m_s·bsums_s, then Σ += dx·d·sumi − dx·dmin·summ. The SIMD kernel and its scalar twin
// agree bit for bit.
import { store_u8x16_scaled, hsum_i32x4 } from "./common";
import { q8k_qs, q8k_d, q8k_bsums, q8k_at } from "./act_q8_k";
import { xat, scales_dot_bsums, scaled16, scaled16v, mask, MASK_03, MASK_0F, load_f16_finite, load_f16_exact } from "./kcommon";

export const Q2_K_BYTES: i32 = 84;

export function dequant_row_q2_k(src: usize, dst: usize, n: i32): void {
  const nb = n >> 8;
  const m3 = mask(MASK_03);
  for (let b = 0; b < nb; b++) {
    const w = src + <usize>b * Q2_K_BYTES;
    const d = load_f16_exact(w + 80);
    const dmin = load_f16_exact(w + 82);
    const o = dst + ((<usize>b) << 10);
    for (let h = 0; h < 2; h++) {
      let v0 = v128.load(w + 16 + (<usize>h << 5), 0);
      let v1 = v128.load(w + 16 + (<usize>h << 5), 16);
      for (let j = 0; j < 4; j++) {
        const s = (h << 3) + (j << 1);
        const sa = <i32>load<u8>(w + <usize>s);
        const sb = <i32>load<u8>(w + <usize>s + 1);
        const e = o + (<usize>(s << 4) << 2);
        // gguf-py: (d·sc)·q − dmin·m, each product rounded to f32
        const da = f32x4.splat(d * <f32>(sa & 15));
        const db = f32x4.splat(d * <f32>(sb & 15));
        store_u8x16_scaled(e, v128.and(v0, m3), da, f32x4.splat(-(dmin * <f32>(sa >> 4))));
        store_u8x16_scaled(e + 64, v128.and(v1, m3), db, f32x4.splat(-(dmin * <f32>(sb >> 4))));
        v0 = i16x8.shr_u(v0, 2);
        v1 = i16x8.shr_u(v1, 2);
      }
    }
  }
}

/**
 * Relaxed build: acc + the 8 scaled 16-groups of one half (qs bytes at q, x its first quant), the
 * half's 8 scales as i16 lanes in s, splat by shuffles; unrolled, as the relaxed steps are small.
 */
@inline
function half_relaxed(q: usize, x: usize, s: v128, m3: v128, acc: v128): v128 {
  const v0 = v128.load(q, 0);
  const v1 = v128.load(q, 16);
  acc = scaled16v(v128.and(v0, m3), x, v128.shuffle<i16>(s, s, 0, 0, 0, 0, 0, 0, 0, 0), acc);
  acc = scaled16v(v128.and(v1, m3), xat(x, 16), v128.shuffle<i16>(s, s, 1, 1, 1, 1, 1, 1, 1, 1), acc);
  acc = scaled16v(v128.and(i16x8.shr_u(v0, 2), m3), xat(x, 32), v128.shuffle<i16>(s, s, 2, 2, 2, 2, 2, 2, 2, 2), acc);
  acc = scaled16v(v128.and(i16x8.shr_u(v1, 2), m3), xat(x, 48), v128.shuffle<i16>(s, s, 3, 3, 3, 3, 3, 3, 3, 3), acc);
  acc = scaled16v(v128.and(i16x8.shr_u(v0, 4), m3), xat(x, 64), v128.shuffle<i16>(s, s, 4, 4, 4, 4, 4, 4, 4, 4), acc);
  acc = scaled16v(v128.and(i16x8.shr_u(v1, 4), m3), xat(x, 80), v128.shuffle<i16>(s, s, 5, 5, 5, 5, 5, 5, 5, 5), acc);
  acc = scaled16v(v128.and(i16x8.shr_u(v0, 6), m3), xat(x, 96), v128.shuffle<i16>(s, s, 6, 6, 6, 6, 6, 6, 6, 6), acc);
  return scaled16v(v128.and(i16x8.shr_u(v1, 6), m3), xat(x, 112), v128.shuffle<i16>(s, s, 7, 7, 7, 7, 7, 7, 7, 7), acc);
}

export function dot_q2_k(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  const m3 = mask(MASK_03);
  const m0f = mask(MASK_0F);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    let acc = i32x4.splat(0);
    let x = q8k_qs(xq, b);
    if (ASC_FEATURE_RELAXED_SIMD) {
      // scales widened once per half and splat by shuffles, the half unrolled: 3.7 → 4.4 GB/s in
      // cache (Node 24) against the loop below, which the baseline build keeps (its steps spill)
      for (let h = 0; h < 2; h++) {
        const sc = i16x8.extend_low_i8x16_u(v128.and(v128.load64_splat(w + (<usize>h << 3)), m0f));
        acc = half_relaxed(w + 16 + (<usize>h << 5), x, sc, m3, acc);
        x = xat(x, 128);
      }
    } else {
      let s = w;
      for (let h = 0; h < 2; h++) {
        // shifting the 16-bit lanes right by 2 each step keeps bits 0-1 of every byte that byte's
        // own next pair (bits crossing from the neighbour byte land at bit 6 and above)
        let v0 = v128.load(w + 16 + (<usize>h << 5), 0);
        let v1 = v128.load(w + 16 + (<usize>h << 5), 16);
        for (let j = 0; j < 4; j++) {
          acc = scaled16(v128.and(v0, m3), x, <i32>load<u8>(s, 0) & 15, acc);
          acc = scaled16(v128.and(v1, m3), xat(x, 16), <i32>load<u8>(s, 1) & 15, acc);
          v0 = i16x8.shr_u(v0, 2);
          v1 = i16x8.shr_u(v1, 2);
          s += 2;
          x = xat(x, 32);
        }
      }
    }
    const mins = v128.and(i16x8.shr_u(v128.load(w), 4), m0f);
    const summ = scales_dot_bsums(q8k_bsums(xq, n, b), mins);
    const dx = q8k_d(xq, n, b);
    sum += (dx * load_f16_finite(w + 80)) * <f32>hsum_i32x4(acc) - (dx * load_f16_finite(w + 82)) * <f32>summ;
    w += Q2_K_BYTES;
  }
  return sum;
}

export function dot_q2_k_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const qs = q8k_qs(xq, b);
    const bs = q8k_bsums(xq, n, b);
    let sumi = 0;
    let summ = 0;
    for (let s = 0; s < 16; s++) {
      const sm = <i32>load<u8>(w + <usize>s);
      let dot = 0;
      for (let l = 0; l < 16; l++) {
        const i = (s << 4) + l; // element: half i / 128, pair j = (i / 32) % 4, byte l = i % 32
        const q = (<i32>load<u8>(w + 16 + <usize>(((i >> 7) << 5) + (i & 31))) >> (((i >> 5) & 3) << 1)) & 3;
        dot += q * q8k_at(qs, i);
      }
      sumi += (sm & 15) * dot;
      summ += (sm >> 4) * <i32>load<i16>(bs + ((<usize>s) << 1));
    }
    const dx = q8k_d(xq, n, b);
    sum += (dx * load_f16_finite(w + 80)) * <f32>sumi - (dx * load_f16_finite(w + 82)) * <f32>summ;
    w += Q2_K_BYTES;
  }
  return sum;
}
