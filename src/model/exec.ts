// The seam between the forward pass and whoever runs the heavy kernels: one thread calling the
// kernels directly (here), or a pool of workers over shared memory splitting rows and heads
// (src/wasm/pool.ts). The forward pass only ever talks to an Executor.
import type { KernelExports } from "../wasm/exports.js";
import type { WeightMatrix } from "./weights.js";

export interface AttentionArgs {
  /** (nHeads, headDim) f32 */ q: number;
  /** (nCtx, nKvHeads, headDim) f16 of one layer */ kCache: number;
  /** (nCtx, nKvHeads, headDim) f16 of one layer */ vCache: number;
  /** (nHeads, headDim) f32 */ out: number;
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
  /** y[c*yStride + r] = W[r]·X[c] for c < ncols (X[c] at xq + c*xqStride bytes; yStride in elements). */
  matmul(w: WeightMatrix, xq: number, xqStride: number, y: number, yStride: number, ncols: number): void;
  /** Attention of one query token over nPos cached positions, all heads. */
  attention(a: AttentionArgs): void;
}

/** Runs every kernel on the calling thread. */
export class SingleThreadExecutor implements Executor {
  constructor(private readonly k: KernelExports) {}

  matvec(w: WeightMatrix, xq: number, y: number): void {
    this.k.matvec(w.type.id, w.ptr, w.rowBytes, xq, y, w.cols, 0, w.rows);
  }

  matmul(w: WeightMatrix, xq: number, xqStride: number, y: number, yStride: number, ncols: number): void {
    this.k.matmul(w.type.id, w.ptr, w.rowBytes, xq, xqStride, y, yStride, w.cols, 0, w.rows, ncols);
  }

  attention(a: AttentionArgs): void {
    this.k.attention(a.q, a.kCache, a.vCache, a.out, a.scores, a.nHeads, a.nKvHeads, a.headDim, a.nPos, a.scale, 0, a.nHeads);
  }
}
