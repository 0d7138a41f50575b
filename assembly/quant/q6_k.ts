// Q6_K weights: super-blocks of 256 elements, 210 bytes (ggml block_q6_K), 16 sub-blocks of 16
// elements, each with a signed 8-bit scale.
//
//   byte 0                        128                 192              208       210
//        ┌────────────────────────┬───────────────────┬────────────────┬─────────┐
//        │ ql u8[128] (low 4 bits)│ qh u8[64] (2 bits)│ scales i8[16]  │ d f16   │
//        └────────────────────────┴───────────────────┴────────────────┴─────────┘
//   w = d·sc_s·(q − 32)   for element i in sub-block s = i / 16, q in 0..63
//
//   Two halves of 128 elements; half h uses ql[64h … 64h+63] and qh[32h … 32h+31]. For l in 0..31:
//     element 128h + l       q = ql[64h + l]      & 0xF  |  (qh[32h + l] bits 0-1) << 4
//     element 128h + l + 32  q = ql[64h + l + 32] & 0xF  |  (qh[32h + l] bits 2-3) << 4
//     element 128h + l + 64  q = ql[64h + l]      >> 4   |  (qh[32h + l] bits 4-5) << 4
//     element 128h + l + 96  q = ql[64h + l + 32] >> 4   |  (qh[32h + l] bits 6-7) << 4
//
// Dot against Q8_K x (act_q8_k.ts), as ggml's ggml_vec_dot_q6_K_q8_K: the unsigned q (0..63) go into
// the integer dot (relaxed_dot's 7-bit operand in the relaxed build), and the −32 comes back through
// the bsums: Σ_s sc_s·Σ (q−32)·x = Σ_s sc_s·Σ q·x − 32·Σ_s sc_s·bsums_s. Then Σ += (dx·d)·sumi.
// The SIMD kernel and its scalar twin compute the same integers and floats: equal bit for bit.
import { store_s8x16_scaled, hsum_i32x4 } from "./common";
import { QK_K, q8k_qs, q8k_d, q8k_bsums, q8k_at } from "./act_q8_k";
import { xat, scales_dot_bsums, scaled16v, mask, MASK_0F, MASK_30, load_f16_finite, load_f16_exact } from "./kcommon";

export const Q6_K_BYTES: i32 = 210;

/** The four 16-byte groups of q (0..63) built from ql bytes ql0 / ql1 and qh bytes hb (masks 0x0f, 0x30). */
@inline
function q6_lo0(ql0: v128, hb: v128, m0f: v128, m30: v128): v128 {
  return v128.or(v128.and(ql0, m0f), v128.and(i16x8.shl(hb, 4), m30));
}
@inline
function q6_lo1(ql1: v128, hb: v128, m0f: v128, m30: v128): v128 {
  return v128.or(v128.and(ql1, m0f), v128.and(i16x8.shl(hb, 2), m30));
}
@inline
function q6_hi0(ql0: v128, hb: v128, m0f: v128, m30: v128): v128 {
  return v128.or(v128.and(i16x8.shr_u(ql0, 4), m0f), v128.and(hb, m30));
}
@inline
function q6_hi1(ql1: v128, hb: v128, m0f: v128, m30: v128): v128 {
  return v128.or(v128.and(i16x8.shr_u(ql1, 4), m0f), v128.and(i16x8.shr_u(hb, 2), m30));
}
// (16-bit shifts: the 0x30 / 0x0f masks drop every bit that crossed into the neighbouring byte)

export function dequant_row_q6_k(src: usize, dst: usize, n: i32): void {
  const nb = n >> 8;
  const m32 = i8x16.splat(32);
  const m0f = mask(MASK_0F);
  const m30 = mask(MASK_30);
  for (let b = 0; b < nb; b++) {
    const w = src + <usize>b * Q6_K_BYTES;
    const d = load_f16_exact(w + 208);
    const o = dst + ((<usize>b) << 10);
    for (let h = 0; h < 2; h++) {
      for (let lg = 0; lg < 32; lg += 16) {
        const ql = w + <usize>(64 * h + lg);
        const ql0 = v128.load(ql, 0);
        const ql1 = v128.load(ql, 32);
        const hb = v128.load(w + <usize>(128 + 32 * h + lg));
        const s = w + 192 + <usize>(8 * h + (lg >> 4));
        const e = o + (<usize>(128 * h + lg) << 2);
        // gguf-py: (d·sc)·(q − 32), one rounding after the exact scale product
        store_s8x16_scaled(e, i8x16.sub(q6_lo0(ql0, hb, m0f, m30), m32), f32x4.splat(d * <f32>load<i8>(s, 0)));
        store_s8x16_scaled(e + 128, i8x16.sub(q6_lo1(ql1, hb, m0f, m30), m32), f32x4.splat(d * <f32>load<i8>(s, 2)));
        store_s8x16_scaled(e + 256, i8x16.sub(q6_hi0(ql0, hb, m0f, m30), m32), f32x4.splat(d * <f32>load<i8>(s, 4)));
        store_s8x16_scaled(e + 384, i8x16.sub(q6_hi1(ql1, hb, m0f, m30), m32), f32x4.splat(d * <f32>load<i8>(s, 6)));
      }
    }
  }
}

/**
 * acc + the four scaled 16-groups of one l-group: q from ql bytes at ql (and ql + 32), qh bytes hb;
 * x the quants of its first group (the others follow at +32, +64, +96 elements); s0..s3 the four
 * sub-block scales splat.
 */
@inline
function step(
  ql: usize, hb: v128, x: usize, s0: v128, s1: v128, s2: v128, s3: v128, m0f: v128, m30: v128, acc: v128,
): v128 {
  const ql0 = v128.load(ql, 0);
  const ql1 = v128.load(ql, 32);
  acc = scaled16v(q6_lo0(ql0, hb, m0f, m30), x, s0, acc);
  acc = scaled16v(q6_lo1(ql1, hb, m0f, m30), xat(x, 32), s1, acc);
  acc = scaled16v(q6_hi0(ql0, hb, m0f, m30), xat(x, 64), s2, acc);
  return scaled16v(q6_hi1(ql1, hb, m0f, m30), xat(x, 96), s3, acc);
}

export function dot_q6_k(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  const m0f = mask(MASK_0F);
  const m30 = mask(MASK_30);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    let acc = i32x4.splat(0);
    // A loop over the four l-groups, not inlined copies: V8 hoists every load of a long straight
    // block and spills. Relaxed: two groups per pass fit the registers (Node 24, in cache: 6.8 →
    // 10.2 GB/s with the masks hoisted and scales splat by shuffles); baseline: one (two spill).
    // The group's four sub-block scales are bytes 0, 2, 4, 6 at s, widened once and splat by shuffles.
    if (ASC_FEATURE_RELAXED_SIMD) {
      let x = q8k_qs(xq, b);
      let ql = w;
      let qh = w + 128;
      for (let h = 0; h < 2; h++) {
        const sv = i16x8.extend_low_i8x16_s(v128.load64_splat(w + 192 + (<usize>h << 3)));
        acc = step(ql, v128.load(qh, 0), x,
          v128.shuffle<i16>(sv, sv, 0, 0, 0, 0, 0, 0, 0, 0), v128.shuffle<i16>(sv, sv, 2, 2, 2, 2, 2, 2, 2, 2),
          v128.shuffle<i16>(sv, sv, 4, 4, 4, 4, 4, 4, 4, 4), v128.shuffle<i16>(sv, sv, 6, 6, 6, 6, 6, 6, 6, 6), m0f, m30, acc);
        acc = step(ql + 16, v128.load(qh, 16), xat(x, 16),
          v128.shuffle<i16>(sv, sv, 1, 1, 1, 1, 1, 1, 1, 1), v128.shuffle<i16>(sv, sv, 3, 3, 3, 3, 3, 3, 3, 3),
          v128.shuffle<i16>(sv, sv, 5, 5, 5, 5, 5, 5, 5, 5), v128.shuffle<i16>(sv, sv, 7, 7, 7, 7, 7, 7, 7, 7), m0f, m30, acc);
        ql += 64;
        qh += 32;
        x = xat(x, 128);
      }
    } else {
      const qs = q8k_qs(xq, b);
      for (let t = 0; t < 4; t++) {
        const h = t >> 1;
        const o = (t & 1) << 4; // the l-group: l = o … o + 15 of half h
        const sv = i16x8.extend_low_i8x16_s(v128.load64_splat(w + <usize>(192 + 8 * h + (t & 1))));
        const lo = i32x4.extend_low_i16x8_s(sv);
        const hi = i32x4.extend_high_i16x8_s(sv);
        acc = step(w + <usize>(64 * h + o), v128.load(w + <usize>(128 + 32 * h + o)), xat(qs, 128 * h + o),
          v128.shuffle<i32>(lo, lo, 0, 0, 0, 0), v128.shuffle<i32>(lo, lo, 2, 2, 2, 2),
          v128.shuffle<i32>(hi, hi, 0, 0, 0, 0), v128.shuffle<i32>(hi, hi, 2, 2, 2, 2), m0f, m30, acc);
      }
    }
    const off = scales_dot_bsums(q8k_bsums(xq, n, b), v128.load(w, 192));
    const sumi = hsum_i32x4(acc) - 32 * off;
    sum += (q8k_d(xq, n, b) * load_f16_finite(w + 208)) * <f32>sumi;
    w += Q6_K_BYTES;
  }
  return sum;
}

export function dot_q6_k_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const qs = q8k_qs(xq, b);
    const bs = q8k_bsums(xq, n, b);
    let sumi = 0;
    let off = 0;
    for (let i = 0; i < QK_K; i++) {
      const h = i >> 7;
      const r = i & 127; // position in the half: quarter r / 32, l = r % 32
      const l = r & 31;
      const quarter = r >> 5;
      const lo = <i32>load<u8>(w + <usize>(64 * h + l + ((quarter & 1) << 5)));
      const hi = <i32>load<u8>(w + <usize>(128 + 32 * h + l));
      const q = ((lo >> ((quarter >> 1) << 2)) & 15) | (((hi >> (quarter << 1)) & 3) << 4);
      sumi += <i32>load<i8>(w + 192 + <usize>(i >> 4)) * q * q8k_at(qs, i);
    }
    for (let s = 0; s < 16; s++) off += <i32>load<i8>(w + 192 + <usize>s) * <i32>load<i16>(bs + ((<usize>s) << 1));
    sumi -= 32 * off;
    sum += (q8k_d(xq, n, b) * load_f16_finite(w + 208)) * <f32>sumi;
    w += Q6_K_BYTES;
  }
  return sum;
}
