// The pool's job layout (src/wasm/jobs.ts) is written and read through one table: every field of
// every op written by name reads back by name with its own value and kind, no two fields share a
// word, and nothing is written outside the ARGS words. Jobs are cut into chunks (planJob) of whole
// alignment multiples covering every unit once.
import { describe, expect, it } from "vitest";
import { ARG_WORDS, JOBS, JobArgs, jobWords, jobsOver, MAX_BATCH, Op, type ArgKind, type JobSpec } from "../src/wasm/jobs.js";
import { CONTROL_BLOCK, CONTROL_BLOCK_END, CONTROL_BLOCK_USED, MAX_MEMORIES, ERRTEXT, ERRTEXT_BYTES, W, planJob } from "../src/wasm/pool-jobs.js";
import { MAX_THREADS } from "../src/wasm/pool.js";

/** A value only field `i` of this kind gets: negative i32s, u32 pointers past 2 GiB, fractional f32s. */
function valueFor(kind: ArgKind, i: number): number {
  if (kind === "i32") return -1000 - i;
  if (kind === "u32") return 0x8000_0000 + 64 * i;
  return i + 0.25;
}

/** Every (group, name, kind) of a spec: group -1 for `args`, 0..maxEach-1 for the repeated ones. */
function fieldsOf(spec: JobSpec): [number, string, ArgKind][] {
  const out: [number, string, ArgKind][] = Object.entries(spec.args).map(([n, k]) => [-1, n, k]);
  for (let m = 0; m < (spec.maxEach ?? 0); m++) for (const [n, k] of Object.entries(spec.each ?? {})) out.push([m, n, k]);
  return out;
}

const SENTINEL = 0x5a5a5a5a;

describe("job arguments", () => {
  it("the ARGS area lies inside the control block, before the error text", () => {
    expect(W.ARGS * 4).toBeGreaterThan(W.ERRLEN * 4);
    expect(W.ARGS * 4 + ARG_WORDS * 4).toBeLessThanOrEqual(ERRTEXT);
    expect(ERRTEXT).toBeLessThan(CONTROL_BLOCK_END);
  });

  it.each(Object.entries(JOBS))("%s: every field reads back what was written, in ARGS only", (_name, spec: JobSpec) => {
    const i32 = new Int32Array(CONTROL_BLOCK_END >> 2).fill(SENTINEL);
    const f32 = new Float32Array(i32.buffer);
    const job = new JobArgs<JobSpec>(spec, i32, f32, W.ARGS);
    const fields = fieldsOf(spec);
    expect(fields.length).toBe(jobWords(spec));
    const arg = (m: number, n: string) => (m < 0 ? job.args[n] : job.each[m][n]);
    expect(job.each.length).toBe(spec.maxEach ?? 0);
    // Write every field before reading any: a shared word would return the later value.
    fields.forEach(([m, n, k], i) => arg(m, n).set(valueFor(k, i)));
    const back = fields.map(([m, n]) => arg(m, n).get());
    expect(back).toEqual(fields.map(([, , k], i) => valueFor(k, i)));
    // Exactly the job's words changed, all inside ARGS.
    const touched = [...i32.keys()].filter((w) => i32[w] !== SENTINEL);
    expect(touched.length).toBe(fields.length);
    expect(Math.min(...touched)).toBe(W.ARGS);
    expect(Math.max(...touched)).toBeLessThan(W.ARGS + ARG_WORDS);
    expect(job.op).toBe(spec.op);
  });

  it("f32 fields are stored by bit pattern in the i32 words", () => {
    const i32 = new Int32Array(CONTROL_BLOCK_END >> 2);
    const f32 = new Float32Array(i32.buffer);
    const jobs = jobsOver(i32, f32, W.ARGS);
    jobs.attention.args.scale.set(0.125);
    const word = W.ARGS + Object.keys(JOBS.attention.args).indexOf("scale");
    expect(i32[word]).toBe(0x3e000000);
    expect(jobs.attention.args.scale.get()).toBe(0.125);
  });

  it("each op has its own id and MATVECS carries MAX_BATCH matrices", () => {
    const ops = Object.values(JOBS).map((s) => s.op);
    expect(new Set(ops).size).toBe(ops.length);
    expect(ops).not.toContain(Op.QUIT);
    expect(JOBS.matvecs.maxEach).toBe(MAX_BATCH);
    expect(jobWords(JOBS.matvecs)).toBe(2 + 6 * MAX_BATCH);
    expect(JOBS.matmuls.maxEach).toBe(MAX_BATCH);
    expect(jobWords(JOBS.matmuls)).toBe(4 + 7 * MAX_BATCH);
    expect(CONTROL_BLOCK).toBe(0x440);
  });

  it("refuses a layout larger than ARGS", () => {
    const args = Object.fromEntries(Array.from({ length: ARG_WORDS + 1 }, (_, i) => [`f${i}`, "i32" as const]));
    const i32 = new Int32Array(CONTROL_BLOCK_END >> 2);
    expect(() => new JobArgs({ op: Op.MATVEC, args }, i32, new Float32Array(i32.buffer), W.ARGS)).toThrow(/needs 65 argument words; ARGS has 64/);
  });
});

describe("cutting a job into chunks", () => {
  const views = () => {
    const i32 = new Int32Array(CONTROL_BLOCK_END >> 2);
    return { i32, jobs: jobsOver(i32, new Float32Array(i32.buffer), W.ARGS) };
  };
  /** The [lo, hi) ranges of every chunk of the plan in i32. */
  const ranges = (i32: Int32Array) =>
    Array.from({ length: i32[W.NCHUNKS] }, (_, c) => [c * i32[W.CHUNK], Math.min(i32[W.UNITS], (c + 1) * i32[W.CHUNK])]);

  it("the per-thread CLAIM words lie after the error text, then the per-memory SCRATCH words, inside the control block", () => {
    expect(W.CLAIM * 4).toBeGreaterThanOrEqual(ERRTEXT + ERRTEXT_BYTES);
    expect(CONTROL_BLOCK_USED).toBeLessThanOrEqual(CONTROL_BLOCK_END);
    expect(W.SCRATCH - W.CLAIM).toBe(MAX_THREADS);
    expect(CONTROL_BLOCK_USED - W.SCRATCH * 4).toBe(MAX_MEMORIES * 4);
    // The single words sit before the arguments.
    expect(W.MEM).toBeLessThan(W.ARGS);
  });

  it("matvec rows: chunks of whole 16-row multiples cover every row once, several per thread, each ≥ minChunkBytes", () => {
    const { i32, jobs } = views();
    // TinyLlama's FFN: 5632 rows of 2048 Q4_0 weights (1152 bytes).
    jobs.matvec.args.rows.set(5632);
    jobs.matvec.args.rowBytes.set(1152);
    expect(planJob(i32, jobs, Op.MATVEC, 2, 64 << 10, 4)).toBe(8);
    expect(ranges(i32)).toEqual(Array.from({ length: 8 }, (_, c) => [c * 704, (c + 1) * 704]));
    // A 64 KiB floor: 180 KiB of rows make 2 chunks (80 rows, 90 KiB each), 100 KiB only one.
    jobs.matvec.args.rows.set(160);
    expect(planJob(i32, jobs, Op.MATVEC, 3, 64 << 10, 4)).toBe(2);
    expect(ranges(i32)).toEqual([
      [0, 80],
      [80, 160],
    ]);
    jobs.matvec.args.rows.set(89);
    expect(planJob(i32, jobs, Op.MATVEC, 3, 64 << 10, 4)).toBe(1);
    expect(ranges(i32)).toEqual([[0, 89]]);
    // No floor: as many 16-row chunks as threads × perThread allows.
    expect(planJob(i32, jobs, Op.MATVEC, 3, 0, 4)).toBe(6);
    expect(ranges(i32).at(-1)).toEqual([80, 89]);
  });

  it("matvecs: the matrices' rows as one range; matmul: the work is rows × columns", () => {
    const { i32, jobs } = views();
    const m = jobs.matvecs;
    m.args.count.set(3);
    [256, 64, 64].forEach((rows, i) => {
      m.each[i].rows.set(rows);
      m.each[i].rowBytes.set(1152);
    });
    expect(planJob(i32, jobs, Op.MATVECS, 2, 0, 4)).toBe(8);
    expect(i32[W.UNITS]).toBe(384);
    expect(i32[W.CHUNK]).toBe(48);
    jobs.matmul.args.rows.set(64);
    jobs.matmul.args.rowBytes.set(1152);
    jobs.matmul.args.ncols.set(1);
    // 72 KiB of weights: one chunk; with 8 columns, 576 KiB of work: 4 chunks (threads × perThread).
    expect(planJob(i32, jobs, Op.MATMUL, 2, 64 << 10, 4)).toBe(1);
    jobs.matmul.args.ncols.set(8);
    expect(planJob(i32, jobs, Op.MATMUL, 2, 64 << 10, 4)).toBe(4);
    // matmuls: the rows of all matrices, the work rows × columns; outputs per unit are the columns.
    const mm = jobs.matmuls;
    mm.args.count.set(3);
    mm.args.ncols.set(4);
    [256, 64, 64].forEach((rows, i) => {
      mm.each[i].rows.set(rows);
      mm.each[i].rowBytes.set(1152);
    });
    expect(planJob(i32, jobs, Op.MATMULS, 2, 0, 4)).toBe(8);
    expect(i32[W.UNITS]).toBe(384);
    expect(i32[W.CHUNK]).toBe(48);
    // 384 rows × 1152 bytes × 4 columns = 1.7 MiB: 3 chunks at a 576 KiB floor.
    expect(planJob(i32, jobs, Op.MATMULS, 2, 576 << 10, 4)).toBe(3);
    // Scratch for 32 rows of 4 columns caps a chunk at 32 rows.
    expect(planJob(i32, jobs, Op.MATMULS, 2, 0, 4, 32 * 4 * 4)).toBe(12);
    expect(i32[W.PRIVATE]).toBe(1);
  });

  it("matrix products go through the workers' scratch when a chunk's outputs fit it; attention never", () => {
    const { i32, jobs } = views();
    const a = jobs.matmul.args;
    a.rows.set(5632);
    a.rowBytes.set(1152);
    a.ncols.set(64);
    // 8 chunks of 704 rows × 64 columns would need 176 KiB each: a 64 KiB scratch caps them at 256 rows.
    expect(planJob(i32, jobs, Op.MATMUL, 2, 64 << 10, 4, 64 << 10)).toBe(22);
    expect(i32[W.CHUNK]).toBe(256);
    expect(i32[W.PRIVATE]).toBe(1);
    // Without scratch: the plain plan, written in place.
    expect(planJob(i32, jobs, Op.MATMUL, 2, 64 << 10, 4, 0)).toBe(8);
    expect(i32[W.PRIVATE]).toBe(0);
    // Less scratch than one 16-row block of outputs (16 × 64 × 4 = 4096 bytes): written in place.
    expect(planJob(i32, jobs, Op.MATMUL, 2, 64 << 10, 4, 4000)).toBe(8);
    expect(i32[W.PRIVATE]).toBe(0);
    const t = jobs.attention.args;
    t.nHeads.set(32);
    t.nKvHeads.set(4);
    t.headDim.set(64);
    t.nPos.set(1000);
    expect(planJob(i32, jobs, Op.ATTENTION, 2, 0, 4, 64 << 10)).toBe(4);
    expect(i32[W.PRIVATE]).toBe(0);
  });

  it("attention: whole KV-head groups when the KV heads divide between the threads, single heads otherwise", () => {
    const { i32, jobs } = views();
    const a = jobs.attention.args;
    a.nHeads.set(32);
    a.nKvHeads.set(4);
    a.headDim.set(64);
    a.nPos.set(1000);
    expect(planJob(i32, jobs, Op.ATTENTION, 2, 0, 4)).toBe(4);
    expect(i32[W.CHUNK]).toBe(8);
    // 4 KV heads do not divide between 3 threads: heads split one by one, 12 chunks of 3 → 11 chunks.
    expect(planJob(i32, jobs, Op.ATTENTION, 3, 0, 4)).toBe(11);
    expect(i32[W.CHUNK]).toBe(3);
  });
});
