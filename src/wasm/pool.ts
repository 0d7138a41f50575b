// The thread pool: N-1 workers plus the calling thread (thread 0, which does its share), all
// running the same kernels module over the same shared memory (or memories: a model past 4 GiB has
// one per shard; each thread instantiates the kernels once per memory and a job names its memory). A job is written into the control
// block (pool-jobs.ts draws it and its claim protocol), started by bumping the generation word,
// and cut into chunks that every thread claims one at a time off a shared counter until none is
// left; the caller then waits only for chunks still being computed. Atomics on an Int32Array
// view, no message per kernel. Workers receive the compiled module and the memories once, by
// postMessage, at start-up.
//
// A worker the OS deschedules while it holds a matrix-product chunk does not hold the caller up:
// workers compute those chunks into private scratch and commit them, and the caller takes over a
// chunk held longer than one of its own took (pool-jobs.ts). Attention chunks (shared scores
// scratch) are waited for.
//
// Workers die (terminated, out of memory, an engine crash). A dead worker that claimed nothing
// costs nothing: the others take its share; a matrix-product chunk it held is taken over. An
// attention chunk it held is found by the caller's bounded wait: when no chunk finishes for
// `stallMs`, the caller computes the chunks still held (heads are idempotent: the same kernel
// writes the same bits), marks their workers dead, ends them, and the pool runs on with fewer
// threads; `fallback` says why. 'exit' and 'error' events (delivered only when the event loop
// runs, never while the caller blocks in a job) mark a worker dead between calls.
import workerSource from "../../build/worker.txt";
import { WasmError } from "../errors.js";
import type { Engine } from "./engine.js";
import type { KernelExports } from "./exports.js";
import { jobsOver, Op, type Jobs, type OpId } from "./jobs.js";
import { CLOSED, COMMITTING, CONTROL_BLOCK_END, MAX_MEMORIES, W, claimedChunk, failureText, planJob, reportFailure, runChunk, spinWhile, tagOf, work } from "./pool-jobs.js";
import type { StartMessage, WorkerReply } from "./worker.js";

/** The most threads a pool runs. */
export const MAX_THREADS = 64;

/**
 * Microseconds a thread polls the generation/progress word before it naps or sleeps in Atomics.wait.
 * Sleeping and being woken costs tens of microseconds (a futex round trip); a decode step
 * dispatches 89 jobs (TinyLlama-shaped), most under 20 µs apart, so a short poll first keeps that
 * latency off the token.
 */
export const DEFAULT_SPIN = 50;

/**
 * Microseconds a worker then naps (timed waits of NAP_STEP_MS, ~90 µs each; no notify needed)
 * before it sleeps until notified. A decode step's jobs are 50-100 µs apart around attention (one
 * per layer, computed on the calling thread at short context) and tokens a little more: a worker
 * that naps through those gaps costs the caller no futex wake (pool-jobs.ts header). Past it, the
 * worker sleeps: no CPU.
 */
export const DEFAULT_NAP = 2000;

/**
 * Milliseconds without any chunk finishing after which the caller takes a worker's held chunk
 * as lost (the worker died or hangs). A chunk is at most 1/(threads × chunksPerThread) of a job,
 * a fraction of a millisecond for TinyLlama's largest matrix: two seconds of silence is a dead
 * worker, not a slow one, even on a machine this loaded (load average 15-20 on 2 cores while
 * these numbers were taken). The price of a false positive is one thread less, said in `fallback`.
 */
export const DEFAULT_STALL_MS = 2000;

/**
 * Chunks are at least this many weight bytes (K/V bytes for attention), so claiming one (a
 * compare-exchange, a store and a notify) stays a small fraction of computing it. Not tuned:
 * the machine it was written on was too loaded (load average 15-20 on 2 cores) to resolve it.
 */
export const DEFAULT_MIN_CHUNK_BYTES = 64 << 10;

/**
 * Chunks per thread at most: several, so a descheduled thread's share is taken by the others.
 * Measured (TinyLlama-shaped Q4_0, 2 threads, 12 decoded tokens = 1068 jobs of ≤ 8 chunks, load
 * average ~17 on 2 cores, stealing without takeover): the caller took 61-65% of the chunks, and
 * waited for a worker's chunk 16-44 ms in all, 1-2% of the time; with fixed halves it waited for
 * every descheduled worker. With takeover, `woolly-bench e2e --mix Q4_0 --prefill 64 --decode 32`
 * with one core kept busy (load average ~5): 1 thread 4.23 / 5.44 tok/s (prefill / decode),
 * 2 threads 5.51 / 7.22. The machine was shared; runs of identical code varied by up to 2x.
 */
export const DEFAULT_CHUNKS_PER_THREAD = 4;

/**
 * Bytes of private output per worker for matrix products (see the takeover in pool-jobs.ts): a
 * chunk's outputs must fit, so it caps a chunk at 16384 rows of a matvec, or 16 rows × 4096
 * columns of a matmul (the largest batch).
 */
export const SCRATCH_BYTES = 256 << 10;

/** How long start-up waits for workers to report ready before giving up. */
const START_TIMEOUT_MS = 30_000;

export interface PoolOptions {
  /** µs to poll before sleeping (DEFAULT_SPIN). */
  readonly spin?: number;
  /** µs a worker naps in timed waits after polling, before it sleeps until notified (DEFAULT_NAP; 0: sleep at once). */
  readonly nap?: number;
  /** ms without progress before a held chunk is recomputed and its worker ended (DEFAULT_STALL_MS). */
  readonly stallMs?: number;
  /** Smallest chunk in bytes (DEFAULT_MIN_CHUNK_BYTES; tests use 0 to cut tiny matrices). */
  readonly minChunkBytes?: number;
  /** Most chunks per thread (DEFAULT_CHUNKS_PER_THREAD). */
  readonly chunksPerThread?: number;
  /** Whether the caller takes over matrix-product chunks a worker holds too long (default true; tests turn it off to reach the stall path). */
  readonly takeover?: boolean;
}

interface WorkerHandle {
  post(m: StartMessage): void;
  /** Resolves when the worker instantiated the kernels; rejects if it failed or died. */
  readonly ready: Promise<void>;
  terminate(): void;
  /** Resolves with why the worker ended (exit code or error), whoever ended it. */
  readonly ended: Promise<string>;
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
        let endedWith: (why: string) => void = () => undefined;
        const ended = new Promise<string>((resolve) => (endedWith = resolve));
        const ready = new Promise<void>((resolve, reject) => {
          w.addEventListener("message", (e: MessageEvent<WorkerReply>) => {
            if (e.data.ready) resolve();
            else reject(new Error(e.data.message));
          });
          w.addEventListener("error", (e: ErrorEvent) => {
            reject(new Error(e.message || "the worker failed to start"));
            endedWith(`it failed: ${e.message || "(no message)"}`);
          });
        });
        // Bun: a forgotten model must not keep the process alive (after the listeners, as in Node).
        (w as Worker & { unref?: () => void }).unref?.();
        // A Web Worker has no exit event: terminate() is the end we know of.
        const terminate = () => {
          w.terminate();
          endedWith("it was terminated");
        };
        handles.push({ post: (m) => w.postMessage(m), ready, terminate, ended });
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
    let failure = "";
    const ended = new Promise<string>((resolve) => w.on("exit", (code) => resolve(`it exited with code ${code}${failure}`)));
    const ready = new Promise<void>((resolve, reject) => {
      w.on("message", (r: WorkerReply) => {
        if (r.ready) resolve();
        else reject(new Error(r.message));
      });
      w.on("error", (e: Error) => {
        failure = ` (${e.message})`;
        reject(e);
      });
      w.on("exit", (code) => reject(new Error(`the worker exited with code ${code}`)));
    });
    // A forgotten model must not keep the process alive: its workers only ever wait on memory.
    // After the listeners: attaching a 'message' listener refs the worker again (measured, Node 20:
    // unref() first kept the process alive until the FinalizationRegistry ended the pool).
    w.unref();
    handles.push({ post: (m) => w.postMessage(m), ready, terminate: () => void w.terminate(), ended });
  }
  return handles;
}

/** Ends a forgotten pool's workers when its owner is collected. */
const orphans = new FinalizationRegistry<() => void>((end) => end());

export class ThreadPool {
  /** Threads the pool started with, the caller included. */
  readonly threads: number;
  /** Views of the first page of the memory (the control block): it never moves when the memory grows. */
  readonly i32: Int32Array;
  readonly f32: Float32Array;
  /** Each job's arguments, written by name into the control block before run(). */
  readonly jobs: Jobs;
  private readonly u8: Uint8Array;
  /** The kernels instantiated over each memory, in engine order. */
  private readonly ks: readonly KernelExports[];
  private readonly spin: number;
  private readonly stallMs: number;
  private readonly minChunkBytes: number;
  private readonly perThread: number;
  private readonly scratchBytes: number;
  private readonly workers: WorkerHandle[];
  /** Per thread: why it is dead, or null while alive (index 0, the caller, is always alive). */
  private readonly dead: (string | null)[];
  private live: number;
  private gen = 0;
  /** Atomics.wait throws on a browser's main thread: then the caller only polls. */
  private canBlock = true;
  private ended_ = false;
  private readonly endWorkers: () => void;

  private constructor(engines: readonly Engine[], threads: number, options: PoolOptions, workers: WorkerHandle[]) {
    this.threads = threads;
    this.live = threads;
    this.dead = new Array<string | null>(threads).fill(null);
    this.workers = workers;
    const buffer = engines[0].memory.buffer;
    this.i32 = new Int32Array(buffer, 0, CONTROL_BLOCK_END >> 2);
    this.f32 = new Float32Array(buffer, 0, CONTROL_BLOCK_END >> 2);
    this.u8 = new Uint8Array(buffer, 0, CONTROL_BLOCK_END);
    this.jobs = jobsOver(this.i32, this.f32, W.ARGS);
    this.ks = engines.map((e) => e.kernels);
    this.spin = options.spin ?? DEFAULT_SPIN;
    this.stallMs = options.stallMs ?? DEFAULT_STALL_MS;
    this.minChunkBytes = options.minChunkBytes ?? DEFAULT_MIN_CHUNK_BYTES;
    this.perThread = options.chunksPerThread ?? DEFAULT_CHUNKS_PER_THREAD;
    this.scratchBytes = options.takeover === false ? 0 : SCRATCH_BYTES;
    const i32 = this.i32;
    this.endWorkers = () => {
      i32[W.OP] = Op.QUIT;
      Atomics.add(i32, W.GEN, 1);
      Atomics.notify(i32, W.GEN);
      for (const w of workers) w.terminate();
    };
    orphans.register(this, this.endWorkers, this);
    // Through a WeakRef: a running worker's listeners must not keep a forgotten pool alive.
    const self = new WeakRef(this);
    workers.forEach((w, i) => void w.ended.then((why) => self.deref()?.workerEnded(i + 1, why)));
  }

  /**
   * Start `threads - 1` workers over the engines' shared memories (one engine, or a model's shards in
   * order; memory 0 holds the control block) and wait until each has
   * instantiated the kernels. Rejects with WasmError('worker') if one cannot start.
   */
  static async start(engine: Engine | readonly Engine[], threads: number, options: PoolOptions = {}): Promise<ThreadPool> {
    const engines: readonly Engine[] = "memory" in engine ? [engine] : engine;
    if (engines.length === 0 || !engines.every((e) => e.shared)) {
      throw new WasmError("worker", "a thread pool needs engines over shared memory (createEngine({ shared: true }))");
    }
    if (engines.length > MAX_MEMORIES) throw new WasmError("worker", `a thread pool runs jobs on at most ${MAX_MEMORIES} memories; got ${engines.length}`);
    if (!Number.isInteger(threads) || threads < 2 || threads > MAX_THREADS) {
      throw new WasmError("worker", `a thread pool runs 2 to ${MAX_THREADS} threads; got ${threads}`);
    }
    const i32 = new Int32Array(engines[0].memory.buffer, 0, CONTROL_BLOCK_END >> 2);
    i32.fill(0, W.GEN, CONTROL_BLOCK_END >> 2);
    Atomics.store(i32, W.SPIN, options.spin ?? DEFAULT_SPIN);
    Atomics.store(i32, W.NAP, options.nap ?? DEFAULT_NAP);
    // Thread t's scratch at SCRATCH + t × SCRATCH_BYTES (t = 0, the caller, never uses its own).
    // Each memory's kernels write only that memory: every memory has its workers' scratch.
    engines.forEach((e, m) => Atomics.store(i32, W.SCRATCH + m, e.alloc(threads * SCRATCH_BYTES, "the thread pool's scratch")));
    Atomics.store(i32, W.SCRATCH_BYTES, SCRATCH_BYTES);
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
    return new ThreadPool(engines, threads, options, workers);
  }

  /** How many memories the threads run jobs on. */
  get memories(): number {
    return this.ks.length;
  }

  /** Threads that still run jobs, the caller included. */
  get liveThreads(): number {
    return this.live;
  }

  /** Why fewer threads run than the pool started with (workers that died); null while all live. */
  get fallback(): string | null {
    if (this.live === this.threads) return null;
    const why = this.dead.filter((d): d is string => d !== null).join("; ");
    return `running on ${this.live} of ${this.threads} threads: ${why}`;
  }

  /**
   * Run the job whose arguments are already in ARGS (written through `jobs`), its pointers into memory
   * `mem` (engine order): every live thread claims chunks of it, this one included, and this returns when every chunk is computed. A
   * kernel that threw fails the call with its message; the pool stays usable. A worker that dies
   * mid-job costs at most `stallMs` and its chunk is computed here: the call still completes.
   */
  run(op: OpId, mem = 0): void {
    if (this.ended_) throw new WasmError("worker", "the thread pool has ended");
    const i32 = this.i32;
    // Closed first: no thread still looking at the last job can claim from this one's plan.
    Atomics.store(i32, W.NEXT, CLOSED);
    i32[W.OP] = op;
    i32[W.MEM] = mem;
    const k = this.ks[mem];
    Atomics.store(i32, W.FAILED, 0);
    const nChunks = planJob(i32, this.jobs, op, this.live, this.minChunkBytes, this.perThread, this.scratchBytes);
    if (nChunks === 1 || this.live === 1) {
      // Nothing to share (a small job, or no worker left): no worker is woken.
      for (let c = 0; c < nChunks; c++) runChunk(k, i32, this.jobs, c);
      return;
    }
    const gen = (this.gen = (this.gen + 1) | 0);
    Atomics.store(i32, W.NEXT, tagOf(gen));
    Atomics.store(i32, W.GEN, gen);
    // Workers still polling or napping see GEN themselves; only sleepers need the (costly) wake.
    if (Atomics.load(i32, W.SLEEPERS) !== 0) Atomics.notify(i32, W.GEN);
    if (Atomics.load(i32, W.TEST_DIE) !== 0) this.awaitTestClaim(gen);
    const p0 = Atomics.load(i32, W.PROGRESS);
    const t0 = performance.now();
    const own = work(this.ks, i32, this.u8, this.jobs, 0, gen);
    // How long a chunk takes here: a worker's chunk held much longer than this is taken over.
    const ownChunks = Atomics.load(i32, W.PROGRESS) - p0;
    const grace = ownChunks > 0 ? (performance.now() - t0) / ownChunks : 0;
    // Always wait, even after a failure here: the next job must not start under a running chunk.
    this.waitChunks(k, gen, Math.max(grace, this.spin / 1000));
    const failed = Atomics.load(i32, W.FAILED);
    if (failed !== 0) {
      const where = failed === 1 ? "the calling thread" : `worker thread ${failed - 1}`;
      throw new WasmError("worker", `a kernel failed in ${where}: ${failureText(i32, this.u8)}`, own === null ? undefined : { cause: own });
    }
  }

  /**
   * Wait until no live worker holds a chunk of job `gen` (NEXT is exhausted: every chunk is owned).
   * Polls `spin` µs, then sleeps on PROGRESS with a timeout; when nothing finishes for `stallMs`,
   * the holders are taken as dead and their chunks computed here. Every wait is bounded.
   */
  private waitChunks(k: KernelExports, gen: number, graceMs: number): void {
    const i32 = this.i32;
    const tag = tagOf(gen);
    const takeover = Atomics.load(i32, W.PRIVATE) === 1;
    let seen = Atomics.load(i32, W.PROGRESS);
    const start = performance.now();
    let since = start;
    let spun = false;
    for (;;) {
      let busy = false;
      /** A held chunk the takeover could take once the grace ends (not one being copied out). */
      let takeable = false;
      for (let t = 1; t < this.threads; t++) {
        const word = Atomics.load(i32, W.CLAIM + t);
        const c = claimedChunk(word, tag);
        if (c < 0) continue;
        // A matrix-product chunk held past the grace (its worker is descheduled, or died): computed
        // here instead, unless the worker is already copying it out (COMMITTING).
        const late = takeover && (word & COMMITTING) === 0 && performance.now() - start >= graceMs;
        if (late && Atomics.compareExchange(i32, W.CLAIM + t, word, 0) === word) {
          try {
            runChunk(k, i32, this.jobs, c);
          } catch (e) {
            reportFailure(i32, this.u8, t, e);
          }
          continue;
        }
        if (this.dead[t] === null) {
          busy = true;
          takeable ||= takeover && (word & COMMITTING) === 0;
          continue;
        }
        // A dead worker's chunk: computed here (the same kernel writes the same bits), once.
        try {
          runChunk(k, i32, this.jobs, c);
        } catch (e) {
          reportFailure(i32, this.u8, t, e);
        }
        Atomics.compareExchange(i32, W.CLAIM + t, word, 0);
      }
      if (!busy) return;
      if (!spun) {
        spun = true;
        if (spinWhile(i32, W.PROGRESS, seen, this.spin)) continue;
      }
      const now = performance.now();
      const left = this.stallMs - (now - since);
      if (left > 0) {
        // Sleep until progress, the grace's end (takeover) or the stall bound, whichever comes first.
        const graceLeft = start + graceMs - now;
        // The grace ended since the scan above (while spinning): scan again now, to take the chunk
        // over, rather than sleep for the whole stall bound (the bug that hung a run for stallMs).
        if (takeable && graceLeft <= 0) continue;
        const timeout = takeable ? Math.min(left, graceLeft) : left;
        if (this.canBlock) {
          try {
            Atomics.wait(i32, W.PROGRESS, seen, timeout);
          } catch {
            this.canBlock = false;
          }
        }
        const p = Atomics.load(i32, W.PROGRESS);
        if (p !== seen) {
          seen = p;
          since = performance.now();
        }
        continue;
      }
      // No chunk finished for stallMs: whoever still holds one died or hangs.
      for (let t = 1; t < this.threads; t++) {
        const c = claimedChunk(Atomics.load(i32, W.CLAIM + t), tag);
        if (c >= 0 && this.dead[t] === null) this.markDead(t, `worker thread ${t} held a chunk with no progress for ${this.stallMs} ms (it died or hangs)`);
      }
      since = performance.now();
    }
  }

  /** Take worker t out of every later job and end it; `fallback` then says why. */
  private markDead(t: number, why: string): void {
    if (this.dead[t] !== null) return;
    this.dead[t] = why;
    this.live--;
    this.workers[t - 1].terminate();
  }

  private workerEnded(t: number, why: string): void {
    if (!this.ended_) this.markDead(t, `worker thread ${t} ended: ${why}`);
  }

  /**
   * Tests: end worker t (1-based) as a crash would; resolves with how it ended. The pool learns of
   * it from the exit event, or, if a job comes first, does not need to: a dead worker claims nothing.
   */
  terminateWorker(t: number): Promise<string> {
    const w = this.workers[t - 1];
    w.terminate();
    return w.ended;
  }

  /**
   * Tests: in the next job, worker t (1-based) claims one chunk and dies holding it (Node:
   * process.exit in the worker; elsewhere it hangs). The caller claims nothing until it has, so
   * which worker holds which chunk does not depend on timing.
   */
  dieAfterClaim(t: number): void {
    Atomics.store(this.i32, W.TEST_ACK, 0);
    Atomics.store(this.i32, W.TEST_DIE, t + 1);
  }

  /** The test hook's other half: wait (at most stallMs) until the doomed worker has claimed. */
  private awaitTestClaim(gen: number): void {
    const i32 = this.i32;
    const until = performance.now() + this.stallMs;
    for (let ack = Atomics.load(i32, W.TEST_ACK); ack !== gen; ack = Atomics.load(i32, W.TEST_ACK)) {
      const left = until - performance.now();
      if (left <= 0) break;
      Atomics.wait(i32, W.TEST_ACK, ack, left);
    }
    Atomics.store(i32, W.TEST_DIE, 0);
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
