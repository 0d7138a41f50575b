// Random weight matrices in any supported ggml type, for benchmarks: random block bytes with every
// f16 scale field set to a small finite value (ggml-common.h block layouts), floats drawn in ±0.1.
// Speed does not depend on the values, and finite scales keep every result finite.
import { GgmlType, ggmlType } from "../src/quant/types.js";

/** Byte offsets of the f16 scale fields (d, dmin/m) inside one block. */
const SCALE_FIELDS: Partial<Record<number, readonly number[]>> = {
  [GgmlType.Q4_0]: [0],
  [GgmlType.Q4_1]: [0, 2],
  [GgmlType.Q5_0]: [0],
  [GgmlType.Q5_1]: [0, 2],
  [GgmlType.Q8_0]: [0],
  [GgmlType.IQ4_NL]: [0],
  [GgmlType.Q2_K]: [80, 82],
  [GgmlType.Q3_K]: [108],
  [GgmlType.Q4_K]: [0, 2],
  [GgmlType.Q5_K]: [0, 2],
  [GgmlType.Q6_K]: [208],
  [GgmlType.IQ4_XS]: [0],
};

/** xorshift32 stream: fast and deterministic. */
export function fillRandom(u8: Uint8Array, seed: number): void {
  let s = seed >>> 0 || 1;
  const words = u8.length >> 2;
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  for (let i = 0; i < words; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    view.setUint32(i * 4, s >>> 0, true);
  }
  for (let i = words * 4; i < u8.length; i++) u8[i] = (i * 31) & 255;
}

function f32ToF16Bits(v: number): number {
  // Values here are small normal numbers: truncating the mantissa is exact enough for benchmarks.
  const f = new Float32Array([v]);
  const b = new Uint32Array(f.buffer)[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = ((b >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  return sign | (exp << 10) | ((b >>> 13) & 0x3ff);
}

/** A (rows × cols) matrix of `type` with random contents, written into `out` (rows·rowBytes bytes). */
export function randomMatrix(type: number, rows: number, cols: number, seed: number, out: Uint8Array): void {
  const info = ggmlType(type);
  if (!info?.supported) throw new Error(`type ${type} is not a supported weight type`);
  const n = rows * cols;
  if (type === GgmlType.F32 || type === GgmlType.F16 || type === GgmlType.BF16) {
    let s = seed >>> 0 || 1;
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const v = ((s >>> 0) / 2 ** 32 - 0.5) * 0.2;
      if (type === GgmlType.F32) dv.setFloat32(i * 4, v, true);
      else if (type === GgmlType.F16) dv.setUint16(i * 2, f32ToF16Bits(v), true);
      else dv.setUint16(i * 2, new Uint32Array(new Float32Array([v]).buffer)[0] >>> 16, true);
    }
    return;
  }
  fillRandom(out, seed);
  const fields = SCALE_FIELDS[type] ?? [];
  const blocks = n / info.blockElements;
  // f16 0x2000..0x20ff ≈ 0.0078..0.0093 (the low byte stays random)
  for (let b = 0; b < blocks; b++) {
    const base = b * info.blockBytes;
    for (const f of fields) out[base + f + 1] = 0x20;
  }
}
