// The super-block formats end to end: the TypeScript reference quantizers (test/helpers/quant-ref/quantize-k.ts)
// against llama.cpp's own bytes, quantize → dequantize round trips on random matrices, the Q8_K
// activations against ggml's quantize_row_q8_K_ref, and the fused kernels on rows of many
// super-blocks against an f64 sum, in every kernel build this engine runs.
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine, type SimdFlavour } from "../src/wasm/engine.js";
import { supportedFlavours } from "../src/wasm/features.js";
import { GgmlType } from "../src/quant/types.js";
import { f16ToF32 } from "./helpers/quant-ref/quantize.js";
import {
  quantizeIQ4XS, quantizeQ2K, quantizeQ3K, quantizeQ4K, quantizeQ5K, quantizeQ6K,
} from "./helpers/quant-ref/quantize-k.js";
import { fixturePath } from "./helpers/fixtures.js";

type Quantizer = (src: Float32Array, rows: number, cols: number) => Uint8Array;

interface Format {
  name: "Q2_K" | "Q3_K" | "Q4_K" | "Q5_K" | "Q6_K" | "IQ4_XS";
  quantize: Quantizer;
  bytes: number;
  /** Largest |x − ŵ| / RMS(x) over the round trips below (measured, then ~30% headroom). */
  rms: number;
  /** The quantization step of element i (0..255) of the block at b[o…]: one level of its sub-block. */
  step: (b: Uint8Array, o: number, i: number) => number;
}

const h16 = (b: Uint8Array, p: number) => f16ToF32(b[p] | (b[p + 1] << 8));
const s8 = (v: number) => (v << 24) >> 24;
/** Q4_K / Q5_K: the 6-bit scale of sub-block j from the 12 scale bytes at b[o + 4 …]. */
const k4Scale = (b: Uint8Array, o: number, j: number) =>
  j < 4 ? b[o + 4 + j] & 63 : (b[o + 8 + j] & 15) | ((b[o + j] >> 6) << 4);
/** Q3_K: the signed scale of sub-block j from the 12 scale bytes at b[o + 96 …]. */
const q3Scale = (b: Uint8Array, o: number, j: number) => {
  const low = j < 8 ? b[o + 96 + j] & 15 : b[o + 88 + j] >> 4;
  return (low | (((b[o + 104 + (j % 4)] >> (2 * (j >> 2))) & 3) << 4)) - 32;
};

const FORMATS: Format[] = [
  { name: "Q2_K", quantize: quantizeQ2K, bytes: 84, rms: 0.5, step: (b, o, i) => h16(b, o + 80) * (b[o + (i >> 4)] & 15) },
  { name: "Q3_K", quantize: quantizeQ3K, bytes: 110, rms: 0.35, step: (b, o, i) => Math.abs(h16(b, o + 108) * q3Scale(b, o, i >> 4)) },
  { name: "Q4_K", quantize: quantizeQ4K, bytes: 144, rms: 0.14, step: (b, o, i) => h16(b, o) * k4Scale(b, o, i >> 5) },
  { name: "Q5_K", quantize: quantizeQ5K, bytes: 176, rms: 0.07, step: (b, o, i) => h16(b, o) * k4Scale(b, o, i >> 5) },
  { name: "Q6_K", quantize: quantizeQ6K, bytes: 210, rms: 0.04, step: (b, o, i) => Math.abs(h16(b, o + 208) * s8(b[o + 192 + (i >> 4)])) },
  {
    // non-linear codebook: a "step" is its widest gap, 24 units of d·(ls − 32)
    name: "IQ4_XS", quantize: quantizeIQ4XS, bytes: 136, rms: 0.16,
    step: (b, o, i) => {
      const j = i >> 5;
      const ls = ((b[o + 4 + (j >> 1)] >> (4 * (j & 1))) & 15) | ((((b[o + 2] | (b[o + 3] << 8)) >> (2 * j)) & 3) << 4);
      return 24 * Math.abs(h16(b, o) * (ls - 32));
    },
  },
];

interface HeaderJson {
  data_offset: number;
  tensors: { name: string; type: string; ne: number[]; offset_in_data: number; n_bytes: number }[];
}

/** A tensor's bytes and shape from a synth-llama fixture, located through its header's tensor table. */
function fixtureTensor(file: string, name: string): { bytes: Uint8Array; cols: number; rows: number; type: string } {
  const header = JSON.parse(readFileSync(fixturePath("headers", `${file}.json`), "utf8")) as HeaderJson;
  const t = header.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`${file}: no tensor ${name}`);
  const bytes = new Uint8Array(t.n_bytes);
  const fd = openSync(fixturePath("models", `${file}.gguf`), "r");
  try {
    readSync(fd, bytes, 0, t.n_bytes, header.data_offset + t.offset_in_data);
  } finally {
    closeSync(fd);
  }
  return { bytes, cols: t.ne[0], rows: t.ne[1], type: t.type };
}

/** Deterministic numbers: uniform in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Dist = "uniform" | "gauss" | "outliers";
function randomMatrix(n: number, dist: Dist, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (dist === "uniform") x[i] = r() * 2 - 1;
    else if (dist === "gauss") x[i] = 0.02 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    else x[i] = (r() * 2 - 1) * (i % 16 === 5 ? 8 : 1);
  }
  return x;
}

describe("reference quantizers reproduce llama.cpp's bytes", () => {
  // llama-quantize without an imatrix runs ggml's quantize_row_*_ref (quantize_iq4_xs with no
  // weights for IQ4_XS); synth-llama-<FMT>.gguf was made from synth-llama-F32.gguf that way.
  const tensors = ["blk.0.ffn_down.weight", "blk.1.attn_k.weight"];
  it.each(FORMATS.flatMap((f) => tensors.map((t) => ({ f, t }))))("$f.name $t", ({ f, t }) => {
    const src = fixtureTensor("synth-llama-F32", t);
    const want = fixtureTensor(`synth-llama-${f.name}`, t);
    expect(want.type).toBe(f.name);
    const x = new Float32Array(src.bytes.buffer, src.bytes.byteOffset, src.rows * src.cols);
    const got = f.quantize(x, src.rows, src.cols);
    expect(got.length).toBe(want.bytes.length);
    let differing = 0;
    for (let i = 0; i < got.length; i++) if (got[i] !== want.bytes[i]) differing++;
    expect(differing).toBe(0);
  });

  it("refuses a width that is not a multiple of 256", () => {
    expect(() => quantizeQ4K(new Float32Array(128), 1, 128)).toThrow(RangeError);
    expect(() => quantizeQ6K(new Float32Array(256), 2, 256)).toThrow(RangeError);
  });
});

const flavours: SimdFlavour[] = supportedFlavours();

/** Copies bytes or floats into the engine's arena and returns the address. */
function put(e: Engine, data: Uint8Array | Float32Array): number {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const p = e.alloc(Math.max(bytes.length, 16), "test data");
  e.u8().set(bytes, p);
  return p;
}

/** ggml's quantize_row_q8_K_ref for one block of 256: d, the quants and the 16 bsums. */
function q8kRef(x: Float32Array): { d: number; q: Int8Array; bsums: Int16Array } {
  const f32 = Math.fround;
  let amax = 0;
  let max = 0;
  for (const v of x) {
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const q = new Int8Array(256);
  const bsums = new Int16Array(16);
  if (amax === 0) return { d: 0, q, bsums };
  const iscale = f32(-127 / max);
  for (let i = 0; i < 256; i++) q[i] = Math.min(127, f32(f32(iscale * x[i]) + 12582912) - 12582912);
  for (let i = 0; i < 256; i++) bsums[i >> 4] += q[i];
  return { d: f32(1 / iscale), q, bsums };
}

/** Reads one block of this build's Q8_K activation layout (assembly/quant/act_q8_k.ts). */
function readQ8K(e: Engine, xq: number, n: number, b: number): { d: number; q: Int8Array; bsums: Int16Array } {
  const nb = n / 256;
  const qsSize = (e.kernels.act_bytes(GgmlType.Q4_K, n) - 36 * nb) / n; // 1 (relaxed) or 2 (baseline)
  const view = new DataView(e.memory.buffer);
  const q = new Int8Array(256);
  for (let i = 0; i < 256; i++) {
    if (qsSize === 1) q[i] = view.getInt8(xq + 256 * b + i);
    else q[i] = view.getInt16(xq + 512 * b + 2 * ((i & ~15) | ((i & 15) >> 1) | ((i & 1) << 3)), true);
  }
  const bsums = new Int16Array(16);
  for (let g = 0; g < 16; g++) bsums[g] = view.getInt16(xq + n * qsSize + 4 * nb + 32 * b + 2 * g, true);
  return { d: view.getFloat32(xq + n * qsSize + 4 * b, true), q, bsums };
}

describe.each(flavours)("super-block kernels (%s)", (flavour) => {
  let e: Engine;
  beforeAll(() => {
    e = createEngine({ simd: flavour });
  });

  describe.each(FORMATS)("$name", (f) => {
    const type = GgmlType[f.name];

    it.each(["uniform", "gauss", "outliers"] as const)("round trip of a random 16×1024 matrix (%s)", (dist) => {
      const rows = 16;
      const cols = 1024;
      const rowBytes = (cols / 256) * f.bytes;
      const x = randomMatrix(rows * cols, dist, 7 + f.bytes);
      const wq = f.quantize(x, rows, cols);
      expect(wq.length).toBe(rows * rowBytes);
      const mark = e.kernels.arena_mark();
      const w = put(e, wq);
      const out = e.alloc(rows * cols * 4, "dequantized");
      for (let r = 0; r < rows; r++) e.kernels.dequant_row(type, w + r * rowBytes, out + r * cols * 4, cols);
      const got = e.f32().slice(out / 4, out / 4 + rows * cols);
      e.kernels.arena_release(mark);
      let worstSteps = 0;
      let se = 0;
      let sx = 0;
      for (let i = 0; i < x.length; i++) {
        const err = Math.abs(x[i] - got[i]);
        worstSteps = Math.max(worstSteps, err / f.step(wq, (i >> 8) * f.bytes, i & 255));
        se += err * err;
        sx += x[i] * x[i];
      }
      // The searches for the best scale (and min) trade a clipped extreme for a finer step, so an
      // element can miss by a little more than half a step; measured ≤ 1.37 steps without outliers.
      if (dist !== "outliers") expect(worstSteps).toBeLessThanOrEqual(1.5);
      expect(Math.sqrt(se / sx)).toBeLessThanOrEqual(f.rms);
    });

    it("an all-zero matrix stays zero", () => {
      const wq = f.quantize(new Float32Array(2 * 512), 2, 512);
      const mark = e.kernels.arena_mark();
      const w = put(e, wq);
      const out = e.alloc(512 * 4, "row");
      e.f32().fill(1, out / 4, out / 4 + 512);
      e.kernels.dequant_row(type, w + (wq.length >> 1), out, 512);
      expect(e.f32().slice(out / 4, out / 4 + 512).every((v) => v === 0)).toBe(true);
      e.kernels.arena_release(mark);
    });

    it("matvec over 8 super-blocks: SIMD and scalar agree bit for bit and match Σ ŵ·x̂ in f64", () => {
      const rows = 24;
      const n = 2048;
      const rowBytes = (n / 256) * f.bytes;
      const wq = f.quantize(randomMatrix(rows * n, "gauss", 11), rows, n);
      const x = randomMatrix(n, "outliers", 12);
      x.fill(0, 512, 768); // an all-zero activation block: d = 0
      const k = e.kernels;
      const mark = k.arena_mark();
      const w = put(e, wq);
      const px = put(e, x);
      const actBytes = k.act_bytes(type, n);
      const xq = e.alloc(actBytes, "xq");
      k.quantize_act(type, px, xq, n);
      const y = e.alloc(rows * 4, "y");
      const ys = e.alloc(rows * 4, "y scalar");
      k.matvec(type, w, rowBytes, xq, y, n, 0, rows);
      k.matvec_scalar(type, w, rowBytes, xq, ys, n, 0, rows);
      const xhat = new Float64Array(n);
      for (let b = 0; b < n / 256; b++) {
        const blk = readQ8K(e, xq, n, b);
        for (let i = 0; i < 256; i++) xhat[256 * b + i] = blk.q[i] * blk.d;
      }
      const deq = e.alloc(n * 4, "row");
      for (let r = 0; r < rows; r++) {
        k.dequant_row(type, w + r * rowBytes, deq, n);
        const wr = e.f32().subarray(deq / 4, deq / 4 + n);
        let ref = 0;
        let mag = 0;
        for (let i = 0; i < n; i++) {
          ref += wr[i] * xhat[i];
          mag += Math.abs(wr[i] * xhat[i]);
        }
        const got = e.f32()[y / 4 + r];
        expect(got).toBe(e.f32()[ys / 4 + r]);
        // integer sums are exact; what is left is f32 rounding of per-block scale products and the
        // running sum: a few roundings per super-block, each ≤ 2^-24 of the magnitudes involved
        expect(Math.abs(got - ref)).toBeLessThanOrEqual((n / 256 + 4) * 4 * 2 ** -24 * mag);
      }
      k.arena_release(mark);
    });
  });

  it("dequantizes exactly for every f16 scale: subnormal, ±0, ±inf, NaN (Q6_K, d = each of the 65536)", () => {
    const k = e.kernels;
    const mark = k.arena_mark();
    const blocks = 4096;
    const src = e.alloc(blocks * 210, "Q6_K blocks");
    const dst = e.alloc(blocks * 256 * 4, "f32");
    const r = rng(5);
    const tmpl = new Uint8Array(210);
    for (let i = 0; i < 208; i++) tmpl[i] = (r() * 256) | 0;
    let bad = 0;
    for (let base = 0; base < 65536; base += blocks) {
      const u8 = e.u8();
      for (let b = 0; b < blocks; b++) {
        u8.set(tmpl, src + 210 * b);
        u8[src + 210 * b + 208] = (base + b) & 255;
        u8[src + 210 * b + 209] = (base + b) >> 8;
      }
      k.dequant_row(GgmlType.Q6_K, src, dst, blocks * 256);
      const got = e.f32().subarray(dst / 4, dst / 4 + blocks * 256);
      for (let b = 0; b < blocks; b++) {
        const d = f16ToF32(base + b);
        for (let i = 0; i < 256; i += 17) {
          const h = i >> 7;
          const l = i & 31;
          const quarter = (i & 127) >> 5;
          const lo = tmpl[64 * h + l + ((quarter & 1) << 5)] >> ((quarter >> 1) << 2);
          const q = ((lo & 15) | (((tmpl[128 + 32 * h + l] >> (2 * quarter)) & 3) << 4)) - 32;
          const want = Math.fround(Math.fround(d * s8(tmpl[192 + (i >> 4)])) * q);
          if (!Object.is(got[256 * b + i], want) && !(Number.isNaN(want) && Number.isNaN(got[256 * b + i]))) bad++;
        }
      }
    }
    k.arena_release(mark);
    expect(bad).toBe(0);
  });

  it("quantize_act gives ggml's Q8_K numbers: first largest |x| on ties, negative max, zero block, NaN", () => {
    const n = 1024;
    const x = randomMatrix(n, "outliers", 3);
    x[3] = 9;
    x[100] = -9; // a tie: the first one (positive) sets the sign of d
    for (let i = 256; i < 512; i++) x[i] = Math.fround(x[i] * 0.001);
    x[300] = -0.5; // a negative max
    x.fill(0, 512, 768); // an all-zero block
    x[800] = NaN; // skipped by the max search, quantized to 0 (both as ggml)
    const k = e.kernels;
    const mark = k.arena_mark();
    const px = put(e, x);
    const actBytes = k.act_bytes(GgmlType.Q6_K, n);
    expect(actBytes).toBeGreaterThan(0);
    const xq = e.alloc(actBytes, "xq");
    const xq2 = e.alloc(actBytes, "xq scalar");
    k.quantize_act(GgmlType.Q6_K, px, xq, n);
    k.quantize_act_scalar(GgmlType.Q6_K, px, xq2, n);
    expect(e.u8().slice(xq, xq + actBytes)).toEqual(e.u8().slice(xq2, xq2 + actBytes));
    for (let b = 0; b < n / 256; b++) {
      const want = q8kRef(x.subarray(256 * b, 256 * b + 256));
      const got = readQ8K(e, xq, n, b);
      expect(got.d).toBe(want.d);
      expect(Array.from(got.q)).toEqual(Array.from(want.q));
      expect(Array.from(got.bsums)).toEqual(Array.from(want.bsums));
    }
    expect(readQ8K(e, xq, n, 0).d).toBeLessThan(0); // max = +9 → iscale = −127/9
    expect(readQ8K(e, xq, n, 1).d).toBeGreaterThan(0); // max = −0.5
    k.arena_release(mark);
  });
});
