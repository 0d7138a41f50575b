// Every quant format through the generic dispatch exports (assembly/dispatch.ts), one table row per
// format, in every kernel build this engine runs: dequantization against llama.cpp's own
// (../shared/fixtures/dequant), fused matvec against its scalar twin and against an f64 reference
// with a derived error bound, matmul against matvec, SIMD quantizers against scalar ones.
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine, type SimdFlavour } from "../src/wasm/engine.js";
import { supportedFlavours } from "../src/wasm/features.js";
import { GgmlType, ggmlTypeByName, rowBytes } from "../src/quant/types.js";
import { f16ToF32, f32ToF16, quantize } from "./helpers/quant-ref/quantize.js";
import { FIXTURES, fixturePath } from "./helpers/fixtures.js";

/** How a format's activations are made, which decides how far x̂ is from x (see matvecBound). */
type Act = "f32" | "f16" | "bf16" | "q8_0" | "q8_k";

interface Row {
  name: keyof typeof GgmlType;
  act: Act;
  /** Byte offset of the block's f16 minimum m (w = d·q + m), for Q4_1 / Q5_1 (Q8_1's s term). */
  minAt?: number;
  /** The kernel multiplies unsigned q and subtracts offset·Σq_x (w = d·(q − offset)): Q4_0, Q5_0. */
  offset?: number;
  /** Most f32 terms one dot sums in sequence: blocks (one product each) or elements for floats. */
  terms: (n: number) => number;
}

const perElement = (n: number) => n;
const per32 = (n: number) => n / 32;
// K-quant kernels may scale each 16-element sub-block separately.
const per16 = (n: number) => n / 16;

const FORMATS: Row[] = [
  { name: "F32", act: "f32", terms: perElement },
  { name: "F16", act: "f16", terms: perElement },
  { name: "BF16", act: "bf16", terms: perElement },
  { name: "Q8_0", act: "q8_0", terms: per32 },
  { name: "Q4_0", act: "q8_0", offset: 8, terms: per32 },
  { name: "Q4_1", act: "q8_0", minAt: 2, terms: per32 },
  { name: "Q5_0", act: "q8_0", offset: 16, terms: per32 },
  { name: "Q5_1", act: "q8_0", minAt: 2, terms: per32 },
  { name: "Q2_K", act: "q8_k", terms: per16 },
  { name: "Q3_K", act: "q8_k", terms: per16 },
  { name: "Q4_K", act: "q8_k", terms: per16 },
  { name: "Q5_K", act: "q8_k", terms: per16 },
  { name: "Q6_K", act: "q8_k", terms: per16 },
  { name: "IQ4_NL", act: "q8_0", terms: per32 },
  { name: "IQ4_XS", act: "q8_k", terms: per16 },
];

const TENSORS = ["blk.0.ffn_down.weight", "blk.1.attn_k.weight"];
const U = 2 ** -24; // unit roundoff of f32

interface Tensor {
  bytes: Uint8Array;
  /** Elements per row (ggml ne[0]). */
  n: number;
  rows: number;
  rowBytes: number;
}

interface HeaderJson {
  data_offset: number;
  tensors: { name: string; type: string; ne: number[]; offset_in_data: number; n_bytes: number }[];
}

/** A tensor's bytes from synth-llama-<FMT>.gguf, located through the fixture header's tensor table. */
function loadTensor(fmt: string, name: string): Tensor {
  const header = JSON.parse(readFileSync(fixturePath("headers", `synth-llama-${fmt}.json`), "utf8")) as HeaderJson;
  const t = header.tensors.find((x) => x.name === name);
  if (!t || t.type !== fmt) throw new Error(`synth-llama-${fmt}: no ${fmt} tensor ${name}`);
  const bytes = new Uint8Array(t.n_bytes);
  const fd = openSync(fixturePath("models" as "models", `synth-llama-${fmt}.gguf`), "r");
  try {
    readSync(fd, bytes, 0, t.n_bytes, header.data_offset + t.offset_in_data);
  } finally {
    closeSync(fd);
  }
  const [n, rows] = t.ne;
  return { bytes, n, rows, rowBytes: t.n_bytes / rows };
}

function loadDequant(fmt: string, name: string): Float32Array {
  const b = readFileSync(join(FIXTURES, "dequant", `synth-llama-${fmt}.${name}.f32`));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Deterministic x: mostly in ±1, one element in 16 up to ±8 (activations have outliers). */
function randomVector(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (next() * 2 - 1) * (i % 16 === 5 ? 8 : 1);
  return x;
}

/** Distance in units in the last place between two f32 values (0 when bit-identical). */
function ulps(a: number, b: number): number {
  const f = new Float32Array([a, b]);
  const i = new Int32Array(f.buffer);
  const key = (v: number) => (v < 0 ? -(v & 0x7fffffff) : v);
  return Math.abs(key(i[0]) - key(i[1]));
}

function f16At(bytes: Uint8Array, at: number): number {
  return f16ToF32(bytes[at] | (bytes[at + 1] << 8));
}

/**
 * The bound on |kernel − Σ w_i·x_i| (f64, dequantized w, unquantized x) for one weight row, and
 * the sum of magnitudes S that bounds the f32 rounding of the kernel's products and sums.
 *
 * The kernel computes Σ w_i·x̂_i, x̂ the activation it quantized; so the error is
 *   |Σ w_i (x_i − x̂_i)|  ≤  Σ |w_i| · e_i            (activation rounding)
 *   + Σ_b |m_b| · |s_b − d̂_b·Σq|                     (Q4_1/Q5_1: s = f16(d·Σq) stands for Σx̂)
 *   + (terms + 4) · u · S                             (f32 rounding, u = 2^-24)
 * with e_i, per activation format:
 *   q8_0: q = round(x·id), id = fl(127/amax) ≈ 1/d, d = fl(amax/127), d̂ = f16(d):
 *         |x − q·d̂| ≤ |x − q·d| + |q|·|d − d̂| ≤ d·(1/2 + 127·4u) + 127·|d − d̂|
 *         (127·4u covers x·id against x/d: id and d each one rounding from 127/amax, plus the product)
 *   q8_k: the same with d = amax/127 kept in f32 (no f16 rounding), blocks of 256
 *   f16:  round to nearest f16: |x − x̂| ≤ 2^-11·|x| + 2^-25 (the subnormal step's half)
 *   bf16: 2^-8·|x| (+ 2^-134 below the normal range, negligible)
 *   f32:  0
 * S bounds the magnitudes the kernel actually rounds: its terms are partial sums of q·q_x with
 * the quants it multiplies, which for Q4_0/Q5_0 are unsigned (|d·q| ≤ |w| + offset·|d|, minus
 * offset·Σq_x separately) and for Q4_1/Q5_1 omit m (|d·q| ≤ |w| + |m|, plus m·s separately):
 *   S = Σ_i (|w_i| + 2·c_b)·|x̂_i|,  c_b = offset·|d_b| or |m_b| (0 otherwise),  |x̂_i| ≤ |x_i| + e_i.
 */
function matvecBound(row: Row, w: Float32Array, x: Float32Array, wBytes: Uint8Array, blockBytes: number): { bound: number; S: number } {
  const n = x.length;
  const e = new Float64Array(n);
  let bound = 0;
  if (row.act === "q8_0" || row.act === "q8_k") {
    const qk = row.act === "q8_0" ? 32 : 256;
    for (let b = 0; b < n / qk; b++) {
      let amax = 0;
      for (let i = b * qk; i < (b + 1) * qk; i++) amax = Math.max(amax, Math.abs(x[i]));
      const d = Math.fround(amax / 127);
      const dHat = row.act === "q8_0" ? f16ToF32(f32ToF16(d)) : d;
      const ei = d * (0.5 + 127 * 4 * U) + 127 * Math.abs(d - dHat);
      for (let i = b * qk; i < (b + 1) * qk; i++) e[i] = ei;
      if (row.minAt !== undefined) {
        const m = Math.abs(f16At(wBytes, b * blockBytes + row.minAt));
        const sumQ = 32 * 127;
        bound += m * (sumQ * Math.abs(d - dHat) + 2 ** -11 * sumQ * d * (1 + 4 * U));
      }
    }
  } else if (row.act === "f16") {
    for (let i = 0; i < n; i++) e[i] = 2 ** -11 * Math.abs(x[i]) + 2 ** -25;
  } else if (row.act === "bf16") {
    for (let i = 0; i < n; i++) e[i] = 2 ** -8 * Math.abs(x[i]);
  }
  let S = 0;
  for (let i = 0; i < n; i++) {
    const b = Math.floor(i / 32);
    let c = 0;
    if (row.minAt !== undefined) c = Math.abs(f16At(wBytes, b * blockBytes + row.minAt));
    if (row.offset !== undefined) c = row.offset * Math.abs(f16At(wBytes, b * blockBytes));
    bound += Math.abs(w[i]) * e[i];
    S += (Math.abs(w[i]) + 2 * c) * (Math.abs(x[i]) + e[i]);
  }
  return { bound: bound + (row.terms(n) + 4) * U * S, S };
}

/** Bound on |SIMD − scalar| for the same xq: both sum the same exact integer block sums (or f32
 * products) with d_w·d_x, each rounding at most terms+4 times in its chain: 2·(terms+4)·u·S. */
function orderBound(row: Row, n: number, S: number): number {
  return 2 * (row.terms(n) + 4) * U * S;
}

const flavours: SimdFlavour[] = supportedFlavours();

/** Copies `data` into the engine's arena and returns its address. */
function put(e: Engine, data: Uint8Array | Float32Array): number {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const p = e.alloc(Math.max(bytes.length, 16) + 16, "test data");
  e.u8().set(bytes, p);
  return p;
}

function f32At(e: Engine, p: number, n: number): Float32Array {
  return e.f32().slice(p / 4, p / 4 + n);
}

interface Case {
  row: Row;
  tensor: string;
}
const cases: Case[] = FORMATS.flatMap((row) => TENSORS.map((tensor) => ({ row, tensor })));

describe.each(flavours)("quant kernels (%s)", (flavour) => {
  let e: Engine;
  beforeAll(() => {
    e = createEngine({ simd: flavour });
  });

  describe.each(cases)("$row.name $tensor", ({ row, tensor }) => {
    const type = GgmlType[row.name];
    const t = loadTensor(row.name, tensor);
    const expected = loadDequant(row.name, tensor);
    const info = ggmlTypeByName(row.name)!;
    const blockBytes = info.blockBytes;

    it("dequantizes to llama.cpp's values (≤ 1 ulp)", () => {
      const mark = e.kernels.arena_mark();
      const src = put(e, t.bytes);
      const dst = e.alloc(t.n * 4, "row");
      let worst = 0;
      for (let r = 0; r < t.rows; r++) {
        e.kernels.dequant_row(type, src + r * t.rowBytes, dst, t.n);
        const got = f32At(e, dst, t.n);
        for (let i = 0; i < t.n; i++) worst = Math.max(worst, ulps(got[i], expected[r * t.n + i]));
      }
      e.kernels.arena_release(mark);
      expect(worst).toBeLessThanOrEqual(1);
    });

    it("quantize_act matches its scalar twin; matvec matches matvec_scalar and the f64 reference", () => {
      const mark = e.kernels.arena_mark();
      const k = e.kernels;
      const x = randomVector(t.n, 1234 + t.n);
      const actBytes = k.act_bytes(type, t.n);
      expect(actBytes).toBeGreaterThan(0);
      const px = put(e, x);
      const xq = e.alloc(actBytes, "xq");
      const xq2 = e.alloc(actBytes, "xq scalar");
      k.quantize_act(type, px, xq, t.n);
      k.quantize_act_scalar(type, px, xq2, t.n);
      expect(e.u8().slice(xq, xq + actBytes)).toEqual(e.u8().slice(xq2, xq2 + actBytes));

      const w = put(e, t.bytes);
      const y = e.alloc(t.rows * 4, "y");
      const ys = e.alloc(t.rows * 4, "y scalar");
      k.matvec(type, w, t.rowBytes, xq, y, t.n, 0, t.rows);
      k.matvec_scalar(type, w, t.rowBytes, xq, ys, t.n, 0, t.rows);
      const got = f32At(e, y, t.rows);
      const gotScalar = f32At(e, ys, t.rows);
      let worstRef = 0;
      let worstOrder = 0;
      for (let r = 0; r < t.rows; r++) {
        const wr = expected.subarray(r * t.n, (r + 1) * t.n);
        let ref = 0;
        for (let i = 0; i < t.n; i++) ref += wr[i] * x[i];
        const { bound, S } = matvecBound(row, wr, x, t.bytes.subarray(r * t.rowBytes, (r + 1) * t.rowBytes), blockBytes);
        worstRef = Math.max(worstRef, Math.abs(got[r] - ref) / bound);
        worstOrder = Math.max(worstOrder, Math.abs(got[r] - gotScalar[r]) / orderBound(row, t.n, S));
      }
      k.arena_release(mark);
      // ratios of the error to its bound
      expect(worstRef).toBeLessThanOrEqual(1);
      expect(worstOrder).toBeLessThanOrEqual(1);
    });

    it("matmul over 5 columns equals matvec per column, within [row0, row1) only", () => {
      const mark = e.kernels.arena_mark();
      const k = e.kernels;
      const ncols = 5;
      const actBytes = k.act_bytes(type, t.n);
      const xqStride = Math.ceil(actBytes / 64) * 64;
      const xq = e.alloc(xqStride * ncols, "X");
      for (let c = 0; c < ncols; c++) k.quantize_act(type, put(e, randomVector(t.n, 99 + c)), xq + c * xqStride, t.n);
      const w = put(e, t.bytes);
      const yStride = t.rows + 3;
      const y = e.alloc(yStride * ncols * 4, "Y");
      e.f32().fill(-7, y / 4, y / 4 + yStride * ncols);
      const row0 = 1;
      const row1 = t.rows - 2;
      k.matmul(type, w, t.rowBytes, xq, xqStride, y, yStride, t.n, row0, row1, ncols);
      const yv = e.alloc(t.rows * 4, "y");
      for (let c = 0; c < ncols; c++) {
        k.matvec(type, w, t.rowBytes, xq + c * xqStride, yv, t.n, row0, row1);
        const want = f32At(e, yv, t.rows);
        const got = f32At(e, y + c * yStride * 4, yStride);
        for (let r = 0; r < yStride; r++) {
          if (r >= row0 && r < row1) expect(got[r], `column ${c} row ${r}`).toBe(want[r]);
          else expect(got[r], `column ${c} row ${r} outside the range`).toBe(-7);
        }
      }
      k.arena_release(mark);
    });
  });

  it.each(["F32", "F16", "BF16"] as const)("%s handles any n (tails shorter than a vector)", (name) => {
    const k = e.kernels;
    const type = GgmlType[name];
    const row: Row = FORMATS.find((f) => f.name === name)!;
    for (const n of [1, 7, 13, 45]) {
      const mark = k.arena_mark();
      const rows = 3;
      const wf = randomVector(rows * n, n);
      const wq = quantize(type, wf, rows, n);
      const rb = rowBytes(ggmlTypeByName(name)!, n);
      const w = put(e, wq);
      const x = randomVector(n, 7 * n);
      const px = put(e, x);
      const actBytes = k.act_bytes(type, n);
      const xq = e.alloc(actBytes, "xq");
      const xq2 = e.alloc(actBytes, "xq2");
      k.quantize_act(type, px, xq, n);
      k.quantize_act_scalar(type, px, xq2, n);
      expect(e.u8().slice(xq, xq + actBytes)).toEqual(e.u8().slice(xq2, xq2 + actBytes));
      const deq = e.alloc(n * 4, "deq");
      const y = e.alloc(rows * 4, "y");
      const ys = e.alloc(rows * 4, "ys");
      k.matvec(type, w, rb, xq, y, n, 0, rows);
      k.matvec_scalar(type, w, rb, xq, ys, n, 0, rows);
      for (let r = 0; r < rows; r++) {
        k.dequant_row(type, w + r * rb, deq, n);
        const wr = f32At(e, deq, n);
        let ref = 0;
        for (let i = 0; i < n; i++) ref += wr[i] * x[i];
        const { bound, S } = matvecBound(row, wr, x, wq, 1);
        expect(Math.abs(f32At(e, y, rows)[r] - ref)).toBeLessThanOrEqual(bound);
        expect(Math.abs(f32At(e, y, rows)[r] - f32At(e, ys, rows)[r])).toBeLessThanOrEqual(orderBound(row, n, S));
      }
      k.arena_release(mark);
    }
  });

  it("Q8_0/Q8_1 activations hold ggml's AVX2 quantize_row_q8_0 / q8_1 values", () => {
    // ggml (arch/x86/quants.c): d = amax/127 (f32) stored as f16; q = round-half-even(x · 127/amax);
    // Q8_1's s = f16(d · Σq). The buffer (assembly/quant/act_q8_0.ts) holds the quants as i8 in
    // order (relaxed build) or as i16, each group of 16 even-indexed first (baseline build), then
    // d and s as f32 · 2^112, then Σq per block, then per block the eight sums of 4 consecutive
    // quants, as i32.
    const k = e.kernels;
    const n = 256;
    const x = randomVector(n, 42);
    x.fill(0, 64, 96); // an all-zero block: d = 0, q = 0
    // a block with amax = 127, so id = 1 and exact halves: half-to-even gives 2, -4, 0 (roundf: 3, -4, 1)
    x.set([127, 2.5, -3.5, 0.5], 96);
    const px = put(e, x);
    const xq = e.alloc(k.act_bytes(GgmlType.Q4_0, n), "xq");
    k.quantize_act(GgmlType.Q4_0, px, xq, n);
    const i16 = flavour === "simd";
    const qb = i16 ? 2 * n : n;
    const view = new DataView(e.memory.buffer, xq, qb + 44 * (n / 32));
    const roundEven = (v: number) => {
      const f = Math.floor(v);
      const r = v - f;
      return r > 0.5 || (r === 0.5 && f % 2 !== 0) ? f + 1 : f;
    };
    for (let b = 0; b < n / 32; b++) {
      let amax = 0;
      for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[32 * b + i]));
      const d = Math.fround(amax / 127);
      const id = amax !== 0 ? Math.fround(127 / amax) : 0;
      let sum = 0;
      const sum4 = [0, 0, 0, 0, 0, 0, 0, 0];
      for (let j = 0; j < 32; j++) {
        const q = roundEven(Math.fround(x[32 * b + j] * id));
        sum += q;
        sum4[j >> 2] += q;
        const k16 = j & 15;
        const got = i16 ? view.getInt16(64 * b + 2 * ((j & 16) | ((k16 & 1) << 3) | (k16 >> 1)), true) : view.getInt8(32 * b + j);
        expect(got, `block ${b} quant ${j}`).toBe(q);
      }
      expect(view.getFloat32(qb + 4 * b, true) * 2 ** -112).toBe(f16ToF32(f32ToF16(d)));
      expect(view.getFloat32(qb + 4 * (n / 32) + 4 * b, true) * 2 ** -112).toBe(f16ToF32(f32ToF16(Math.fround(d * sum))));
      expect(view.getInt32(qb + 8 * (n / 32) + 4 * b, true)).toBe(sum);
      for (let g = 0; g < 8; g++) expect(view.getInt32(qb + 12 * (n / 32) + 32 * b + 4 * g, true)).toBe(sum4[g]);
    }
  });

  it("an unsupported type writes nothing and has no activation size", () => {
    const k = e.kernels;
    const IQ2_XXS = 16;
    expect(k.act_bytes(IQ2_XXS, 256)).toBe(-1);
    const y = e.alloc(16, "y");
    e.f32().fill(3, y / 4, y / 4 + 4);
    k.matvec(IQ2_XXS, y, 66, y, y, 256, 0, 4);
    k.dequant_row(IQ2_XXS, y, y, 256);
    expect(Array.from(f32At(e, y, 4))).toEqual([3, 3, 3, 3]);
  });
});

// relaxed-nofma (assembly/fma.ts) takes relaxed SIMD's integer dot products and the baseline build's
// floating point: ggml's integer lanes are exact in either build, and both emulate the fused
// multiply-adds the same way, so every output must be the baseline build's, bit for bit (the whole point
// of the build: Bun's speed without giving up one bit of the baseline's results).
if (flavours.includes("relaxed-nofma")) describe("relaxed-nofma computes the baseline build's bits", () => {
  it.each(FORMATS)("$name: matvec and a 5-column matmul", (row) => {
    const type = GgmlType[row.name];
    const t = loadTensor(row.name, TENSORS[1]);
    const cols = 5;
    const xs = Array.from({ length: cols }, (_, c) => randomVector(t.n, 11 + c));
    const out: { mv: Uint32Array; mm: Uint32Array }[] = [];
    for (const flavour of ["simd", "relaxed-nofma"] as const) {
      const e = createEngine({ simd: flavour });
      const stride = Math.ceil(e.kernels.act_bytes(type, t.n) / 64) * 64;
      const xq = e.alloc(stride * cols, "xq");
      xs.forEach((x, c) => e.kernels.quantize_act(type, put(e, x), xq + c * stride, t.n));
      const w = put(e, t.bytes);
      const y = e.alloc(t.rows * 4, "y");
      e.kernels.matvec(type, w, t.rowBytes, xq, y, t.n, 0, t.rows);
      const mv = new Uint32Array(f32At(e, y, t.rows).buffer.slice(0));
      const ym = e.alloc(t.rows * cols * 4, "ym");
      e.kernels.matmul(type, w, t.rowBytes, xq, stride, ym, t.rows, t.n, 0, t.rows, cols);
      const mm = new Uint32Array(f32At(e, ym, t.rows * cols).buffer.slice(0));
      out.push({ mv, mm });
    }
    expect(Array.from(out[1].mv)).toEqual(Array.from(out[0].mv));
    expect(Array.from(out[1].mm)).toEqual(Array.from(out[0].mm));
  });
});

// Defined only where the engine runs relaxed SIMD (Node 24, Deno, Bun, Chromium; CI runs the suite
// on Node 24 too), so that Node 20 reports no skipped tests.
if (flavours.includes("relaxed")) describe("baseline and relaxed builds agree", () => {
  it.each(FORMATS)("$name", (row) => {
    const type = GgmlType[row.name];
    const t = loadTensor(row.name, TENSORS[1]);
    const expected = loadDequant(row.name, TENSORS[1]);
    const x = randomVector(t.n, 5);
    const out: Float32Array[] = [];
    for (const flavour of ["simd", "relaxed"] as const) {
      const e = createEngine({ simd: flavour });
      const px = put(e, x);
      const xq = e.alloc(e.kernels.act_bytes(type, t.n), "xq");
      e.kernels.quantize_act(type, px, xq, t.n);
      const w = put(e, t.bytes);
      const y = e.alloc(t.rows * 4, "y");
      e.kernels.matvec(type, w, t.rowBytes, xq, y, t.n, 0, t.rows);
      out.push(f32At(e, y, t.rows));
    }
    for (let r = 0; r < t.rows; r++) {
      const wr = expected.subarray(r * t.n, (r + 1) * t.n);
      const { S } = matvecBound(row, wr, x, t.bytes.subarray(r * t.rowBytes, (r + 1) * t.rowBytes), ggmlTypeByName(row.name)!.blockBytes);
      // the same activation values and integer block sums; only FMA versus mul+add and summation order differ
      expect(Math.abs(out[0][r] - out[1][r])).toBeLessThanOrEqual(orderBound(row, t.n, S));
    }
  });
});
