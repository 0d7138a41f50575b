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
import { QS_BLOCK, HALF, qs_bytes, act_q, act_scale, signed_half, half_s8_pre } from "./act_q8_0";

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

/**
 * Four activation columns at once (matmul): each weight block is decoded once for the columns
 * X[c] at xq + c·xqStride, and W·X[c] is stored at y + c·yStride (bytes). Each column is summed
 * exactly as dot_q8_0 sums it, so the results are bit-identical to it. Relaxed build only: in the
 * baseline build the 16-bit weights of four columns do not fit the registers and V8 spills
 * (measured 5% slower than column by column; relaxed: Q8_0 27% and Q4_0 10% faster, 1024×2048
 * by 64 columns).
 */
export function dot4_q8_0(w: usize, xq: usize, xqStride: usize, n: i32, y: usize, yStride: usize): void {
  let p = w;
  let x0 = xq; // column 0's quants of block b; column c's at x0 + c·xqStride
  let d0 = xq + qs_bytes(n); // column 0's d entry of block b
  let l0 = f32x4.splat(0);
  let h0 = f32x4.splat(0);
  let l1 = f32x4.splat(0);
  let h1 = f32x4.splat(0);
  let l2 = f32x4.splat(0);
  let h2 = f32x4.splat(0);
  let l3 = f32x4.splat(0);
  let h3 = f32x4.splat(0);
  for (let b = n >> 5; b > 0; b--) {
    const a = v128.load(p, 2);
    const c = v128.load(p, 18);
    const dw = f16_raw(p);
    const x1 = x0 + xqStride;
    const x2 = x1 + xqStride;
    const x3 = x2 + xqStride;
    const aa = i8x16.abs(a);
    const an = i8x16.lt_s(a, i8x16.splat(0));
    const ca = i8x16.abs(c);
    const cn = i8x16.lt_s(c, i8x16.splat(0));
    const s0 = half_s8_pre(aa, an, x0);
    const t0 = half_s8_pre(ca, cn, x0 + HALF);
    const s1 = half_s8_pre(aa, an, x1);
    const t1 = half_s8_pre(ca, cn, x1 + HALF);
    const s2 = half_s8_pre(aa, an, x2);
    const t2 = half_s8_pre(ca, cn, x2 + HALF);
    const s3 = half_s8_pre(aa, an, x3);
    const t3 = half_s8_pre(ca, cn, x3 + HALF);
    const dd0 = f32x4.splat(dw * load<f32>(d0));
    const dd1 = f32x4.splat(dw * load<f32>(d0 + xqStride));
    const dd2 = f32x4.splat(dw * load<f32>(d0 + 2 * xqStride));
    const dd3 = f32x4.splat(dw * load<f32>(d0 + 3 * xqStride));
    l0 = madd_f32x4(f32x4.convert_i32x4_s(s0), dd0, l0);
    h0 = madd_f32x4(f32x4.convert_i32x4_s(t0), dd0, h0);
    l1 = madd_f32x4(f32x4.convert_i32x4_s(s1), dd1, l1);
    h1 = madd_f32x4(f32x4.convert_i32x4_s(t1), dd1, h1);
    l2 = madd_f32x4(f32x4.convert_i32x4_s(s2), dd2, l2);
    h2 = madd_f32x4(f32x4.convert_i32x4_s(t2), dd2, h2);
    l3 = madd_f32x4(f32x4.convert_i32x4_s(s3), dd3, l3);
    h3 = madd_f32x4(f32x4.convert_i32x4_s(t3), dd3, h3);
    p += 34;
    x0 += QS_BLOCK;
    d0 += 4;
  }
  store<f32>(y, hsum_f32x4(f32x4.add(l0, h0)));
  store<f32>(y + yStride, hsum_f32x4(f32x4.add(l1, h1)));
  store<f32>(y + 2 * yStride, hsum_f32x4(f32x4.add(l2, h2)));
  store<f32>(y + 3 * yStride, hsum_f32x4(f32x4.add(l3, h3)));
}
