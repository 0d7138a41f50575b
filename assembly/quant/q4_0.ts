// Q4_0 weights: blocks of 32 elements, 18 bytes (ggml block_q4_0).
//
//   byte 0       2                                  18
//        ┌───────┬──────────────────────────────────┐
//        │ d f16 │ qs u8[16]                        │     w_i = d · (q_i − 8),  q_i in 0..15
//        └───────┴──────────────────────────────────┘
//   qs[j] = q_j | q_(j+16) << 4    (low nibbles: elements 0..15, high nibbles: 16..31)
//
// Activations: act_q8_0.ts. The kernel keeps the nibbles unsigned (0..15 fits relaxed_dot's 7-bit
// operand; the baseline build's 16-bit lanes need no sign) and subtracts 8·Σq_x (the
// activation's block sum): Σ(q − 8)·q_x, the same integer. One block per iteration with pointers
// stepped: V8 hoists every load of an unrolled group and spills (measured slower).
import { load_f16, f16_raw, madd_f32x4, store_s8x16_scaled, nibbles_lo, nibbles_hi, kconst, K_F16_BITS } from "./common";
import { QS_BLOCK, qs_bytes, act_q, act_scale, nibble_mask, nib_lo, nib_hi, ones16, pair_sums } from "./act_q8_0";

export const Q4_0_BYTES: i32 = 18;

export function dequant_row_q4_0(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  const eight = i8x16.splat(8);
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 18;
    const d = f32x4.splat(load_f16(p));
    const v = v128.load(p, 2);
    const o = dst + ((<usize>b) << 7);
    store_s8x16_scaled(o, i8x16.sub(nibbles_lo(v), eight), d);
    store_s8x16_scaled(o + 64, i8x16.sub(nibbles_hi(v), eight), d);
  }
}

/**
 * Summation order of llama.cpp's Q4_0 on x86 AVX2, which repacks Q4_0 weights eight rows at a time
 * (ggml-cpu/arch/x86/repack.cpp ggml_gemv_q4_0_8x8_q8_0): per row one f32 accumulator,
 * acc = fma(Σ_block (q − 8)·q_x, d_w·d_x, acc) block after block, the integer block sum exact.
 * Here the eight lane sums are folded to the block total in every lane, the fused multiply-add is
 * lane-wise (all lanes equal) and lane 0 is the result.
 */
export function dot_q4_0(w: usize, xq: usize, n: i32): f32 {
  const m = nibble_mask();
  const nb = n >> 5;
  let dp = xq + qs_bytes(n);
  let sp = dp + ((<usize>nb) << 3); // the block sums Σq_x
  let p = w;
  let y = xq;
  let acc = f32x4.splat(0);
  for (let b = nb; b > 0; b--) {
    const v = v128.load(p, 2);
    let s = i32x4.add(nib_lo(v, y, m), nib_hi(v, y, m));
    s = i32x4.add(s, i32x4.shuffle(s, s, 2, 3, 0, 1));
    s = i32x4.add(s, i32x4.shuffle(s, s, 1, 0, 3, 2));
    s = i32x4.sub(s, i32x4.shl(v128.load32_splat(sp), 3));
    acc = madd_f32x4(f32x4.convert_i32x4_s(s), f32x4.splat(f16_raw(p) * load<f32>(dp)), acc);
    p += 18;
    y += QS_BLOCK;
    dp += 4;
    sp += 4;
  }
  return f32x4.extract_lane(acc, 0);
}

/**
 * Four rows of dot_q4_0 at once, for matvec: y, y + yStride, … (bytes) ← W[r]·x for the rows at w,
 * w + rowStride, w + 2·rowStride, w + 3·rowStride. Each row's f32 arithmetic is dot_q4_0's, in lane
 * r of one f32x4 (madd_f32x4 rounds each lane as dot_q4_0's lane 0), so the outputs are the same
 * bits; what the four rows share is everything else of a block: the activation loads, the −8·Σq_x
 * correction, the conversion to f32, the multiply-add, and the per-block horizontal sum, done for
 * four rows by one transposing add instead of four shuffle-add ladders. The integer block sums are
 * exact, so how their lanes are grouped does not matter (the relaxed build adds the two halves'
 * pair sums as i16: at most 2·2·15·127 = 7620).
 *
 * The four rows should lie far apart (matvec passes a quarter of its row range as rowStride):
 * four adjacent rows are four streams inside the same few 4 KiB pages, 18 bytes at a time, which the
 * hardware prefetcher does not follow. Measured (4096×4096 from DRAM, Node 24 relaxed, against
 * dot_q4_0 row by row, load average 1.7-4): adjacent rows 10.7 → 7.8 GB/s, rows a quarter apart
 * 10.7 → 17.4 GB/s; in cache (1024×1024) adjacent rows were 1.58x faster.
 * The per-block work shared by the rows is kept small: the four f16 scales go into one v128
 * (load16_lane into the lanes' high halves: f16_raw's bits for four rows in two vector ops), and in
 * the relaxed build the four rows' lane sums are reduced in i16 (bounds below) with one pairwise add
 * to i32 at the end instead of four. Measured (kernel-ab 4096×4096, 200 alternating calls, load
 * average ~6): relaxed 16.7 → 18.3 GB/s, baseline (Node 20) 10.3 → 10.8.
 * Its scalar twin is dot_q4_0_scalar row by row (matvec_scalar); test/gemm.test.ts pins it to
 * dot_q4_0 bit for bit.
 */
export function matvec4_q4_0(w: usize, rowStride: usize, xq: usize, n: i32, y: usize, yStride: usize): void {
  rows4(w, rowStride, xq, n, y, yStride, false);
}

/**
 * matvec4_q4_0 summing with i32x4.relaxed_dot_i8x16_i7x16_add_s (relaxed builds), for engines where it
 * is one AVX-VNNI vpdpbusd (features.ts fusedDot; dispatch.ts matvec reads layout.ts KERNEL_FLAGS): two
 * per row and block instead of two relaxed_dot, an i16 add and a share of the i16 reduction. The same
 * integers, so the same bits. Measured: see dispatch.ts matvec.
 */
export function matvec4_q4_0_dotadd(w: usize, rowStride: usize, xq: usize, n: i32, y: usize, yStride: usize): void {
  rows4(w, rowStride, xq, n, y, yStride, true);
}

/** The body of both: dotAdd is a constant at each call, so each export compiles one form. */
@inline
function rows4(w: usize, rowStride: usize, xq: usize, n: i32, y: usize, yStride: usize, dotAdd: bool): void {
  const m = nibble_mask();
  const f16bits = kconst(K_F16_BITS);
  const ones = ones16(); // relaxed build: act_q8_0.ts pair_sums
  const nb = n >> 5;
  let dp = xq + qs_bytes(n);
  let sp = dp + ((<usize>nb) << 3); // the block sums Σq_x
  let p = w;
  let x = xq;
  let acc = f32x4.splat(0); // lane r: row r
  for (let b = nb; b > 0; b--) {
    const v0 = v128.load(p, 2);
    const v1 = v128.load(p + rowStride, 2);
    const v2 = v128.load(p + 2 * rowStride, 2);
    const v3 = v128.load(p + 3 * rowStride, 2);
    let s: v128;
    if (ASC_FEATURE_RELAXED_SIMD && dotAdd) {
      const xl = v128.load(x, 0);
      const xh = v128.load(x, 16);
      const s0 = block4_dotadd(v0, xl, xh, m);
      const s1 = block4_dotadd(v1, xl, xh, m);
      const s2 = block4_dotadd(v2, xl, xh, m);
      const s3 = block4_dotadd(v3, xl, xh, m);
      s = hadd4_rows(s0, s1, s2, s3);
    } else if (ASC_FEATURE_RELAXED_SIMD) {
      const xl = v128.load(x, 0);
      const xh = v128.load(x, 16);
      const s0 = block8_u7(v0, xl, xh, m);
      const s1 = block8_u7(v1, xl, xh, m);
      const s2 = block8_u7(v2, xl, xh, m);
      const s3 = block8_u7(v3, xl, xh, m);
      // i16 lanes |·| ≤ 2·2·15·127 = 7620: halves of two rows added (≤ 15240), then pairs (≤ 30480),
      // then the last pair in i32: [Σs0, Σs1, Σs2, Σs3]
      const t01 = i16x8.add(i64x2.shuffle(s0, s1, 0, 2), i64x2.shuffle(s0, s1, 1, 3));
      const t23 = i16x8.add(i64x2.shuffle(s2, s3, 0, 2), i64x2.shuffle(s2, s3, 1, 3));
      s = pair_sums(i16x8.add(i32x4.shuffle(t01, t23, 0, 2, 4, 6), i32x4.shuffle(t01, t23, 1, 3, 5, 7)), ones);
    } else {
      const xle = v128.load(x, 0);
      const xlo = v128.load(x, 16);
      const xhe = v128.load(x, 32);
      const xho = v128.load(x, 48);
      const s0 = block4_i16(v0, xle, xlo, xhe, xho, m);
      const s1 = block4_i16(v1, xle, xlo, xhe, xho, m);
      const s2 = block4_i16(v2, xle, xlo, xhe, xho, m);
      const s3 = block4_i16(v3, xle, xlo, xhe, xho, m);
      s = hadd4_rows(s0, s1, s2, s3);
    }
    s = i32x4.sub(s, i32x4.shl(v128.load32_splat(sp), 3));
    // the four rows' f16 scales in the high halves of the lanes, then f16_raw's bits, lane-wise
    let h = v128.load16_lane(p, i32x4.splat(0), 1);
    h = v128.load16_lane(p + rowStride, h, 3);
    h = v128.load16_lane(p + 2 * rowStride, h, 5);
    h = v128.load16_lane(p + 3 * rowStride, h, 7);
    const d = v128.and(i32x4.shr_s(h, 3), f16bits);
    acc = madd_f32x4(f32x4.convert_i32x4_s(s), f32x4.mul(d, v128.load32_splat(dp)), acc);
    p += <usize>Q4_0_BYTES;
    x += QS_BLOCK;
    dp += 4;
    sp += 4;
  }
  store<f32>(y, f32x4.extract_lane(acc, 0));
  store<f32>(y + yStride, f32x4.extract_lane(acc, 1));
  store<f32>(y + 2 * yStride, f32x4.extract_lane(acc, 2));
  store<f32>(y + 3 * yStride, f32x4.extract_lane(acc, 3));
}

/** [Σs0, Σs1, Σs2, Σs3] of four rows' i32 lane sums: pairs of rows interleaved and added, then the halves added. */
@inline
function hadd4_rows(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const t01 = i32x4.add(i32x4.shuffle(s0, s1, 0, 4, 1, 5), i32x4.shuffle(s0, s1, 2, 6, 3, 7));
  const t23 = i32x4.add(i32x4.shuffle(s2, s3, 0, 4, 1, 5), i32x4.shuffle(s2, s3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(t01, t23, 0, 1, 4, 5), i32x4.shuffle(t01, t23, 2, 3, 6, 7));
}

/** Relaxed, dot-add form: four i32 lanes summing to Σ q·q_x of one block (two vpdpbusd on AVX-VNNI). */
@inline
function block4_dotadd(v: v128, xl: v128, xh: v128, m: v128): v128 {
  if (!ASC_FEATURE_RELAXED_SIMD) return unreachable();
  const lo = i32x4.relaxed_dot_i8x16_i7x16_add_s(xl, v128.and(v, m), i32x4.splat(0));
  return i32x4.relaxed_dot_i8x16_i7x16_add_s(xh, v128.and(i16x8.shr_u(v, 4), m), lo);
}

/** Relaxed: eight i16 lanes summing to Σ q·q_x of one block (nibbles v, activation halves xl, xh). */
@inline
function block8_u7(v: v128, xl: v128, xh: v128, m: v128): v128 {
  const lo = i16x8.relaxed_dot_i8x16_i7x16_s(xl, v128.and(v, m));
  const hi = i16x8.relaxed_dot_i8x16_i7x16_s(xh, v128.and(i16x8.shr_u(v, 4), m));
  return i16x8.add(lo, hi);
}

/** Baseline: the same from the i16 activations (evens, odds of each half: act_q8_0.ts). */
@inline
function block4_i16(v: v128, xle: v128, xlo: v128, xhe: v128, xho: v128, m: v128): v128 {
  const lo = i32x4.add(i32x4.dot_i16x8_s(v128.and(v, m), xle), i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 8), m), xlo));
  const hi = i32x4.add(i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 4), m), xhe), i32x4.dot_i16x8_s(i16x8.shr_u(v, 12), xho));
  return i32x4.add(lo, hi);
}

export function dot_q4_0_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const p = w + <usize>b * 18;
    const y = xq + <usize>b * QS_BLOCK;
    let s = 0;
    for (let j = 0; j < 16; j++) {
      const q = <i32>load<u8>(p + 2 + <usize>j);
      s += ((q & 15) - 8) * act_q(y, j) + ((q >> 4) - 8) * act_q(y, j + 16);
    }
    sum += <f32>s * (load_f16(p) * act_scale(dx + ((<usize>b) << 2)));
  }
  return sum;
}
