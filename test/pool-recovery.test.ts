// Workers die: terminated, out of memory, an engine crash. The pool's calls must neither hang nor
// give wrong results, and the pool must say it runs on fewer threads. Deaths are made
// deterministic: a worker ended before the call (it can only ever claim nothing, or be ended by the
// time it would), and a worker that claims one chunk and exits holding it (the pool's test hook:
// the caller claims nothing until that worker has, so who holds what does not depend on timing).
// The stall bound is an option these tests set; nothing here waits on a wall-clock guess.
import { afterEach, describe, expect, it } from "vitest";
import { SingleThreadExecutor, ThreadedExecutor, startThreads } from "../src/model/exec.js";
import type { WeightMatrix } from "../src/model/weights.js";
import { createEngine, type Engine } from "../src/wasm/engine.js";
import { ThreadPool } from "../src/wasm/pool.js";
import { GgmlType, ggmlType } from "../src/quant/types.js";

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A Q8_0 matrix of pseudo-random quants (scale 1/64) and a converted activation for it. */
function setup(engine: Engine, rows: number, cols: number) {
  const type = ggmlType(GgmlType.Q8_0);
  if (!type) throw new Error("no Q8_0");
  const rowBytes = (cols / 32) * 34;
  const ptr = engine.alloc(rows * rowBytes, "matrix");
  const u8 = engine.u8();
  let s = 12345;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  for (let b = 0; b < (rows * cols) / 32; b++) {
    const at = ptr + b * 34;
    u8[at] = 0x00;
    u8[at + 1] = 0x24;
    for (let i = 0; i < 32; i++) u8[at + 2 + i] = next() & 0xff;
  }
  const x = engine.alloc(cols * 4, "x");
  const f = engine.f32();
  for (let i = 0; i < cols; i++) f[(x >> 2) + i] = (next() / 2 ** 31) - 1;
  const xq = engine.alloc(engine.kernels.act_bytes(GgmlType.Q8_0, cols), "xq");
  engine.kernels.quantize_act(GgmlType.Q8_0, x, xq, cols);
  const w: WeightMatrix = { name: "w", ptr, type, rows, cols, rowBytes };
  // What one thread computes: the reference every threaded result must equal bit for bit.
  const want = engine.alloc(rows * 4, "want");
  new SingleThreadExecutor(engine.kernels).matvec(w, xq, want);
  const read = (p: number) => engine.f32().slice(p >> 2, (p >> 2) + rows);
  return { w, xq, want: read(want), read, out: () => engine.alloc(rows * 4, "y") };
}

describe("a worker that dies", () => {
  let pool: ThreadPool | null = null;
  afterEach(() => pool?.end());

  it("holding a chunk the caller cannot take over: found by the stall bound, its chunk computed, the worker dropped", async () => {
    const engine = createEngine({ shared: true });
    // Two threads: the doomed worker is the only other claimer, so it surely claims a chunk.
    // takeover off: what attention jobs (shared scores scratch) always do.
    pool = await ThreadPool.start(engine, 2, { minChunkBytes: 0, stallMs: 300, takeover: false });
    const threaded = new ThreadedExecutor(pool, engine.kernels, { minParallelBytes: 0 });
    const m = setup(engine, 512, 256);
    const y = m.out();
    pool.dieAfterClaim(1);
    threaded.matvec(m.w, m.xq, y);
    expect(bytesOf(m.read(y))).toEqual(bytesOf(m.want));
    expect(pool.liveThreads).toBe(1);
    expect(threaded.threads).toBe(1);
    expect(pool.fallback).toBe("running on 1 of 2 threads: worker thread 1 held a chunk with no progress for 300 ms (it died or hangs)");
    // It really ended (process.exit(70) in the worker, or the pool's terminate: code 1).
    await expect(pool.terminateWorker(1)).resolves.toMatch(/^it exited with code (70|1)$/);
    // The next call runs on the caller alone, right.
    const y2 = m.out();
    threaded.matvec(m.w, m.xq, y2);
    expect(bytesOf(m.read(y2))).toEqual(bytesOf(m.want));
  });

  it("holding a matrix-product chunk: the caller takes it over at once; the exit event tells the pool", async () => {
    const engine = createEngine({ shared: true });
    // A stall bound far beyond the test's timeout: only the takeover can finish this call.
    pool = await ThreadPool.start(engine, 2, { minChunkBytes: 0, stallMs: 3_600_000 });
    const threaded = new ThreadedExecutor(pool, engine.kernels, { minParallelBytes: 0 });
    const m = setup(engine, 512, 256);
    const y = m.out();
    pool.dieAfterClaim(1);
    threaded.matvec(m.w, m.xq, y);
    expect(bytesOf(m.read(y))).toEqual(bytesOf(m.want));
    // The pool has not heard yet (no event-loop turn); the worker's exit code is its own.
    expect(pool.fallback).toBeNull();
    await expect(pool.terminateWorker(1)).resolves.toBe("it exited with code 70");
    expect(pool.liveThreads).toBe(1);
    expect(pool.fallback).toBe("running on 1 of 2 threads: worker thread 1 ended: it exited with code 70");
  });

  it("before the call: the others take its share at once, and the pool reports it once it hears", async () => {
    const engine = createEngine({ shared: true });
    pool = await ThreadPool.start(engine, 3, { minChunkBytes: 0, stallMs: 2000 });
    const threaded = new ThreadedExecutor(pool, engine.kernels, { minParallelBytes: 0 });
    const m = setup(engine, 1024, 256);
    const ended = pool.terminateWorker(2);
    // No event-loop turn yet: the pool does not know. A dead worker claims nothing and costs
    // nothing; one still ending may at worst hold a chunk for stallMs, then it is recomputed.
    for (let i = 0; i < 3; i++) {
      const y = m.out();
      threaded.matvec(m.w, m.xq, y);
      expect(bytesOf(m.read(y))).toEqual(bytesOf(m.want));
    }
    expect(await ended).toBe("it exited with code 1");
    expect(pool.liveThreads).toBe(2);
    expect(pool.fallback).toBe("running on 2 of 3 threads: worker thread 2 ended: it exited with code 1");
    const y = m.out();
    threaded.matvec(m.w, m.xq, y);
    expect(bytesOf(m.read(y))).toEqual(bytesOf(m.want));
  });

  it("shows in the Threading a model reports (model.threads, model.threadFallback)", async () => {
    const engine = createEngine({ shared: true });
    const threading = await startThreads(engine, 3, null, { minParallelBytes: 0, minChunkBytes: 0 });
    try {
      expect(threading.threads).toBe(3);
      expect(threading.fallback).toBeNull();
      const executor = threading.executor;
      if (!(executor instanceof ThreadedExecutor)) throw new Error("expected a thread pool");
      expect(await executor.pool.terminateWorker(1)).toBe("it exited with code 1");
      expect(threading.threads).toBe(2);
      expect(threading.fallback).toBe("running on 2 of 3 threads: worker thread 1 ended: it exited with code 1");
      const m = setup(engine, 256, 256);
      const y = m.out();
      executor.matvec(m.w, m.xq, y);
      expect(bytesOf(m.read(y))).toEqual(bytesOf(m.want));
    } finally {
      threading.end();
    }
  });
});
