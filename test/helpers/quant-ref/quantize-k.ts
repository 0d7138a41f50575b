// Reference quantizers for the super-block formats (Q2_K … Q6_K, IQ4_XS) in TypeScript, so tests
// can make K-quant matrices of any shape. Not hot. Each follows ggml's
// quantize_row_*_ref (ggml/src/ggml-quants.c; for IQ4_XS quantize_iq4_xs with no importance
// matrix), which is what llama-quantize runs when no imatrix is given, with every float operation
// rounded to f32 as C does (Math.fround), so the bytes match ggml's for the same input.
//
// Every function takes a row-major f32 matrix (rows × cols) and returns the packed rows as in a
// GGUF file; cols must be a multiple of 256. Block layouts: assembly/quant/<fmt>.ts headers.

import { bestIndex, f16ToF32, f32ToF16, IQ4_NL_VALUES } from "./quantize.js";

const f32 = Math.fround;
const QK_K = 256;
/** ggml's GROUP_MAX_EPS: a group whose largest |x| is below it quantizes to zeros. */
const GROUP_MAX_EPS = f32(1e-15);
const TENTH = f32(0.1);

/** ggml's nearest_int for an f32 value: round half to even (adding 1.5·2^23 in f32 does the rounding). */
function nearestInt(v: number): number {
  return f32(v + 12582912) - 12582912;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** Quantize every 256-element super-block of the matrix with `block(x, off, view, o)`. */
function superBlocks(
  src: Float32Array, rows: number, cols: number, name: string, bytes: number,
  block: (x: Float32Array, off: number, view: DataView, o: number) => void,
): Uint8Array {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || src.length < rows * cols) {
    throw new RangeError(`quantize${name}: ${rows}×${cols} does not fit a source of ${src.length} floats`);
  }
  if (cols % QK_K !== 0) throw new RangeError(`quantize${name}: ${cols} columns is not a multiple of ${QK_K}`);
  const nb = (rows * cols) / QK_K;
  const out = new Uint8Array(nb * bytes);
  const view = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) block(src, b * QK_K, view, b * bytes);
  return out;
}

/**
 * ggml's make_qkx2_quants: levels 0..nmax with a scale and a min, searched over nstep+1 scales
 * around (max − min)/nmax by weighted least squares. Writes the levels to L[lo … lo+n) and returns
 * [scale, −min] (the min as ggml stores it, ≥ 0).
 */
function makeQkx2(
  n: number, nmax: number, x: Float32Array, xo: number, w: Float32Array, L: Uint8Array, lo: number,
  Laux: Uint8Array, rmin: number, rdelta: number, nstep: number, useMad: boolean,
): [number, number] {
  let min = x[xo];
  let max = x[xo];
  let sumW = w[0];
  let sumX = f32(sumW * x[xo]);
  for (let i = 1; i < n; i++) {
    const xi = x[xo + i];
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    sumW = f32(sumW + w[i]);
    sumX = f32(sumX + f32(w[i] * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    return [0, -min];
  }
  let iscale = f32(nmax / f32(max - min));
  let scale = f32(1 / iscale);
  let bestError = 0;
  const err = (s: number, m: number, l: number, xi: number, wi: number): number => {
    const diff = f32(f32(f32(s * l) + m) - xi);
    return f32(wi * (useMad ? Math.abs(diff) : f32(diff * diff)));
  };
  for (let i = 0; i < n; i++) {
    const l = clamp(nearestInt(f32(iscale * f32(x[xo + i] - min))), 0, nmax);
    L[lo + i] = l;
    bestError = f32(bestError + err(scale, min, l, x[xo + i], w[i]));
  }
  if (nstep < 1) return [scale, -min];
  for (let is = 0; is <= nstep; is++) {
    // min is the best fit so far: ggml re-reads it here and below
    iscale = f32(f32(f32(rmin + f32(rdelta * is)) + nmax) / f32(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i];
      const l = clamp(nearestInt(f32(iscale * f32(xi - min))), 0, nmax);
      Laux[i] = l;
      const wl = f32(w[i] * l);
      sumL = f32(sumL + wl);
      sumL2 = f32(sumL2 + f32(wl * l));
      sumXL = f32(sumXL + f32(wl * xi));
    }
    const D = f32(f32(sumW * sumL2) - f32(sumL * sumL));
    if (D > 0) {
      let thisScale = f32(f32(f32(sumW * sumXL) - f32(sumX * sumL)) / D);
      let thisMin = f32(f32(f32(sumL2 * sumX) - f32(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f32(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) curError = f32(curError + err(thisScale, thisMin, Laux[i], x[xo + i], w[i]));
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lo + i] = Laux[i];
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return [scale, -min];
}

/**
 * ggml's make_qx_quants with rmse_type 1 and no importance weights (w = x²): symmetric levels
 * −nmax … nmax−1 stored as 0 … 2·nmax−1 in L, the scale refined over 18 trial scales.
 */
function makeQx(n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]);
    if (ax > amax) {
      amax = ax;
      max = x[xo + i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const level = (iscale: number, xi: number) => clamp(nearestInt(f32(iscale * xi)), -nmax, nmax - 1);
  let iscale = f32(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const l = level(iscale, xi);
    L[lo + i] = l + nmax;
    const w = f32(xi * xi);
    sumlx = f32(sumlx + f32(f32(w * xi) * l));
    suml2 = f32(suml2 + f32(f32(w * l) * l));
  }
  let scale = suml2 ? f32(sumlx / suml2) : 0;
  let best = f32(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f32(-f32(nmax + f32(TENTH * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i];
      const l = level(iscale, xi);
      const w = f32(xi * xi);
      sumlx = f32(sumlx + f32(f32(w * xi) * l));
      suml2 = f32(suml2 + f32(f32(w * l) * l));
    }
    if (suml2 > 0 && f32(sumlx * sumlx) > f32(best * suml2)) {
      for (let i = 0; i < n; i++) L[lo + i] = nmax + level(iscale, x[xo + i]);
      scale = f32(sumlx / suml2);
      best = f32(scale * sumlx);
    }
  }
  return scale;
}

/** ggml's make_q3_quants with do_rmse: levels −nmax … nmax−1 (stored +nmax), refined by coordinate descent. */
function makeQ3(n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]);
    if (ax > amax) {
      amax = ax;
      max = x[xo + i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const iscale = f32(-nmax / max);
  const Ls = new Int8Array(n);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const l = clamp(nearestInt(f32(iscale * xi)), -nmax, nmax - 1);
    Ls[i] = l;
    const w = f32(xi * xi);
    sumlx = f32(sumlx + f32(f32(w * xi) * l));
    suml2 = f32(suml2 + f32(f32(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i];
      const w = f32(xi * xi);
      let slx = f32(sumlx - f32(f32(w * xi) * Ls[i]));
      if (slx > 0) {
        let sl2 = f32(suml2 - f32(f32(w * Ls[i]) * Ls[i]));
        const newL = clamp(nearestInt(f32(f32(xi * sl2) / slx)), -nmax, nmax - 1);
        if (newL !== Ls[i]) {
          slx = f32(slx + f32(f32(w * xi) * newL));
          sl2 = f32(sl2 + f32(f32(w * newL) * newL));
          if (sl2 > 0 && f32(f32(slx * slx) * suml2) > f32(f32(sumlx * sumlx) * sl2)) {
            Ls[i] = newL;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (let i = 0; i < n; i++) L[lo + i] = Ls[i] + nmax;
  return suml2 > 0 ? f32(sumlx / suml2) : 0;
}

/** Q2_K: per 16 elements a 4-bit scale and min (make_qkx2, |x| weights), 2-bit levels. */
export function quantizeQ2K(src: Float32Array, rows: number, cols: number): Uint8Array {
  const L = new Uint8Array(QK_K);
  const Laux = new Uint8Array(16);
  const w = new Float32Array(16);
  const scales = new Float32Array(16);
  const mins = new Float32Array(16);
  return superBlocks(src, rows, cols, "Q2_K", 84, (x, off, view, o) => {
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 16; j++) {
      for (let l = 0; l < 16; l++) w[l] = Math.abs(x[off + 16 * j + l]);
      [scales[j], mins[j]] = makeQkx2(16, 3, x, off + 16 * j, w, L, 16 * j, Laux, -0.5, TENTH, 15, true);
      if (scales[j] > maxScale) maxScale = scales[j];
      if (mins[j] > maxMin) maxMin = mins[j];
    }
    const sc = new Uint8Array(16);
    let d = 0;
    let dmin = 0;
    if (maxScale > 0) {
      const iscale = f32(15 / maxScale);
      for (let j = 0; j < 16; j++) sc[j] = nearestInt(f32(iscale * scales[j])) & 255;
      d = f32ToF16(f32(maxScale / 15));
    }
    if (maxMin > 0) {
      const iscale = f32(15 / maxMin);
      for (let j = 0; j < 16; j++) sc[j] |= (nearestInt(f32(iscale * mins[j])) << 4) & 255;
      dmin = f32ToF16(f32(maxMin / 15));
    }
    for (let j = 0; j < 16; j++) {
      const dl = f32(f16ToF32(d) * (sc[j] & 15));
      if (!dl) continue;
      const ml = f32(f16ToF32(dmin) * (sc[j] >> 4));
      for (let i = 0; i < 16; i++) L[16 * j + i] = clamp(nearestInt(f32(f32(x[off + 16 * j + i] + ml) / dl)), 0, 3);
    }
    for (let j = 0; j < 16; j++) view.setUint8(o + j, sc[j]);
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const e = 128 * h + l;
        view.setUint8(o + 16 + 32 * h + l, L[e] | (L[e + 32] << 2) | (L[e + 64] << 4) | (L[e + 96] << 6));
      }
    }
    view.setUint16(o + 80, d, true);
    view.setUint16(o + 82, dmin, true);
  });
}

/** Q3_K: per 16 elements a signed 6-bit scale (make_q3_quants), 3-bit levels split 2 + 1 (hmask). */
export function quantizeQ3K(src: Float32Array, rows: number, cols: number): Uint8Array {
  const L = new Uint8Array(QK_K);
  const scales = new Float32Array(16);
  return superBlocks(src, rows, cols, "Q3_K", 110, (x, off, view, o) => {
    let maxScale = 0;
    let amax = 0;
    for (let j = 0; j < 16; j++) {
      scales[j] = makeQ3(16, 4, x, off + 16 * j, L, 16 * j);
      if (Math.abs(scales[j]) > amax) {
        amax = Math.abs(scales[j]);
        maxScale = scales[j];
      }
    }
    const sb = new Uint8Array(12);
    let d = 0;
    if (maxScale) {
      const iscale = f32(-32 / maxScale);
      for (let j = 0; j < 16; j++) {
        const l = clamp((nearestInt(f32(iscale * scales[j])) << 24) >> 24, -32, 31) + 32; // int8_t, then clamp
        if (j < 8) sb[j] = l & 15;
        else sb[j - 8] |= (l & 15) << 4;
        sb[8 + (j % 4)] |= (l >> 4) << (2 * (j >> 2));
      }
      d = f32ToF16(f32(1 / iscale));
    }
    for (let j = 0; j < 16; j++) {
      const low = j < 8 ? sb[j] & 15 : sb[j - 8] >> 4;
      const s = (low | (((sb[8 + (j % 4)] >> (2 * (j >> 2))) & 3) << 4)) - 32;
      const dl = f32(f16ToF32(d) * s);
      if (!dl) continue;
      for (let i = 0; i < 16; i++) L[16 * j + i] = clamp(nearestInt(f32(x[off + 16 * j + i] / dl)), -4, 3) + 4;
    }
    const hmask = new Uint8Array(32);
    for (let j = 0; j < QK_K; j++) {
      if (L[j] > 3) {
        hmask[j % 32] |= 1 << (j >> 5);
        L[j] -= 4;
      }
    }
    for (let j = 0; j < 32; j++) view.setUint8(o + j, hmask[j]);
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const e = 128 * h + l;
        view.setUint8(o + 32 + 32 * h + l, L[e] | (L[e + 32] << 2) | (L[e + 64] << 4) | (L[e + 96] << 6));
      }
    }
    for (let j = 0; j < 12; j++) view.setUint8(o + 96 + j, sb[j]);
    view.setUint16(o + 108, d, true);
  });
}

/**
 * Q4_K and Q5_K share everything but the level count (and make_qkx2's search): per 32 elements a
 * 6-bit scale and min, weights av_x + |x|; returns the 6-bit-packed scales, d, dmin and the levels.
 */
function quantizeK45(
  x: Float32Array, off: number, nmax: number, rmin: number, nstep: number, L: Uint8Array,
): { scales: Uint8Array; d: number; dmin: number } {
  const Laux = new Uint8Array(32);
  const w = new Float32Array(32);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = f32(sumX2 + f32(x[off + 32 * j + l] * x[off + 32 * j + l]));
    const avX = f32(Math.sqrt(f32(sumX2 / 32)));
    for (let l = 0; l < 32; l++) w[l] = f32(avX + Math.abs(x[off + 32 * j + l]));
    [scales[j], mins[j]] = makeQkx2(32, nmax, x, off + 32 * j, w, L, 32 * j, Laux, rmin, TENTH, nstep, false);
    if (scales[j] > maxScale) maxScale = scales[j];
    if (mins[j] > maxMin) maxMin = mins[j];
  }
  const invScale = maxScale > 0 ? f32(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f32(63 / maxMin) : 0;
  const sb = new Uint8Array(12);
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(f32(invScale * scales[j])) & 255); // uint8_t, then MIN(63)
    const lm = Math.min(63, nearestInt(f32(invMin * mins[j])) & 255);
    if (j < 4) {
      sb[j] = ls;
      sb[j + 4] = lm;
    } else {
      sb[j + 4] = (ls & 15) | ((lm & 15) << 4);
      sb[j - 4] |= (ls >> 4) << 6;
      sb[j] |= (lm >> 4) << 6;
    }
  }
  const d = f32ToF16(f32(maxScale / 63));
  const dmin = f32ToF16(f32(maxMin / 63));
  for (let j = 0; j < 8; j++) {
    const sc = j < 4 ? sb[j] & 63 : (sb[j + 4] & 15) | ((sb[j - 4] >> 6) << 4);
    const m = j < 4 ? sb[j + 4] & 63 : (sb[j + 4] >> 4) | ((sb[j] >> 6) << 4);
    const dl = f32(f16ToF32(d) * sc);
    if (!dl) continue;
    const dm = f32(f16ToF32(dmin) * m);
    for (let i = 0; i < 32; i++) L[32 * j + i] = clamp(nearestInt(f32(f32(x[off + 32 * j + i] + dm) / dl)), 0, nmax);
  }
  return { scales: sb, d, dmin };
}

/** Q4_K: per 32 elements a 6-bit scale and min (make_qkx2, 21 trial scales), 4-bit levels. */
export function quantizeQ4K(src: Float32Array, rows: number, cols: number): Uint8Array {
  const L = new Uint8Array(QK_K);
  return superBlocks(src, rows, cols, "Q4_K", 144, (x, off, view, o) => {
    const { scales, d, dmin } = quantizeK45(x, off, 15, -1, 20, L);
    view.setUint16(o, d, true);
    view.setUint16(o + 2, dmin, true);
    for (let j = 0; j < 12; j++) view.setUint8(o + 4 + j, scales[j]);
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) view.setUint8(o + 16 + 32 * c + l, L[64 * c + l] | (L[64 * c + 32 + l] << 4));
    }
  });
}

/** Q5_K: per 32 elements a 6-bit scale and min (make_qkx2, 16 trial scales), 5-bit levels. */
export function quantizeQ5K(src: Float32Array, rows: number, cols: number): Uint8Array {
  const L = new Uint8Array(QK_K);
  return superBlocks(src, rows, cols, "Q5_K", 176, (x, off, view, o) => {
    const { scales, d, dmin } = quantizeK45(x, off, 31, -0.5, 15, L);
    view.setUint16(o, d, true);
    view.setUint16(o + 2, dmin, true);
    for (let j = 0; j < 12; j++) view.setUint8(o + 4 + j, scales[j]);
    const qh = new Uint8Array(32);
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) {
        const a = L[64 * c + l];
        const b = L[64 * c + 32 + l];
        qh[l] |= ((a >> 4) << (2 * c)) | ((b >> 4) << (2 * c + 1));
        view.setUint8(o + 48 + 32 * c + l, (a & 15) | ((b & 15) << 4));
      }
    }
    for (let l = 0; l < 32; l++) view.setUint8(o + 16 + l, qh[l]);
  });
}

/** Q6_K: per 16 elements an 8-bit scale (make_qx_quants, x² weights), 6-bit levels split 4 + 2. */
export function quantizeQ6K(src: Float32Array, rows: number, cols: number): Uint8Array {
  const L = new Uint8Array(QK_K);
  const scales = new Float32Array(16);
  return superBlocks(src, rows, cols, "Q6_K", 210, (x, off, view, o) => {
    let maxScale = 0;
    let maxAbs = 0;
    for (let j = 0; j < 16; j++) {
      scales[j] = makeQx(16, 32, x, off + 16 * j, L, 16 * j);
      if (Math.abs(scales[j]) > maxAbs) {
        maxAbs = Math.abs(scales[j]);
        maxScale = scales[j];
      }
    }
    if (maxAbs < GROUP_MAX_EPS) return; // an all-zero block: every byte 0 (d = +0)
    const iscale = f32(-128 / maxScale);
    const d = f32ToF16(f32(1 / iscale));
    const sc = new Int8Array(16);
    for (let j = 0; j < 16; j++) sc[j] = Math.min(127, nearestInt(f32(iscale * scales[j])));
    for (let j = 0; j < 16; j++) {
      const dl = f32(f16ToF32(d) * sc[j]);
      if (!dl) continue;
      for (let i = 0; i < 16; i++) L[16 * j + i] = clamp(nearestInt(f32(x[off + 16 * j + i] / dl)), -32, 31) + 32;
    }
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const e = 128 * h + l;
        view.setUint8(o + 64 * h + l, (L[e] & 15) | ((L[e + 64] & 15) << 4));
        view.setUint8(o + 64 * h + 32 + l, (L[e + 32] & 15) | ((L[e + 96] & 15) << 4));
        const hi = (L[e] >> 4) | ((L[e + 32] >> 4) << 2) | ((L[e + 64] >> 4) << 4) | ((L[e + 96] >> 4) << 6);
        view.setUint8(o + 128 + 32 * h + l, hi);
      }
    }
    for (let j = 0; j < 16; j++) view.setInt8(o + 192 + j, sc[j]);
    view.setUint16(o + 208, d, true);
  });
}

/**
 * IQ4_XS: ggml's quantize_row_iq4_nl_impl over a super-block of 256 with sub-blocks of 32, no
 * importance matrix (weights x²), ntry = 7: a best scale per sub-block, then the sub-block scales as
 * 6-bit multiples of d = −max_scale/32 and the codebook indices re-picked with each d·l.
 */
export function quantizeIQ4XS(src: Float32Array, rows: number, cols: number): Uint8Array {
  const V = IQ4_NL_VALUES;
  const ntry = 7;
  const L = new Uint8Array(QK_K);
  const scales = new Float32Array(8);
  return superBlocks(src, rows, cols, "IQ4_XS", 136, (x, off, view, o) => {
    let maxScale = 0;
    let amaxScale = 0;
    for (let ib = 0; ib < 8; ib++) {
      const xo = off + 32 * ib;
      let amax = 0;
      let max = 0;
      for (let j = 0; j < 32; j++) {
        const ax = Math.abs(x[xo + j]);
        if (ax > amax) {
          amax = ax;
          max = x[xo + j];
        }
      }
      if (amax < GROUP_MAX_EPS) {
        scales[ib] = 0;
        continue;
      }
      const fit = (id: number): [number, number] => {
        let sumqx = 0;
        let sumq2 = 0;
        for (let j = 0; j < 32; j++) {
          const xj = x[xo + j];
          const w = f32(xj * xj);
          const q = V[bestIndex(f32(id * xj))];
          sumqx = f32(sumqx + f32(f32(w * q) * xj));
          sumq2 = f32(sumq2 + f32(f32(w * q) * q));
        }
        return [sumqx, sumq2];
      };
      let [sumqx, sumq2] = fit(f32(1 / f32(-max / V[0])));
      let d = f32(sumqx / sumq2);
      let best = f32(d * sumqx);
      for (let itry = -ntry; itry <= ntry; itry++) {
        [sumqx, sumq2] = fit(f32((itry + V[0]) / max));
        if (sumq2 > 0 && f32(sumqx * sumqx) > f32(best * sumq2)) {
          d = f32(sumqx / sumq2);
          best = f32(d * sumqx);
        }
      }
      scales[ib] = d;
      if (Math.abs(d) > amaxScale) {
        amaxScale = Math.abs(d);
        maxScale = d;
      }
    }
    const d = f32(-maxScale / 32);
    const id = d ? f32(1 / d) : 0;
    let scalesH = 0;
    for (let ib = 0; ib < 8; ib++) {
      const l = clamp(nearestInt(f32(id * scales[ib])), -32, 31);
      const dl = f32(d * l);
      const idl = dl ? f32(1 / dl) : 0;
      for (let j = 0; j < 32; j++) L[32 * ib + j] = bestIndex(f32(idl * x[off + 32 * ib + j]));
      const u = l + 32;
      if (ib % 2 === 0) view.setUint8(o + 4 + (ib >> 1), u & 15);
      else view.setUint8(o + 4 + (ib >> 1), view.getUint8(o + 4 + (ib >> 1)) | ((u & 15) << 4));
      scalesH |= (u >> 4) << (2 * ib);
    }
    view.setUint16(o, f32ToF16(d), true);
    view.setUint16(o + 2, scalesH, true);
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 16; j++) view.setUint8(o + 8 + 16 * i + j, L[32 * i + j] | (L[32 * i + 16 + j] << 4));
    }
  });
}
