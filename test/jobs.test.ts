// The pool's job layout (src/wasm/jobs.ts) is written and read through one table: every field of
// every op written by name reads back by name with its own value and kind, no two fields share a
// word, and nothing is written outside the ARGS words.
import { describe, expect, it } from "vitest";
import { ARG_WORDS, JOBS, JobArgs, jobWords, jobsOver, MAX_BATCH, Op, type ArgKind, type JobSpec } from "../src/wasm/jobs.js";
import { CONTROL_BLOCK, CONTROL_BLOCK_END, ERRTEXT, W } from "../src/wasm/pool-jobs.js";

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
    expect(CONTROL_BLOCK).toBe(0x440);
  });

  it("refuses a layout larger than ARGS", () => {
    const args = Object.fromEntries(Array.from({ length: ARG_WORDS + 1 }, (_, i) => [`f${i}`, "i32" as const]));
    const i32 = new Int32Array(CONTROL_BLOCK_END >> 2);
    expect(() => new JobArgs({ op: Op.MATVEC, args }, i32, new Float32Array(i32.buffer), W.ARGS)).toThrow(/needs 65 argument words; ARGS has 64/);
  });
});
