// Q5_K weights: super-blocks of 256 elements, 176 bytes (ggml block_q5_K), 8 sub-blocks of 32
// elements, each with a 6-bit scale and a 6-bit min. Q4_K plus a fifth bit per weight.
//
//   byte 0       2          4                  16                48                              176
//        ┌───────┬──────────┬──────────────────┬─────────────────┬───────────────────────────────┐
//        │ d f16 │ dmin f16 │ scales u8[12]    │ qh u8[32]       │ qs u8[128]                    │
//        └───────┴──────────┴──────────────────┴─────────────────┴───────────────────────────────┘
//   w = d·sc_s·q − dmin·m_s   for element i in sub-block s = i / 32, q in 0..31
//
//   scales: packed exactly as Q4_K's (q4_k.ts header; kcommon.ts k4_*).
//   qs: four chunks of 32 bytes; chunk c byte l: low nibble = bits 0-3 of element 64c + l,
//       high nibble = bits 0-3 of element 64c + 32 + l.
//   qh[l]: bit 2c = bit 4 of element 64c + l, bit 2c+1 = bit 4 of element 64c + 32 + l.
//
// Dot against Q8_K x (act_q8_k.ts), as ggml's ggml_vec_dot_q5_K_q8_K: Σ_s sc_s·Σ q·x and
// Σ_s m_s·(bsums pair of s), then Σ += dx·d·sumi − dx·dmin·summ; q (0..31) is relaxed_dot's 7-bit
// operand. The SIMD kernel and its scalar twin agree bit for bit.
import { store_u8x16_scaled, hsum_i32x4 } from "./common";
import { q8k_qs, q8k_d, q8k_bsums, q8k_at } from "./act_q8_k";
import {
  xat, byte_of, k4_sc03, k4_m03, k4_sc47, k4_m47, mins_dot_pairs, scaled32v, scales4,
  scale_splat0, scale_splat1, scale_splat2, scale_splat3, mask, MASK_0F, MASK_10, load_f16_finite, load_f16_exact,
} from "./kcommon";

export const Q5_K_BYTES: i32 = 176;

/** 16 weights of the low-nibble sub-block: nibble | (bit 0 of each byte of hc) << 4 (masks 0x0f, 0x10). */
@inline
function q5_lo(v: v128, hc: v128, m0f: v128, m10: v128): v128 {
  return v128.or(v128.and(v, m0f), v128.and(i16x8.shl(hc, 4), m10));
}
/** 16 weights of the high-nibble sub-block: nibble | (bit 1 of each byte of hc) << 4. */
@inline
function q5_hi(v: v128, hc: v128, m0f: v128, m10: v128): v128 {
  return v128.or(v128.and(i16x8.shr_u(v, 4), m0f), v128.and(i16x8.shl(hc, 3), m10));
}
// hc is qh shifted right by 2c as 16-bit lanes: bits 0-1 of each byte are then still that byte's
// bits 2c, 2c+1 (what crosses over from the next byte lands at bit 8 − 2c ≥ 2).

export function dequant_row_q5_k(src: usize, dst: usize, n: i32): void {
  const nb = n >> 8;
  for (let b = 0; b < nb; b++) {
    const w = src + <usize>b * Q5_K_BYTES;
    const d = load_f16_exact(w);
    const dmin = load_f16_exact(w + 2);
    const u0 = load<u32>(w, 4);
    const u1 = load<u32>(w, 8);
    const u2 = load<u32>(w, 12);
    const sc03 = k4_sc03(u0), sc47 = k4_sc47(u0, u2), m03 = k4_m03(u1), m47 = k4_m47(u1, u2);
    let h0 = v128.load(w, 16);
    let h1 = v128.load(w, 32);
    const m0f = mask(MASK_0F);
    const m10 = mask(MASK_10);
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
      const q = w + 48 + (<usize>c << 5);
      const oc = o + (<usize>c << 8);
      const v0 = v128.load(q, 0);
      const v1 = v128.load(q, 16);
      store_u8x16_scaled(oc, q5_lo(v0, h0, m0f, m10), da, ma);
      store_u8x16_scaled(oc + 64, q5_lo(v1, h1, m0f, m10), da, ma);
      store_u8x16_scaled(oc + 128, q5_hi(v0, h0, m0f, m10), db, mb);
      store_u8x16_scaled(oc + 192, q5_hi(v1, h1, m0f, m10), db, mb);
      h0 = i16x8.shr_u(h0, 2);
      h1 = i16x8.shr_u(h1, 2);
    }
  }
}

/** acc + one 64-element chunk: qs bytes at q, high bits hc0/hc1 (shifted to this chunk), x, scales sa, sb splat. */
@inline
function chunk(q: usize, hc0: v128, hc1: v128, x: usize, sa: v128, sb: v128, m0f: v128, m10: v128, acc: v128): v128 {
  const v0 = v128.load(q, 0);
  const v1 = v128.load(q, 16);
  acc = scaled32v(q5_lo(v0, hc0, m0f, m10), q5_lo(v1, hc1, m0f, m10), x, sa, acc);
  return scaled32v(q5_hi(v0, hc0, m0f, m10), q5_hi(v1, hc1, m0f, m10), xat(x, 32), sb, acc);
}

export function dot_q5_k(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 8;
  const m0f = mask(MASK_0F);
  const m10 = mask(MASK_10);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const u0 = load<u32>(w, 4);
    const u1 = load<u32>(w, 8);
    const u2 = load<u32>(w, 12);
    let h0 = v128.load(w, 16);
    let h1 = v128.load(w, 32);
    let q = w + 48;
    let x = q8k_qs(xq, b);
    let acc = i32x4.splat(0);
    // as q4_k.ts: two chunks per pass in the relaxed build, one in the baseline build (two spill)
    if (ASC_FEATURE_RELAXED_SIMD) {
      let sc = k4_sc03(u0);
      for (let p = 0; p < 2; p++) {
        const s = scales4(sc);
        acc = chunk(q, h0, h1, x, scale_splat0(s), scale_splat1(s), m0f, m10, acc);
        const g0 = i16x8.shr_u(h0, 2);
        const g1 = i16x8.shr_u(h1, 2);
        acc = chunk(q + 32, g0, g1, xat(x, 64), scale_splat2(s), scale_splat3(s), m0f, m10, acc);
        h0 = i16x8.shr_u(h0, 4);
        h1 = i16x8.shr_u(h1, 4);
        sc = k4_sc47(u0, u2);
        q += 64;
        x = xat(x, 128);
      }
    } else {
      let sc = <u64>k4_sc03(u0) | (<u64>k4_sc47(u0, u2) << 32);
      for (let c = 0; c < 4; c++) {
        acc = chunk(q, h0, h1, x, i32x4.splat(<i32>(sc & 0xff)), i32x4.splat(<i32>((sc >> 8) & 0xff)), m0f, m10, acc);
        h0 = i16x8.shr_u(h0, 2);
        h1 = i16x8.shr_u(h1, 2);
        sc >>= 16;
        q += 32;
        x = xat(x, 64);
      }
    }
    const sumi = hsum_i32x4(acc);
    const summ = mins_dot_pairs(q8k_bsums(xq, n, b), k4_m03(u1), k4_m47(u1, u2));
    const dx = q8k_d(xq, n, b);
    sum += (dx * load_f16_finite(w)) * <f32>sumi - (dx * load_f16_finite(w + 2)) * <f32>summ;
    w += Q5_K_BYTES;
  }
  return sum;
}

export function dot_q5_k_scalar(w: usize, xq: usize, n: i32): f32 {
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
      const q = w + 48 + ((<usize>(s >> 1)) << 5);
      const shift = (s & 1) << 2;
      let dot = 0;
      for (let l = 0; l < 32; l++) {
        const lo = (<i32>load<u8>(q + <usize>l) >> shift) & 15;
        const hi = (<i32>load<u8>(w + 16 + <usize>l) >> s) & 1;
        dot += (lo | (hi << 4)) * q8k_at(qs, (s << 5) + l);
      }
      sumi += sc * dot;
      summ += m * (<i32>load<i16>(bs + ((<usize>s) << 2)) + <i32>load<i16>(bs + ((<usize>s) << 2) + 2));
    }
    const dx = q8k_d(xq, n, b);
    sum += (dx * load_f16_finite(w)) * <f32>sumi - (dx * load_f16_finite(w + 2)) * <f32>summ;
    w += Q5_K_BYTES;
  }
  return sum;
}
