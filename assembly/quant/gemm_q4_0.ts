// GEMM tile for Q4_0 weights (layout: q4_0.ts) against Q8_0 activations (act_q8_0.ts): one weight
// row × four activation columns. Each 18-byte block's nibbles are unpacked once and used for all
// four columns.
//
//   y + c·yStride  ←  W·X[c],  X[c] at xq + c·xqStride (bytes), c = 0..3
//
// Bit-identical to dot_q4_0 for every column. dot_q4_0 keeps one f32x4 accumulator with the same
// value in every lane (acc = fma(Σ_block (q − 8)·q_x, d_w·d_x, acc), lane 0 the result); here
// lane c of one accumulator is column c: the block integers of the four columns are summed into
// the four lanes at once (hadd4_i32, exact), the four d_w·d_x products are one lane-wise f32x4.mul
// (the same single rounding as the scalar product), and the multiply-add is the same lane-wise
// madd_f32x4. The per-column fold and broadcast of dot_q4_0 disappear.
import { f16_raw, madd_f32x4, hadd4_i32, gather4_32 } from "./common";
import { QS_BLOCK, HALF, qs_bytes, nibble_mask, half_i16 } from "./act_q8_0";

/** The four lane sums of one column's block against the unpacked nibbles (see below). */
@inline
function block4(le: v128, lo: v128, he: v128, ho: v128, x: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    // le = the low nibbles (elements 0..15), he = the high nibbles (16..31), bytes in order; the two
    // halves' pair sums added as i16 (at most 2·2·15·127 = 7620) and widened once: only the block's
    // total matters here (hadd4_i32 sums the lanes), and integers are exact
    const a = i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x), le);
    const b = i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x + HALF), he);
    return i32x4.extadd_pairwise_i16x8_s(i16x8.add(a, b));
  } else {
    // i16 lanes: le/lo = even/odd elements of 0..15, he/ho = even/odd of 16..31
    return i32x4.add(half_i16(le, lo, x), half_i16(he, ho, x + HALF));
  }
}

/** Measured: see dispatch.ts's matmul header. */
export function gemm4_q4_0(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  const m = nibble_mask();
  const nb = n >> 5;
  const sumOff = (<usize>nb) << 3; // from a column's d entry to its block sum Σq_x
  let p = w;
  let x0 = xq;
  let d0 = xq + qs_bytes(n);
  let acc = f32x4.splat(0);
  for (let b = nb; b > 0; b--) {
    const v = v128.load(p, 2);
    const x1 = x0 + xqStride;
    const x2 = x1 + xqStride;
    const x3 = x2 + xqStride;
    let le: v128, lo: v128, he: v128, ho: v128;
    if (ASC_FEATURE_RELAXED_SIMD) {
      le = v128.and(v, m);
      he = v128.and(i16x8.shr_u(v, 4), m);
      lo = le;
      ho = he;
    } else {
      le = v128.and(v, m);
      lo = v128.and(i16x8.shr_u(v, 8), m);
      he = v128.and(i16x8.shr_u(v, 4), m);
      ho = i16x8.shr_u(v, 12);
    }
    const s = hadd4_i32(block4(le, lo, he, ho, x0), block4(le, lo, he, ho, x1), block4(le, lo, he, ho, x2), block4(le, lo, he, ho, x3));
    const t = i32x4.sub(s, i32x4.shl(gather4_32(d0 + sumOff, xqStride), 3));
    const dd = f32x4.mul(f32x4.splat(f16_raw(p)), gather4_32(d0, xqStride));
    acc = madd_f32x4(f32x4.convert_i32x4_s(t), dd, acc);
    p += 18;
    x0 += QS_BLOCK;
    d0 += 4;
  }
  store<f32>(y, f32x4.extract_lane(acc, 0));
  store<f32>(y + yStride, f32x4.extract_lane(acc, 1));
  store<f32>(y + 2 * yStride, f32x4.extract_lane(acc, 2));
  store<f32>(y + 3 * yStride, f32x4.extract_lane(acc, 3));
}

/**
 * Relaxed build only: rows r … r+3 (at w, w + rowBytes, …) × columns 0 … ncols−1 (ncols ≤ 8,
 * X[c] at xq + c·xqStride); y + c·yStride (bytes) is where rows r … r+3 of column c go, 16 bytes,
 * used as the column's f32 accumulators while the blocks go by (lane i = row r + i).
 *
 * Bit-identical to dot_q4_0 for every (row, column): per block, the same exact integer
 * Σ(q − 8)·q_x, converted to f32, times the same f32 product d_w·d_x (f32x4.mul of [d_w of the four
 * rows] by d_x: each lane the scalar product's one rounding), into the same fused multiply-add
 * (madd_f32x4, lane-wise) starting from +0, block after block; only the integer work is shared.
 *
 * Per block the four rows' nibbles are unpacked once and paired by 64 bits (a = rows 0, 1:
 * [row 0's 8 quants, row 1's same 8 quants], b = rows 2, 3); each column's activation quants are
 * read 8 bytes at a time into both halves of a register (load64_splat: a plain load), so one
 * relaxed dot multiplies 16 quants of two rows. i16x8.relaxed_dot_i8x16_i7x16_s gives pair sums,
 * four of them added as i16 and widened pairwise give lanes [row 0, row 0, row 1, row 1], and one
 * transposing add the four rows' block sums. Nibbles (0..15) are relaxed_dot's 7-bit operand.
 *
 * Why this shape (measured, 2048×2048 × 64 columns, interleaved in one process, Node 24, Zen 5):
 *   - four rows: each activation load and unpacking feeds four rows; the 1-row × 4-column tile
 *     (gemm4_q4_0) re-reads every column's activations per row and sums each block horizontally.
 *   - rows paired by 64 bits, activations by load64_splat: 8 loads and 8 shuffles fewer per column
 *     and block than four rows by 32-bit groups (i32x4 broadcasts, 5.3-5.5 ms) or four
 *     rows × four columns with the weights transposed by 32 bits (5.7 ms): 5.0-5.2 ms, against
 *     8.0-8.4 for gemm4_q4_0 column group by column group.
 *   - the accumulators in y, columns in an inner loop unrolled by two: no register spills (V8
 *     evaluates a wasm expression tree's operands first, so a longer straight block of columns
 *     hoists their loads and spills); at most 8 columns per call: y's columns are yStride apart,
 *     often a multiple of 4 KiB, and 16 of them thrash one L1 set (16 columns: 10.0 ms).
 *   - two forms of the integer sums, the same integers: i16x8.relaxed_dot and i16 adds (this one),
 *     or i32x4.relaxed_dot_i8x16_i7x16_add_s (gemm4r_q4_0_dotadd). V8 emits one vpdpbusd for the
 *     latter where the CPU has AVX-VNNI (Intel since Alder Lake, AMD Zen 5): 5.0 ms against 5.8 for
 *     this form there; without AVX-VNNI it becomes three instructions (pmaddubsw, pmaddwd, paddd)
 *     and runs slower than the 1 × 4 tile did (node --no-enable-avx-vnni: that form 9.5 ms, this one
 *     5.6, the 1 × 4 tile 8.1). WebAssembly cannot name the CPU, but the engine's lowering shows in
 *     a result past relaxed_dot's 7-bit range (features.ts fusedDot), so the loader tells the
 *     kernels which form to run (layout.ts KERNEL_FLAGS). End to end (TinyLlama-shaped Q4_0,
 *     64-token prefill, 1 thread, Zen 5): 31 → 45 tokens/s (the VNNI form 54).
 */
export function gemm4r_q4_0(w: usize, rowBytes: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize, ncols: i32): void {
  tile4r(w, rowBytes, xq, xqStride, n, y, yStride, ncols, false);
}

/**
 * gemm4r_q4_0 summing with i32x4.relaxed_dot_i8x16_i7x16_add_s, for engines that run it as one
 * instruction (features.ts fusedDot: x86 with AVX-VNNI, one vpdpbusd); the same integers, so the
 * same bits. dispatch.ts matmul picks it where the kernel flags say so (layout.ts KERNEL_FLAGS).
 * Measured: see dispatch.ts's matmul header.
 */
export function gemm4r_q4_0_dotadd(w: usize, rowBytes: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize, ncols: i32): void {
  tile4r(w, rowBytes, xq, xqStride, n, y, yStride, ncols, true);
}

/** The body of both: dotAdd is a constant at each call, so each export compiles one form. */
@inline
function tile4r(w: usize, rowBytes: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize, ncols: i32, dotAdd: bool): void {
  if (!ASC_FEATURE_RELAXED_SIMD) return;
  const m = nibble_mask();
  const nb = n >> 5;
  const zero = i32x4.splat(0);
  const fmask = i32x4.splat(0x8fffe000); // f16_raw's mask, lane-wise
  for (let c = 0; c < ncols; c++) v128.store(y + <usize>c * yStride, zero);
  const sumOff = (<usize>nb) << 3; // from a column's d entry to its block sum Σq_x
  let p = w;
  let xb = xq;
  let db = xq + qs_bytes(n);
  for (let b = nb; b > 0; b--) {
    const v0 = v128.load(p, 2);
    const v1 = v128.load(p + rowBytes, 2);
    const v2 = v128.load(p + 2 * rowBytes, 2);
    const v3 = v128.load(p + 3 * rowBytes, 2);
    const l0 = v128.and(v0, m), l1 = v128.and(v1, m), l2 = v128.and(v2, m), l3 = v128.and(v3, m); // elements 0..15
    const h0 = v128.and(i16x8.shr_u(v0, 4), m), h1 = v128.and(i16x8.shr_u(v1, 4), m); //            elements 16..31
    const h2 = v128.and(i16x8.shr_u(v2, 4), m), h3 = v128.and(i16x8.shr_u(v3, 4), m);
    // a_k / b_k: elements 8k … 8k+7 of rows 0 and 1 / rows 2 and 3
    const a0 = v128.shuffle<u64>(l0, l1, 0, 2), a1 = v128.shuffle<u64>(l0, l1, 1, 3);
    const a2 = v128.shuffle<u64>(h0, h1, 0, 2), a3 = v128.shuffle<u64>(h0, h1, 1, 3);
    const b0 = v128.shuffle<u64>(l2, l3, 0, 2), b1 = v128.shuffle<u64>(l2, l3, 1, 3);
    const b2 = v128.shuffle<u64>(h2, h3, 0, 2), b3 = v128.shuffle<u64>(h2, h3, 1, 3);
    // f16_raw of the four rows' d: each f16 into the top half of its lane, as f16_raw does
    const dw = v128.and(i32x4.shr_s(i32x4.shl(gather4_32(p, rowBytes), 16), 3), fmask);
    let x = xb;
    let d = db;
    let yc = y;
    let c = ncols;
    for (; c >= 2; c -= 2) {
      column4(x, d, sumOff, a0, a1, a2, a3, b0, b1, b2, b3, dw, yc, dotAdd);
      column4(x + xqStride, d + xqStride, sumOff, a0, a1, a2, a3, b0, b1, b2, b3, dw, yc + yStride, dotAdd);
      x += 2 * xqStride;
      d += 2 * xqStride;
      yc += 2 * yStride;
    }
    if (c > 0) column4(x, d, sumOff, a0, a1, a2, a3, b0, b1, b2, b3, dw, yc, dotAdd);
    p += 18;
    xb += QS_BLOCK;
    db += 4;
  }
}

/** One column's block for gemm4r_q4_0: x its quants, d its d entry, yc its four accumulators. */
@inline
function column4(
  x: usize, d: usize, sumOff: usize, a0: v128, a1: v128, a2: v128, a3: v128,
  b0: v128, b1: v128, b2: v128, b3: v128, dw: v128, yc: usize, dotAdd: bool,
): void {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const x0 = v128.load64_splat(x, 0);
    const x1 = v128.load64_splat(x, 8);
    const x2 = v128.load64_splat(x, 16);
    const x3 = v128.load64_splat(x, 24);
    let e: v128, f: v128;
    if (dotAdd) {
      // four products per i32 lane, accumulated: one vpdpbusd each on AVX-VNNI
      const zero = i32x4.splat(0);
      e = i32x4.relaxed_dot_i8x16_i7x16_add_s(x3, a3, i32x4.relaxed_dot_i8x16_i7x16_add_s(x2, a2,
        i32x4.relaxed_dot_i8x16_i7x16_add_s(x1, a1, i32x4.relaxed_dot_i8x16_i7x16_add_s(x0, a0, zero))));
      f = i32x4.relaxed_dot_i8x16_i7x16_add_s(x3, b3, i32x4.relaxed_dot_i8x16_i7x16_add_s(x2, b2,
        i32x4.relaxed_dot_i8x16_i7x16_add_s(x1, b1, i32x4.relaxed_dot_i8x16_i7x16_add_s(x0, b0, zero))));
    } else {
    // i16 pair sums of the four 8-element groups added as i16 (|sum| ≤ 4·2·15·128 = 15360), widened once
      e = i32x4.extadd_pairwise_i16x8_s(i16x8.add(
        i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(x0, a0), i16x8.relaxed_dot_i8x16_i7x16_s(x1, a1)),
        i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(x2, a2), i16x8.relaxed_dot_i8x16_i7x16_s(x3, a3)),
      )); //                                                     [row 0, row 0, row 1, row 1]
      f = i32x4.extadd_pairwise_i16x8_s(i16x8.add(
        i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(x0, b0), i16x8.relaxed_dot_i8x16_i7x16_s(x1, b1)),
        i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(x2, b2), i16x8.relaxed_dot_i8x16_i7x16_s(x3, b3)),
      )); //                                                     [row 2, row 2, row 3, row 3]
    }
    const s = i32x4.add(i32x4.shuffle(e, f, 0, 2, 4, 6), i32x4.shuffle(e, f, 1, 3, 5, 7));
    const t = i32x4.sub(s, i32x4.shl(v128.load32_splat(d + sumOff), 3));
    const dd = f32x4.mul(dw, v128.load32_splat(d));
    v128.store(yc, madd_f32x4(f32x4.convert_i32x4_s(t), dd, v128.load(yc)));
  }
}
