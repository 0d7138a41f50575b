// Q8_0 weights: blocks of 32 elements, 34 bytes (ggml block_q8_0).
//
//   byte 0       2                                      34
//        ┌───────┬──────────────────────────────────────┐
//        │ d f16 │ qs i8[32]   q0 q1 … q31, in order    │     w_i = d · q_i
//        └───────┴──────────────────────────────────────┘
//
// Activations: act_q8_0.ts, whose header gives the summation order (ggml's: eight exact lane sums
// per block, one multiply-add by d_w·d_x each). One block per iteration, pointers stepped (see
// q4_0.ts). The relaxed build needs |q_w| ≤ 127 (ggml's quantizers never write -128).
import { load_f16, f16_raw, hsum_f32x4, madd_f32x4, store_s8x16_scaled } from "./common";
import { QS_BLOCK, HALF, qs_bytes, q8_0_bytes, act_q, act_scale, signed_half, ones16, pair_sums } from "./act_q8_0";

export const Q8_0_BYTES: i32 = 34;

export function dequant_row_q8_0(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 34;
    const d = f32x4.splat(load_f16(p));
    const o = dst + ((<usize>b) << 7);
    store_s8x16_scaled(o, v128.load(p, 2), d);
    store_s8x16_scaled(o + 64, v128.load(p, 18), d);
  }
}

export function dot_q8_0(w: usize, xq: usize, n: i32): f32 {
  let dp = xq + qs_bytes(n);
  let p = w;
  let y = xq;
  let accLo = f32x4.splat(0);
  let accHi = f32x4.splat(0);
  for (let b = n >> 5; b > 0; b--) {
    const lo = signed_half(v128.load(p, 2), y);
    const hi = signed_half(v128.load(p, 18), y + HALF);
    const d = f32x4.splat(f16_raw(p) * load<f32>(dp));
    accLo = madd_f32x4(f32x4.convert_i32x4_s(lo), d, accLo);
    accHi = madd_f32x4(f32x4.convert_i32x4_s(hi), d, accHi);
    p += 34;
    y += QS_BLOCK;
    dp += 4;
  }
  return hsum_f32x4(f32x4.add(accLo, accHi));
}

/**
 * Two rows of dot_q8_0 at once, for matvec in the relaxed build: y ← W[0]·x for the row at w, and
 * y + yStride (bytes) ← the row at w + rowStride. Reads the sign-split copy of the activations
 * (act_q8_0.ts: max(q,0) and max(−q,0), 0..127 both), so a half-block's lanes are
 *   extadd_pairwise(relaxed_dot(w, x⁺) − relaxed_dot(w, x⁻))
 * (the i16 difference is the exact pair sum, |·| ≤ 2·127·128 < 2^15 after the wrap; each
 * relaxed_dot pair ≤ 2·128·127 never saturates): four instructions against dot_q8_0's six (whose
 * sign trick works on the weights), and the activation loads are shared by the two rows. Each
 * row keeps dot_q8_0's two f32x4 accumulators, the same d_w·d_x product and multiply-add per
 * block and the same final hsum, so the outputs are dot_q8_0's bits (integers are exact), and it
 * also gets weight bytes of −128 right, which dot_q8_0 leaves to the CPU (act_q8_0.ts half_s8).
 * Its scalar twin is dot_q8_0_scalar row by row (matvec_scalar); test/gemm.test.ts pins matvec
 * over a row range to one-row calls, which take dot_q8_0.
 *
 * The two rows lie far apart (matvec passes half its row range as rowStride; q4_0.ts
 * matvec4_q4_0 says why). Measured (kernel-ab, Node 24 relaxed, 4096×4096 from DRAM, medians of
 * 200-300 alternating calls, load average 2-7), against this form:
 *   dot_q8_0 row by row 17.5 GB/s, one row against the split copy 18.9, two rows 22.5;
 *   four rows a quarter apart: the same as two (22.1 / 21.6, 2048×5632 10.1 / 11.7);
 *   two ADJACENT rows: 3x slower (6.9 against 22.0 GB/s), the prefetcher does not follow them;
 *   the two scales gathered into one v128 (load16_lane, as matvec4_q4_0): no change;
 *   a touch (load) of the byte 1 KiB ahead in each row: 0.88x;
 *   |q| and the sign mask of x instead of max(±q,0) (the sign moved onto the weight, xor/sub):
 *   ~5% faster from DRAM, the same in cache, but wrong for weight bytes of −128 (−(−128) wraps).
 * In cache (512×2048) it runs at about the speed it reaches from DRAM: bound by the vector
 * multiply ports (4 relaxed_dot, 2 vpmaddwd, 2 conversions, 2 FMAs per row and block), not loads.
 */
export function matvec2_q8_0(w: usize, rowStride: usize, xq: usize, n: i32, y: usize, yStride: usize): void {
  let dp = xq + qs_bytes(n);
  let x = xq + <usize>q8_0_bytes(n); // the split copy of block b
  const ones = ones16();
  let p = w;
  let l0 = f32x4.splat(0);
  let h0 = f32x4.splat(0);
  let l1 = f32x4.splat(0);
  let h1 = f32x4.splat(0);
  for (let b = n >> 5; b > 0; b--) {
    const pl = v128.load(x, 0);
    const ph = v128.load(x, 16);
    const nl = v128.load(x, 32);
    const nh = v128.load(x, 48);
    const dx = load<f32>(dp);
    const d0 = f32x4.splat(f16_raw(p) * dx);
    l0 = madd_f32x4(split_half(v128.load(p, 2), pl, nl, ones), d0, l0);
    h0 = madd_f32x4(split_half(v128.load(p, 18), ph, nh, ones), d0, h0);
    const q = p + rowStride;
    const d1 = f32x4.splat(f16_raw(q) * dx);
    l1 = madd_f32x4(split_half(v128.load(q, 2), pl, nl, ones), d1, l1);
    h1 = madd_f32x4(split_half(v128.load(q, 18), ph, nh, ones), d1, h1);
    p += 34;
    x += 64;
    dp += 4;
  }
  store<f32>(y, hsum_f32x4(f32x4.add(l0, h0)));
  store<f32>(y + yStride, hsum_f32x4(f32x4.add(l1, h1)));
}

/** Relaxed build: a half-block's four lane sums as f32, for 16 signed weight bytes w against x⁺, x⁻. */
@inline
function split_half(w: v128, xPos: v128, xNeg: v128, ones: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const d = i16x8.sub(i16x8.relaxed_dot_i8x16_i7x16_s(w, xPos), i16x8.relaxed_dot_i8x16_i7x16_s(w, xNeg));
    return f32x4.convert_i32x4_s(pair_sums(d, ones));
  } else {
    return unreachable();
  }
}

export function dot_q8_0_scalar(w: usize, xq: usize, n: i32): f32 {
  const nb = n >> 5;
  const dx = xq + qs_bytes(n);
  let sum: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const p = w + <usize>b * 34;
    const y = xq + <usize>b * QS_BLOCK;
    let s = 0;
    for (let j = 0; j < 32; j++) s += <i32>load<i8>(p + 2 + <usize>j) * act_q(y, j);
    sum += <f32>s * (load_f16(p) * act_scale(dx + ((<usize>b) << 2)));
  }
  return sum;
}
