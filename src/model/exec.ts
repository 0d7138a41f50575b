// The seam between the forward pass and whoever runs the heavy kernels: one thread calling the
// kernels directly (here), or a pool of workers over shared memory splitting rows and heads
// (src/wasm/pool.ts). The forward pass only ever talks to an Executor.
import type { Engine } from "../wasm/engine.js";
import type { KernelExports } from "../wasm/exports.js";
import { attentionBytes, MAX_BATCH, type Arg } from "../wasm/jobs.js";
import { ThreadPool, type PoolOptions } from "../wasm/pool.js";
import type { WeightMatrix } from "./weights.js";

export interface AttentionArgs {
  /** (nHeads, headDim) f32 */ q: number;
  /** (nCtx, nKvHeads, headDim) f16 or block_q8_0 of one layer */ kCache: number;
  /** (nCtx, nKvHeads, headDim) f16 or block_q8_0 of one layer */ vCache: number;
  /** (nHeads, headDim) f32 */ out: number;
  /** (nHeads, nPos) f32 scratch */ scores: number;
  /** nHeads quantized-query slots (q8_0 cache; 0 for f16) */ qq: number;
  /** The cache's format: 0 f16 (kernel attention), 1 q8_0 (attention_q8): KV_CODE in kv-cache.ts. */
  kv: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  nPos: number;
  scale: number;
  /** Soft-cap of the scores (gemma2), 0 for none. */
  softcap: number;
  /** 1: part of a batch of tokens (llama.cpp's prompt path sums V in 8 lanes); 0: one token (32 lanes). */
  batch: number;
}

/** Every query of an encoder layer over all nPos tokens (assembly/ops/encoder.ts attention_f32). */
export interface EncoderAttentionArgs {
  /** nPos query rows of (nHeads, headDim) f32, qStride floats apart */ q: number;
  qStride: number;
  /** nPos key rows, kStride floats apart */ k: number;
  kStride: number;
  /** (nKvHeads·headDim, nPos) f32: V transposed */ vT: number;
  /** nPos output rows, outStride floats apart */ out: number;
  outStride: number;
  /** (nHeads, nPos) f32 scratch */ scores: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  nPos: number;
  scale: number;
}

export interface Executor {
  /** y[r] = W[r]·x for every row, x already converted to W's activation format at `xq`. */
  matvec(w: WeightMatrix, xq: number, y: number): void;
  /**
   * Several matvecs over the same converted activation (Q/K/V, gate/up): one dispatch instead of
   * one per matrix. Every matrix must take xq's format (the same `type.dotWith`) and n = w.cols.
   */
  matvecs(jobs: readonly (readonly [w: WeightMatrix, y: number])[], xq: number): void;
  /** y[c*yStride + r] = W[r]·X[c] for c < ncols (X[c] at xq + c*xqStride bytes; yStride in elements). */
  matmul(w: WeightMatrix, xq: number, xqStride: number, y: number, yStride: number, ncols: number): void;
  /**
   * Several matmuls over the same converted activations (a batch's Q/K/V, gate/up): one dispatch
   * instead of one per matrix. Every matrix must take xq's format and n = w.cols; each entry is
   * [matrix, Y, Y's stride in elements].
   */
  matmuls(jobs: readonly (readonly [w: WeightMatrix, y: number, yStride: number])[], xq: number, xqStride: number, ncols: number): void;
  /** Attention of one query token over nPos cached positions, all heads. */
  attention(a: AttentionArgs): void;
  /** Bidirectional attention of every token of an encoder layer, all heads. */
  encoderAttention(a: EncoderAttentionArgs): void;
}

/** Runs every kernel on the calling thread. */
export class SingleThreadExecutor implements Executor {
  constructor(private readonly k: KernelExports) {}

  matvec(w: WeightMatrix, xq: number, y: number): void {
    this.k.matvec(w.type.id, w.ptr, w.rowBytes, xq, y, w.cols, 0, w.rows);
  }

  matvecs(jobs: readonly (readonly [w: WeightMatrix, y: number])[], xq: number): void {
    for (const [w, y] of jobs) this.k.matvec(w.type.id, w.ptr, w.rowBytes, xq, y, w.cols, 0, w.rows);
  }

  matmul(w: WeightMatrix, xq: number, xqStride: number, y: number, yStride: number, ncols: number): void {
    this.k.matmul(w.type.id, w.ptr, w.rowBytes, xq, xqStride, y, yStride, w.cols, 0, w.rows, ncols);
  }

  matmuls(jobs: readonly (readonly [w: WeightMatrix, y: number, yStride: number])[], xq: number, xqStride: number, ncols: number): void {
    for (const [w, y, yStride] of jobs) this.k.matmul(w.type.id, w.ptr, w.rowBytes, xq, xqStride, y, yStride, w.cols, 0, w.rows, ncols);
  }

  attention(a: AttentionArgs): void {
    if (a.kv === 1) this.k.attention_q8(a.q, a.kCache, a.vCache, a.out, a.scores, a.qq, a.nHeads, a.nKvHeads, a.headDim, a.nPos, a.scale, a.softcap, 0, a.nHeads);
    else this.k.attention(a.q, a.kCache, a.vCache, a.out, a.scores, a.nHeads, a.nKvHeads, a.headDim, a.nPos, a.scale, a.softcap, a.batch, 0, a.nHeads);
  }

  encoderAttention(a: EncoderAttentionArgs): void {
    for (let t = 0; t < a.nPos; t++) {
      this.k.attention_f32(a.q + t * a.qStride * 4, a.k, a.kStride, a.vT, a.out + t * a.outStride * 4, a.scores, a.nHeads, a.nKvHeads, a.headDim, a.nPos, a.scale, 0, a.nHeads);
    }
  }
}

/**
 * Below this many weight bytes (K/V cache bytes for attention) a job runs on the calling thread
 * alone: waking a sleeping worker costs 50-100 µs here (more on a loaded machine), the time one
 * thread takes for ~200 KiB of weights. At 16 KiB stories260K (4-34 KiB matrices) decoded 3x
 * slower on 2 threads than on 1 (runtimes test, Bun and Chromium); every TinyLlama-sized matrix
 * is 2 MiB or more. Results are the same either way: every row is computed by the same per-row kernel.
 */
export const DEFAULT_MIN_PARALLEL_BYTES = 128 << 10;

export interface ThreadTuning extends PoolOptions {
  /** Jobs smaller than this run on the calling thread (default DEFAULT_MIN_PARALLEL_BYTES; tests use 0 to split even tiny matrices). */
  readonly minParallelBytes?: number;
}

/**
 * Splits matvec and matmul by rows and attention by heads over a ThreadPool (in chunks the threads
 * claim as they go: pool-jobs.ts), for pointers into the pool's memory `mem` (a model's shard; 0 when
 * it has one memory) whose kernels are `k`. Once the pool has ended (the model was disposed
 * mid-generation) it runs everything on the calling thread.
 */
export class ThreadedExecutor implements Executor {
  private readonly single: SingleThreadExecutor;
  private readonly minParallelBytes: number;
  constructor(
    /** The pool the jobs run on (tests reach its hooks through it). */
    readonly pool: ThreadPool,
    k: KernelExports,
    tuning: ThreadTuning = {},
    private readonly mem = 0,
  ) {
    this.single = new SingleThreadExecutor(k);
    this.minParallelBytes = tuning.minParallelBytes ?? DEFAULT_MIN_PARALLEL_BYTES;
  }

  /** Threads that run jobs now (fewer than started once a worker died). */
  get threads(): number {
    return this.pool.liveThreads;
  }

  matvec(w: WeightMatrix, xq: number, y: number): void {
    if (this.pool.ended || w.rows * w.rowBytes < this.minParallelBytes) return this.single.matvec(w, xq, y);
    const job = this.pool.jobs.matvec;
    const a = job.args;
    a.type.set(w.type.id);
    a.w.set(w.ptr);
    a.rowBytes.set(w.rowBytes);
    a.xq.set(xq);
    a.y.set(y);
    a.n.set(w.cols);
    a.rows.set(w.rows);
    this.pool.run(job.op, this.mem);
  }

  matvecs(jobs: readonly (readonly [w: WeightMatrix, y: number])[], xq: number): void {
    let bytes = 0;
    for (const [w] of jobs) bytes += w.rows * w.rowBytes;
    if (this.pool.ended || bytes < this.minParallelBytes) return this.single.matvecs(jobs, xq);
    const job = this.pool.jobs.matvecs;
    const a = job.args;
    // Index loops, no slices: nothing is allocated on the decode path.
    for (let at = 0; at < jobs.length; at += MAX_BATCH) {
      const count = Math.min(MAX_BATCH, jobs.length - at);
      a.count.set(count);
      a.xq.set(xq);
      for (let m = 0; m < count; m++) {
        const [w, y] = jobs[at + m];
        setMatrix(job.each[m], w, y);
      }
      this.pool.run(job.op, this.mem);
    }
  }

  matmul(w: WeightMatrix, xq: number, xqStride: number, y: number, yStride: number, ncols: number): void {
    if (this.pool.ended || w.rows * w.rowBytes * ncols < this.minParallelBytes) return this.single.matmul(w, xq, xqStride, y, yStride, ncols);
    const job = this.pool.jobs.matmul;
    const a = job.args;
    a.type.set(w.type.id);
    a.w.set(w.ptr);
    a.rowBytes.set(w.rowBytes);
    a.xq.set(xq);
    a.xqStride.set(xqStride);
    a.y.set(y);
    a.yStride.set(yStride);
    a.n.set(w.cols);
    a.rows.set(w.rows);
    a.ncols.set(ncols);
    this.pool.run(job.op, this.mem);
  }

  matmuls(jobs: readonly (readonly [w: WeightMatrix, y: number, yStride: number])[], xq: number, xqStride: number, ncols: number): void {
    let bytes = 0;
    for (const [w] of jobs) bytes += w.rows * w.rowBytes * ncols;
    if (this.pool.ended || bytes < this.minParallelBytes) return this.single.matmuls(jobs, xq, xqStride, ncols);
    const job = this.pool.jobs.matmuls;
    const a = job.args;
    for (let at = 0; at < jobs.length; at += MAX_BATCH) {
      const count = Math.min(MAX_BATCH, jobs.length - at);
      a.count.set(count);
      a.xq.set(xq);
      a.xqStride.set(xqStride);
      a.ncols.set(ncols);
      for (let m = 0; m < count; m++) {
        const [w, y, yStride] = jobs[at + m];
        setMatrix(job.each[m], w, y);
        job.each[m].yStride.set(yStride);
      }
      this.pool.run(job.op, this.mem);
    }
  }

  attention(x: AttentionArgs): void {
    if (this.pool.ended || attentionBytes(x.kv, x.nPos, x.nKvHeads * x.headDim) < this.minParallelBytes) return this.single.attention(x);
    const job = this.pool.jobs.attention;
    const a = job.args;
    a.q.set(x.q);
    a.kCache.set(x.kCache);
    a.vCache.set(x.vCache);
    a.out.set(x.out);
    a.scores.set(x.scores);
    a.qq.set(x.qq);
    a.kv.set(x.kv);
    a.nHeads.set(x.nHeads);
    a.nKvHeads.set(x.nKvHeads);
    a.headDim.set(x.headDim);
    a.nPos.set(x.nPos);
    a.scale.set(x.scale);
    a.softcap.set(x.softcap);
    a.batch.set(x.batch);
    this.pool.run(job.op, this.mem);
  }

  encoderAttention(x: EncoderAttentionArgs): void {
    // K and V bytes read per query, times the queries: nPos² × kvDim × 4 × 2.
    if (this.pool.ended || x.nPos * x.nPos * x.nKvHeads * x.headDim * 8 < this.minParallelBytes) return this.single.encoderAttention(x);
    const job = this.pool.jobs.encoderAttention;
    const a = job.args;
    a.q.set(x.q);
    a.qStride.set(x.qStride);
    a.k.set(x.k);
    a.kStride.set(x.kStride);
    a.vT.set(x.vT);
    a.out.set(x.out);
    a.outStride.set(x.outStride);
    a.scores.set(x.scores);
    a.nHeads.set(x.nHeads);
    a.nKvHeads.set(x.nKvHeads);
    a.headDim.set(x.headDim);
    a.nPos.set(x.nPos);
    a.scale.set(x.scale);
    this.pool.run(job.op, this.mem);
  }
}

/** The executors a model runs with (one per memory), how many threads it has, and why not more. */
export interface Threading {
  /** The executor of the first memory (the only one of a model under 4 GiB). */
  readonly executor: Executor;
  /** One executor per memory, in engine order: each runs kernels on pointers into its own memory. */
  readonly executors: readonly Executor[];
  /** Threads that run the kernels (1: the calling thread alone); drops if a worker dies. */
  readonly threads: number;
  /** Why fewer threads run than were asked for (no shared memory, a worker died); null when the request was met. */
  readonly fallback: string | null;
  /** End the workers (idempotent). */
  end(): void;
}

/**
 * Executors for `wanted` threads over `engines` (one, or a model's shards in order): one ThreadPool
 * whose workers instantiate the kernels over every memory when the memories are shared and workers
 * start, else the calling thread alone with the reason (`unavailable`, or the start-up failure) in
 * `fallback`. Never throws for want of threads.
 */
export async function startThreads(
  engine: Engine | readonly Engine[],
  wanted: number,
  unavailable: string | null,
  tuning: ThreadTuning = {},
): Promise<Threading> {
  const engines: readonly Engine[] = "memory" in engine ? [engine] : engine;
  const single = (fallback: string | null): Threading => {
    const executors = engines.map((e) => new SingleThreadExecutor(e.kernels));
    return { executor: executors[0], executors, threads: 1, fallback, end: () => undefined };
  };
  if (wanted <= 1) return single(null);
  if (!engines.every((e) => e.shared)) return single(unavailable ?? "the engine's memory is not shared");
  let pool: ThreadPool;
  try {
    pool = await ThreadPool.start(engines, wanted, tuning);
  } catch (e) {
    return single(e instanceof Error ? e.message : String(e));
  }
  const executors = engines.map((e, mem) => new ThreadedExecutor(pool, e.kernels, tuning, mem));
  // Read live: a worker that dies later lowers `threads` and sets `fallback`.
  return {
    executor: executors[0],
    executors,
    get threads() {
      return pool.liveThreads;
    },
    get fallback() {
      return pool.fallback;
    },
    end: () => pool.end(),
  };
}

/** The words of one matrix in a MATVECS or MATMULS job that both kinds carry (MATMULS adds yStride). */
function setMatrix(g: { readonly [K in "type" | "w" | "rowBytes" | "y" | "n" | "rows"]: Arg }, w: WeightMatrix, y: number): void {
  g.type.set(w.type.id);
  g.w.set(w.ptr);
  g.rowBytes.set(w.rowBytes);
  g.y.set(y);
  g.n.set(w.cols);
  g.rows.set(w.rows);
}
