// Reference quantizers in TypeScript, so tests can make quantized matrices of any
// shape. Not hot. Each follows ggml's quantize_row_*_ref (ggml/src/ggml-quants.c), which is what
// llama-quantize runs when no importance matrix is given, with every float operation rounded to
// f32 as C does (Math.fround), so the bytes match ggml's for the same input.
//
// Every function takes a row-major f32 matrix (rows × cols) and returns the packed rows as in a
// GGUF file; cols must be a multiple of the format's block size.

import { GgmlType, ggmlType, rowBytes } from "../../../src/quant/types.js";

const f32 = Math.fround;
const f32Bits = new Float32Array(1);
const u32Bits = new Uint32Array(f32Bits.buffer);

/** f32 → f16 bits, round to nearest even; overflow → ±inf; NaN → quiet NaN (ggml's FP32_TO_FP16). */
export function f32ToF16(x: number): number {
  f32Bits[0] = x;
  const u = u32Bits[0];
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00 | ((a >>> 13) & 0x3ff);
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a < 0x38800000) {
    // f16 subnormal: a multiple of 2^-24; Math.round would round halves up, so do it by hand
    const v = f32Bits[0] < 0 ? -f32Bits[0] : f32Bits[0];
    const t = v * 2 ** 24;
    let k = Math.floor(t);
    const r = t - k;
    if (r > 0.5 || (r === 0.5 && (k & 1) === 1)) k++;
    return sign | k;
  }
  const r = a + 0xfff + ((a >>> 13) & 1);
  return sign | ((r - 0x38000000) >>> 13);
}

/** f16 bits → number (exact). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** f32 → bf16 bits, round to nearest even, NaN made quiet (ggml's GGML_FP32_TO_BF16). */
export function f32ToBf16(x: number): number {
  f32Bits[0] = x;
  const u = u32Bits[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

function checkShape(src: Float32Array, rows: number, cols: number, block: number, name: string): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || src.length < rows * cols) {
    throw new RangeError(`quantize${name}: ${rows}×${cols} does not fit a source of ${src.length} floats`);
  }
  if (cols % block !== 0) throw new RangeError(`quantize${name}: ${cols} columns is not a multiple of ${block}`);
}

/** Quantize rows of blocks with `block(x, off, out, o)` writing one block of `bytes` at o. */
function byBlocks(
  src: Float32Array, rows: number, cols: number, name: string, elems: number, bytes: number,
  block: (x: Float32Array, off: number, view: DataView, o: number) => void,
): Uint8Array {
  checkShape(src, rows, cols, elems, name);
  const nb = (rows * cols) / elems;
  const out = new Uint8Array(nb * bytes);
  const view = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) block(src, b * elems, view, b * bytes);
  return out;
}

export function quantizeF32(src: Float32Array, rows: number, cols: number): Uint8Array {
  checkShape(src, rows, cols, 1, "F32");
  return new Uint8Array(Float32Array.from(src.subarray(0, rows * cols)).buffer);
}

export function quantizeF16(src: Float32Array, rows: number, cols: number): Uint8Array {
  checkShape(src, rows, cols, 1, "F16");
  const out = new Uint16Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = f32ToF16(src[i]);
  return new Uint8Array(out.buffer);
}

export function quantizeBF16(src: Float32Array, rows: number, cols: number): Uint8Array {
  checkShape(src, rows, cols, 1, "BF16");
  const out = new Uint16Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = f32ToBf16(src[i]);
  return new Uint8Array(out.buffer);
}

/** The element of largest magnitude (the first one on ties), as ggml's `amax`/`max` loops. */
function signedMax(x: Float32Array, off: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[off + j];
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

function minMax(x: Float32Array, off: number, n: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    const v = x[off + j];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** C's roundf: halves away from zero. */
function roundf(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

/** Q8_0: d = amax/127 (f16), q = roundf(x · 1/d). quantize_row_q8_0_ref. */
export function quantizeQ8_0(src: Float32Array, rows: number, cols: number): Uint8Array {
  return byBlocks(src, rows, cols, "Q8_0", 32, 34, (x, off, view, o) => {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[off + j]));
    const d = f32(amax / 127);
    const id = d ? f32(1 / d) : 0;
    view.setUint16(o, f32ToF16(d), true);
    for (let j = 0; j < 32; j++) view.setInt8(o + 2 + j, roundf(f32(x[off + j] * id)));
  });
}

/** Q4_0: d = max/-8 (signed max), q = min(15, trunc(x/d + 8.5)). quantize_row_q4_0_ref. */
export function quantizeQ4_0(src: Float32Array, rows: number, cols: number): Uint8Array {
  return byBlocks(src, rows, cols, "Q4_0", 32, 18, (x, off, view, o) => {
    const d = f32(signedMax(x, off, 32) / -8);
    const id = d ? f32(1 / d) : 0;
    view.setUint16(o, f32ToF16(d), true);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, Math.trunc(f32(f32(x[off + j] * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(f32(f32(x[off + 16 + j] * id) + 8.5)));
      view.setUint8(o + 2 + j, q0 | (q1 << 4));
    }
  });
}

/** Q4_1: d = (max−min)/15, m = min, q = min(15, trunc((x−min)/d + 0.5)). quantize_row_q4_1_ref. */
export function quantizeQ4_1(src: Float32Array, rows: number, cols: number): Uint8Array {
  return byBlocks(src, rows, cols, "Q4_1", 32, 20, (x, off, view, o) => {
    const [min, max] = minMax(x, off, 32);
    const d = f32(f32(max - min) / 15);
    const id = d ? f32(1 / d) : 0;
    view.setUint16(o, f32ToF16(d), true);
    view.setUint16(o + 2, f32ToF16(min), true);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, Math.trunc(f32(f32(f32(x[off + j] - min) * id) + 0.5)));
      const q1 = Math.min(15, Math.trunc(f32(f32(f32(x[off + 16 + j] - min) * id) + 0.5)));
      view.setUint8(o + 4 + j, q0 | (q1 << 4));
    }
  });
}

/** Q5_0: d = max/-16, q = min(31, trunc(x/d + 16.5)), bit 4 of q_i in bit i of qh. quantize_row_q5_0_ref. */
export function quantizeQ5_0(src: Float32Array, rows: number, cols: number): Uint8Array {
  return byBlocks(src, rows, cols, "Q5_0", 32, 22, (x, off, view, o) => {
    const d = f32(signedMax(x, off, 32) / -16);
    const id = d ? f32(1 / d) : 0;
    view.setUint16(o, f32ToF16(d), true);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(31, Math.trunc(f32(f32(x[off + j] * id) + 16.5)));
      const q1 = Math.min(31, Math.trunc(f32(f32(x[off + 16 + j] * id) + 16.5)));
      view.setUint8(o + 6 + j, (q0 & 15) | ((q1 & 15) << 4));
      qh |= ((q0 >> 4) << j) | ((q1 >> 4) << (j + 16));
    }
    view.setUint32(o + 2, qh >>> 0, true);
  });
}

/** Q5_1: d = (max−min)/31, m = min, q = trunc((x−min)/d + 0.5). quantize_row_q5_1_ref. */
export function quantizeQ5_1(src: Float32Array, rows: number, cols: number): Uint8Array {
  return byBlocks(src, rows, cols, "Q5_1", 32, 24, (x, off, view, o) => {
    const [min, max] = minMax(x, off, 32);
    const d = f32(f32(max - min) / 31);
    const id = d ? f32(1 / d) : 0;
    view.setUint16(o, f32ToF16(d), true);
    view.setUint16(o + 2, f32ToF16(min), true);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      // (uint8_t) of a value in 0..31.5: no clamp in ggml either
      const q0 = Math.trunc(f32(f32(f32(x[off + j] - min) * id) + 0.5)) & 0xff;
      const q1 = Math.trunc(f32(f32(f32(x[off + 16 + j] - min) * id) + 0.5)) & 0xff;
      view.setUint8(o + 8 + j, (q0 & 15) | ((q1 & 15) << 4));
      qh |= (((q0 >> 4) & 1) << j) | (((q1 >> 4) & 1) << (j + 16));
    }
    view.setUint32(o + 4, qh >>> 0, true);
  });
}

/** ggml's kvalues_iq4nl: the IQ4_NL / IQ4_XS codebook. */
export const IQ4_NL_VALUES: readonly number[] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/** Index of the codebook value nearest to x, ties to the larger (ggml's best_index_int8). */
export function bestIndex(x: number): number {
  const x2 = f32(x + x);
  let idx = 0;
  for (let step = 8; step > 0; step >>= 1) {
    const j = idx + step;
    if (x2 >= IQ4_NL_VALUES[j - 1] + IQ4_NL_VALUES[j]) idx = j;
  }
  return idx;
}

/**
 * IQ4_NL: per block a scale d and 4-bit indices into the codebook, chosen by ggml's
 * quantize_row_iq4_nl_impl with no importance matrix (weights x², ntry = 7): try 15 scales around
 * max/-127 and keep the one of least weighted squared error, then re-pick the indices with 1/d.
 */
export function quantizeIQ4_NL(src: Float32Array, rows: number, cols: number): Uint8Array {
  const V = IQ4_NL_VALUES;
  const ntry = 7;
  const L = new Uint8Array(32);
  return byBlocks(src, rows, cols, "IQ4_NL", 32, 18, (x, off, view, o) => {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const ax = Math.abs(x[off + j]);
      if (ax > amax) {
        amax = ax;
        max = x[off + j];
      }
    }
    let d = 0;
    if (amax >= 1e-15) {
      d = f32(-max / V[0]);
      let id = f32(1 / d);
      let sumqx = 0;
      let sumq2 = 0;
      for (let j = 0; j < 32; j++) {
        const xj = x[off + j];
        const w = f32(xj * xj);
        const q = V[bestIndex(f32(id * xj))];
        sumqx = f32(sumqx + f32(f32(w * q) * xj));
        sumq2 = f32(sumq2 + f32(f32(w * q) * q));
      }
      d = f32(sumqx / sumq2);
      let best = f32(d * sumqx);
      for (let itry = -ntry; itry <= ntry; itry++) {
        id = f32((itry + V[0]) / max);
        sumqx = 0;
        sumq2 = 0;
        for (let j = 0; j < 32; j++) {
          const xj = x[off + j];
          const w = f32(xj * xj);
          const q = V[bestIndex(f32(id * xj))];
          sumqx = f32(sumqx + f32(f32(w * q) * xj));
          sumq2 = f32(sumq2 + f32(f32(w * q) * q));
        }
        if (sumq2 > 0 && f32(sumqx * sumqx) > f32(best * sumq2)) {
          d = f32(sumqx / sumq2);
          best = f32(d * sumqx);
        }
      }
    }
    view.setUint16(o, f32ToF16(d), true);
    const id = d ? f32(1 / d) : 0;
    for (let j = 0; j < 32; j++) L[j] = bestIndex(f32(id * x[off + j]));
    for (let j = 0; j < 16; j++) view.setUint8(o + 2 + j, L[j] | (L[16 + j] << 4));
  });
}

const QUANTIZERS: ReadonlyMap<number, (src: Float32Array, rows: number, cols: number) => Uint8Array> = new Map([
  [GgmlType.F32, quantizeF32],
  [GgmlType.F16, quantizeF16],
  [GgmlType.BF16, quantizeBF16],
  [GgmlType.Q8_0, quantizeQ8_0],
  [GgmlType.Q4_0, quantizeQ4_0],
  [GgmlType.Q4_1, quantizeQ4_1],
  [GgmlType.Q5_0, quantizeQ5_0],
  [GgmlType.Q5_1, quantizeQ5_1],
  [GgmlType.IQ4_NL, quantizeIQ4_NL],
]);

/** Whether `quantize` has a reference quantizer for this ggml type id. */
export function canQuantize(type: number): boolean {
  return QUANTIZERS.has(type);
}

/** Quantize a rows × cols f32 matrix to ggml type `type`; the result is rows · rowBytes bytes. */
export function quantize(type: number, src: Float32Array, rows: number, cols: number): Uint8Array {
  const q = QUANTIZERS.get(type);
  const info = ggmlType(type);
  if (!q || !info) throw new RangeError(`no reference quantizer for ggml type ${info?.name ?? type}`);
  const out = q(src, rows, cols);
  if (out.length !== rows * rowBytes(info, cols)) throw new Error(`quantize ${info.name}: wrong output size`);
  return out;
}
