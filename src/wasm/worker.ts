// The thread pool's worker: bundled on its own into build/worker.txt (scripts/build.mjs) and
// started by pool.ts from a Blob URL (browsers, Deno, Bun) or `new Worker(code, { eval: true })`
// (Node worker_threads). It gets the compiled kernels module and the shared memories once, by
// postMessage, instantiates the same kernels over each memory (a model's shards: one memory unless it
// passes 4 GiB), then lives in one loop on the control block in memory 0 (pool-jobs.ts): wait for the
// generation word to move (awaitJob: poll, nap, sleep), claim and compute chunks of the job (on the
// memory it names) until none is left, wait again. No message per kernel.
import type { KernelExports } from "./exports.js";
import { jobsOver, Op } from "./jobs.js";
import { awaitJob, CONTROL_BLOCK_END, W, work } from "./pool-jobs.js";

export interface StartMessage {
  readonly module: WebAssembly.Module;
  /** The model's memories, in shard order; memory 0 holds the control block. */
  readonly memories: readonly WebAssembly.Memory[];
  /** This thread's index in every split (the caller is 0). */
  readonly index: number;
}

export type WorkerReply = { readonly ready: true } | { readonly ready: false; readonly message: string };

interface Port {
  onMessage(f: (m: StartMessage) => void): void;
  post(m: WorkerReply): void;
}

interface NodeParentPort {
  on(event: "message", f: (m: StartMessage) => void): void;
  postMessage(m: WorkerReply): void;
}

interface WorkerScope {
  postMessage?: (m: WorkerReply) => void;
  addEventListener?: (type: "message", f: (e: MessageEvent<StartMessage>) => void) => void;
  /** Node's worker_threads `eval` code runs as CommonJS, with `require` in scope. */
  require?: (id: string) => { parentPort: NodeParentPort | null };
}

function parentPort(): Port | null {
  const g = globalThis as unknown as WorkerScope;
  if (typeof g.postMessage === "function" && typeof g.addEventListener === "function") {
    const post = g.postMessage.bind(g);
    const listen = g.addEventListener.bind(g);
    return { onMessage: (f) => listen("message", (e) => f(e.data)), post };
  }
  if (typeof g.require === "function") {
    const p = g.require("node:worker_threads").parentPort;
    if (p) return { onMessage: (f) => p.on("message", f), post: (m) => p.postMessage(m) };
  }
  return null;
}

function serve(start: StartMessage, port: Port): void {
  const { module, memories, index } = start;
  const memory = memories[0];
  let ks: KernelExports[];
  try {
    const abort = (_msg: number, _file: number, line: number, column: number): never => {
      throw new Error(`kernel abort at line ${line}:${column}`);
    };
    // Instantiating re-applies the module's active data segments (its lookup tables at 0x1000…):
    // the same bytes over the same bytes, harmless even while the caller reads them (the pool
    // starts while weights stream in).
    ks = memories.map((m) => new WebAssembly.Instance(module, { env: { memory: m, abort } }).exports as unknown as KernelExports);
  } catch (e) {
    port.post({ ready: false, message: e instanceof Error ? e.message : String(e) });
    return;
  }
  // The control block is in the first page, which never moves: views of the first buffer stay valid
  // when the memory grows (a shared buffer is never detached).
  const i32 = new Int32Array(memory.buffer, 0, CONTROL_BLOCK_END >> 2);
  const f32 = new Float32Array(memory.buffer, 0, CONTROL_BLOCK_END >> 2);
  const u8 = new Uint8Array(memory.buffer, 0, CONTROL_BLOCK_END);
  const jobs = jobsOver(i32, f32, W.ARGS);
  // The pool dispatches nothing before every worker is ready, so this generation is the idle one.
  let seen = Atomics.load(i32, W.GEN);
  // Tests (TEST_DIE): after claiming a chunk, say so and die holding it, as a crash would.
  const dieHook = (): void => {
    if (Atomics.load(i32, W.TEST_DIE) !== index + 1) return;
    Atomics.store(i32, W.TEST_ACK, seen);
    Atomics.notify(i32, W.TEST_ACK);
    die();
  };
  port.post({ ready: true });
  for (;;) {
    // Idle workers poll SPIN µs, nap up to NAP µs, then sleep until notified: no busy wait.
    awaitJob(i32, seen);
    seen = Atomics.load(i32, W.GEN);
    if (i32[W.OP] === Op.QUIT) return;
    work(ks, i32, u8, jobs, index, seen, dieHook);
  }
}

/**
 * End this thread at once, mid-job. Node's worker_threads: process.exit() stops this thread only
 * (the parent sees 'exit' with the code). Elsewhere there is no synchronous exit: hang forever,
 * which the pool cannot tell from death either.
 */
function die(): never {
  const g = globalThis as { process?: { exit?: (code: number) => never } };
  g.process?.exit?.(70);
  const word = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(word, 0, 0);
}

const port = parentPort();
if (port) {
  let started = false;
  port.onMessage((m) => {
    if (started) return;
    started = true;
    serve(m, port);
  });
}
