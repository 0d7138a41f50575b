// `woolly-bench kernels`: fused quantized matvec against the machine's memory bandwidth and against
// the naive path (dequantize the matrix to f32, then an f32 matvec), per format and real shapes;
// and batched matmul (prompt processing) in tokens/s-equivalent. Every measurement is preceded by a
// check of its result against the scalar reference kernel.
import { createEngine, type Engine, type SimdFlavour } from "../src/wasm/engine.js";
import { GgmlType, ggmlTypeByName, GGML_TYPES, type GgmlTypeInfo } from "../src/quant/types.js";
import { randomMatrix } from "./random-weights.js";
import { timeMedian } from "./stats.js";
import { qSlotBytes } from "../src/model/kv-cache.js";

export interface KernelBenchOptions {
  readonly simd: SimdFlavour;
  readonly formats: readonly string[];
  /** [rows, cols]: y (rows) = W (rows × cols) · x (cols). */
  readonly shapes: readonly (readonly [number, number])[];
  readonly matmulColumns: readonly number[];
  /** The shape batched matmul is measured on. */
  readonly matmulShape: readonly [number, number];
  readonly samples: number;
  readonly minMs: number;
  /** Cached positions attention is measured at (TinyLlama's heads); empty skips it. */
  readonly attentionPositions: readonly number[];
}

export interface KernelResult {
  readonly bench: "kernels";
  readonly format: string;
  readonly shape: string;
  readonly variant: string;
  readonly simd: SimdFlavour;
  readonly ms: number;
  readonly gbPerS: number;
  readonly ratioToBandwidth: number;
  readonly ratioToNaive: number | null;
  /** Columns (tokens) per second: one per matvec, ncols per matmul. */
  readonly tokensPerS?: number;
  /** matmul only: its time per column against one matvec's (quantization of x included in both). */
  readonly speedupOverMatvec?: number;
}

export const ALL_FORMATS = GGML_TYPES.filter((t) => t.supported).map((t) => t.name);
export const DEFAULT_SHAPES: readonly (readonly [number, number])[] = [
  [2048, 2048],
  [5632, 2048],
  [2048, 5632],
  [32000, 2048],
  [4096, 4096],
];
/** Working set cycled through per pass, over the 32 MiB L3 so weights stream from memory as in a model. */
const WORKING_SET = 96 << 20;
const BANDWIDTH_BYTES = 256 << 20;

class BenchCheckError extends Error {}

/** GB/s of the WAT streaming kernel summing a 256 MiB buffer: this run's memory-bandwidth yardstick. */
export function measureBandwidth(e: Engine, samples: number, minMs: number): number {
  const n = BANDWIDTH_BYTES / 4;
  const p = e.alloc(BANDWIDTH_BYTES, "bandwidth buffer");
  e.f32().fill(1, p >> 2, (p >> 2) + n);
  // 16 partial sums of n/16 ones each: exact in f32 while n/16 < 2^24.
  const got = e.bandwidth.stream_sum_f32(p, n);
  if (got !== n) throw new BenchCheckError(`bandwidth kernel summed ${got}, expected ${n}`);
  const ms = timeMedian(() => e.bandwidth.stream_sum_f32(p, n), samples, minMs);
  return BANDWIDTH_BYTES / ms / 1e6;
}

function randomX(e: Engine, p: number, n: number, seed: number): void {
  const f = e.f32();
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    f[(p >> 2) + i] = s / 2 ** 32 - 0.5;
  }
}

function maxAbsDiff(e: Engine, a: number, b: number, n: number): { diff: number; scale: number } {
  const f = e.f32();
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < n; i++) {
    diff = Math.max(diff, Math.abs(f[(a >> 2) + i] - f[(b >> 2) + i]));
    scale = Math.max(scale, Math.abs(f[(b >> 2) + i]));
  }
  return { diff, scale };
}

/**
 * Fused kernels and the scalar twin compute the same integer block sums; only the order of the f32
 * additions differs, so their results agree to a few f32 ulps of the largest output: 1e-4 relative
 * is a generous bound that still catches any wrong block or scale.
 */
const CHECK_RELATIVE = 1e-4;

function benchFormat(e: Engine, type: GgmlTypeInfo, rows: number, cols: number, o: KernelBenchOptions, bandwidth: number): KernelResult[] {
  const k = e.kernels;
  const rowBytes = (cols / type.blockElements) * type.blockBytes;
  const bytes = rows * rowBytes;
  const copies = Math.max(1, Math.ceil(WORKING_SET / bytes));
  const w: number[] = [];
  for (let c = 0; c < copies; c++) w.push(e.alloc(bytes, "matrix"));
  randomMatrix(type.id, rows, cols, 1, e.u8().subarray(w[0], w[0] + bytes));
  for (let c = 1; c < copies; c++) e.u8().copyWithin(w[c], w[0], w[0] + bytes);
  const x = e.alloc(cols * 4, "x");
  randomX(e, x, cols, 7);
  const xq = e.alloc(k.act_bytes(type.id, cols), "xq");
  const y = e.alloc(rows * 4, "y");
  const yRef = e.alloc(rows * 4, "y reference");
  const shape = `${rows}x${cols}`;

  // Check first: fused vs scalar twin.
  k.quantize_act(type.id, x, xq, cols);
  k.matvec(type.id, w[0], rowBytes, xq, y, cols, 0, rows);
  k.matvec_scalar(type.id, w[0], rowBytes, xq, yRef, cols, 0, rows);
  const chk = maxAbsDiff(e, y, yRef, rows);
  if (!(chk.diff <= CHECK_RELATIVE * chk.scale)) {
    throw new BenchCheckError(`${type.name} ${shape}: fused matvec differs from the scalar reference by ${chk.diff} (scale ${chk.scale})`);
  }
  let next = 0;
  const fusedMs = timeMedian(() => {
    const m = w[next];
    next = (next + 1) % copies;
    k.quantize_act(type.id, x, xq, cols);
    k.matvec(type.id, m, rowBytes, xq, y, cols, 0, rows);
  }, o.samples, o.minMs);

  // Naive: dequantize the whole matrix to f32, then an f32 matvec (what the earlier engine did).
  const f32Bytes = rows * cols * 4;
  const wf = e.alloc(f32Bytes, "dequantized matrix");
  const xf = e.alloc(k.act_bytes(GgmlType.F32, cols), "x as f32 activations");
  const yNaive = e.alloc(rows * 4, "naive y");
  const naive = (m: number) => {
    for (let r = 0; r < rows; r++) k.dequant_row(type.id, m + r * rowBytes, wf + r * cols * 4, cols);
    k.quantize_act(GgmlType.F32, x, xf, cols);
    k.matvec(GgmlType.F32, wf, cols * 4, xf, yNaive, cols, 0, rows);
  };
  naive(w[0]);
  // The naive path keeps x in f32, the fused one quantizes it to 8 bits: they agree within the
  // activation-quantization noise, a few percent of the largest output at most.
  const nchk = maxAbsDiff(e, yNaive, y, rows);
  if (!(nchk.diff <= 0.05 * nchk.scale)) {
    throw new BenchCheckError(`${type.name} ${shape}: naive path differs from fused by ${nchk.diff} (scale ${nchk.scale})`);
  }
  next = 0;
  const naiveMs = timeMedian(() => {
    naive(w[next]);
    next = (next + 1) % copies;
  }, Math.max(3, o.samples - 2), o.minMs);

  const gb = (ms: number) => bytes / ms / 1e6;
  const results: KernelResult[] = [
    { bench: "kernels", format: type.name, shape, variant: "fused", simd: o.simd, ms: fusedMs, gbPerS: gb(fusedMs), ratioToBandwidth: gb(fusedMs) / bandwidth, ratioToNaive: naiveMs / fusedMs, tokensPerS: 1000 / fusedMs },
    { bench: "kernels", format: type.name, shape, variant: "naive", simd: o.simd, ms: naiveMs, gbPerS: gb(naiveMs), ratioToBandwidth: gb(naiveMs) / bandwidth, ratioToNaive: 1 },
  ];

  // Batched matmul: ncols activation columns against the same weights.
  const matmulHere = rows === o.matmulShape[0] && cols === o.matmulShape[1];
  for (const ncols of matmulHere ? o.matmulColumns : []) {
    const stride = Math.ceil(k.act_bytes(type.id, cols) / 64) * 64;
    const X = e.alloc(ncols * cols * 4, "X");
    const XQ = e.alloc(ncols * stride, "XQ");
    const Y = e.alloc(ncols * rows * 4, "Y");
    for (let c = 0; c < ncols; c++) {
      randomX(e, X + c * cols * 4, cols, 100 + c);
      k.quantize_act(type.id, X + c * cols * 4, XQ + c * stride, cols);
    }
    k.matmul(type.id, w[0], rowBytes, XQ, stride, Y, rows, cols, 0, rows, ncols);
    // Every column against the scalar reference, and bit for bit against matvec (the GEMM tiles
    // must sum exactly as the matvec kernels do: test/gemm.test.ts).
    const bits = new Uint32Array(e.memory.buffer);
    for (let c = 0; c < ncols; c++) {
      k.matvec_scalar(type.id, w[0], rowBytes, XQ + c * stride, yRef, cols, 0, rows);
      const d = maxAbsDiff(e, Y + c * rows * 4, yRef, rows);
      if (!(d.diff <= CHECK_RELATIVE * d.scale)) {
        throw new BenchCheckError(`${type.name} ${shape}: matmul column ${c} of ${ncols} differs from the scalar reference by ${d.diff}`);
      }
      k.matvec(type.id, w[0], rowBytes, XQ + c * stride, yRef, cols, 0, rows);
      const at = (Y >> 2) + c * rows;
      for (let r = 0; r < rows; r++) {
        if (bits[at + r] !== bits[(yRef >> 2) + r]) throw new BenchCheckError(`${type.name} ${shape}: matmul column ${c} row ${r} is not matvec's value`);
      }
    }
    next = 0;
    // Quantizing the columns is part of a prompt batch as it is of a matvec.
    const ms = timeMedian(() => {
      for (let c = 0; c < ncols; c++) k.quantize_act(type.id, X + c * cols * 4, XQ + c * stride, cols);
      k.matmul(type.id, w[next], rowBytes, XQ, stride, Y, rows, cols, 0, rows, ncols);
      next = (next + 1) % copies;
    }, o.samples, o.minMs);
    results.push({
      bench: "kernels", format: type.name, shape, variant: `matmul-${ncols}`, simd: o.simd, ms,
      gbPerS: gb(ms), ratioToBandwidth: gb(ms) / bandwidth, ratioToNaive: null, tokensPerS: ncols / (ms / 1000),
      speedupOverMatvec: fusedMs / (ms / ncols),
    });
  }
  return results;
}

/** TinyLlama's attention: 32 query heads over 4 KV heads of 64 (groups of 8). */
export const ATTENTION_SHAPE = { nHeads: 32, nKvHeads: 4, headDim: 64 } as const;

/**
 * Attention of one token over nPos cached f16 positions, all heads: as for one token (decode, V summed in
 * ggml_vec_dot_f16's 32 lanes) and as one token of a prompt (tinyBLAS's 8 lanes); then over a q8_0 cache. Checked bit for bit
 * against the scalar twin first; GB/s counts the K and V bytes read (they stay in cache between calls);
 * "vs naive" is the scalar twin's time over the kernel's.
 */
/** The check before timing: n f32 at `out` (the kernel's) are the bits of those at `ref` (its scalar twin's). */
function sameBits(e: Engine, out: number, ref: number, n: number, what: string): void {
  const bits = new Uint32Array(e.memory.buffer);
  for (let i = 0; i < n; i++) {
    if (bits[(out >> 2) + i] !== bits[(ref >> 2) + i]) throw new BenchCheckError(`${what}: element ${i} differs from the scalar twin`);
  }
}

function* benchAttention(e: Engine, o: KernelBenchOptions, bandwidth: number): Generator<KernelResult> {
  const k = e.kernels;
  const { nHeads, nKvHeads, headDim } = ATTENTION_SHAPE;
  const kvDim = nKvHeads * headDim;
  const scale = Math.fround(1 / Math.sqrt(headDim));
  for (const nPos of o.attentionPositions) {
    const mark = k.arena_mark();
    const kvBytes = nPos * kvDim * 2;
    const rows = e.alloc(nPos * kvDim * 4, "f32 rows");
    const kc = e.alloc(kvBytes, "K cache");
    const vc = e.alloc(kvBytes, "V cache");
    randomX(e, rows, nPos * kvDim, 21);
    k.f32_to_f16(rows, kc, nPos * kvDim);
    randomX(e, rows, nPos * kvDim, 22);
    k.f32_to_f16(rows, vc, nPos * kvDim);
    const q = e.alloc(nHeads * headDim * 4, "q");
    randomX(e, q, nHeads * headDim, 23);
    const out = e.alloc(nHeads * headDim * 4, "attention out");
    const ref = e.alloc(nHeads * headDim * 4, "scalar out");
    const scores = e.alloc(nHeads * nPos * 4, "scores");
    for (const [variant, batch] of [["decode", 0], ["prompt", 1]] as const) {
      const run = (kernel: "attention" | "attention_scalar", y: number) =>
        k[kernel](q, kc, vc, y, scores, nHeads, nKvHeads, headDim, nPos, scale, 0, batch, 0, nHeads);
      run("attention", out);
      const scalarMs = timeMedian(() => run("attention_scalar", ref), 1, 0);
      sameBits(e, out, ref, nHeads * headDim, `attention ${variant} at ${nPos} positions`);
      const ms = timeMedian(() => run("attention", out), o.samples, o.minMs);
      const gb = (2 * kvBytes) / ms / 1e6;
      yield {
        bench: "kernels", format: "attn", shape: `n=${nPos}`, variant, simd: o.simd, ms,
        gbPerS: gb, ratioToBandwidth: gb / bandwidth, ratioToNaive: scalarMs / ms,
      };
    }
    // The same over a q8_0 cache (kvType "q8_0": attention_q8, one order for decode and prompt).
    const q8Bytes = nPos * (kvDim / 32) * 34;
    const kq = e.alloc(q8Bytes, "K cache q8_0");
    const vq = e.alloc(q8Bytes, "V cache q8_0");
    randomX(e, rows, nPos * kvDim, 21);
    k.kv_quantize_q8_0(rows, kq, nPos * kvDim);
    randomX(e, rows, nPos * kvDim, 22);
    k.kv_quantize_q8_0(rows, vq, nPos * kvDim);
    const qq = e.alloc(nHeads * qSlotBytes(headDim), "quantized queries");
    const runQ8 = (kernel: "attention_q8" | "attention_q8_scalar", y: number) =>
      k[kernel](q, kq, vq, y, scores, qq, nHeads, nKvHeads, headDim, nPos, scale, 0, 0, nHeads);
    runQ8("attention_q8", out);
    const scalarMs = timeMedian(() => runQ8("attention_q8_scalar", ref), 1, 0);
    sameBits(e, out, ref, nHeads * headDim, `attention q8_0 at ${nPos} positions`);
    const ms = timeMedian(() => runQ8("attention_q8", out), o.samples, o.minMs);
    const gb = (2 * q8Bytes) / ms / 1e6;
    yield {
      bench: "kernels", format: "attn", shape: `n=${nPos}`, variant: "q8_0 kv", simd: o.simd, ms,
      gbPerS: gb, ratioToBandwidth: gb / bandwidth, ratioToNaive: scalarMs / ms,
    };
    k.arena_release(mark);
  }
}

export function* benchKernels(o: KernelBenchOptions): Generator<KernelResult | { bench: "bandwidth"; simd: SimdFlavour; gbPerS: number }> {
  const e = createEngine({ simd: o.simd });
  const start = e.kernels.arena_mark();
  const bw = measureBandwidth(e, o.samples, o.minMs);
  e.kernels.arena_release(start);
  yield { bench: "bandwidth", simd: o.simd, gbPerS: bw };
  for (const name of o.formats) {
    const type = ggmlTypeByName(name);
    if (!type?.supported) throw new BenchCheckError(`unknown or unsupported format ${name}; choose from ${ALL_FORMATS.join(", ")}`);
    for (const [rows, cols] of o.shapes) {
      if (cols % type.blockElements !== 0) continue;
      try {
        yield* benchFormat(e, type, rows, cols, o, bw);
      } finally {
        e.kernels.arena_release(start);
      }
    }
  }
  yield* benchAttention(e, o, bw);
}

export { BenchCheckError };
