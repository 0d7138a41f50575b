// Random weight matrices in any supported ggml type, for benchmarks: random block bytes with every
// f16 field (the table's f16Fields: scales and mins) set to a small finite value, floats drawn in
// ±0.1. Speed does not depend on the values, and finite scales keep every result finite.
import { GgmlType, ggmlType } from "../src/quant/types.js";

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
  const fields = info.f16Fields;
  // Without them the scales would be random f16 bits, Inf and NaN among them.
  if (!fields) throw new Error(`${info.name}: no f16Fields in src/quant/types.ts to give its blocks finite scales`);
  fillRandom(out, seed);
  const blocks = n / info.blockElements;
  // f16 0x2000..0x20ff ≈ 0.0078..0.0093 (the low byte stays random)
  for (let b = 0; b < blocks; b++) {
    const base = b * info.blockBytes;
    for (const f of fields) out[base + f + 1] = 0x20;
  }
}
