// Threads on shared memory: the pool splits rows and heads over workers running the same kernels
// over the same memory, so every result is bit-identical to one thread's; a worker's trap fails
// the call and leaves the pool usable; dispose (or forgetting the model) lets the process exit.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { loadModelFile } from "../src/node.js";
import type { Model } from "../src/model/model.js";
import { SingleThreadExecutor, ThreadedExecutor, type AttentionArgs } from "../src/model/exec.js";
import type { InternalLoadOptions } from "../src/model/load.js";
import type { WeightMatrix } from "../src/model/weights.js";
import { createEngine, withSharedMemory, type Engine } from "../src/wasm/engine.js";
import kernelsSimd from "../build/kernels-simd.wasm";
import probeSimd from "../build/probe-simd.wasm";
import { ThreadPool } from "../src/wasm/pool.js";
import { W } from "../src/wasm/pool-jobs.js";
import { GgmlType, ggmlType } from "../src/quant/types.js";
import { WasmError } from "../src/errors.js";
import { fixturePath } from "./helpers/fixtures.js";
import { workerBuildOptions } from "../scripts/worker-options.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MODELS = ["synth-llama-Q4_K.gguf", "stories260K-Q8_0.gguf"];

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Deterministic pseudo-random numbers in [-1, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

describe.each(MODELS)("%s with 1, 2 and 3 threads", (file) => {
  const models = new Map<number, Model>();

  beforeAll(async () => {
    for (const threads of [1, 2, 3]) {
      // Split every job, even these tiny models' 4 KiB matrices, so the workers do real work.
      // minChunkBytes 0: 16-row chunks, so several threads claim chunks of every job.
      const options: InternalLoadOptions = { threads, batchSize: 4, minParallelBytes: 0, minChunkBytes: 0 };
      models.set(threads, await loadModelFile(fixturePath("models", file), options));
    }
  });
  afterAll(() => {
    for (const m of models.values()) m.dispose();
  });

  it("runs the threads asked for", () => {
    for (const [threads, m] of models) {
      expect(m.threads).toBe(threads);
      expect(m.threadFallback).toBeNull();
    }
  });

  it("gives bit-identical logits", async () => {
    const one = models.get(1) as Model;
    // 11 tokens in batches of 4: matmul with 4, 4 and 3 columns, attention over growing contexts.
    const ids = one.tokenize("Once upon a time, there was a little cat who liked");
    expect(ids.length).toBeGreaterThan(8);
    const want = await one.logits(ids);
    for (const threads of [2, 3]) {
      const got = await (models.get(threads) as Model).logits(ids);
      expect(got.length).toBe(want.length);
      for (let t = 0; t < want.length; t++) expect(bytesOf(got[t]), `${threads} threads, token ${t}`).toEqual(bytesOf(want[t]));
    }
  });

  it("generates the same greedy text", async () => {
    const opts = { maxTokens: 24, temperature: 0, ignoreEos: true } as const;
    const want = await (models.get(1) as Model).complete("Once upon a time", opts);
    expect(want.tokens.length).toBe(24);
    for (const threads of [2, 3]) {
      const got = await (models.get(threads) as Model).complete("Once upon a time", opts);
      expect(got.tokens).toEqual(want.tokens);
      expect(got.text).toBe(want.text);
    }
  });
});

describe("the thread pool's jobs", () => {
  let engine: Engine;
  let pool: ThreadPool;
  let threaded: ThreadedExecutor;
  let single: SingleThreadExecutor;

  beforeAll(async () => {
    engine = createEngine({ shared: true });
    pool = await ThreadPool.start(engine, 3, { minChunkBytes: 0 });
    threaded = new ThreadedExecutor(pool, engine.kernels, { minParallelBytes: 0 });
    single = new SingleThreadExecutor(engine.kernels);
  });
  afterAll(() => {
    pool.end();
  });

  /** A Q8_0 matrix of random int8 quants with scale 1/64 (f16 0x2400). */
  function q8Matrix(rows: number, cols: number, seed: number): WeightMatrix {
    const type = ggmlType(GgmlType.Q8_0);
    if (!type) throw new Error("no Q8_0");
    const rowBytes = (cols / 32) * 34;
    const ptr = engine.alloc(rows * rowBytes, "test matrix");
    const u8 = engine.u8();
    const r = rng(seed);
    for (let b = 0; b < (rows * cols) / 32; b++) {
      const at = ptr + b * 34;
      u8[at] = 0x00;
      u8[at + 1] = 0x24;
      for (let i = 0; i < 32; i++) u8[at + 2 + i] = Math.floor(r() * 127) & 0xff;
    }
    return { name: `m${seed}`, ptr, type, rows, cols, rowBytes };
  }

  function randomF32(n: number, seed: number): number {
    const p = engine.alloc(n * 4, "test vector");
    const f = engine.f32();
    const r = rng(seed);
    for (let i = 0; i < n; i++) f[(p >> 2) + i] = r();
    return p;
  }

  const read = (p: number, n: number) => engine.f32().slice(p >> 2, (p >> 2) + n);

  it("starts the workers it was asked for", () => {
    expect(pool.threads).toBe(3);
    expect(engine.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it("matvec, matvecs, matmul and matmuls split by rows match one thread bit for bit", () => {
    const cols = 256;
    const ws = [q8Matrix(1000, cols, 1), q8Matrix(77, cols, 2), q8Matrix(333, cols, 3)];
    const ncols = 5;
    const x = randomF32(ncols * cols, 9);
    const xqStride = Math.ceil(engine.kernels.act_bytes(GgmlType.Q8_0, cols) / 64) * 64;
    const xq = engine.alloc(ncols * xqStride, "xq");
    for (let c = 0; c < ncols; c++) engine.kernels.quantize_act(GgmlType.Q8_0, x + c * cols * 4, xq + c * xqStride, cols);
    for (const w of ws) {
      const a = engine.alloc(w.rows * 4, "y1");
      const b = engine.alloc(w.rows * 4, "y2");
      single.matvec(w, xq, a);
      threaded.matvec(w, xq, b);
      expect(bytesOf(read(b, w.rows))).toEqual(bytesOf(read(a, w.rows)));
      const ma = engine.alloc(ncols * w.rows * 4, "Y1");
      const mb = engine.alloc(ncols * w.rows * 4, "Y2");
      single.matmul(w, xq, xqStride, ma, w.rows, ncols);
      threaded.matmul(w, xq, xqStride, mb, w.rows, ncols);
      expect(bytesOf(read(mb, ncols * w.rows))).toEqual(bytesOf(read(ma, ncols * w.rows)));
    }
    const outsA = ws.map((w) => engine.alloc(w.rows * 4, "ya"));
    const outsB = ws.map((w) => engine.alloc(w.rows * 4, "yb"));
    single.matvecs(ws.map((w, i) => [w, outsA[i]] as const), xq);
    threaded.matvecs(ws.map((w, i) => [w, outsB[i]] as const), xq);
    ws.forEach((w, i) => expect(bytesOf(read(outsB[i], w.rows))).toEqual(bytesOf(read(outsA[i], w.rows))));
    // matmuls: the three matrices' rows as one range (chunks straddle 1000 and 1077), into one
    // output of 1410 rows per column (as Q|K|V share a row) and into separate outputs.
    const all = ws.reduce((n, w) => n + w.rows, 0);
    const sideA = engine.alloc(ncols * all * 4, "YA");
    const sideB = engine.alloc(ncols * all * 4, "YB");
    const side = (base: number) => ws.map((w, i) => [w, base + ws.slice(0, i).reduce((n, v) => n + v.rows, 0) * 4, all] as const);
    single.matmuls(side(sideA), xq, xqStride, ncols);
    threaded.matmuls(side(sideB), xq, xqStride, ncols);
    expect(bytesOf(read(sideB, ncols * all))).toEqual(bytesOf(read(sideA, ncols * all)));
    const apart = ws.map((w) => [engine.alloc(ncols * w.rows * 4, "Ya"), engine.alloc(ncols * w.rows * 4, "Yb")]);
    single.matmuls(ws.map((w, i) => [w, apart[i][0], w.rows] as const), xq, xqStride, ncols);
    threaded.matmuls(ws.map((w, i) => [w, apart[i][1], w.rows] as const), xq, xqStride, ncols);
    ws.forEach((w, i) => expect(bytesOf(read(apart[i][1], ncols * w.rows))).toEqual(bytesOf(read(apart[i][0], ncols * w.rows))));
    // And the same as one matmul per matrix.
    ws.forEach((w, i) => {
      const one = engine.alloc(ncols * w.rows * 4, "Y1");
      single.matmul(w, xq, xqStride, one, w.rows, ncols);
      expect(bytesOf(read(apart[i][1], ncols * w.rows))).toEqual(bytesOf(read(one, ncols * w.rows)));
    });
  });

  it("minParallelBytes decides which jobs go to the workers", () => {
    const w = q8Matrix(64, 256, 4); // 64 rows × 272 bytes = 17 KiB
    const x = randomF32(256, 10);
    const xq = engine.alloc(engine.kernels.act_bytes(GgmlType.Q8_0, 256), "xq");
    engine.kernels.quantize_act(GgmlType.Q8_0, x, xq, 256);
    const y = engine.alloc(64 * 4, "y");
    const run = vi.spyOn(pool, "run");
    try {
      // The default (128 KiB) keeps a 17 KiB matrix on the calling thread; 0 splits it; 17 KiB + 1 does not.
      new ThreadedExecutor(pool, engine.kernels).matvec(w, xq, y);
      expect(run).not.toHaveBeenCalled();
      new ThreadedExecutor(pool, engine.kernels, { minParallelBytes: 64 * 272 + 1 }).matvec(w, xq, y);
      expect(run).not.toHaveBeenCalled();
      threaded.matvec(w, xq, y);
      expect(run).toHaveBeenCalledTimes(1);
    } finally {
      run.mockRestore();
    }
  });

  it("attention split by heads matches one thread bit for bit", () => {
    for (const [nHeads, nKvHeads] of [[32, 4], [12, 3], [6, 6]]) {
      const headDim = 64;
      const nPos = 37;
      const kvDim = nKvHeads * headDim;
      const kCache = engine.alloc(nPos * kvDim * 2, "k");
      const vCache = engine.alloc(nPos * kvDim * 2, "v");
      const kf = randomF32(nPos * kvDim, 5);
      const vf = randomF32(nPos * kvDim, 6);
      engine.kernels.f32_to_f16(kf, kCache, nPos * kvDim);
      engine.kernels.f32_to_f16(vf, vCache, nPos * kvDim);
      const q = randomF32(nHeads * headDim, 7);
      const base = { q, kCache, vCache, qq: 0, kv: 0, nHeads, nKvHeads, headDim, nPos, scale: 1 / 8, softcap: 0, batch: 0 };
      const a: AttentionArgs = { ...base, out: engine.alloc(nHeads * headDim * 4, "o1"), scores: engine.alloc(nHeads * nPos * 4, "s1") };
      const b: AttentionArgs = { ...base, out: engine.alloc(nHeads * headDim * 4, "o2"), scores: engine.alloc(nHeads * nPos * 4, "s2") };
      single.attention(a);
      threaded.attention(b);
      expect(bytesOf(read(b.out, nHeads * headDim))).toEqual(bytesOf(read(a.out, nHeads * headDim)));
    }
  });

  it("a trap in a worker fails the call with its message, and the pool serves the next call", () => {
    const w = q8Matrix(64, 64, 4);
    const xq = engine.alloc(engine.kernels.act_bytes(GgmlType.Q8_0, 64), "xq");
    engine.kernels.quantize_act(GgmlType.Q8_0, randomF32(64, 8), xq, 64);
    const y = engine.alloc(64 * 4, "y");
    // 64 rows in four 16-row chunks: place the matrix so rows 0..31 end exactly at the end of
    // memory and rows 32..63 lie beyond it. Whichever thread claims a chunk there traps first.
    const end = engine.memory.buffer.byteLength;
    const bad: WeightMatrix = { ...w, ptr: end - 32 * w.rowBytes };
    let err: unknown;
    try {
      threaded.matvec(bad, xq, y);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WasmError);
    expect((err as WasmError).kind).toBe("worker");
    expect((err as WasmError).message).toMatch(/^a kernel failed in (the calling thread|worker thread [12]): RuntimeError: memory access out of bounds$/);
    // The same pool, the next call: right results.
    const a = engine.alloc(64 * 4, "a");
    single.matvec(w, xq, a);
    threaded.matvec(w, xq, y);
    expect(bytesOf(read(y, 64))).toEqual(bytesOf(read(a, 64)));
    // Every chunk trapping fails the call the same way, after every chunk was tried.
    expect(() => threaded.matvec({ ...w, ptr: end + 64 }, xq, y)).toThrow(/^a kernel failed in .*: RuntimeError: memory access out of bounds$/);
    threaded.matvec(w, xq, y);
    expect(bytesOf(read(y, 64))).toEqual(bytesOf(read(a, 64)));
  });

  it("keeps working after the memory grows (a new SharedArrayBuffer)", () => {
    const before = engine.memory.buffer;
    const w = q8Matrix(256, 64, 11);
    engine.alloc(32 << 20, "growth");
    expect(engine.memory.buffer).not.toBe(before);
    const w2 = q8Matrix(256, 64, 12);
    const xq = engine.alloc(engine.kernels.act_bytes(GgmlType.Q8_0, 64), "xq");
    engine.kernels.quantize_act(GgmlType.Q8_0, randomF32(64, 13), xq, 64);
    for (const m of [w, w2]) {
      const a = engine.alloc(m.rows * 4, "a");
      const b = engine.alloc(m.rows * 4, "b");
      single.matvec(m, xq, a);
      threaded.matvec(m, xq, b);
      expect(bytesOf(read(b, m.rows))).toEqual(bytesOf(read(a, m.rows)));
    }
  });
});

describe("waiting for jobs (poll, nap, sleep)", () => {
  /** A 512 × 256 Q8_0 matvec over `engine` whose one-thread result is known. */
  function job(engine: Engine) {
    const type = ggmlType(GgmlType.Q8_0);
    if (!type) throw new Error("no Q8_0");
    const rows = 512;
    const cols = 256;
    const rowBytes = (cols / 32) * 34;
    const w: WeightMatrix = { name: "w", ptr: engine.alloc(rows * rowBytes, "w"), type, rows, cols, rowBytes };
    const r = rng(21);
    const u8 = engine.u8();
    for (let i = 0; i < rows * rowBytes; i++) u8[w.ptr + i] = i % 34 === 1 ? 0x24 : i % 34 === 0 ? 0 : Math.floor(r() * 127) & 0xff;
    const x = engine.alloc(cols * 4, "x");
    for (let i = 0; i < cols; i++) engine.f32()[(x >> 2) + i] = r();
    const xq = engine.alloc(engine.kernels.act_bytes(GgmlType.Q8_0, cols), "xq");
    engine.kernels.quantize_act(GgmlType.Q8_0, x, xq, cols);
    const want = engine.alloc(rows * 4, "want");
    new SingleThreadExecutor(engine.kernels).matvec(w, xq, want);
    const read = (p: number) => bytesOf(engine.f32().slice(p >> 2, (p >> 2) + rows));
    return { w, xq, want: read(want), read, y: engine.alloc(rows * 4, "y") };
  }
  /** Atomics.notify calls from this thread while `f` runs. */
  function notifies(f: () => void): number {
    const spy = vi.spyOn(Atomics, "notify");
    try {
      f();
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
    }
  }
  let pool: ThreadPool | null = null;
  afterEach(() => pool?.end());

  it("a worker that sleeps until notified is counted in SLEEPERS, and the next job wakes it", async () => {
    const engine = createEngine({ shared: true });
    // No poll, no nap: the worker goes straight to sleep after every job. The stall bound also bounds
    // the caller's wait for the worker's claim: were the worker never woken, TEST_ACK stays 0.
    pool = await ThreadPool.start(engine, 2, { minChunkBytes: 0, spin: 0, nap: 0, stallMs: 10_000 });
    const threaded = new ThreadedExecutor(pool, engine.kernels, { minParallelBytes: 0 });
    const m = job(engine);
    const i32 = pool.i32;
    // Bounded only against a hang; the state itself is driven by spin 0 and nap 0.
    for (let i = 0; i < 10_000 && Atomics.load(i32, W.SLEEPERS) !== 1; i++) await new Promise((r) => setTimeout(r, 1));
    expect(Atomics.load(i32, W.SLEEPERS)).toBe(1);
    // The test hook makes the caller claim nothing until the worker has claimed a chunk (and then
    // exits holding it): the job completes only if the dispatcher's notify woke the sleeper.
    pool.dieAfterClaim(1);
    expect(notifies(() => threaded.matvec(m.w, m.xq, m.y))).toBe(1);
    expect(Atomics.load(i32, W.TEST_ACK)).not.toBe(0);
    expect(m.read(m.y)).toEqual(m.want);
  });

  it("a worker polling or napping is not notified: it sees the job itself", async () => {
    const engine = createEngine({ shared: true });
    // A nap longer than the test: the worker never sleeps until notified.
    pool = await ThreadPool.start(engine, 2, { minChunkBytes: 0, nap: 600_000_000 });
    const threaded = new ThreadedExecutor(pool, engine.kernels, { minParallelBytes: 0 });
    const m = job(engine);
    for (let i = 0; i < 20; i++) {
      expect(notifies(() => threaded.matvec(m.w, m.xq, m.y))).toBe(0);
      expect(m.read(m.y)).toEqual(m.want);
    }
    expect(Atomics.load(pool.i32, W.SLEEPERS)).toBe(0);
  });
});

describe("shared-memory modules", () => {
  it("are the plain build with one flag byte changed, and import only a shared memory", () => {
    const shared = withSharedMemory(kernelsSimd);
    let differing = 0;
    for (let i = 0; i < kernelsSimd.length; i++) if (shared[i] !== kernelsSimd[i]) differing++;
    expect(shared.length).toBe(kernelsSimd.length);
    expect(differing).toBe(1);
    const plainMemory = new WebAssembly.Memory({ initial: 4, maximum: 65536 });
    const abort = () => undefined;
    expect(() => new WebAssembly.Instance(new WebAssembly.Module(shared), { env: { memory: plainMemory, abort } })).toThrow();
    const sharedMemory = new WebAssembly.Memory({ initial: 4, maximum: 65536, shared: true });
    expect(() => new WebAssembly.Instance(new WebAssembly.Module(shared), { env: { memory: sharedMemory, abort } })).not.toThrow();
  });

  it("refuses a module without a memory import", () => {
    expect(() => withSharedMemory(probeSimd)).toThrow(WasmError);
  });
});

describe("threads option", () => {
  it("refuses a thread count outside [1, 64]", async () => {
    const path = fixturePath("models", "stories260K-Q8_0.gguf");
    await expect(loadModelFile(path, { threads: 0 })).rejects.toThrow(/threads must be an integer in \[1, 64\]/);
    await expect(loadModelFile(path, { threads: 1.5 })).rejects.toThrow(/threads/);
  });

  describe("without shared memory", () => {
    afterEach(() => vi.unstubAllGlobals());
    const path = fixturePath("models", "stories260K-Q8_0.gguf");

    it("runs on one thread and says why where SharedArrayBuffer is missing", async () => {
      const one = await loadModelFile(path, { threads: 1 });
      const want = await one.logits([1, 400, 50]);
      one.dispose();
      vi.stubGlobal("SharedArrayBuffer", undefined);
      const m = await loadModelFile(path, { threads: 2 });
      expect(m.threads).toBe(1);
      expect(m.threadFallback).toMatch(/SharedArrayBuffer/);
      const got = await m.logits([1, 400, 50]);
      got.forEach((row, t) => expect(bytesOf(row)).toEqual(bytesOf(want[t])));
      m.dispose();
    });

    it("runs on one thread and says why on a page that is not cross-origin isolated", async () => {
      vi.stubGlobal("crossOriginIsolated", false);
      const m = await loadModelFile(path, { threads: 4 });
      expect(m.threads).toBe(1);
      expect(m.threadFallback).toMatch(/cross-origin isolated.*Cross-Origin-Opener-Policy/);
      m.dispose();
    });

    it("asking for one thread is no fallback", async () => {
      const m = await loadModelFile(path, { threads: 1 });
      expect(m.threads).toBe(1);
      expect(m.threadFallback).toBeNull();
      m.dispose();
    });
  });

  it("defaults to the machine's cores", async () => {
    const m = await loadModelFile(fixturePath("models", "stories260K-Q8_0.gguf"));
    try {
      const { availableParallelism } = await import("node:os");
      expect(m.threads).toBe(Math.min(64, availableParallelism()));
    } finally {
      m.dispose();
    }
  });
});

describe("process exit", () => {
  let dir: string;
  let script: string;

  beforeAll(async () => {
    // The published shape: src/node.ts bundled by esbuild with the worker script inlined as text.
    // Inside the project, so the bundle's external packages resolve from its node_modules.
    const cache = join(root, "node_modules/.cache");
    mkdirSync(cache, { recursive: true });
    dir = mkdtempSync(join(cache, "woolly-threads-"));
    script = join(dir, "node.mjs");
    await build({
      entryPoints: [join(root, "src/node.ts")],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "es2022",
      packages: "external",
      outfile: script,
      loader: { ".wasm": "binary" },
      logLevel: "warning",
      plugins: [
        {
          name: "worker-text",
          setup(b) {
            b.onResolve({ filter: /build\/worker\.txt$/ }, () => ({ path: "worker", namespace: "worker-text" }));
            b.onLoad({ filter: /.*/, namespace: "worker-text" }, async () => {
              const r = await build(workerBuildOptions(root));
              return { contents: r.outputFiles[0].text, loader: "text" };
            });
          },
        },
      ],
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (body: string) => {
    const main = join(dir, `main-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(
      main,
      `import { loadModelFile } from ${JSON.stringify(script)};\n` +
        `const m = await loadModelFile(${JSON.stringify(fixturePath("models", "stories260K-Q8_0.gguf"))}, { threads: 3 });\n` +
        `if (m.threads !== 3) process.exit(3);\n` +
        `await m.complete("Once", { maxTokens: 4, temperature: 0 });\n` +
        body,
    );
    return spawnSync(process.execPath, [main], { timeout: 30_000, encoding: "utf8" });
  };

  it("exits after dispose()", () => {
    const r = run("m.dispose();\n");
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
  });

  it("exits when a model is forgotten without dispose()", () => {
    const r = run("");
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
  });
});
