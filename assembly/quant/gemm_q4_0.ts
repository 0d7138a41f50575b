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
