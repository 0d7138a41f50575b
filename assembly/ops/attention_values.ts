// The V pass of attention (ops/attention.ts): out_h = Σ_t p_t v_t for the query heads of one KV head,
// in llama.cpp's two orders (p_t * 2^112 in the scores rows, v_t f16 read as v * 2^-112: products exact).
//
//   v:   (nPos, headDim) f16 of one KV head, rows rowBytes apart (the cache's position stride)
//   sc:  (heads, nPos) f32, p_t * 2^112, heads scBytes apart
//   out: (heads, headDim) f32, heads headBytes apart
//
// Both orders keep position t in lane t % L and sum each lane in t order: L = 32 for one token
// (ggml_vec_dot_f16 over the positions, weightedSumDotV) and L = 8 for a batch (tinyBLAS<8>,
// weightedSumV), then combine the L lanes in a fixed tree. The state of one head is L lanes times headDim
// elements: no register file holds it, and walking the positions in order needs it all. So the walk goes
// lane by lane instead: lane l visits t = l, l + L, l + 2L, … (in t order, as the lane sums) with eight
// accumulators, which cover four heads × 8 elements (each V row piece converted once for the four),
// two heads × 16 or one head × 32; after each lane its eight sums join the tree, whose pending partial
// sums (at most five groups of eight) the engine spills between lanes. Every row is read once per lane
// pass, and no head reconverts a V value another head of its pass has converted.
//
// A column count that does not divide (headDim % 8, 16 or 32) goes through weightedSumDotV and
// weightedSumV, the per-head kernels these replace, on its remaining elements.
import { madd, scaledMask, scaledQuad, scaledS } from "./attention_scores";

/**
 * The V pass of `heads` consecutive heads (scores rows sc, sc + scBytes, …; outputs out, out + headBytes,
 * …), all elements, in the 32-lane order (lanes = 32) or tinyBLAS's 8-lane order (lanes = 8).
 */
export function valuesGroup(
  v: usize, rowBytes: usize, sc: usize, scBytes: usize, nPos: i32, out: usize, headBytes: usize, heads: i32, headDim: i32, lanes: i32,
): void {
  let h = 0;
  for (; h + 4 <= heads; h += 4) valuesHeads(v, rowBytes, sc + <usize>h * scBytes, scBytes, nPos, out + <usize>h * headBytes, headBytes, headDim, lanes, 4);
  if (h + 2 <= heads) {
    valuesHeads(v, rowBytes, sc + <usize>h * scBytes, scBytes, nPos, out + <usize>h * headBytes, headBytes, headDim, lanes, 2);
    h += 2;
  }
  if (h < heads) valuesHeads(v, rowBytes, sc + <usize>h * scBytes, scBytes, nPos, out + <usize>h * headBytes, headBytes, headDim, lanes, 1);
}

/** `shape` heads (4, 2 or 1) over every element: passes of 32 / shape elements, the rest per head. */
@inline function valuesHeads(
  v: usize, rowBytes: usize, sc: usize, scBytes: usize, nPos: i32, out: usize, headBytes: usize, headDim: i32, lanes: i32, shape: i32,
): void {
  const width = 32 / shape;
  let d = 0;
  for (; d + width <= headDim; d += width) {
    const col = v + (<usize>d << 1);
    const o = out + (<usize>d << 2);
    if (shape == 4) {
      if (lanes == 32) pass32(col, rowBytes, sc, scBytes, nPos, o, headBytes, 4);
      else pass8(col, rowBytes, sc, scBytes, nPos, o, headBytes, 4);
    } else if (shape == 2) {
      if (lanes == 32) pass32(col, rowBytes, sc, scBytes, nPos, o, headBytes, 2);
      else pass8(col, rowBytes, sc, scBytes, nPos, o, headBytes, 2);
    } else {
      if (lanes == 32) pass32(col, rowBytes, sc, scBytes, nPos, o, headBytes, 1);
      else pass8(col, rowBytes, sc, scBytes, nPos, o, headBytes, 1);
    }
  }
  if (d == headDim) return;
  for (let h = 0; h < shape; h++) {
    const p = sc + <usize>h * scBytes;
    const o = out + <usize>h * headBytes + (<usize>d << 2);
    const col = v + (<usize>d << 1);
    if (lanes == 32) weightedSumDotV(col, rowBytes, p, nPos, o, headDim - d);
    else weightedSumV(col, rowBytes, p, nPos, o, headDim - d);
  }
}

// One lane of a pass: positions t = lane, lane + step, … (rows at v, scores at sc, pointers already at
// the lane's first position), eight sums a0..a7 (written as a macro would: AssemblyScript has no
// multi-value returns, so pass32 and pass8 each spell the walk out once). The accumulator of head i,
// quad j (elements 4j..4j+3 of the pass) is a_{i * 8/shape + j}.

/**
 * One pass in the 32-lane order: lanes in the order the tree consumes them, l = 0, 4, 1, 5, 2, 6, 3, 7 and
 * for each the lanes l, l + 16, l + 8, l + 24; y_l = (a_l + a_{l+16}) + (a_{l+8} + a_{l+24}); t_i = y_i + y_{i+4};
 * out = (t_0 + t_1) + (t_2 + t_3), as weightedSumDotV.
 */
@inline function pass32(v: usize, rowBytes: usize, sc: usize, scBytes: usize, nPos: i32, out: usize, headBytes: usize, shape: i32): void {
  const mask = scaledMask();
  const zero = f32x4.splat(0);
  let u0 = zero, u1 = zero, u2 = zero, u3 = zero, u4 = zero, u5 = zero, u6 = zero, u7 = zero;
  let v0 = zero, v1 = zero, v2 = zero, v3 = zero, v4 = zero, v5 = zero, v6 = zero, v7 = zero;
  let s0 = zero, s1 = zero, s2 = zero, s3 = zero, s4 = zero, s5 = zero, s6 = zero, s7 = zero;
  let w0 = zero, w1 = zero, w2 = zero, w3 = zero, w4 = zero, w5 = zero, w6 = zero, w7 = zero;
  let z0 = zero, z1 = zero, z2 = zero, z3 = zero, z4 = zero, z5 = zero, z6 = zero, z7 = zero;
  const stepRows = rowBytes << 5;
  for (let k = 0; k < 32; k++) {
    const m = k >> 2;
    const c = k & 3;
    const lane = (((m & 1) << 2) | (m >> 1)) + (((c & 1) << 4) | ((c & 2) << 2));
    let a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
    let row = v + <usize>lane * rowBytes;
    let p = sc + (<usize>lane << 2);
    for (let t = lane; t < nPos; t += 32) {
      if (shape == 4) {
        const q0 = scaledQuad(row, mask), q1 = scaledQuad(row + 8, mask);
        const p0 = v128.load32_splat(p), p1 = v128.load32_splat(p + scBytes);
        const p2 = v128.load32_splat(p + 2 * scBytes), p3 = v128.load32_splat(p + 3 * scBytes);
        a0 = madd(p0, q0, a0); a1 = madd(p0, q1, a1); a2 = madd(p1, q0, a2); a3 = madd(p1, q1, a3);
        a4 = madd(p2, q0, a4); a5 = madd(p2, q1, a5); a6 = madd(p3, q0, a6); a7 = madd(p3, q1, a7);
      } else if (shape == 2) {
        const q0 = scaledQuad(row, mask), q1 = scaledQuad(row + 8, mask), q2 = scaledQuad(row + 16, mask), q3 = scaledQuad(row + 24, mask);
        const p0 = v128.load32_splat(p), p1 = v128.load32_splat(p + scBytes);
        a0 = madd(p0, q0, a0); a1 = madd(p0, q1, a1); a2 = madd(p0, q2, a2); a3 = madd(p0, q3, a3);
        a4 = madd(p1, q0, a4); a5 = madd(p1, q1, a5); a6 = madd(p1, q2, a6); a7 = madd(p1, q3, a7);
      } else {
        const p0 = v128.load32_splat(p);
        a0 = madd(p0, scaledQuad(row, mask), a0); a1 = madd(p0, scaledQuad(row + 8, mask), a1);
        a2 = madd(p0, scaledQuad(row + 16, mask), a2); a3 = madd(p0, scaledQuad(row + 24, mask), a3);
        a4 = madd(p0, scaledQuad(row + 32, mask), a4); a5 = madd(p0, scaledQuad(row + 40, mask), a5);
        a6 = madd(p0, scaledQuad(row + 48, mask), a6); a7 = madd(p0, scaledQuad(row + 56, mask), a7);
      }
      row += stepRows;
      p += 128;
    }
    if (c == 0) {
      u0 = a0; u1 = a1; u2 = a2; u3 = a3; u4 = a4; u5 = a5; u6 = a6; u7 = a7;
    } else if (c == 1) {
      u0 = f32x4.add(u0, a0); u1 = f32x4.add(u1, a1); u2 = f32x4.add(u2, a2); u3 = f32x4.add(u3, a3);
      u4 = f32x4.add(u4, a4); u5 = f32x4.add(u5, a5); u6 = f32x4.add(u6, a6); u7 = f32x4.add(u7, a7);
    } else if (c == 2) {
      v0 = a0; v1 = a1; v2 = a2; v3 = a3; v4 = a4; v5 = a5; v6 = a6; v7 = a7;
    } else {
      // y_l = (a_l + a_{l+16}) + (a_{l+8} + a_{l+24}), held in a; then the tree over l (see above)
      a0 = f32x4.add(u0, f32x4.add(v0, a0)); a1 = f32x4.add(u1, f32x4.add(v1, a1));
      a2 = f32x4.add(u2, f32x4.add(v2, a2)); a3 = f32x4.add(u3, f32x4.add(v3, a3));
      a4 = f32x4.add(u4, f32x4.add(v4, a4)); a5 = f32x4.add(u5, f32x4.add(v5, a5));
      a6 = f32x4.add(u6, f32x4.add(v6, a6)); a7 = f32x4.add(u7, f32x4.add(v7, a7));
      if (m == 0) {
        s0 = a0; s1 = a1; s2 = a2; s3 = a3; s4 = a4; s5 = a5; s6 = a6; s7 = a7;
      } else if (m == 1) {
        // t_0 = y_0 + y_4
        s0 = f32x4.add(s0, a0); s1 = f32x4.add(s1, a1); s2 = f32x4.add(s2, a2); s3 = f32x4.add(s3, a3);
        s4 = f32x4.add(s4, a4); s5 = f32x4.add(s5, a5); s6 = f32x4.add(s6, a6); s7 = f32x4.add(s7, a7);
      } else if (m == 2 || m == 4 || m == 6) {
        w0 = a0; w1 = a1; w2 = a2; w3 = a3; w4 = a4; w5 = a5; w6 = a6; w7 = a7;
      } else if (m == 3) {
        // t_0 + t_1
        s0 = f32x4.add(s0, f32x4.add(w0, a0)); s1 = f32x4.add(s1, f32x4.add(w1, a1));
        s2 = f32x4.add(s2, f32x4.add(w2, a2)); s3 = f32x4.add(s3, f32x4.add(w3, a3));
        s4 = f32x4.add(s4, f32x4.add(w4, a4)); s5 = f32x4.add(s5, f32x4.add(w5, a5));
        s6 = f32x4.add(s6, f32x4.add(w6, a6)); s7 = f32x4.add(s7, f32x4.add(w7, a7));
      } else if (m == 5) {
        // t_2
        z0 = f32x4.add(w0, a0); z1 = f32x4.add(w1, a1); z2 = f32x4.add(w2, a2); z3 = f32x4.add(w3, a3);
        z4 = f32x4.add(w4, a4); z5 = f32x4.add(w5, a5); z6 = f32x4.add(w6, a6); z7 = f32x4.add(w7, a7);
      } else {
        // (t_0 + t_1) + (t_2 + t_3)
        s0 = f32x4.add(s0, f32x4.add(z0, f32x4.add(w0, a0))); s1 = f32x4.add(s1, f32x4.add(z1, f32x4.add(w1, a1)));
        s2 = f32x4.add(s2, f32x4.add(z2, f32x4.add(w2, a2))); s3 = f32x4.add(s3, f32x4.add(z3, f32x4.add(w3, a3)));
        s4 = f32x4.add(s4, f32x4.add(z4, f32x4.add(w4, a4))); s5 = f32x4.add(s5, f32x4.add(z5, f32x4.add(w5, a5)));
        s6 = f32x4.add(s6, f32x4.add(z6, f32x4.add(w6, a6))); s7 = f32x4.add(s7, f32x4.add(z7, f32x4.add(w7, a7)));
      }
    }
  }
  storePass(out, headBytes, shape, s0, s1, s2, s3, s4, s5, s6, s7);
}

/**
 * One pass in tinyBLAS's 8-lane order: lanes 0, 4, 2, 6, 1, 5, 3, 7, combined as
 * ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), as weightedSumV.
 */
@inline function pass8(v: usize, rowBytes: usize, sc: usize, scBytes: usize, nPos: i32, out: usize, headBytes: usize, shape: i32): void {
  const mask = scaledMask();
  const zero = f32x4.splat(0);
  let x0 = zero, x1 = zero, x2 = zero, x3 = zero, x4 = zero, x5 = zero, x6 = zero, x7 = zero;
  let y0 = zero, y1 = zero, y2 = zero, y3 = zero, y4 = zero, y5 = zero, y6 = zero, y7 = zero;
  let z0 = zero, z1 = zero, z2 = zero, z3 = zero, z4 = zero, z5 = zero, z6 = zero, z7 = zero;
  const stepRows = rowBytes << 3;
  for (let k = 0; k < 8; k++) {
    const lane = ((k & 1) << 2) | (k & 2) | (k >> 2);
    let a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
    let row = v + <usize>lane * rowBytes;
    let p = sc + (<usize>lane << 2);
    for (let t = lane; t < nPos; t += 8) {
      if (shape == 4) {
        const q0 = scaledQuad(row, mask), q1 = scaledQuad(row + 8, mask);
        const p0 = v128.load32_splat(p), p1 = v128.load32_splat(p + scBytes);
        const p2 = v128.load32_splat(p + 2 * scBytes), p3 = v128.load32_splat(p + 3 * scBytes);
        a0 = madd(p0, q0, a0); a1 = madd(p0, q1, a1); a2 = madd(p1, q0, a2); a3 = madd(p1, q1, a3);
        a4 = madd(p2, q0, a4); a5 = madd(p2, q1, a5); a6 = madd(p3, q0, a6); a7 = madd(p3, q1, a7);
      } else if (shape == 2) {
        const q0 = scaledQuad(row, mask), q1 = scaledQuad(row + 8, mask), q2 = scaledQuad(row + 16, mask), q3 = scaledQuad(row + 24, mask);
        const p0 = v128.load32_splat(p), p1 = v128.load32_splat(p + scBytes);
        a0 = madd(p0, q0, a0); a1 = madd(p0, q1, a1); a2 = madd(p0, q2, a2); a3 = madd(p0, q3, a3);
        a4 = madd(p1, q0, a4); a5 = madd(p1, q1, a5); a6 = madd(p1, q2, a6); a7 = madd(p1, q3, a7);
      } else {
        const p0 = v128.load32_splat(p);
        a0 = madd(p0, scaledQuad(row, mask), a0); a1 = madd(p0, scaledQuad(row + 8, mask), a1);
        a2 = madd(p0, scaledQuad(row + 16, mask), a2); a3 = madd(p0, scaledQuad(row + 24, mask), a3);
        a4 = madd(p0, scaledQuad(row + 32, mask), a4); a5 = madd(p0, scaledQuad(row + 40, mask), a5);
        a6 = madd(p0, scaledQuad(row + 48, mask), a6); a7 = madd(p0, scaledQuad(row + 56, mask), a7);
      }
      row += stepRows;
      p += 32;
    }
    if (k == 0 || k == 2 || k == 4 || k == 6) {
      // l0 → x, l2 → y, l1 → z, l3 → y
      if (k == 0) {
        x0 = a0; x1 = a1; x2 = a2; x3 = a3; x4 = a4; x5 = a5; x6 = a6; x7 = a7;
      } else if (k == 4) {
        z0 = a0; z1 = a1; z2 = a2; z3 = a3; z4 = a4; z5 = a5; z6 = a6; z7 = a7;
      } else {
        y0 = a0; y1 = a1; y2 = a2; y3 = a3; y4 = a4; y5 = a5; y6 = a6; y7 = a7;
      }
    } else if (k == 1) {
      // l0 + l4
      x0 = f32x4.add(x0, a0); x1 = f32x4.add(x1, a1); x2 = f32x4.add(x2, a2); x3 = f32x4.add(x3, a3);
      x4 = f32x4.add(x4, a4); x5 = f32x4.add(x5, a5); x6 = f32x4.add(x6, a6); x7 = f32x4.add(x7, a7);
    } else if (k == 3) {
      // (l0 + l4) + (l2 + l6)
      x0 = f32x4.add(x0, f32x4.add(y0, a0)); x1 = f32x4.add(x1, f32x4.add(y1, a1));
      x2 = f32x4.add(x2, f32x4.add(y2, a2)); x3 = f32x4.add(x3, f32x4.add(y3, a3));
      x4 = f32x4.add(x4, f32x4.add(y4, a4)); x5 = f32x4.add(x5, f32x4.add(y5, a5));
      x6 = f32x4.add(x6, f32x4.add(y6, a6)); x7 = f32x4.add(x7, f32x4.add(y7, a7));
    } else if (k == 5) {
      // l1 + l5
      z0 = f32x4.add(z0, a0); z1 = f32x4.add(z1, a1); z2 = f32x4.add(z2, a2); z3 = f32x4.add(z3, a3);
      z4 = f32x4.add(z4, a4); z5 = f32x4.add(z5, a5); z6 = f32x4.add(z6, a6); z7 = f32x4.add(z7, a7);
    } else {
      // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
      x0 = f32x4.add(x0, f32x4.add(z0, f32x4.add(y0, a0))); x1 = f32x4.add(x1, f32x4.add(z1, f32x4.add(y1, a1)));
      x2 = f32x4.add(x2, f32x4.add(z2, f32x4.add(y2, a2))); x3 = f32x4.add(x3, f32x4.add(z3, f32x4.add(y3, a3)));
      x4 = f32x4.add(x4, f32x4.add(z4, f32x4.add(y4, a4))); x5 = f32x4.add(x5, f32x4.add(z5, f32x4.add(y5, a5)));
      x6 = f32x4.add(x6, f32x4.add(z6, f32x4.add(y6, a6))); x7 = f32x4.add(x7, f32x4.add(z7, f32x4.add(y7, a7)));
    }
  }
  storePass(out, headBytes, shape, x0, x1, x2, x3, x4, x5, x6, x7);
}

/** The eight results of a pass: r_{i * 8/shape + j} is head i's quad j. */
@inline function storePass(
  out: usize, headBytes: usize, shape: i32, r0: v128, r1: v128, r2: v128, r3: v128, r4: v128, r5: v128, r6: v128, r7: v128,
): void {
  if (shape == 4) {
    v128.store(out, r0); v128.store(out, r1, 16);
    v128.store(out + headBytes, r2); v128.store(out + headBytes, r3, 16);
    v128.store(out + 2 * headBytes, r4); v128.store(out + 2 * headBytes, r5, 16);
    v128.store(out + 3 * headBytes, r6); v128.store(out + 3 * headBytes, r7, 16);
  } else if (shape == 2) {
    v128.store(out, r0); v128.store(out, r1, 16); v128.store(out, r2, 32); v128.store(out, r3, 48);
    v128.store(out + headBytes, r4); v128.store(out + headBytes, r5, 16);
    v128.store(out + headBytes, r6, 32); v128.store(out + headBytes, r7, 48);
  } else {
    v128.store(out, r0); v128.store(out, r1, 16); v128.store(out, r2, 32); v128.store(out, r3, 48);
    v128.store(out, r4, 64); v128.store(out, r5, 80); v128.store(out, r6, 96); v128.store(out, r7, 112);
  }
}

/**
 * The V pass of one head in the 32-lane order, for any element count (the columns a pass leaves):
 * weightedSumDotV (ggml_vec_dot_f16 over the positions, one output element at a time: 32 lanes, position t
 * in lane t % 32, then GGML_F16_VEC_REDUCE: lanes l, l+16, l+8, l+24 as (a_l + a_{l+16}) + (a_{l+8} + a_{l+24})
 * for l < 8, then y_i + y_{i+4}, then (t_0 + t_1) + (t_2 + t_3)). Positions past nPos (llama.cpp's padding
 * to 256) add exact zeros. Four elements per v128.
 */
function weightedSumDotV(v: usize, rowBytes: usize, sc: usize, nPos: i32, out: usize, n: i32): void {
  const mask = scaledMask();
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    const col = v + (<usize>d << 1);
    const y0 = laneQuad(col, rowBytes, sc, nPos, mask, 0);
    const y1 = laneQuad(col, rowBytes, sc, nPos, mask, 1);
    const y2 = laneQuad(col, rowBytes, sc, nPos, mask, 2);
    const y3 = laneQuad(col, rowBytes, sc, nPos, mask, 3);
    const y4 = laneQuad(col, rowBytes, sc, nPos, mask, 4);
    const y5 = laneQuad(col, rowBytes, sc, nPos, mask, 5);
    const y6 = laneQuad(col, rowBytes, sc, nPos, mask, 6);
    const y7 = laneQuad(col, rowBytes, sc, nPos, mask, 7);
    const t0 = f32x4.add(y0, y4);
    const t1 = f32x4.add(y1, y5);
    const t2 = f32x4.add(y2, y6);
    const t3 = f32x4.add(y3, y7);
    v128.store(out + (<usize>d << 2), f32x4.add(f32x4.add(t0, t1), f32x4.add(t2, t3)));
  }
  for (; d < n; d++) store<f32>(out + (<usize>d << 2), dotOrderS(v + (<usize>d << 1), rowBytes, sc, nPos));
}

/** (a_l + a_{l+16}) + (a_{l+8} + a_{l+24}) for four elements, a_L the lane-L sum over positions t ≡ L (mod 32). */
@inline function laneQuad(col: usize, rowBytes: usize, sc: usize, nPos: i32, mask: v128, l: i32): v128 {
  return f32x4.add(
    f32x4.add(laneSum4(col, rowBytes, sc, nPos, mask, l), laneSum4(col, rowBytes, sc, nPos, mask, l + 16)),
    f32x4.add(laneSum4(col, rowBytes, sc, nPos, mask, l + 8), laneSum4(col, rowBytes, sc, nPos, mask, l + 24)),
  );
}

@inline function laneSum4(col: usize, rowBytes: usize, sc: usize, nPos: i32, mask: v128, lane: i32): v128 {
  let acc = f32x4.splat(0);
  for (let t = lane; t < nPos; t += 32) {
    acc = madd(v128.load32_splat(sc + (<usize>t << 2)), scaledQuad(col + <usize>t * rowBytes, mask), acc);
  }
  return acc;
}

/**
 * The V pass of one head in tinyBLAS<8>'s order, for any element count: llamafile's tinyBLAS<8> sums a
 * row of kqv in eight accumulators, position t into accumulator t % 8 in t order (each product exact: f16(p)
 * times an f16), then ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7)). tinyBLAS runs over all n_kv cells, nPos
 * rounded up to llama.cpp's KV padding, and those past nPos add p = 0 times a zeroed cell: exact no-ops, so
 * stopping at nPos gives the same bits. Four elements per step; the last n % 4 one by one.
 */
function weightedSumV(v: usize, rowBytes: usize, sc: usize, nPos: i32, out: usize, n: i32): void {
  const mask = scaledMask();
  const zero = f32x4.splat(0);
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    let l0 = zero, l1 = zero, l2 = zero, l3 = zero, l4 = zero, l5 = zero, l6 = zero, l7 = zero;
    let row = v + (<usize>d << 1);
    const r8 = rowBytes << 3;
    const full = nPos & ~7;
    let t = 0;
    for (; t < full; t += 8) {
      const p = sc + (<usize>t << 2);
      l0 = madd(v128.load32_splat(p), scaledQuad(row, mask), l0);
      l1 = madd(v128.load32_splat(p, 4), scaledQuad(row + rowBytes, mask), l1);
      l2 = madd(v128.load32_splat(p, 8), scaledQuad(row + 2 * rowBytes, mask), l2);
      l3 = madd(v128.load32_splat(p, 12), scaledQuad(row + 3 * rowBytes, mask), l3);
      l4 = madd(v128.load32_splat(p, 16), scaledQuad(row + 4 * rowBytes, mask), l4);
      l5 = madd(v128.load32_splat(p, 20), scaledQuad(row + 5 * rowBytes, mask), l5);
      l6 = madd(v128.load32_splat(p, 24), scaledQuad(row + 6 * rowBytes, mask), l6);
      l7 = madd(v128.load32_splat(p, 28), scaledQuad(row + 7 * rowBytes, mask), l7);
      row += r8;
    }
    // the last nPos % 8 positions go to lanes 0 .. nPos % 8 - 1
    const m = nPos - t;
    const p = sc + (<usize>t << 2);
    if (m > 0) l0 = madd(v128.load32_splat(p), scaledQuad(row, mask), l0);
    if (m > 1) l1 = madd(v128.load32_splat(p, 4), scaledQuad(row + rowBytes, mask), l1);
    if (m > 2) l2 = madd(v128.load32_splat(p, 8), scaledQuad(row + 2 * rowBytes, mask), l2);
    if (m > 3) l3 = madd(v128.load32_splat(p, 12), scaledQuad(row + 3 * rowBytes, mask), l3);
    if (m > 4) l4 = madd(v128.load32_splat(p, 16), scaledQuad(row + 4 * rowBytes, mask), l4);
    if (m > 5) l5 = madd(v128.load32_splat(p, 20), scaledQuad(row + 5 * rowBytes, mask), l5);
    if (m > 6) l6 = madd(v128.load32_splat(p, 24), scaledQuad(row + 6 * rowBytes, mask), l6);
    v128.store(out + (<usize>d << 2), f32x4.add(f32x4.add(f32x4.add(l0, l4), f32x4.add(l2, l6)), f32x4.add(f32x4.add(l1, l5), f32x4.add(l3, l7))));
  }
  for (; d < n; d++) store<f32>(out + (<usize>d << 2), tinyOrderS(v + (<usize>d << 1), rowBytes, sc, nPos));
}

/** The scalar twin of the 32-lane V order for one element (V column at col, stride rowBytes). */
export function dotOrderS(col: usize, rowBytes: usize, sc: usize, nPos: i32): f32 {
  const y0 = laneQuadS(col, rowBytes, sc, nPos, 0);
  const y1 = laneQuadS(col, rowBytes, sc, nPos, 1);
  const y2 = laneQuadS(col, rowBytes, sc, nPos, 2);
  const y3 = laneQuadS(col, rowBytes, sc, nPos, 3);
  const y4 = laneQuadS(col, rowBytes, sc, nPos, 4);
  const y5 = laneQuadS(col, rowBytes, sc, nPos, 5);
  const y6 = laneQuadS(col, rowBytes, sc, nPos, 6);
  const y7 = laneQuadS(col, rowBytes, sc, nPos, 7);
  return ((y0 + y4) + (y1 + y5)) + ((y2 + y6) + (y3 + y7));
}

@inline function laneQuadS(col: usize, rowBytes: usize, sc: usize, nPos: i32, l: i32): f32 {
  return (laneS(col, rowBytes, sc, nPos, l, 32) + laneS(col, rowBytes, sc, nPos, l + 16, 32)) +
    (laneS(col, rowBytes, sc, nPos, l + 8, 32) + laneS(col, rowBytes, sc, nPos, l + 24, 32));
}

/** The scalar twin of the 8-lane (batch) V order for one element: lanes t % 8, then tinyBLAS's hsum. */
export function tinyOrderS(col: usize, rowBytes: usize, sc: usize, nPos: i32): f32 {
  const l0 = laneS(col, rowBytes, sc, nPos, 0, 8), l1 = laneS(col, rowBytes, sc, nPos, 1, 8);
  const l2 = laneS(col, rowBytes, sc, nPos, 2, 8), l3 = laneS(col, rowBytes, sc, nPos, 3, 8);
  const l4 = laneS(col, rowBytes, sc, nPos, 4, 8), l5 = laneS(col, rowBytes, sc, nPos, 5, 8);
  const l6 = laneS(col, rowBytes, sc, nPos, 6, 8), l7 = laneS(col, rowBytes, sc, nPos, 7, 8);
  return ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7));
}

/** Σ p_t v_t over positions t = lane, lane + step, … in order. */
@inline function laneS(col: usize, rowBytes: usize, sc: usize, nPos: i32, lane: i32, step: i32): f32 {
  let acc: f32 = 0;
  for (let t = lane; t < nPos; t += step) acc += load<f32>(sc + (<usize>t << 2)) * scaledS(<u32>load<u16>(col + <usize>t * rowBytes));
  return acc;
}
