// The generic quantized-kernel entry points of assembly/README.md, by ggml type id: what the
// TypeScript layer calls. Each entry point is one switch over the type; a format is an import line
// plus one `case` in each switch (marked "K formats" where the Q8_K formats go: Q2_K … Q6_K,
// IQ4_XS). An unsupported type writes nothing (act_bytes returns -1).
//
// Shapes (n = elements per row, the dot length):
//   W   rows × rowBytes bytes, row r at w + r·rowBytes (packed blocks, as in the GGUF file)
//   xq  act_bytes(type, n) bytes per activation column, column c at xq + c·xqStride
//   y   f32, y[r] (matvec) or y[c·yStride + r] (matmul), r absolute in [row0, row1)

import { f32_bytes, quantize_f32, quantize_f32_scalar } from "./quant/act_f32";
import { f16_bytes, quantize_f16, quantize_f16_scalar } from "./quant/act_f16";
import { bf16_bytes, quantize_bf16, quantize_bf16_scalar } from "./quant/act_bf16";
import { q8_0_bytes, quantize_q8_0, quantize_q8_0_scalar, split_bytes, split_q8_0, split_q8_0_scalar } from "./quant/act_q8_0";
import { dequant_row_f32, dot_f32, dot_f32_scalar } from "./quant/f32";
import { dequant_row_f16, dot_f16, dot_f16_scalar } from "./quant/f16";
import { dequant_row_bf16, dot_bf16, dot_bf16_scalar } from "./quant/bf16";
import { dequant_row_q8_0, dot_q8_0, dot_q8_0_scalar, matvec2_q8_0 } from "./quant/q8_0";
import { dequant_row_q4_0, dot_q4_0, dot_q4_0_scalar, matvec4_q4_0, matvec4_q4_0_dotadd } from "./quant/q4_0";
import { dequant_row_q4_1, dot_q4_1, dot_q4_1_scalar } from "./quant/q4_1";
import { dequant_row_q5_0, dot_q5_0, dot_q5_0_scalar } from "./quant/q5_0";
import { dequant_row_q5_1, dot_q5_1, dot_q5_1_scalar } from "./quant/q5_1";
import { dequant_row_iq4_nl, dot_iq4_nl, dot_iq4_nl_scalar } from "./quant/iq4_nl";
import { q8_k_bytes, quantize_q8_k, quantize_q8_k_scalar } from "./quant/act_q8_k";
import { dequant_row_q2_k, dot_q2_k, dot_q2_k_scalar } from "./quant/q2_k";
import { dequant_row_q3_k, dot_q3_k, dot_q3_k_scalar } from "./quant/q3_k";
import { dequant_row_q4_k, dot_q4_k, dot_q4_k_scalar } from "./quant/q4_k";
import { dequant_row_q5_k, dot_q5_k, dot_q5_k_scalar } from "./quant/q5_k";
import { dequant_row_q6_k, dot_q6_k, dot_q6_k_scalar } from "./quant/q6_k";
import { dequant_row_iq4_xs, dot_iq4_xs, dot_iq4_xs_scalar } from "./quant/iq4_xs";
import { gemm4_q8_0, gemm4_q8_0_dotadd } from "./quant/gemm_q8_0";
import { gemm4_q4_0, gemm4r_q4_0, gemm4r_q4_0_dotadd } from "./quant/gemm_q4_0";
import { KERNEL_FLAGS, FLAG_DOT_ADD } from "./layout";
import { gemm4_q5_0 } from "./quant/gemm_q5_0";
import { gemm4_q4_k, gemm8_q4_k } from "./quant/gemm_q4_k";
import { gemm4_q5_k } from "./quant/gemm_q5_k";
import { gemm4_q6_k, gemm8_q6_k } from "./quant/gemm_q6_k";

/** ggml's `enum ggml_type` ids of the supported types: src/quant/types.ts's table (test/formats.test.ts checks). */
const enum T {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  IQ4_NL = 20,
  IQ4_XS = 23,
  BF16 = 30,
}

/** Bytes of one activation column of n elements for weights of `type`; -1 when unsupported. */
export function act_bytes(type: i32, n: i32): i32 {
  switch (type) {
    case T.F32: return f32_bytes(n);
    case T.F16: return f16_bytes(n);
    case T.BF16: return bf16_bytes(n);
    case T.Q8_0:
    case T.Q4_0:
    case T.Q4_1:
    case T.Q5_0:
    case T.Q5_1:
    case T.IQ4_NL: return q8_0_bytes(n) + split_bytes(n); // the split copy: act_q8_0.ts
    case T.Q2_K:
    case T.Q3_K:
    case T.Q4_K:
    case T.Q5_K:
    case T.Q6_K:
    case T.IQ4_XS: return q8_k_bytes(n);
  }
  return -1;
}

/** f32 activations x[n] → the companion format of `type` at xq. */
export function quantize_act(type: i32, x: usize, xq: usize, n: i32): void {
  switch (type) {
    case T.F32: quantize_f32(x, xq, n); break;
    case T.F16: quantize_f16(x, xq, n); break;
    case T.BF16: quantize_bf16(x, xq, n); break;
    case T.Q8_0:
    case T.Q4_0:
    case T.Q4_1:
    case T.Q5_0:
    case T.Q5_1:
    case T.IQ4_NL: quantize_q8_0(x, xq, n); split_q8_0(xq, n); break;
    case T.Q2_K:
    case T.Q3_K:
    case T.Q4_K:
    case T.Q5_K:
    case T.Q6_K:
    case T.IQ4_XS: quantize_q8_k(x, xq, n); break;
  }
}

export function quantize_act_scalar(type: i32, x: usize, xq: usize, n: i32): void {
  switch (type) {
    case T.F32: quantize_f32_scalar(x, xq, n); break;
    case T.F16: quantize_f16_scalar(x, xq, n); break;
    case T.BF16: quantize_bf16_scalar(x, xq, n); break;
    case T.Q8_0:
    case T.Q4_0:
    case T.Q4_1:
    case T.Q5_0:
    case T.Q5_1:
    case T.IQ4_NL: quantize_q8_0_scalar(x, xq, n); split_q8_0_scalar(xq, n); break;
    case T.Q2_K:
    case T.Q3_K:
    case T.Q4_K:
    case T.Q5_K:
    case T.Q6_K:
    case T.IQ4_XS: quantize_q8_k_scalar(x, xq, n); break;
  }
}

/** One row of n elements at src → f32 at dst. */
export function dequant_row(type: i32, src: usize, dst: usize, n: i32): void {
  switch (type) {
    case T.F32: dequant_row_f32(src, dst, n); break;
    case T.F16: dequant_row_f16(src, dst, n); break;
    case T.BF16: dequant_row_bf16(src, dst, n); break;
    case T.Q8_0: dequant_row_q8_0(src, dst, n); break;
    case T.Q4_0: dequant_row_q4_0(src, dst, n); break;
    case T.Q4_1: dequant_row_q4_1(src, dst, n); break;
    case T.Q5_0: dequant_row_q5_0(src, dst, n); break;
    case T.Q5_1: dequant_row_q5_1(src, dst, n); break;
    case T.IQ4_NL: dequant_row_iq4_nl(src, dst, n); break;
    case T.Q2_K: dequant_row_q2_k(src, dst, n); break;
    case T.Q3_K: dequant_row_q3_k(src, dst, n); break;
    case T.Q4_K: dequant_row_q4_k(src, dst, n); break;
    case T.Q5_K: dequant_row_q5_k(src, dst, n); break;
    case T.Q6_K: dequant_row_q6_k(src, dst, n); break;
    case T.IQ4_XS: dequant_row_iq4_xs(src, dst, n); break;
  }
}

/** Fused dot of one weight row with one activation column (SIMD). */
@inline
function dot_row(type: i32, w: usize, xq: usize, n: i32): f32 {
  switch (type) {
    case T.F32: return dot_f32(w, xq, n);
    case T.F16: return dot_f16(w, xq, n);
    case T.BF16: return dot_bf16(w, xq, n);
    case T.Q8_0: return dot_q8_0(w, xq, n);
    case T.Q4_0: return dot_q4_0(w, xq, n);
    case T.Q4_1: return dot_q4_1(w, xq, n);
    case T.Q5_0: return dot_q5_0(w, xq, n);
    case T.Q5_1: return dot_q5_1(w, xq, n);
    case T.IQ4_NL: return dot_iq4_nl(w, xq, n);
    case T.Q2_K: return dot_q2_k(w, xq, n);
    case T.Q3_K: return dot_q3_k(w, xq, n);
    case T.Q4_K: return dot_q4_k(w, xq, n);
    case T.Q5_K: return dot_q5_k(w, xq, n);
    case T.Q6_K: return dot_q6_k(w, xq, n);
    case T.IQ4_XS: return dot_iq4_xs(w, xq, n);
  }
  return 0;
}

/** The scalar twin of dot_row. */
@inline
function dot_row_scalar(type: i32, w: usize, xq: usize, n: i32): f32 {
  switch (type) {
    case T.F32: return dot_f32_scalar(w, xq, n);
    case T.F16: return dot_f16_scalar(w, xq, n);
    case T.BF16: return dot_bf16_scalar(w, xq, n);
    case T.Q8_0: return dot_q8_0_scalar(w, xq, n);
    case T.Q4_0: return dot_q4_0_scalar(w, xq, n);
    case T.Q4_1: return dot_q4_1_scalar(w, xq, n);
    case T.Q5_0: return dot_q5_0_scalar(w, xq, n);
    case T.Q5_1: return dot_q5_1_scalar(w, xq, n);
    case T.IQ4_NL: return dot_iq4_nl_scalar(w, xq, n);
    case T.Q2_K: return dot_q2_k_scalar(w, xq, n);
    case T.Q3_K: return dot_q3_k_scalar(w, xq, n);
    case T.Q4_K: return dot_q4_k_scalar(w, xq, n);
    case T.Q5_K: return dot_q5_k_scalar(w, xq, n);
    case T.Q6_K: return dot_q6_k_scalar(w, xq, n);
    case T.IQ4_XS: return dot_iq4_xs_scalar(w, xq, n);
  }
  return 0;
}

/** y[r] = W[r]·x for r in [row0, row1). */
export function matvec(type: i32, w: usize, rowBytes: i32, xq: usize, y: usize, n: i32, row0: i32, row1: i32): void {
  if (act_bytes(type, n) < 0) return;
  let r = row0;
  if (type == T.Q4_0) {
    // four rows per pass, a quarter of the range apart (q4_0.ts matvec4_q4_0 says why), the same
    // bits as dot_q4_0 row by row; the rows left over one by one
    // (the dot-add form where relaxed_dot_add is one AVX-VNNI instruction: layout.ts KERNEL_FLAGS;
    // kernel-ab 4096×4096 from DRAM, Node 24, 300 alternating calls, load 0.7: 17.8 → 20.1 and
    // 17.9 → 19.6 GB/s in two runs, outputs identical)
    const q = (row1 - row0) >> 2;
    const dotAdd = ASC_FEATURE_RELAXED_SIMD && (load<u32>(KERNEL_FLAGS) & FLAG_DOT_ADD) != 0;
    for (let i = 0; i < q; i++) {
      const wr = w + <usize>(r + i) * <usize>rowBytes, yr = y + ((<usize>(r + i)) << 2);
      if (dotAdd) matvec4_q4_0_dotadd(wr, <usize>q * <usize>rowBytes, xq, n, yr, (<usize>q) << 2);
      else matvec4_q4_0(wr, <usize>q * <usize>rowBytes, xq, n, yr, (<usize>q) << 2);
    }
    r += 4 * q;
  }
  if (ASC_FEATURE_RELAXED_SIMD && type == T.Q8_0) {
    // two rows per pass, half the range apart (q8_0.ts matvec2_q8_0), the same bits as dot_q8_0
    const h = (row1 - row0) >> 1;
    for (let i = 0; i < h; i++) {
      matvec2_q8_0(w + <usize>(r + i) * <usize>rowBytes, <usize>h * <usize>rowBytes, xq, n, y + ((<usize>(r + i)) << 2), (<usize>h) << 2);
    }
    r += 2 * h;
  }
  for (; r < row1; r++) {
    store<f32>(y + ((<usize>r) << 2), dot_row(type, w + <usize>r * <usize>rowBytes, xq, n));
  }
}

/**
 * Set this memory's kernel flags (layout.ts KERNEL_FLAGS: FLAG_DOT_ADD = 1); the loader calls it once
 * per memory from what the engine's probes found, tests to run both forms. Results do not change.
 */
export function set_kernel_flags(flags: u32): void {
  store<u32>(KERNEL_FLAGS, flags);
}

/** This memory's kernel flags. */
export function kernel_flags(): u32 {
  return load<u32>(KERNEL_FLAGS);
}

export function matvec_scalar(type: i32, w: usize, rowBytes: i32, xq: usize, y: usize, n: i32, row0: i32, row1: i32): void {
  if (act_bytes(type, n) < 0) return;
  for (let r = row0; r < row1; r++) {
    store<f32>(y + ((<usize>r) << 2), dot_row_scalar(type, w + <usize>r * <usize>rowBytes, xq, n));
  }
}

/**
 * W[r]·X[c] for four columns c0..c0+3 at once, stored at y, y + yStrideBytes, …; false when the
 * type has no four-column kernel (then matmul goes column by column). Optional per format: a GEMM
 * tile (quant/gemm_<fmt>.ts) that decodes each weight block once for four columns, bit-identical
 * to its dot_row for every column.
 */
@inline
function dot_row4(type: i32, w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStrideBytes: usize, dotAdd: bool): bool {
  // Q8_0 and Q5_0: relaxed build only (gemm_q8_0.ts, gemm_q5_0.ts say why)
  if (!ASC_FEATURE_RELAXED_SIMD && (type == T.Q8_0 || type == T.Q5_0)) return false;
  switch (type) {
    case T.Q4_0: gemm4_q4_0(w, xq, xqStride, n, y, yStrideBytes); return true;
    case T.Q5_0: gemm4_q5_0(w, xq, xqStride, n, y, yStrideBytes); return true;
    case T.Q8_0:
      if (dotAdd) gemm4_q8_0_dotadd(w, xq, xqStride, n, y, yStrideBytes);
      else gemm4_q8_0(w, xq, xqStride, n, y, yStrideBytes);
      return true;
    case T.Q4_K: gemm4_q4_k(w, xq, xqStride, n, y, yStrideBytes); return true;
    case T.Q5_K: gemm4_q5_k(w, xq, xqStride, n, y, yStrideBytes); return true;
    case T.Q6_K: gemm4_q6_k(w, xq, xqStride, n, y, yStrideBytes); return true;
  }
  return false;
}

/** Columns per call of a four-row tile (rows4): see gemm_q4_0.ts gemm4r_q4_0. */
const TILE_COLS: i32 = 8;

/** Whether `type` has a four-row tile (rows4) in this build. */
@inline
function has_rows4(type: i32): bool {
  if (ASC_FEATURE_RELAXED_SIMD) return type == T.Q4_0;
  return false;
}

/**
 * W[r + i]·X[c] for rows r … r+3 (at w, w + rowBytes, …) and columns c < ncols (≤ TILE_COLS), into
 * y + c·yStrideBytes (16 bytes per column: the four rows), for the types has_rows4 names: a GEMM
 * tile that decodes each weight block once for up to eight columns and reads each column's
 * activations once for four rows, bit-identical to dot_row for every output.
 */
@inline
function rows4(type: i32, w: usize, rowBytes: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStrideBytes: usize, ncols: i32, dotAdd: bool): void {
  switch (type) {
    case T.Q4_0:
      if (dotAdd) gemm4r_q4_0_dotadd(w, rowBytes, xq, xqStride, n, y, yStrideBytes, ncols);
      else gemm4r_q4_0(w, rowBytes, xq, xqStride, n, y, yStrideBytes, ncols);
      break;
  }
}

/**
 * y[c·yStride + r] = W[r]·X[c] for c < ncols, r in [row0, row1); X[c] at xq + c·xqStride bytes,
 * yStride in elements. Rows outer, columns inner: each weight row comes from memory once and stays
 * in L1 while every column reads it. Where the build has a four-row tile for the type (rows4:
 * Q4_0, relaxed), rows go four at a time from row0, columns eight at a time, and the 0-3 rows left
 * at the end of the range take the one-row path; the pool cuts MATMUL jobs at multiples of 16 rows
 * (pool-jobs.ts ROW_ALIGN), so only a matrix's last chunk has such a remainder. On the one-row path,
 * where a format has a GEMM tile (dot_row4; Q4_K and Q6_K in the relaxed build eight columns at a
 * time first), each of its blocks is decoded once per four columns, and the remainder columns
 * (ncols mod 4) go one by one.
 *
 * Four-row tile and the eight-column passes (measured on a 2-core Zen 5 with AVX-VNNI, Node 24
 * relaxed; kernel-ab 2048×2048 by 64 columns, load average 1-2.5): Q4_0 8.7 → 6.4 ms (medians of
 * 30; 8.8 → 6.5 with node --no-enable-avx-vnni: the tile avoids the instruction whose speed hangs
 * on AVX-VNNI, see gemm_q4_0.ts), Q4_K 8.79 → 8.04, Q6_K 10.42 → 9.17 (mins of 30); the Q8_0 tile
 * is even with before. End to end (TinyLlama-shaped r3 files, 64-token prefill, 1 thread,
 * alternating runs, load average ~2): Q4_0 31 → 45 tokens/s, Q4_K_M 27.8 → 30.1. The baseline
 * build is unchanged.
 *
 * Before (the one-row tiles against the previous column-by-column code):
 * Measured (interleaved A/B in one process: the old matmul, the new one and matvec per column
 * alternating, 1024×4096 by 64 columns, medians of 15; the 2-core machine was shared by ~8 jobs,
 * load average 10-14, so single runs scatter by ±30%: ranges over the two final runs): the new
 * matmul against the previous one (column by column, or the relaxed dot4 for Q4_0/Q8_0), and
 * against matvec per column —
 *   baseline (Node 20): Q4_0 1.30-1.58x / 1.32-1.40x, Q4_K 1.26-1.76x / 1.56-2.00x,
 *                       Q5_K 1.55-1.94x / 1.86-1.96x, Q6_K 1.66-1.79x / 1.63-1.78x
 *   relaxed (Node 24):  Q8_0 1.01-1.25x / 1.44-1.46x, Q4_0 1.79-1.82x / 2.04-2.55x,
 *                       Q5_0 1.05-1.30x / 1.11-1.55x, Q4_K 1.00-1.56x / 1.14-1.40x,
 *                       Q5_K 1.46-1.85x / 1.57-1.70x, Q6_K 1.76-2.28x / 1.80-2.18x
 * End to end (TinyLlama-shaped Q4_K_M, 64-token prefill, one thread, old and new in one process,
 * interleaved, per CPU-second): baseline 10.9 → 17.2 tokens/s (1.58x), relaxed 16.3 → 23.8 (1.46x);
 * Q4_0 baseline 11.0 → 12.7 (1.15x), relaxed 13.8 → 16.2 (1.17x); Q8_0 relaxed 13.5 → 16.2 (1.20x).
 */
export function matmul(
  type: i32, w: usize, rowBytes: i32, xq: usize, xqStride: i32, y: usize, yStride: i32,
  n: i32, row0: i32, row1: i32, ncols: i32,
): void {
  if (act_bytes(type, n) < 0) return;
  const dotAdd = (load<u32>(KERNEL_FLAGS) & FLAG_DOT_ADD) != 0;
  const xs = <usize>xqStride;
  const ys = (<usize>yStride) << 2;
  let r0 = row0;
  if (has_rows4(type)) {
    for (; r0 + 4 <= row1; r0 += 4) {
      const wr = w + <usize>r0 * <usize>rowBytes;
      const yr = y + ((<usize>r0) << 2);
      for (let c = 0; c < ncols; c += TILE_COLS) {
        rows4(type, wr, <usize>rowBytes, xq + <usize>c * xs, xs, n, yr + <usize>c * ys, ys, min(TILE_COLS, ncols - c), dotAdd);
      }
    }
  }
  for (let r = r0; r < row1; r++) {
    const wr = w + <usize>r * <usize>rowBytes;
    const yr = y + ((<usize>r) << 2);
    let c = 0;
    // Q4_K and Q6_K eight columns at a time: relaxed build only (gemm_q4_k.ts gemm8_q4_k says why)
    if (ASC_FEATURE_RELAXED_SIMD && type == T.Q4_K) {
      for (; c + 8 <= ncols; c += 8) gemm8_q4_k(wr, xq + <usize>c * xs, xs, n, yr + <usize>c * ys, ys);
    }
    if (ASC_FEATURE_RELAXED_SIMD && type == T.Q6_K) {
      for (; c + 8 <= ncols; c += 8) gemm8_q6_k(wr, xq + <usize>c * xs, xs, n, yr + <usize>c * ys, ys);
    }
    while (c + 4 <= ncols && dot_row4(type, wr, xq + <usize>c * xs, xs, n, yr + <usize>c * ys, ys, dotAdd)) c += 4;
    for (; c < ncols; c++) store<f32>(yr + <usize>c * ys, dot_row(type, wr, xq + <usize>c * xs, n));
  }
}
