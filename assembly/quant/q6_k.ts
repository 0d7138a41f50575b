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
// Dot against Q8_K x (act_q8_k.ts), as the AVX2 ggml_vec_dot_q6_K_q8_K of llama.cpp (Sep 2026,
// ggml-cpu/arch/x86/quants.c): the unsigned q (0..63) go into the integer dot (relaxed_dot's 7-bit
// operand in the relaxed build), and the −32 comes back through the bsums. The float sum keeps
// ggml's eight i32 lanes, because one f32 rounding per lane, not one per super-block, is what ggml
// does:
//   lane l (0..7) = Σ over the eight 32-element groups g of the super-block of sc_{2g + l/4} ·
//                   Σ q·x over elements 4(l%4) … 4(l%4)+3 of sub-block 2g + l/4
//                   − 32 · (sc_{2l}·bsums_{2l} + sc_{2l+1}·bsums_{2l+1})
//   acc_l = fma(dx·d, f32(lane l), acc_l) per super-block; the result is hsum_float_8(acc),
//   ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)).
// (The offset term per lane is _mm256_madd_epi16(bsums, scales) << 5. The Feb-2025 build subtracted
// 32·x per element inside each lane instead: same lane totals' sum, other lane values, so other
// roundings. Its references stay within their bounds; see test/parity.test.ts.)
// Here lanes 0..3 are `acc` of the l-groups at o = 0 (sub-blocks 0, 2, 4, … : the first 16 elements
// of each 32-group) and lanes 4..7 `acc` of those at o = 16; an l-group's scaled16v lane p holds
// elements 4p … 4p+3 of its 16, as ggml's madd lanes do.
// The fused multiply-add: kcommon.ts fma_d_f32x4 / fma_d_f32. The SIMD kernel and its scalar twin
// compute the same integers and floats: equal bit for bit.
import { store_s8x16_scaled, hsum_f32x4 } from "./common";
import { q8k_qs, q8k_d, q8k_bsums, q8k_at } from "./act_q8_k";
import { xat, scaled16v, mask, MASK_0F, MASK_30, load_f16_finite, load_f16_exact, fma_d_f32x4, fma_d_f32 } from "./kcommon";

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

/** The −32 offset of lanes 0..3 (sub-blocks 0..7) or 4..7 (8..15): 32·(sc_{2l}·bsums_{2l} + sc_{2l+1}·bsums_{2l+1}). */
@inline
function offset32(bs: usize, sc: v128): v128 {
  return i32x4.shl(i32x4.dot_i16x8_s(sc, v128.load(bs)), 5);
}

export function dot_q6_k(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  const m0f = mask(MASK_0F);
  const m30 = mask(MASK_30);
  let accLo = f32x4.splat(0); // ggml's lanes 0..3
  let accHi = f32x4.splat(0); // ggml's lanes 4..7
  for (let b = 0; b < nb; b++) {
    let lo = i32x4.splat(0);
    let hi = i32x4.splat(0);
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
        lo = step(ql, v128.load(qh, 0), x,
          v128.shuffle<i16>(sv, sv, 0, 0, 0, 0, 0, 0, 0, 0), v128.shuffle<i16>(sv, sv, 2, 2, 2, 2, 2, 2, 2, 2),
          v128.shuffle<i16>(sv, sv, 4, 4, 4, 4, 4, 4, 4, 4), v128.shuffle<i16>(sv, sv, 6, 6, 6, 6, 6, 6, 6, 6), m0f, m30, lo);
        hi = step(ql + 16, v128.load(qh, 16), xat(x, 16),
          v128.shuffle<i16>(sv, sv, 1, 1, 1, 1, 1, 1, 1, 1), v128.shuffle<i16>(sv, sv, 3, 3, 3, 3, 3, 3, 3, 3),
          v128.shuffle<i16>(sv, sv, 5, 5, 5, 5, 5, 5, 5, 5), v128.shuffle<i16>(sv, sv, 7, 7, 7, 7, 7, 7, 7, 7), m0f, m30, hi);
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
        const sl = i32x4.extend_low_i16x8_s(sv);
        const sh = i32x4.extend_high_i16x8_s(sv);
        const g = step(w + <usize>(64 * h + o), v128.load(w + <usize>(128 + 32 * h + o)), xat(qs, 128 * h + o),
          v128.shuffle<i32>(sl, sl, 0, 0, 0, 0), v128.shuffle<i32>(sl, sl, 2, 2, 2, 2),
          v128.shuffle<i32>(sh, sh, 0, 0, 0, 0), v128.shuffle<i32>(sh, sh, 2, 2, 2, 2), m0f, m30, i32x4.splat(0));
        if (t & 1) hi = i32x4.add(hi, g);
        else lo = i32x4.add(lo, g);
      }
    }
    const bs = q8k_bsums(xq, n, b);
    const sc = v128.load(w, 192);
    lo = i32x4.sub(lo, offset32(bs, i16x8.extend_low_i8x16_s(sc)));
    hi = i32x4.sub(hi, offset32(bs + 16, i16x8.extend_high_i8x16_s(sc)));
    const d = (q8k_d(xq, n, b) * load_f16_finite(w + 208));
    accLo = fma_d_f32x4(d, f32x4.convert_i32x4_s(lo), accLo);
    accHi = fma_d_f32x4(d, f32x4.convert_i32x4_s(hi), accHi);
    w += Q6_K_BYTES;
  }
  return hsum_f32x4(f32x4.add(accLo, accHi));
}

/** ggml's integer lane l (0..7) of one super-block (see the header), element by element. */
function lane_q6_k(w: usize, qs: usize, bs: usize, l: i32): i32 {
  let lane = 0;
  for (let g = 0; g < 8; g++) {
    const sub = 2 * g + (l >> 2); // elements 4(l%4) … 4(l%4)+3 of this sub-block
    let dot = 0;
    for (let e = 0; e < 4; e++) {
      const i = 16 * sub + 4 * (l & 3) + e;
      const h = i >> 7;
      const r = i & 127; // position in the half: quarter r / 32, j = r % 32
      const j = r & 31;
      const quarter = r >> 5;
      const lo = <i32>load<u8>(w + <usize>(64 * h + j + ((quarter & 1) << 5)));
      const hb = <i32>load<u8>(w + <usize>(128 + 32 * h + j));
      const q = ((lo >> ((quarter >> 1) << 2)) & 15) | (((hb >> (quarter << 1)) & 3) << 4);
      dot += q * q8k_at(qs, i);
    }
    lane += <i32>load<i8>(w + 192 + <usize>sub) * dot;
  }
  for (let s = 2 * l; s < 2 * l + 2; s++) lane -= 32 * <i32>load<i8>(w + 192 + <usize>s) * <i32>load<i16>(bs + ((<usize>s) << 1));
  return lane;
}

export function dot_q6_k_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0, a4: f32 = 0, a5: f32 = 0, a6: f32 = 0, a7: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const qs = q8k_qs(xq, b);
    const bs = q8k_bsums(xq, n, b);
    const d = (q8k_d(xq, n, b) * load_f16_finite(w + 208));
    a0 = fma_d_f32(d, <f32>lane_q6_k(w, qs, bs, 0), a0);
    a1 = fma_d_f32(d, <f32>lane_q6_k(w, qs, bs, 1), a1);
    a2 = fma_d_f32(d, <f32>lane_q6_k(w, qs, bs, 2), a2);
    a3 = fma_d_f32(d, <f32>lane_q6_k(w, qs, bs, 3), a3);
    a4 = fma_d_f32(d, <f32>lane_q6_k(w, qs, bs, 4), a4);
    a5 = fma_d_f32(d, <f32>lane_q6_k(w, qs, bs, 5), a5);
    a6 = fma_d_f32(d, <f32>lane_q6_k(w, qs, bs, 6), a6);
    a7 = fma_d_f32(d, <f32>lane_q6_k(w, qs, bs, 7), a7);
    w += Q6_K_BYTES;
  }
  return ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7));
}
