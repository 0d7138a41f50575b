// The thread pool: N-1 workers plus the calling thread (thread 0, which does its share), all
// running the same kernels module over the same shared memory (or memories: a model past 4 GiB has
// one per shard, each thread instantiates the kernels once per memory and a job names its memory). A job is written into the control
// block (pool-jobs.ts draws it), started by bumping the generation word, and finished when every
// worker has added itself to the done word: Atomics on an Int32Array view, no message per kernel.
// Workers receive the compiled module and the memories once, by postMessage, at start-up.
import workerSource from "../../build/worker.txt";
import { WasmError } from "../errors.js";
import type { Engine } from "./engine.js";
import type { KernelExports } from "./exports.js";
import { jobsOver, Op, type Jobs, type OpId } from "./jobs.js";
import { CONTROL_BLOCK_END, W, failureText, runSlice } from "./pool-jobs.js";
import type { StartMessage, WorkerReply } from "./worker.js";

/** The most threads a pool runs. */
export const MAX_THREADS = 64;

/**
 * Microseconds a thread polls the generation/done word before it sleeps in Atomics.wait. Sleeping
 * and being woken costs tens of microseconds (a futex round trip); a decode step dispatches ~180
 * jobs, usually a few microseconds apart, so a short poll first keeps that latency off the token.
 */
export const DEFAULT_SPIN = 50;

/** How long start-up waits for workers to report ready before giving up. */
const START_TIMEOUT_MS = 30_000;

interface WorkerHandle {
  post(m: StartMessage): void;
  /** Resolves when the worker instantiated the kernels; rejects if it failed or died. */
  readonly ready: Promise<void>;
  terminate(): void;
}

type NodeWorkers = typeof import("node:worker_threads");

/**
 * Which kind of worker a pool starts. Web Workers in browsers, and in Bun (whose Worker has
 * unref()); Node's worker_threads in Node (no Web Worker) and Deno (whose Web Worker cannot be
 * unref'd: a forgotten model kept the process alive, measured with Deno 2.9; its worker_threads
 * Worker can).
 */
function useWebWorker(): boolean {
  if (typeof globalThis.Worker !== "function") return false;
  const nodeCompatible = typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === "string";
  return !nodeCompatible || typeof (Worker.prototype as { unref?: unknown }).unref === "function";
}

/** Start `count` workers running build/worker.txt (see useWebWorker for which kind). */
async function spawn(count: number): Promise<WorkerHandle[]> {
  const handles: WorkerHandle[] = [];
  if (useWebWorker()) {
    const url = URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
    try {
      for (let i = 0; i < count; i++) {
        // type "module" is accepted everywhere Web Workers are; the script is an IIFE, valid as either kind.
        const w = new Worker(url, { type: "module", name: `woolly-${i + 1}` });
        const ready = new Promise<void>((resolve, reject) => {
          w.addEventListener("message", (e: MessageEvent<WorkerReply>) => {
            if (e.data.ready) resolve();
            else reject(new Error(e.data.message));
          });
          w.addEventListener("error", (e: ErrorEvent) => reject(new Error(e.message || "the worker failed to start")));
        });
        // Bun: a forgotten model must not keep the process alive (after the listeners, as in Node).
        (w as Worker & { unref?: () => void }).unref?.();
        handles.push({ post: (m) => w.postMessage(m), ready, terminate: () => w.terminate() });
      }
      // Browsers fetch a worker's script asynchronously: revoke the URL only once every worker is running.
      void Promise.allSettled(handles.map((h) => h.ready)).then(() => URL.revokeObjectURL(url));
    } catch (e) {
      URL.revokeObjectURL(url);
      for (const h of handles) h.terminate();
      throw e;
    }
    return handles;
  }
  // Node and Deno: imported only here, through a specifier bundlers do not follow, so the main
  // bundle stays Web-API-only for browsers.
  const specifier = "node:worker_threads";
  const wt = (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as NodeWorkers;
  for (let i = 0; i < count; i++) {
    const w = new wt.Worker(workerSource, { eval: true, name: `woolly-${i + 1}` });
    const ready = new Promise<void>((resolve, reject) => {
      w.on("message", (r: WorkerReply) => {
        if (r.ready) resolve();
        else reject(new Error(r.message));
      });
      w.on("error", reject);
      w.on("exit", (code) => reject(new Error(`the worker exited with code ${code}`)));
    });
    // A forgotten model must not keep the process alive: its workers only ever wait on memory.
    // After the listeners: attaching a 'message' listener refs the worker again (measured, Node 20:
    // unref() first kept the process alive until the FinalizationRegistry ended the pool).
    w.unref();
    handles.push({ post: (m) => w.postMessage(m), ready, terminate: () => void w.terminate() });
  }
  return handles;
}

/** Ends a forgotten pool's workers when its owner is collected. */
const orphans = new FinalizationRegistry<() => void>((end) => end());

export class ThreadPool {
  /** Threads that run a job, the caller included. */
  readonly threads: number;
  /** Views of the first page of the memory (the control block): it never moves when the memory grows. */
  readonly i32: Int32Array;
  readonly f32: Float32Array;
  /** Each job's arguments, written by name into the control block before run(). */
  readonly jobs: Jobs;
  private readonly u8: Uint8Array;
  /** This thread's kernels, one instance per memory (engine order). */
  private readonly ks: readonly KernelExports[];
  private readonly spin: number;
  /** Atomics.wait throws on a browser's main thread: then the caller only spins. */
  private canBlock = true;
  private ended_ = false;
  private readonly endWorkers: () => void;

  private constructor(engines: readonly Engine[], threads: number, spin: number, workers: WorkerHandle[]) {
    this.threads = threads;
    const buffer = engines[0].memory.buffer;
    this.i32 = new Int32Array(buffer, 0, CONTROL_BLOCK_END >> 2);
    this.f32 = new Float32Array(buffer, 0, CONTROL_BLOCK_END >> 2);
    this.u8 = new Uint8Array(buffer, 0, CONTROL_BLOCK_END);
    this.jobs = jobsOver(this.i32, this.f32, W.ARGS);
    this.ks = engines.map((e) => e.kernels);
    this.spin = spin;
    const i32 = this.i32;
    this.endWorkers = () => {
      i32[W.OP] = Op.QUIT;
      Atomics.add(i32, W.GEN, 1);
      Atomics.notify(i32, W.GEN);
      for (const w of workers) w.terminate();
    };
    orphans.register(this, this.endWorkers, this);
  }

  /**
   * Start `threads - 1` workers over the engines' shared memories (one engine, or a model's shards in
   * order) and wait until each has instantiated the kernels over every memory. Rejects with
   * WasmError('worker') if one cannot start.
   */
  static async start(engine: Engine | readonly Engine[], threads: number, options: { spin?: number } = {}): Promise<ThreadPool> {
    const engines: readonly Engine[] = "memory" in engine ? [engine] : engine;
    if (engines.length === 0 || !engines.every((e) => e.shared)) {
      throw new WasmError("worker", "a thread pool needs engines over shared memory (createEngine({ shared: true }))");
    }
    if (!Number.isInteger(threads) || threads < 2 || threads > MAX_THREADS) {
      throw new WasmError("worker", `a thread pool runs 2 to ${MAX_THREADS} threads; got ${threads}`);
    }
    const spin = options.spin ?? DEFAULT_SPIN;
    const i32 = new Int32Array(engines[0].memory.buffer, 0, CONTROL_BLOCK_END >> 2);
    Atomics.store(i32, W.GEN, 0);
    Atomics.store(i32, W.DONE, 0);
    Atomics.store(i32, W.THREADS, threads);
    Atomics.store(i32, W.FAILED, 0);
    Atomics.store(i32, W.OP, 0);
    Atomics.store(i32, W.SPIN, spin);
    Atomics.store(i32, W.MEM, 0);
    let workers: WorkerHandle[] = [];
    try {
      workers = await spawn(threads - 1);
      const memories = engines.map((e) => e.memory);
      workers.forEach((w, i) => w.post({ module: engines[0].kernelsModule, memories, index: i + 1 }));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`workers did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      });
      try {
        await Promise.race([Promise.all(workers.map((w) => w.ready)), timeout]);
      } finally {
        clearTimeout(timer);
      }
    } catch (cause) {
      for (const w of workers) w.terminate();
      throw new WasmError("worker", `could not start ${threads - 1} worker thread(s): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    return new ThreadPool(engines, threads, spin, workers);
  }

  /** How many memories the threads run jobs on. */
  get memories(): number {
    return this.ks.length;
  }

  /**
   * Run the job whose arguments are already in ARGS (written through `jobs`), its pointers into memory
   * `mem` (engine order): every thread does its slice, this one included, and this returns when all
   * are done. A thread that threw fails the call with its message; the pool stays usable.
   */
  run(op: OpId, mem = 0): void {
    if (this.ended_) throw new WasmError("worker", "the thread pool has ended");
    const i32 = this.i32;
    i32[W.OP] = op;
    i32[W.MEM] = mem;
    Atomics.store(i32, W.FAILED, 0);
    Atomics.store(i32, W.DONE, 0);
    Atomics.add(i32, W.GEN, 1);
    Atomics.notify(i32, W.GEN);
    let own: { error: unknown } | null = null;
    try {
      runSlice(this.ks, i32, this.jobs, 0, this.threads);
    } catch (error) {
      own = { error };
    }
    // Always wait, even after a failure here: the next job must not start under a running one.
    this.waitDone();
    if (own) throw own.error;
    const failed = Atomics.load(i32, W.FAILED);
    if (failed !== 0) {
      throw new WasmError("worker", `a kernel failed in worker thread ${failed - 1}: ${failureText(i32, this.u8)}`);
    }
  }

  private waitDone(): void {
    const i32 = this.i32;
    const target = this.threads - 1;
    const until = performance.now() + this.spin / 1000;
    let polls = 0;
    for (;;) {
      const d = Atomics.load(i32, W.DONE);
      if (d >= target) return;
      if (++polls & 63 || performance.now() < until) continue;
      if (this.canBlock) {
        try {
          Atomics.wait(i32, W.DONE, d);
        } catch {
          this.canBlock = false;
        }
      }
    }
  }

  /** Whether end() was called. */
  get ended(): boolean {
    return this.ended_;
  }

  /** Stop and terminate the workers. Later jobs throw. */
  end(): void {
    if (this.ended_) return;
    this.ended_ = true;
    orphans.unregister(this);
    this.endWorkers();
  }
}

/**
 * The default thread count: the machine's logical cores (navigator.hardwareConcurrency in browsers,
 * Deno, Bun and Node 21+; os.availableParallelism() on Node 20), at most MAX_THREADS.
 */
export async function defaultThreads(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  let n = nav?.hardwareConcurrency;
  if (!n) {
    try {
      const specifier = "node:os";
      const os = (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as typeof import("node:os");
      n = os.availableParallelism();
    } catch {
      n = 1;
    }
  }
  return Math.max(1, Math.min(MAX_THREADS, Math.floor(n)));
}
