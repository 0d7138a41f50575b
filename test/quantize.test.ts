// The TypeScript reference quantizers (test/helpers/quant-ref/quantize.ts): byte-identical to llama-quantize on
// the fixture model, decodable by the kernels, and within each format's step size on random data.
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../src/wasm/engine.js";
import { GgmlType, ggmlType, rowBytes } from "../src/quant/types.js";
import { IQ4_NL_VALUES, canQuantize, f16ToF32, f32ToBf16, f32ToF16, quantize } from "./helpers/quant-ref/quantize.js";
import { fixturePath } from "./helpers/fixtures.js";

const FORMATS = ["F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL"] as const;
type Fmt = (typeof FORMATS)[number];

interface HeaderJson {
  data_offset: number;
  tensors: { name: string; type: string; ne: number[]; offset_in_data: number; n_bytes: number }[];
}

/** A tensor's bytes and shape from synth-llama-<FMT>.gguf, through the fixture header's tensor table. */
function loadTensor(fmt: string, name: string): { bytes: Uint8Array; n: number; rows: number } {
  const header = JSON.parse(readFileSync(fixturePath("headers", `synth-llama-${fmt}.json`), "utf8")) as HeaderJson;
  const t = header.tensors.find((x) => x.name === name);
  if (!t || t.type !== fmt) throw new Error(`synth-llama-${fmt}: no ${fmt} tensor ${name}`);
  const bytes = new Uint8Array(t.n_bytes);
  const fd = openSync(fixturePath("models", `synth-llama-${fmt}.gguf`), "r");
  try {
    readSync(fd, bytes, 0, t.n_bytes, header.data_offset + t.offset_in_data);
  } finally {
    closeSync(fd);
  }
  return { bytes, n: t.ne[0], rows: t.ne[1] };
}

function randomMatrix(count: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    // mostly ±1, some blocks scaled up or down by 2^±6, one value in 7 an outlier ×4
    out[i] = (u * 2 - 1) * 2 ** (((i >> 5) % 5) * 3 - 6) * (i % 7 === 3 ? 4 : 1);
  }
  return out;
}

describe("reference quantizers match llama-quantize", () => {
  it.each(FORMATS.flatMap((fmt) => ["blk.0.ffn_down.weight", "blk.1.attn_k.weight"].map((name) => [fmt, name])))(
    "%s %s: re-quantizing synth-llama-F32's tensor gives the file's bytes",
    (fmt, name) => {
      const src = loadTensor("F32", name);
      const x = new Float32Array(src.bytes.buffer, src.bytes.byteOffset, src.bytes.byteLength / 4);
      const expected = loadTensor(fmt, name).bytes;
      const got = quantize(GgmlType[fmt as Fmt], x, src.rows, src.n);
      expect(got.length).toBe(expected.length);
      let first = -1;
      for (let i = 0; i < got.length && first < 0; i++) if (got[i] !== expected[i]) first = i;
      expect(first, "first differing byte").toBe(-1);
    },
  );
});

describe("f16 and bf16 rounding", () => {
  it("rounds to nearest even, keeps subnormals, overflows to inf", () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65519)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // tie between 65504 and 2^16 → even → inf
    expect(f32ToF16(-(2 ** -24))).toBe(0x8001);
    expect(f32ToF16(2 ** -25)).toBe(0); // tie → even (0)
    expect(f32ToF16(3 * 2 ** -25)).toBe(2); // tie → even (2)
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0xfbff)).toBe(-65504);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(f32ToBf16(NaN) & 0x7fc0).toBe(0x7fc0); // quiet NaN
  });
});

/**
 * The largest error a correct quantization of block xs can have, from the format's definition:
 * half a quantization step, plus what rounding the stored f16 scale (and min) moves each value,
 * plus a few f32 roundings (8u·|x|).
 *   Q8_0   d = amax/127:        d/2 + 127·|d − d̂|
 *   Q4_0   d = max/−8:          |d|/2 + 8·|d − d̂| + how far x lies outside d·[−8, 7]
 *   Q5_0   d = max/−16:         |d|/2 + 16·|d − d̂| + how far x lies outside d·[−16, 15]
 *          (the range is lopsided: max itself is −8·d, values of the other sign reach only 7·|d|)
 *   Q4_1   d = (max − min)/15:  d/2 + 15·|d − d̂| + |min − m̂|
 *   Q5_1   d = (max − min)/31:  d/2 + 31·|d − d̂| + |min − m̂|
 *   IQ4_NL the distance to the nearest codebook value K*·d̂, plus: the quantizer picks K with the
 *          unrounded d, |x − K·d̂| ≤ |x − K·d| + |K|·|d − d̂| ≤ |x − K*·d| + 127·|d − d̂|
 *          ≤ |x − K*·d̂| + 254·|d − d̂|, and |d − d̂| ≤ 2^-11·|d̂| (d̂ = f16(d))
 *   F16 / BF16: half an ulp, 2^-11·|x| (+2^-25 subnormal) / 2^-8·|x|
 */
function stepBound(fmt: Fmt, xs: Float32Array, block: Uint8Array, i: number): number {
  const x = xs[i];
  const ulps = 8 * 2 ** -24 * Math.abs(x);
  const f16 = (at: number) => f16ToF32(block[at] | (block[at + 1] << 8));
  const amax = Math.max(...Array.from(xs, Math.abs));
  const max = xs.find((v) => Math.abs(v) === amax) ?? 0;
  const min = Math.min(...xs);
  const top = Math.max(...xs);
  switch (fmt) {
    case "F16":
      return 2 ** -11 * Math.abs(x) + 2 ** -25;
    case "BF16":
      return 2 ** -8 * Math.abs(x);
    case "Q8_0": {
      const d = Math.fround(amax / 127);
      return d / 2 + 127 * Math.abs(d - f16(0)) + ulps;
    }
    case "Q4_0":
    case "Q5_0": {
      const half = fmt === "Q4_0" ? 8 : 16;
      const d = Math.fround(max / -half);
      const lo = Math.min(-half * d, (half - 1) * d);
      const hi = Math.max(-half * d, (half - 1) * d);
      const outside = Math.max(0, lo - x, x - hi);
      return Math.abs(d) / 2 + half * Math.abs(d - f16(0)) + outside + ulps;
    }
    case "Q4_1":
    case "Q5_1": {
      const levels = fmt === "Q4_1" ? 15 : 31;
      const d = Math.fround((top - min) / levels);
      return d / 2 + levels * Math.abs(d - f16(0)) + Math.abs(min - f16(2)) + ulps;
    }
    case "IQ4_NL": {
      const dHat = f16(0);
      let best = Infinity;
      for (const k of IQ4_NL_VALUES) best = Math.min(best, Math.abs(x - k * dHat));
      return best + 254 * 2 ** -11 * Math.abs(dHat) + ulps;
    }
  }
}

describe("quantize → kernel dequantize round trip on random matrices", () => {
  let e: Engine;
  beforeAll(() => {
    e = createEngine({ simd: "simd" });
  });

  it.each(FORMATS)("%s stays within its step size", (fmt) => {
    const type = GgmlType[fmt];
    const info = ggmlType(type)!;
    expect(canQuantize(type)).toBe(true);
    const rows = 5;
    const cols = 320;
    const x = randomMatrix(rows * cols, 7 + type);
    const q = quantize(type, x, rows, cols);
    const rb = rowBytes(info, cols);
    const mark = e.kernels.arena_mark();
    const src = e.alloc(q.length, "weights");
    e.u8().set(q, src);
    const dst = e.alloc(cols * 4, "row");
    let worst = 0;
    for (let r = 0; r < rows; r++) {
      e.kernels.dequant_row(type, src + r * rb, dst, cols);
      const got = e.f32().subarray(dst / 4, dst / 4 + cols);
      for (let i = 0; i < cols; i++) {
        const be = info.blockElements;
        const b = Math.floor(i / be);
        const xs = x.subarray(r * cols + b * be, r * cols + (b + 1) * be);
        const block = q.subarray(r * rb + b * info.blockBytes, r * rb + (b + 1) * info.blockBytes);
        const err = Math.abs(got[i] - x[r * cols + i]);
        worst = Math.max(worst, err / stepBound(fmt, xs, block, i % be));
      }
    }
    e.kernels.arena_release(mark);
    expect(worst).toBeLessThanOrEqual(1);
  });

  it("refuses shapes that are not whole blocks", () => {
    expect(() => quantize(GgmlType.Q4_0, new Float32Array(48), 1, 48)).toThrow(/multiple of 32/);
    expect(() => quantize(GgmlType.Q4_K, new Float32Array(256), 1, 256)).toThrow(/Q4_K/);
  });
});
