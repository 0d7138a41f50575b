// Q4_K weights: super-blocks of 256 elements, 144 bytes (ggml block_q4_K), 8 sub-blocks of 32
// elements, each with a 6-bit scale and a 6-bit min.
//
//   byte 0        2           4                      16                                     144
//        ┌────────┬───────────┬──────────────────────┬──────────────────────────────────────┐
//        │ d f16  │ dmin f16  │ scales u8[12]        │ qs u8[128]                           │
//        └────────┴───────────┴──────────────────────┴──────────────────────────────────────┘
//   w = d·sc_s·q − dmin·m_s   for element i in sub-block s = i / 32, q in 0..15
//
//   scales (6 bits each; sc = scale, m = min, s = sub-block):
//     byte 0..3    bits 0-5: sc0..sc3    bits 6-7: bits 4-5 of sc4..sc7
//     byte 4..7    bits 0-5: m0..m3      bits 6-7: bits 4-5 of m4..m7
//     byte 8..11   bits 0-3: bits 0-3 of sc4..sc7   bits 4-7: bits 0-3 of m4..m7
//   qs: four chunks of 32 bytes; chunk c byte l holds element 64c + l in its low nibble (sub-block
//   2c) and element 64c + 32 + l in its high nibble (sub-block 2c + 1).
//
// Dot against Q8_K x (act_q8_k.ts), as the AVX2 ggml_vec_dot_q4_K_q8_K (ggml-cpu/arch/x86/quants.c;
// the same in the Feb-2025 and Sep-2026 builds, repacking off). Its float sums keep the integer
// lanes of its registers, one f32 rounding per lane and super-block, so this does too:
//   lane l (0..7) = Σ_s sc_s · Σ q·x over elements 4(l%4) … 4(l%4)+3 of the half l/4 (elements 0..15
//                   or 16..31) of sub-block s, over the 8 sub-blocks (_mm256_madd_epi16 lanes);
//   acc_l = fma(dx·d, f32(lane l), acc_l); the mins in four lanes, lane k = m_{2k}·bsum32_{2k} +
//   m_{2k+1}·bsum32_{2k+1} (kcommon.ts mins_pairs_lanes), accm_k = fma(−dx·dmin, f32(lane k), accm_k);
//   result hsum_float_8(acc) + ((accm_0 + accm_2) + (accm_1 + accm_3)).
// (Feb 2025: replaying one dx·d·Σ per super-block instead left these files' logits 1-2e-7 off at
// most positions, with flips of an activation rounding where the sums differed in the last bit.)
// The fused multiply-adds: kcommon.ts fma_d_f32x4 / fma_d_f32. The SIMD kernel and its scalar twin
// compute the same integers and the same floats, so they agree bit for bit.
//
// Relaxed build: the nibbles (0..15) are relaxed_dot's 7-bit operand (kcommon.ts scaled16v).
// Baseline build: each 16-byte load of qs is read as 8 i16 lanes, and its four nibbles per lane are
// elements 2k, 2k+1 of sub-block 2c (low nibbles of the two bytes) and 2k, 2k+1 of sub-block 2c+1
// (high nibbles): one mask or shift each gives i16 weights lined up with x's evens and odds, with
// no byte-to-i16 widening at all.
import { store_u8x16_scaled, hsum_f32x4 } from "./common";
import { q8k_qs, q8k_d, q8k_bsums, q8k_at } from "./act_q8_k";
import {
  xat, byte_of, k4_sc03, k4_m03, k4_sc47, k4_m47, mins_pairs_lanes, scaled16v, scales4, fma_d_f32x4, fma_d_f32,
  scale_splat0, scale_splat1, scale_splat2, scale_splat3, mask, MASK_0F, MASK_000F, load_f16_finite, load_f16_exact,
} from "./kcommon";

export const Q4_K_BYTES: i32 = 144;

export function dequant_row_q4_k(src: usize, dst: usize, n: i32): void {
  const nb = n >> 8;
  for (let b = 0; b < nb; b++) {
    const w = src + <usize>b * Q4_K_BYTES;
    const d = load_f16_exact(w);
    const dmin = load_f16_exact(w + 2);
    const u0 = load<u32>(w, 4);
    const u1 = load<u32>(w, 8);
    const u2 = load<u32>(w, 12);
    const sc03 = k4_sc03(u0), sc47 = k4_sc47(u0, u2), m03 = k4_m03(u1), m47 = k4_m47(u1, u2);
    const o = dst + ((<usize>b) << 10);
    for (let c = 0; c < 4; c++) {
      const sw = c < 2 ? sc03 : sc47;
      const mw = c < 2 ? m03 : m47;
      const k = (c & 1) << 1;
      // gguf-py: (d·sc)·q − dmin·m, each product rounded to f32
      const da = f32x4.splat(d * <f32>byte_of(sw, k));
      const ma = f32x4.splat(-(dmin * <f32>byte_of(mw, k)));
      const db = f32x4.splat(d * <f32>byte_of(sw, k + 1));
      const mb = f32x4.splat(-(dmin * <f32>byte_of(mw, k + 1)));
      const q = w + 16 + (<usize>c << 5);
      const oc = o + (<usize>c << 8);
      const v0 = v128.load(q, 0);
      const v1 = v128.load(q, 16);
      const m4 = i8x16.splat(0x0f);
      store_u8x16_scaled(oc, v128.and(v0, m4), da, ma);
      store_u8x16_scaled(oc + 64, v128.and(v1, m4), da, ma);
      store_u8x16_scaled(oc + 128, v128.and(i16x8.shr_u(v0, 4), m4), db, mb);
      store_u8x16_scaled(oc + 192, v128.and(i16x8.shr_u(v1, 4), m4), db, mb);
    }
  }
}

/**
 * acc + the scaled sums of one half of both sub-blocks of a 64-element chunk: v the 16 qs bytes of
 * that half (low nibbles: sub-block 2c, scale splat sa, x quants at xl; high nibbles: sub-block 2c+1,
 * sb, xh); m the nibble mask (bytes 0x0f relaxed, i16 0x000f baseline). Lane p gets elements 4p … 4p+3
 * of the half, ggml's lane p (half 0) or 4 + p (half 1).
 */
@inline
function half(v: v128, xl: usize, xh: usize, sa: v128, sb: v128, m: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    acc = scaled16v(v128.and(v, m), xl, sa, acc);
    return scaled16v(v128.and(i16x8.shr_u(v, 4), m), xh, sb, acc);
  } else {
    // x: i16 evens at +0, odds at +16 of each 16-group (act_q8_k.ts)
    const a = i32x4.add(
      i32x4.dot_i16x8_s(v128.and(v, m), v128.load(xl, 0)),
      i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 8), m), v128.load(xl, 16)),
    );
    const s = i32x4.add(
      i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 4), m), v128.load(xh, 0)),
      i32x4.dot_i16x8_s(i16x8.shr_u(v, 12), v128.load(xh, 16)),
    );
    return i32x4.add(i32x4.add(acc, i32x4.mul(a, sa)), i32x4.mul(s, sb));
  }
}

export function dot_q4_k(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  const m = mask(ASC_FEATURE_RELAXED_SIMD ? MASK_0F : MASK_000F);
  let accLo = f32x4.splat(0); // ggml's lanes 0..3
  let accHi = f32x4.splat(0); // ggml's lanes 4..7
  let accM = f32x4.splat(0); //  the mins' four lanes
  for (let b = 0; b < nb; b++) {
    const u0 = load<u32>(w, 4);
    const u1 = load<u32>(w, 8);
    const u2 = load<u32>(w, 12);
    // A loop over the four 64-element chunks, not inlined copies: V8 hoists every load of a long
    // straight block to its top, and spills what does not fit 16 registers (measured on the earlier
    // one-accumulator kernel, 4096x4096 in cache: Node 20 baseline 4.3 GB/s with four inlined
    // chunks, 5.4 with one per pass; Node 24 relaxed 9.35 with two per pass and the masks hoisted).
    // The kernel is bound by its vector ALU operations, not by loads: with the scale multiplies
    // left out (a wrong result) it ran 21% faster; with the x addresses folded into the loads'
    // offsets (16 fewer lea per super-block), or two rows per pass sharing every x load, the bsums'
    // pair sums and dx (rows half the range apart, as Q4_0's matvec4_q4_0), it ran 0-4% slower
    // (Node 24 and 20, 4096x4096 from DRAM, interleaved A/B in one process).
    let q = w + 16;
    let x = q8k_qs(xq, b);
    let lo = i32x4.splat(0);
    let hi = i32x4.splat(0);
    if (ASC_FEATURE_RELAXED_SIMD) {
      let sc = k4_sc03(u0);
      for (let h = 0; h < 2; h++) {
        const s = scales4(sc);
        const s0 = scale_splat0(s), s1 = scale_splat1(s), s2 = scale_splat2(s), s3 = scale_splat3(s);
        lo = half(v128.load(q, 0), x, xat(x, 32), s0, s1, m, lo);
        hi = half(v128.load(q, 16), xat(x, 16), xat(x, 48), s0, s1, m, hi);
        lo = half(v128.load(q, 32), xat(x, 64), xat(x, 96), s2, s3, m, lo);
        hi = half(v128.load(q, 48), xat(x, 80), xat(x, 112), s2, s3, m, hi);
        sc = k4_sc47(u0, u2);
        q += 64;
        x = xat(x, 128);
      }
    } else {
      let sc = <u64>k4_sc03(u0) | (<u64>k4_sc47(u0, u2) << 32);
      for (let c = 0; c < 4; c++) {
        const sa = i32x4.splat(<i32>(sc & 0xff));
        const sb = i32x4.splat(<i32>((sc >> 8) & 0xff));
        lo = half(v128.load(q, 0), x, xat(x, 32), sa, sb, m, lo);
        hi = half(v128.load(q, 16), xat(x, 16), xat(x, 48), sa, sb, m, hi);
        sc >>= 16;
        q += 32;
        x = xat(x, 64);
      }
    }
    const mins = mins_pairs_lanes(q8k_bsums(xq, n, b), k4_m03(u1), k4_m47(u1, u2));
    const dx = q8k_d(xq, n, b);
    accLo = fma_d_f32x4((dx * load_f16_finite(w)), f32x4.convert_i32x4_s(lo), accLo);
    accHi = fma_d_f32x4((dx * load_f16_finite(w)), f32x4.convert_i32x4_s(hi), accHi);
    accM = fma_d_f32x4((-dx * load_f16_finite(w + 2)), f32x4.convert_i32x4_s(mins), accM);
    w += Q4_K_BYTES;
  }
  return hsum_f32x4(f32x4.add(accLo, accHi)) + hsum_f32x4(accM);
}

export function dot_q4_k_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0, a4: f32 = 0, a5: f32 = 0, a6: f32 = 0, a7: f32 = 0;
  let m0: f32 = 0, m1: f32 = 0, m2: f32 = 0, m3: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const u0 = load<u32>(w, 4);
    const u1 = load<u32>(w, 8);
    const u2 = load<u32>(w, 12);
    const qs = q8k_qs(xq, b);
    const bs = q8k_bsums(xq, n, b);
    const dx = q8k_d(xq, n, b);
    const d = (dx * load_f16_finite(w));
    a0 = fma_d_f32(d, <f32>lane_q4_k(w, qs, u0, u2, 0), a0);
    a1 = fma_d_f32(d, <f32>lane_q4_k(w, qs, u0, u2, 1), a1);
    a2 = fma_d_f32(d, <f32>lane_q4_k(w, qs, u0, u2, 2), a2);
    a3 = fma_d_f32(d, <f32>lane_q4_k(w, qs, u0, u2, 3), a3);
    a4 = fma_d_f32(d, <f32>lane_q4_k(w, qs, u0, u2, 4), a4);
    a5 = fma_d_f32(d, <f32>lane_q4_k(w, qs, u0, u2, 5), a5);
    a6 = fma_d_f32(d, <f32>lane_q4_k(w, qs, u0, u2, 6), a6);
    a7 = fma_d_f32(d, <f32>lane_q4_k(w, qs, u0, u2, 7), a7);
    const dm = (-dx * load_f16_finite(w + 2));
    const m03 = k4_m03(u1), m47 = k4_m47(u1, u2);
    m0 = fma_d_f32(dm, <f32>min_lane_q4_k(bs, m03, m47, 0), m0);
    m1 = fma_d_f32(dm, <f32>min_lane_q4_k(bs, m03, m47, 1), m1);
    m2 = fma_d_f32(dm, <f32>min_lane_q4_k(bs, m03, m47, 2), m2);
    m3 = fma_d_f32(dm, <f32>min_lane_q4_k(bs, m03, m47, 3), m3);
    w += Q4_K_BYTES;
  }
  return (((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))) + ((m0 + m2) + (m1 + m3));
}

/** ggml's integer lane l (0..7) of one super-block (see the header), element by element. */
function lane_q4_k(w: usize, qs: usize, u0: u32, u2: u32, l: i32): i32 {
  const sc03 = k4_sc03(u0), sc47 = k4_sc47(u0, u2);
  let lane = 0;
  for (let s = 0; s < 8; s++) {
    const sc = byte_of(s < 4 ? sc03 : sc47, s & 3);
    const q = w + 16 + ((<usize>(s >> 1)) << 5);
    const shift = (s & 1) << 2;
    let dot = 0;
    for (let e = 0; e < 4; e++) {
      const j = 16 * (l >> 2) + 4 * (l & 3) + e; // element of sub-block s
      dot += ((<i32>load<u8>(q + <usize>j) >> shift) & 15) * q8k_at(qs, (s << 5) + j);
    }
    lane += sc * dot;
  }
  return lane;
}

/** The mins' lane k (0..3): m_{2k}·(Σ x of sub-block 2k) + m_{2k+1}·(Σ x of sub-block 2k+1), from the bsums. */
function min_lane_q4_k(bs: usize, m03: u32, m47: u32, k: i32): i32 {
  let lane = 0;
  for (let s = 2 * k; s < 2 * k + 2; s++) {
    const m = byte_of(s < 4 ? m03 : m47, s & 3);
    lane += m * (<i32>load<i16>(bs + ((<usize>s) << 2)) + <i32>load<i16>(bs + ((<usize>s) << 2) + 2));
  }
  return lane;
}
