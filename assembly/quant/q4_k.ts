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
// Dot against Q8_K x (act_q8_k.ts), as ggml's ggml_vec_dot_q4_K_q8_K: per super-block the integer
// sums Σ_s sc_s·Σ q·x and Σ_s m_s·(bsums pair of s), then Σ += dx·d·sumi − dx·dmin·summ. The SIMD
// kernel and its scalar twin compute the same integers and the same float expression, so they agree
// bit for bit.
//
// Relaxed build: the nibbles (0..15) are relaxed_dot's 7-bit operand (kcommon.ts scaled32v).
// Baseline build: each 16-byte load of qs is read as 8 i16 lanes, and its four nibbles per lane are
// elements 2k, 2k+1 of sub-block 2c (low nibbles of the two bytes) and 2k, 2k+1 of sub-block 2c+1
// (high nibbles): one mask or shift each gives i16 weights lined up with x's evens and odds, with
// no byte-to-i16 widening at all.
import { store_u8x16_scaled, hsum_i32x4 } from "./common";
import { q8k_qs, q8k_d, q8k_bsums, q8k_at } from "./act_q8_k";
import {
  xat, byte_of, k4_sc03, k4_m03, k4_sc47, k4_m47, mins_dot_pairs, scaled32v, scales4,
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
 * acc + the scaled sums of one 64-element chunk (sub-block scales splat in sa, sb): qs bytes at q,
 * x quants at x, m the nibble mask (bytes 0x0f relaxed, i16 0x000f baseline).
 */
@inline
function chunk(q: usize, x: usize, sa: v128, sb: v128, m: v128, acc: v128): v128 {
  const v0 = v128.load(q, 0);
  const v1 = v128.load(q, 16);
  if (ASC_FEATURE_RELAXED_SIMD) {
    acc = scaled32v(v128.and(v0, m), v128.and(v1, m), x, sa, acc);
    return scaled32v(v128.and(i16x8.shr_u(v0, 4), m), v128.and(i16x8.shr_u(v1, 4), m), x + 32, sb, acc);
  } else {
    // x: i16 evens/odds of elements 64c..64c+15 at +0/+16, +16..31 at +32/+48, +32..47 at +64/+80, …
    let a = i32x4.dot_i16x8_s(v128.and(v0, m), v128.load(x, 0));
    a = i32x4.add(a, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v0, 8), m), v128.load(x, 16)));
    a = i32x4.add(a, i32x4.dot_i16x8_s(v128.and(v1, m), v128.load(x, 32)));
    a = i32x4.add(a, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v1, 8), m), v128.load(x, 48)));
    let s = i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v0, 4), m), v128.load(x, 64));
    s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.shr_u(v0, 12), v128.load(x, 80)));
    s = i32x4.add(s, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v1, 4), m), v128.load(x, 96)));
    s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.shr_u(v1, 12), v128.load(x, 112)));
    acc = i32x4.add(acc, i32x4.mul(a, sa));
    return i32x4.add(acc, i32x4.mul(s, sb));
  }
}

export function dot_q4_k(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  const m = mask(ASC_FEATURE_RELAXED_SIMD ? MASK_0F : MASK_000F);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const u0 = load<u32>(w, 4);
    const u1 = load<u32>(w, 8);
    const u2 = load<u32>(w, 12);
    // A loop, not four inlined chunks: V8 hoists every load of a long straight block to its top,
    // and spills what does not fit 16 registers. The relaxed chunk is small enough to take two per
    // pass; the baseline one is not. Measured, 4096x4096 in cache: Node 20 baseline 4.3 GB/s with
    // four inlined chunks, 5.1 with two per pass, 5.4 with one; Node 24 relaxed 6.5 → 9.2 with two
    // per pass and the masks hoisted (kcommon.ts mask()), 9.35 with scales4().
    let q = w + 16;
    let x = q8k_qs(xq, b);
    let acc = i32x4.splat(0);
    if (ASC_FEATURE_RELAXED_SIMD) {
      let sc = k4_sc03(u0);
      for (let h = 0; h < 2; h++) {
        const s = scales4(sc);
        acc = chunk(q, x, scale_splat0(s), scale_splat1(s), m, acc);
        acc = chunk(q + 32, xat(x, 64), scale_splat2(s), scale_splat3(s), m, acc);
        sc = k4_sc47(u0, u2);
        q += 64;
        x = xat(x, 128);
      }
    } else {
      let sc = <u64>k4_sc03(u0) | (<u64>k4_sc47(u0, u2) << 32);
      for (let c = 0; c < 4; c++) {
        acc = chunk(q, x, i32x4.splat(<i32>(sc & 0xff)), i32x4.splat(<i32>((sc >> 8) & 0xff)), m, acc);
        sc >>= 16;
        q += 32;
        x = xat(x, 64);
      }
    }
    const sumi = hsum_i32x4(acc);
    const summ = mins_dot_pairs(q8k_bsums(xq, n, b), k4_m03(u1), k4_m47(u1, u2));
    const dx = q8k_d(xq, n, b);
    sum += (dx * load_f16_finite(w)) * <f32>sumi - (dx * load_f16_finite(w + 2)) * <f32>summ;
    w += Q4_K_BYTES;
  }
  return sum;
}

export function dot_q4_k_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const u0 = load<u32>(w, 4);
    const u1 = load<u32>(w, 8);
    const u2 = load<u32>(w, 12);
    const sc03 = k4_sc03(u0), sc47 = k4_sc47(u0, u2), m03 = k4_m03(u1), m47 = k4_m47(u1, u2);
    const qs = q8k_qs(xq, b);
    const bs = q8k_bsums(xq, n, b);
    let sumi = 0;
    let summ = 0;
    for (let s = 0; s < 8; s++) {
      const sc = byte_of(s < 4 ? sc03 : sc47, s & 3);
      const m = byte_of(s < 4 ? m03 : m47, s & 3);
      const q = w + 16 + ((<usize>(s >> 1)) << 5);
      const shift = (s & 1) << 2;
      let dot = 0;
      for (let l = 0; l < 32; l++) {
        dot += ((<i32>load<u8>(q + <usize>l) >> shift) & 15) * q8k_at(qs, (s << 5) + l);
      }
      sumi += sc * dot;
      summ += m * (<i32>load<i16>(bs + ((<usize>s) << 2)) + <i32>load<i16>(bs + ((<usize>s) << 2) + 2));
    }
    const dx = q8k_d(xq, n, b);
    sum += (dx * load_f16_finite(w)) * <f32>sumi - (dx * load_f16_finite(w + 2)) * <f32>summ;
    w += Q4_K_BYTES;
  }
  return sum;
}
