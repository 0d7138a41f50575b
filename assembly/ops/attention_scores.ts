// The K pass of attention (ops/attention.ts): scores s_t = cap(f16(q_h) · k_t) * scale of several query
// heads over one KV head's f16 keys, each dot in ggml_vec_dot_f16's AVX2 order (see dotScaledV), and the
// "scaled f16" helpers both passes share.
//
//   q:  (heads, headDim) f32, f16(q) * 2^112, heads headBytes apart (the attention output buffer holds them)
//   k:  (nPos, headDim) f16 of one KV head, rows rowBytes apart (the cache's position stride)
//   sc: (heads, nPos) f32, heads scBytes apart: s_t written here
//
// Four dots at a time, so the f16 conversions and the horizontal sums are shared: scoresHeads takes one
// key row for four query heads of a group (each key converted once for the four), scoresRows4 four key
// rows for one head (each q vector loaded once for the four). ggml's 32 lanes are eight v128 accumulators
// per dot; four dots would need 32, so the lanes are summed in pairs (quad j with quad j + 4, over every
// block, 8 accumulators) in the order of GGML_F32x8_REDUCE's tree, and the four lane vectors of the four
// dots are reduced together by two rounds of shuffles (hsum4). Each f32 operation is the one dotScaledV
// does for that lane, in its order, so each score has dotScaledV's bits.
//
// A product of two f16 values (here (q * 2^112)(k * 2^-112)) is exact in f32, so a*b + c rounds once
// whether relaxed_madd fuses or not: the relaxed build uses it (madd).
//
// Measured on TinyLlama's shapes (32 heads, 4 KV heads, headDim 64), one layer, Node 24, relaxed build:
// see ops/attention.ts.

/** 2^112 as f32 bits: f16 bits in f32 position read as the value times 2^-112 (see ops/attention.ts). */
export const TWO_P112: u32 = 0x77800000;
/** 2^-112 as f32 bits. */
export const TWO_M112: u32 = 0x07800000;
/** Keeps the sign (bit 31) and the f16 exponent and mantissa (bits 27..13) of a shifted f16. */
const SCALED_MASK: i32 = <i32>0x8FFFE000;

/**
 * SCALED_MASK in memory, loaded once per kernel call (scaledMask) and passed down: V8 rebuilds a
 * v128.const at every use inside a loop (three instructions here), while a loaded local stays in a
 * register, and Binaryen cannot fold a load (as quant/common.ts's KCONST). Measured on the scores and V
 * loops: see ops/attention.ts.
 */
const SCALED_MASK_V: StaticArray<i32> = [SCALED_MASK, SCALED_MASK, SCALED_MASK, SCALED_MASK];

@inline export function scaledMask(): v128 {
  return v128.load(changetype<usize>(SCALED_MASK_V));
}

/**
 * Four f16 at p as f32 times 2^-112: sign-extended to i32 (the sign fills bits 15..31), shifted left 13
 * (exponent and mantissa to bits 13..27, the sign to 28..31), bits 28..30 cleared (mask: scaledMask()).
 * One load-and-extend, a shift and an and.
 */
@inline export function scaledQuad(p: usize, mask: v128): v128 {
  return v128.and(i32x4.shl(v128.load16x4_s(p), 13), mask);
}

/** The scalar twin of scaledQuad for one f16. */
@inline export function scaledS(h: u32): f32 {
  return reinterpret<f32>(((<i32>(h << 16)) >> 3) & SCALED_MASK);
}

/** a*b + c where a*b is exact (a product of two f16 values, scaled): fused or not, the same bits. */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** Lane i of the result: (x_i[0] + x_i[1]) + (x_i[2] + x_i[3]), the last two hadds of GGML_F32x8_REDUCE. */
@inline function hsum4(x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const a = f32x4.add(v128.shuffle<f32>(x0, x1, 0, 2, 4, 6), v128.shuffle<f32>(x0, x1, 1, 3, 5, 7));
  const b = f32x4.add(v128.shuffle<f32>(x2, x3, 0, 2, 4, 6), v128.shuffle<f32>(x2, x3, 1, 3, 5, 7));
  return f32x4.add(v128.shuffle<f32>(a, b, 0, 2, 4, 6), v128.shuffle<f32>(a, b, 1, 3, 5, 7));
}

/**
 * Four dots of nb 32-element blocks in ggml_vec_dot_f16's order: dot i pairs q + i*qStep with k + i*kStep
 * (heads: one key row, qStep = headBytes; rows: one q, kStep = rowBytes; `heads` is a constant at every
 * call, so one branch is compiled). Per dot, lane vector j (elements 4j..4j+3 of every block) sums over the
 * blocks in order; the tree is ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)), built here pair by pair.
 */
@inline function dots4(q: usize, qStep: usize, k: usize, kStep: usize, nb: i32, heads: bool, mask: v128): v128 {
  // The four pair passes are written out (not a loop over them): as a loop, V8 kept the pending sums of
  // the tree in stack slots, shuffled registers at each pass and branched on the pass number, some 40%
  // more instructions than the products themselves (measured on the machine code, TinyLlama's nb = 2).
  const zero = f32x4.splat(0);
  let a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
  let qp = q, kp = k;
  // pair (0, 4)
  a0 = zero; a1 = zero; a2 = zero; a3 = zero; a4 = zero; a5 = zero; a6 = zero; a7 = zero;
  qp = q + 0;
  kp = k + 0;
  for (let b = 0; b < nb; b++) {
    if (heads) {
      const k0 = scaledQuad(kp, mask);
      const k1 = scaledQuad(kp + 32, mask);
      a0 = madd(v128.load(qp), k0, a0);
      a1 = madd(v128.load(qp + qStep), k0, a1);
      a2 = madd(v128.load(qp + 2 * qStep), k0, a2);
      a3 = madd(v128.load(qp + 3 * qStep), k0, a3);
      a4 = madd(v128.load(qp, 64), k1, a4);
      a5 = madd(v128.load(qp + qStep, 64), k1, a5);
      a6 = madd(v128.load(qp + 2 * qStep, 64), k1, a6);
      a7 = madd(v128.load(qp + 3 * qStep, 64), k1, a7);
    } else {
      const q0 = v128.load(qp);
      const q1 = v128.load(qp, 64);
      a0 = madd(q0, scaledQuad(kp, mask), a0);
      a1 = madd(q0, scaledQuad(kp + kStep, mask), a1);
      a2 = madd(q0, scaledQuad(kp + 2 * kStep, mask), a2);
      a3 = madd(q0, scaledQuad(kp + 3 * kStep, mask), a3);
      a4 = madd(q1, scaledQuad(kp + 32, mask), a4);
      a5 = madd(q1, scaledQuad(kp + kStep + 32, mask), a5);
      a6 = madd(q1, scaledQuad(kp + 2 * kStep + 32, mask), a6);
      a7 = madd(q1, scaledQuad(kp + 3 * kStep + 32, mask), a7);
    }
    qp += 128;
    kp += 64;
  }
  const x0 = f32x4.add(a0, a4), x1 = f32x4.add(a1, a5), x2 = f32x4.add(a2, a6), x3 = f32x4.add(a3, a7);
  // pair (2, 6)
  a0 = zero; a1 = zero; a2 = zero; a3 = zero; a4 = zero; a5 = zero; a6 = zero; a7 = zero;
  qp = q + 32;
  kp = k + 16;
  for (let b = 0; b < nb; b++) {
    if (heads) {
      const k0 = scaledQuad(kp, mask);
      const k1 = scaledQuad(kp + 32, mask);
      a0 = madd(v128.load(qp), k0, a0);
      a1 = madd(v128.load(qp + qStep), k0, a1);
      a2 = madd(v128.load(qp + 2 * qStep), k0, a2);
      a3 = madd(v128.load(qp + 3 * qStep), k0, a3);
      a4 = madd(v128.load(qp, 64), k1, a4);
      a5 = madd(v128.load(qp + qStep, 64), k1, a5);
      a6 = madd(v128.load(qp + 2 * qStep, 64), k1, a6);
      a7 = madd(v128.load(qp + 3 * qStep, 64), k1, a7);
    } else {
      const q0 = v128.load(qp);
      const q1 = v128.load(qp, 64);
      a0 = madd(q0, scaledQuad(kp, mask), a0);
      a1 = madd(q0, scaledQuad(kp + kStep, mask), a1);
      a2 = madd(q0, scaledQuad(kp + 2 * kStep, mask), a2);
      a3 = madd(q0, scaledQuad(kp + 3 * kStep, mask), a3);
      a4 = madd(q1, scaledQuad(kp + 32, mask), a4);
      a5 = madd(q1, scaledQuad(kp + kStep + 32, mask), a5);
      a6 = madd(q1, scaledQuad(kp + 2 * kStep + 32, mask), a6);
      a7 = madd(q1, scaledQuad(kp + 3 * kStep + 32, mask), a7);
    }
    qp += 128;
    kp += 64;
  }
  const y0 = f32x4.add(x0, f32x4.add(a0, a4)), y1 = f32x4.add(x1, f32x4.add(a1, a5));
  const y2 = f32x4.add(x2, f32x4.add(a2, a6)), y3 = f32x4.add(x3, f32x4.add(a3, a7));
  // pair (1, 5)
  a0 = zero; a1 = zero; a2 = zero; a3 = zero; a4 = zero; a5 = zero; a6 = zero; a7 = zero;
  qp = q + 16;
  kp = k + 8;
  for (let b = 0; b < nb; b++) {
    if (heads) {
      const k0 = scaledQuad(kp, mask);
      const k1 = scaledQuad(kp + 32, mask);
      a0 = madd(v128.load(qp), k0, a0);
      a1 = madd(v128.load(qp + qStep), k0, a1);
      a2 = madd(v128.load(qp + 2 * qStep), k0, a2);
      a3 = madd(v128.load(qp + 3 * qStep), k0, a3);
      a4 = madd(v128.load(qp, 64), k1, a4);
      a5 = madd(v128.load(qp + qStep, 64), k1, a5);
      a6 = madd(v128.load(qp + 2 * qStep, 64), k1, a6);
      a7 = madd(v128.load(qp + 3 * qStep, 64), k1, a7);
    } else {
      const q0 = v128.load(qp);
      const q1 = v128.load(qp, 64);
      a0 = madd(q0, scaledQuad(kp, mask), a0);
      a1 = madd(q0, scaledQuad(kp + kStep, mask), a1);
      a2 = madd(q0, scaledQuad(kp + 2 * kStep, mask), a2);
      a3 = madd(q0, scaledQuad(kp + 3 * kStep, mask), a3);
      a4 = madd(q1, scaledQuad(kp + 32, mask), a4);
      a5 = madd(q1, scaledQuad(kp + kStep + 32, mask), a5);
      a6 = madd(q1, scaledQuad(kp + 2 * kStep + 32, mask), a6);
      a7 = madd(q1, scaledQuad(kp + 3 * kStep + 32, mask), a7);
    }
    qp += 128;
    kp += 64;
  }
  const w0 = f32x4.add(a0, a4), w1 = f32x4.add(a1, a5), w2 = f32x4.add(a2, a6), w3 = f32x4.add(a3, a7);
  // pair (3, 7)
  a0 = zero; a1 = zero; a2 = zero; a3 = zero; a4 = zero; a5 = zero; a6 = zero; a7 = zero;
  qp = q + 48;
  kp = k + 24;
  for (let b = 0; b < nb; b++) {
    if (heads) {
      const k0 = scaledQuad(kp, mask);
      const k1 = scaledQuad(kp + 32, mask);
      a0 = madd(v128.load(qp), k0, a0);
      a1 = madd(v128.load(qp + qStep), k0, a1);
      a2 = madd(v128.load(qp + 2 * qStep), k0, a2);
      a3 = madd(v128.load(qp + 3 * qStep), k0, a3);
      a4 = madd(v128.load(qp, 64), k1, a4);
      a5 = madd(v128.load(qp + qStep, 64), k1, a5);
      a6 = madd(v128.load(qp + 2 * qStep, 64), k1, a6);
      a7 = madd(v128.load(qp + 3 * qStep, 64), k1, a7);
    } else {
      const q0 = v128.load(qp);
      const q1 = v128.load(qp, 64);
      a0 = madd(q0, scaledQuad(kp, mask), a0);
      a1 = madd(q0, scaledQuad(kp + kStep, mask), a1);
      a2 = madd(q0, scaledQuad(kp + 2 * kStep, mask), a2);
      a3 = madd(q0, scaledQuad(kp + 3 * kStep, mask), a3);
      a4 = madd(q1, scaledQuad(kp + 32, mask), a4);
      a5 = madd(q1, scaledQuad(kp + kStep + 32, mask), a5);
      a6 = madd(q1, scaledQuad(kp + 2 * kStep + 32, mask), a6);
      a7 = madd(q1, scaledQuad(kp + 3 * kStep + 32, mask), a7);
    }
    qp += 128;
    kp += 64;
  }
  return hsum4(
    f32x4.add(y0, f32x4.add(w0, f32x4.add(a0, a4))), f32x4.add(y1, f32x4.add(w1, f32x4.add(a1, a5))),
    f32x4.add(y2, f32x4.add(w2, f32x4.add(a2, a6))), f32x4.add(y3, f32x4.add(w3, f32x4.add(a3, a7))),
  );
}

/** cap(s) * scale on four lanes: the soft-cap's tanh is scalar (libm tanhf, as llama.cpp). */
@inline function scaledScores(s: v128, scale: f32, softcap: f32): v128 {
  if (softcap == 0) return f32x4.mul(s, f32x4.splat(scale));
  return f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(s,
    0, capped(f32x4.extract_lane(s, 0), softcap) * scale),
    1, capped(f32x4.extract_lane(s, 1), softcap) * scale),
    2, capped(f32x4.extract_lane(s, 2), softcap) * scale),
    3, capped(f32x4.extract_lane(s, 3), softcap) * scale);
}

/**
 * Gemma 2's attention soft-cap: cap · tanh(s · f32(1/cap)), as llama.cpp's graph applies ggml_scale, ggml_tanh
 * (libm tanhf) and ggml_scale to kq before the softmax's own scale; cap = 0 leaves s as it is.
 */
@inline export function capped(s: f32, cap: f32): f32 {
  return cap == 0 ? s : Mathf.tanh(s * (<f32>1 / cap)) * cap;
}

/**
 * Scores of `sets` x 4 consecutive heads (q, q + headBytes, …) against every key row: sc + i*scBytes holds
 * head i's row. headDim = 32 * nb. Each key row is read once for all the heads (in L1 for the later sets).
 */
export function scoresHeads(
  q: usize, headBytes: usize, k: usize, rowBytes: usize, sc: usize, scBytes: usize, nPos: i32, nb: i32, sets: i32, scale: f32, softcap: f32,
): void {
  const mask = scaledMask();
  const setQ = headBytes << 2;
  const setS = scBytes << 2;
  let row = k;
  for (let t = 0; t < nPos; t++) {
    let qs = q;
    let o = sc + (<usize>t << 2);
    for (let set = 0; set < sets; set++) {
      const s = scaledScores(dots4(qs, headBytes, row, 0, nb, true, mask), scale, softcap);
      store<f32>(o, f32x4.extract_lane(s, 0));
      store<f32>(o + scBytes, f32x4.extract_lane(s, 1));
      store<f32>(o + 2 * scBytes, f32x4.extract_lane(s, 2));
      store<f32>(o + 3 * scBytes, f32x4.extract_lane(s, 3));
      qs += setQ;
      o += setS;
    }
    row += rowBytes;
  }
}

/**
 * scoresHeads for `groups` consecutive whole groups of 4 * sets heads (head i of group g at q + (g * 4 *
 * sets + i) * headBytes, its keys at k + g * kvBytes, its scores at sc + (g * 4 * sets + i) * scBytes) in
 * ONE walk over the rows: the cache row of a position holds every KV head's keys side by side, so walking
 * it once for all the groups reads it front to back (a sequential stream the hardware prefetcher follows,
 * where one walk per KV head took a quarter of every row, 512 bytes apart in TinyLlama). Each score is
 * scoresHeads' dots4, the same bits.
 *
 * vTouch (0: none) is the V cache at the same KV heads: one load per 64 bytes of each row's groups is
 * folded into a value returned (the caller stores it where the V pass then writes, so the loads stay),
 * which brings V toward the core in the same front-to-back stream. The V pass then walks it lane by
 * lane, 32 rows apart (ops/attention_values.ts), which the prefetcher does not follow: in a model's
 * decode V arrives from DRAM cold, the weights of the layers between having evicted it.
 */
export function scoresGroups(
  q: usize, headBytes: usize, k: usize, rowBytes: usize, kvBytes: usize, sc: usize, scBytes: usize, nPos: i32, nb: i32,
  groups: i32, sets: i32, scale: f32, softcap: f32, vTouch: usize,
): v128 {
  const mask = scaledMask();
  const setQ = headBytes << 2;
  const setS = scBytes << 2;
  const touchBytes = <usize>groups * kvBytes;
  let touch = f32x4.splat(0);
  let row = k;
  let vrow = vTouch;
  for (let t = 0; t < nPos; t++) {
    let qs = q;
    let o = sc + (<usize>t << 2);
    let kk = row;
    for (let g = 0; g < groups; g++) {
      for (let set = 0; set < sets; set++) {
        const s = scaledScores(dots4(qs, headBytes, kk, 0, nb, true, mask), scale, softcap);
        store<f32>(o, f32x4.extract_lane(s, 0));
        store<f32>(o + scBytes, f32x4.extract_lane(s, 1));
        store<f32>(o + 2 * scBytes, f32x4.extract_lane(s, 2));
        store<f32>(o + 3 * scBytes, f32x4.extract_lane(s, 3));
        qs += setQ;
        o += setS;
      }
      kk += kvBytes;
    }
    if (vTouch) {
      for (let b: usize = 0; b < touchBytes; b += 64) touch = v128.or(touch, v128.load(vrow + b));
      vrow += rowBytes;
    }
    row += rowBytes;
  }
  return touch;
}

/** Scores of one head against every key row, four rows per step (the last nPos % 4 one by one). */
export function scoresRows4(q: usize, k: usize, rowBytes: usize, sc: usize, nPos: i32, nb: i32, scale: f32, softcap: f32): void {
  const mask = scaledMask();
  let row = k;
  const step = rowBytes << 2;
  let t = 0;
  for (; t + 4 <= nPos; t += 4) {
    v128.store(sc + (<usize>t << 2), scaledScores(dots4(q, 0, row, rowBytes, nb, false, mask), scale, softcap));
    row += step;
  }
  for (; t < nPos; t++) {
    store<f32>(sc + (<usize>t << 2), capped(dotScaledV(q, row, nb << 5), softcap) * scale);
    row += rowBytes;
  }
}

/**
 * Scores of one head of any headDim (the path for headDim % 32 != 0: stories260K's 8, phi-2's 80), one
 * dotScaledV per position.
 */
export function scoresOne(q: usize, k: usize, rowBytes: usize, sc: usize, nPos: i32, headDim: i32, scale: f32, softcap: f32): void {
  for (let t = 0; t < nPos; t++) {
    store<f32>(sc + (<usize>t << 2), capped(dotScaledV(q, k + <usize>t * rowBytes, headDim), softcap) * scale);
  }
}

/**
 * ggml_vec_dot_f16 as the AVX2 build computes it, of a (n) f32 (f16 values * 2^112) and k (n) f16.
 * GGML_F16_STEP = 32 elements per step in four 8-lane registers x[0..3]; here x[r] is the pair of v128
 * (a{2r}, a{2r+1}). GGML_F32x8_REDUCE: x0 += x2, x1 += x3, x0 += x1, then t0 = lo + hi and two hadds,
 * (t0[0] + t0[1]) + (t0[2] + t0[3]). The n % 32 leftovers are added in f64, as ggml does.
 */
function dotScaledV(a: usize, k: usize, n: i32): f32 {
  const mask = scaledMask();
  const zero = f32x4.splat(0);
  let a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
  let i = 0;
  for (; i + 32 <= n; i += 32) {
    const pa = a + (<usize>i << 2);
    const pk = k + (<usize>i << 1);
    a0 = madd(v128.load(pa), scaledQuad(pk, mask), a0);
    a1 = madd(v128.load(pa, 16), scaledQuad(pk + 8, mask), a1);
    a2 = madd(v128.load(pa, 32), scaledQuad(pk + 16, mask), a2);
    a3 = madd(v128.load(pa, 48), scaledQuad(pk + 24, mask), a3);
    a4 = madd(v128.load(pa, 64), scaledQuad(pk + 32, mask), a4);
    a5 = madd(v128.load(pa, 80), scaledQuad(pk + 40, mask), a5);
    a6 = madd(v128.load(pa, 96), scaledQuad(pk + 48, mask), a6);
    a7 = madd(v128.load(pa, 112), scaledQuad(pk + 56, mask), a7);
  }
  a0 = f32x4.add(a0, a4);
  a1 = f32x4.add(a1, a5);
  a2 = f32x4.add(a2, a6);
  a3 = f32x4.add(a3, a7);
  a0 = f32x4.add(a0, a2);
  a1 = f32x4.add(a1, a3);
  const t0 = f32x4.add(a0, a1);
  const r = (f32x4.extract_lane(t0, 0) + f32x4.extract_lane(t0, 1)) +
    (f32x4.extract_lane(t0, 2) + f32x4.extract_lane(t0, 3));
  if (i == n) return r;
  let sum = <f64>r;
  for (; i < n; i++) {
    sum += <f64>(load<f32>(a + (<usize>i << 2)) * scaledS(<u32>load<u16>(k + (<usize>i << 1))));
  }
  return <f32>sum;
}

/** The scalar twin of dotScaledV: lane l of the 32 sums element l of every block, combined in the same tree. */
export function dotScaledS(a: usize, k: usize, n: i32): f32 {
  const blocks = n >> 5;
  let r: f32 = 0;
  if (blocks > 0) {
    let t01: f32 = 0, t23: f32 = 0;
    for (let p = 0; p < 4; p++) {
      // lane p of x0 after the reduction, and of x0's high half (elements 4..7 of each 8)
      const lo = (laneSum(a, k, blocks, p) + laneSum(a, k, blocks, 16 + p)) +
        (laneSum(a, k, blocks, 8 + p) + laneSum(a, k, blocks, 24 + p));
      const hi = (laneSum(a, k, blocks, 4 + p) + laneSum(a, k, blocks, 20 + p)) +
        (laneSum(a, k, blocks, 12 + p) + laneSum(a, k, blocks, 28 + p));
      const t = lo + hi;
      if (p == 0) t01 = t;
      else if (p == 1) t01 += t;
      else if (p == 2) t23 = t;
      else t23 += t;
    }
    r = t01 + t23;
  }
  const done = blocks << 5;
  if (done == n) return r;
  let sum = <f64>r;
  for (let i = done; i < n; i++) {
    sum += <f64>(load<f32>(a + (<usize>i << 2)) * scaledS(<u32>load<u16>(k + (<usize>i << 1))));
  }
  return <f32>sum;
}

@inline function laneSum(a: usize, k: usize, blocks: i32, lane: i32): f32 {
  let s: f32 = 0;
  for (let b = 0; b < blocks; b++) {
    const i = (b << 5) + lane;
    s += load<f32>(a + (<usize>i << 2)) * scaledS(<u32>load<u16>(k + (<usize>i << 1)));
  }
  return s;
}
