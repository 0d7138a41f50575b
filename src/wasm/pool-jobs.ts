// What the thread pool's threads agree on: the control block's layout in shared memory, how a job
// is split between threads, and running one thread's slice. The jobs' arguments are laid out in
// jobs.ts.
// Imported by the dispatcher (pool.ts) and by the worker script (worker.ts), so both sides read
// the same words. No wasm and no Web/Node API here: the worker bundle stays small.
//
// The control block (assembly/layout.ts: CONTROL_BLOCK = 0x440, up to 0x1000), as i32 words:
//
//   0x440 ┌──────────────────────────────────────────────┐ +0    GEN     job generation: the dispatcher
//         │ GEN                                          │              bumps it, workers Atomics.wait on it
//   0x480 ├──────────────────────────────────────────────┤ +64   DONE    workers done with this generation:
//         │ DONE                                         │              they add 1, the dispatcher waits on it
//   0x4c0 ├──────────────────────────────────────────────┤ +128  THREADS threads in the job (the caller too)
//         │ THREADS │ FAILED │ OP │ SPIN │ ERRLEN │ MEM  │ +132  FAILED  0, or 1 + the first failing thread
//         │                                              │ +136  OP      what to run (Op below)
//         │                                              │ +140  SPIN    µs a thread polls before it sleeps
//         │                                              │ +144  ERRLEN  bytes of ERRTEXT
//         │                                              │ +148  MEM     which memory the job's pointers are in
//   0x500 ├──────────────────────────────────────────────┤ +192  ARGS    64 words: the op's arguments
//         │ ARGS[0..64)                                  │              (jobs.ts: f32 ones stored by bit pattern)
//   0x600 ├──────────────────────────────────────────────┤ +448  ERRTEXT the failing thread's message,
//         │ ERRTEXT (1 KiB, UTF-8)                       │              UTF-8, so the waiting caller can
//   0xa00 └──────────────────────────────────────────────┘ +1472         read it without a message loop
//
// GEN and DONE each have a cache line of their own: workers poll GEN while others add to DONE.
//
// A model too large for one memory runs over several (its shards: src/model/shards.ts). There is still
// one control block, in memory 0's first page; every thread has the kernels instantiated once per
// memory, and MEM says which instance runs the job (the same area of the other memories stays unused).
import type { KernelExports } from "./exports.js";
import { Op, type Jobs } from "./jobs.js";

export const CONTROL_BLOCK = 0x440;
export const CONTROL_BLOCK_END = 0x1000;
/** Word indices into an Int32Array over the whole memory. */
export const W = {
  GEN: (CONTROL_BLOCK + 0) >> 2,
  DONE: (CONTROL_BLOCK + 64) >> 2,
  THREADS: (CONTROL_BLOCK + 128) >> 2,
  FAILED: (CONTROL_BLOCK + 132) >> 2,
  OP: (CONTROL_BLOCK + 136) >> 2,
  SPIN: (CONTROL_BLOCK + 140) >> 2,
  ERRLEN: (CONTROL_BLOCK + 144) >> 2,
  MEM: (CONTROL_BLOCK + 148) >> 2,
  ARGS: (CONTROL_BLOCK + 192) >> 2,
} as const;
export const ERRTEXT = CONTROL_BLOCK + 448;
export const ERRTEXT_BYTES = 1024;

/**
 * Rows a thread gets: ranges are multiples of `align` rows so a thread's range never depends on
 * rounding, and every row is computed by the same per-row kernel whatever the split, so results
 * are bit-identical for any thread count.
 */
export function sliceOf(total: number, threads: number, t: number, align: number): [number, number] {
  const chunk = Math.ceil(total / threads / align) * align;
  const lo = Math.min(total, t * chunk);
  return [lo, Math.min(total, lo + chunk)];
}

/** Row alignment of a split: 16 rows keeps each thread's output on whole cache lines. */
export const ROW_ALIGN = 16;

/**
 * Run thread t's share of the job named by the control block's OP word, its arguments read through `jobs`,
 * with the kernels instantiated over the memory the MEM word names (`ks[MEM]`).
 */
export function runSlice(ks: readonly KernelExports[], i32: Int32Array, jobs: Jobs, t: number, threads: number): void {
  const k = ks[i32[W.MEM]];
  switch (i32[W.OP]) {
    case Op.MATVEC: {
      const a = jobs.matvec.args;
      const [r0, r1] = sliceOf(a.rows.get(), threads, t, ROW_ALIGN);
      if (r0 < r1) k.matvec(a.type.get(), a.w.get(), a.rowBytes.get(), a.xq.get(), a.y.get(), a.n.get(), r0, r1);
      return;
    }
    case Op.MATVECS: {
      const job = jobs.matvecs;
      const a = job.args;
      const count = a.count.get();
      const xq = a.xq.get();
      let total = 0;
      for (let m = 0; m < count; m++) total += job.each[m].rows.get();
      const [lo, hi] = sliceOf(total, threads, t, ROW_ALIGN);
      let off = 0;
      for (let m = 0; m < count; m++) {
        const g = job.each[m];
        const rows = g.rows.get();
        const r0 = Math.max(0, lo - off);
        const r1 = Math.min(rows, hi - off);
        if (r0 < r1) k.matvec(g.type.get(), g.w.get(), g.rowBytes.get(), xq, g.y.get(), g.n.get(), r0, r1);
        off += rows;
      }
      return;
    }
    case Op.MATMUL: {
      const a = jobs.matmul.args;
      const [r0, r1] = sliceOf(a.rows.get(), threads, t, ROW_ALIGN);
      if (r0 < r1) {
        k.matmul(a.type.get(), a.w.get(), a.rowBytes.get(), a.xq.get(), a.xqStride.get(), a.y.get(), a.yStride.get(), a.n.get(), r0, r1, a.ncols.get());
      }
      return;
    }
    case Op.ATTENTION: {
      const a = jobs.attention.args;
      const nHeads = a.nHeads.get();
      const nKvHeads = a.nKvHeads.get();
      // Whole groups of query heads sharing a KV head per thread where they divide evenly: each
      // thread then streams only its own KV heads' cache.
      const align = nKvHeads % threads === 0 ? nHeads / nKvHeads : 1;
      const [h0, h1] = sliceOf(nHeads, threads, t, align);
      if (h0 < h1) {
        k.attention(a.q.get(), a.kCache.get(), a.vCache.get(), a.out.get(), a.scores.get(), nHeads, nKvHeads, a.headDim.get(), a.nPos.get(), a.scale.get(), a.softcap.get(), a.batch.get(), h0, h1);
      }
      return;
    }
    case Op.ENCODER_ATTENTION: {
      const a = jobs.encoderAttention.args;
      const nHeads = a.nHeads.get();
      const [h0, h1] = sliceOf(nHeads, threads, t, 1);
      if (h0 < h1) encoderAttention(k, a, h0, h1);
      return;
    }
  }
}

/**
 * Poll for up to `spinMicros` µs, then sleep, until i32[index] is no longer `value`. `canBlock`
 * false: poll only (a browser's main thread may not Atomics.wait).
 */
export function waitWhile(i32: Int32Array, index: number, value: number, spinMicros: number, canBlock: boolean): void {
  if (spinWhile(i32, index, value, spinMicros)) return;
  while (Atomics.load(i32, index) === value) {
    if (canBlock) Atomics.wait(i32, index, value);
  }
}

/** Poll i32[index] for up to `micros` µs; true once it is no longer `value`. */
export function spinWhile(i32: Int32Array, index: number, value: number, micros: number): boolean {
  if (micros <= 0) return Atomics.load(i32, index) !== value;
  const until = performance.now() + micros / 1000;
  do {
    for (let s = 0; s < 64; s++) if (Atomics.load(i32, index) !== value) return true;
  } while (performance.now() < until);
  return false;
}

/** Record the first failure of a job: its thread and message, for the dispatcher to throw. */
export function reportFailure(i32: Int32Array, u8: Uint8Array, t: number, error: unknown): void {
  if (Atomics.compareExchange(i32, W.FAILED, 0, t + 1) !== 0) return;
  const text = new TextEncoder().encode(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  const n = Math.min(text.length, ERRTEXT_BYTES);
  // TextEncoder may not write into a SharedArrayBuffer view directly; copy.
  for (let i = 0; i < n; i++) u8[ERRTEXT + i] = text[i];
  Atomics.store(i32, W.ERRLEN, n);
}

/** The failure message a thread left in the control block. */
export function failureText(i32: Int32Array, u8: Uint8Array): string {
  const n = Math.min(Atomics.load(i32, W.ERRLEN), ERRTEXT_BYTES);
  // TextDecoder refuses views of a SharedArrayBuffer: copy out first.
  return new TextDecoder().decode(u8.slice(ERRTEXT, ERRTEXT + n));
}

/** Every query of an encoder layer, heads [h0, h1): one attention_f32 call per query token. */
export function encoderAttention(k: KernelExports, a: Jobs["encoderAttention"]["args"], h0: number, h1: number): void {
  const nPos = a.nPos.get();
  const q = a.q.get(), qStride = a.qStride.get() * 4, out = a.out.get(), outStride = a.outStride.get() * 4;
  const key = a.k.get(), kStride = a.kStride.get(), vT = a.vT.get(), scores = a.scores.get();
  const nHeads = a.nHeads.get(), nKvHeads = a.nKvHeads.get(), headDim = a.headDim.get(), scale = a.scale.get();
  for (let t = 0; t < nPos; t++) {
    k.attention_f32(q + t * qStride, key, kStride, vT, out + t * outStride, scores, nHeads, nKvHeads, headDim, nPos, scale, h0, h1);
  }
}
