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

/** f32 → f16 bits, round to nearest, subnormals included (the calibrated scales below are often subnormal). */
export function f16Bits(v: number): number {
  const sign = v < 0 ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65504) return sign | 0x7bff;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24); // subnormal: multiples of 2^-24 (0x0400 = the smallest normal)
  const e = Math.floor(Math.log2(a));
  const m = Math.round((a / 2 ** e - 1) * 1024);
  return m === 1024 ? sign | ((e + 16) << 10) : sign | ((e + 15) << 10) | m;
}

const unitRms = new Map<number, number>();

/**
 * RMS of `type`'s dequantized random blocks when every f16 field (scales, mins) is 1.0, measured once
 * per type through the kernels' own dequantizer: weights are linear in those fields, so this gives the
 * field value for any target RMS.
 */
function rmsAtUnitScale(type: number, dequant: (type: number, block: Uint8Array, n: number) => Float32Array): number {
  const known = unitRms.get(type);
  if (known !== undefined) return known;
  const info = ggmlType(type);
  if (!info?.f16Fields) throw new Error(`type ${type}: no f16Fields in src/quant/types.ts`);
  const blocks = 64;
  const bytes = new Uint8Array(blocks * info.blockBytes);
  fillRandom(bytes, 12345);
  for (let b = 0; b < blocks; b++) for (const f of info.f16Fields) [bytes[b * info.blockBytes + f], bytes[b * info.blockBytes + f + 1]] = [0x00, 0x3c];
  const w = dequant(type, bytes, blocks * info.blockElements);
  let s = 0;
  for (const x of w) s += x * x;
  const rms = Math.sqrt(s / w.length);
  unitRms.set(type, rms);
  return rms;
}

/**
 * Random weights for a synthesized model: like randomMatrix, but with every f16 field set so the
 * weights' RMS is about 1/cols (its f16 fields at least 2^-13, normal numbers). K-quant blocks have a large common offset (scale·q − min with both
 * positive), so a row's dot product with a normed activation can be ~cols × the weights' mean: the fixed
 * ≈0.008 scales gave rows of ~10⁴ after a few layers, an f16 KV cache of inf and non-finite logits
 * (phi-3.5 shapes, measured). At 1/cols the coherent sum stays O(1) in every layer.
 */
export function randomWeights(
  type: number,
  rows: number,
  cols: number,
  seed: number,
  out: Uint8Array,
  dequant: (type: number, block: Uint8Array, n: number) => Float32Array,
): void {
  randomMatrix(type, rows, cols, seed, out);
  const info = ggmlType(type);
  if (!info?.f16Fields) return; // f32 / f16 / bf16: randomMatrix's ±0.1 floats
  // Never a subnormal f16: at 1/cols a wide matrix's scales fell below 2^-14 (Q8_0 at 2048 columns: 6.7e-6),
  // which real weights' scales never do, and Woolly's scale conversion then ran on f32 subnormals (measured,
  // TinyLlama-shaped Q8_0, one thread: decode 11.6 vs 14.9 tok/s, prefill 9.0 vs 16.4 on the same code).
  const bits = f16Bits(Math.max(2 ** -13, 1 / cols / rmsAtUnitScale(type, dequant)));
  const blocks = (rows * cols) / info.blockElements;
  for (let b = 0; b < blocks; b++) {
    const base = b * info.blockBytes;
    for (const f of info.f16Fields) {
      out[base + f] = bits & 0xff;
      out[base + f + 1] = bits >> 8;
    }
  }
}
