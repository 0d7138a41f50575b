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
import { load_f16, f16_raw, madd_f32x4, store_s8x16_scaled, nibbles_lo, nibbles_hi } from "./common";
import { QS_BLOCK, qs_bytes, act_q, act_scale, nibble_mask, nib_lo, nib_hi } from "./act_q8_0";

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
