// Each pool job's arguments, laid out once. The forward pass's executor (src/model/exec.ts) writes
// them into the control block's ARGS words and every thread reads them back (pool-jobs.ts): both
// sides go through the JobArgs below, built from the one table JOBS, so they cannot disagree.
//
// A field's word is its position in its op's `args` (in the order written); an op with repeated
// groups (MATVECS: one per matrix) has `each`, laid out after `args` at a stride of its size.
// Adding a field is one line in JOBS; the writer then sets it by name and the reader gets it.
//
// Kinds: "i32" counts and sizes; "u32" pointers (read back with >>> 0: memory reaches 4 GiB);
// "f32" floats, stored by bit pattern through the Float32Array view of the same words.
//
// No imports and no Web/Node API: the worker bundle includes this file.

export type ArgKind = "i32" | "u32" | "f32";
type Fields = Readonly<Record<string, ArgKind>>;

/** Words of the control block's ARGS area (see pool-jobs.ts). */
export const ARG_WORDS = 64;

/** Job ops: the value the dispatcher writes into the control block's OP word. */
export const Op = {
  MATVEC: 1,
  MATVECS: 2,
  MATMUL: 3,
  ATTENTION: 4,
  /** Leave the wait loop (the pool is ending); no arguments. */
  QUIT: 5,
} as const;
export type OpId = (typeof Op)[keyof typeof Op];

/** The most matrices one MATVECS job carries (2 + 6 × 8 = 50 argument words). */
export const MAX_BATCH = 8;

export interface JobSpec {
  readonly op: OpId;
  readonly args: Fields;
  /** A group of fields repeated up to maxEach times after `args`. */
  readonly each?: Fields;
  readonly maxEach?: number;
}

/** Every job with arguments, and how they are laid out. */
export const JOBS = {
  /** y = W·x, split by rows. */
  matvec: {
    op: Op.MATVEC,
    args: { type: "i32", w: "u32", rowBytes: "i32", xq: "u32", y: "u32", n: "i32", rows: "i32" },
  },
  /** Several matvecs over one activation; the rows of all matrices split as one range. */
  matvecs: {
    op: Op.MATVECS,
    args: { count: "i32", xq: "u32" },
    each: { type: "i32", w: "u32", rowBytes: "i32", y: "u32", n: "i32", rows: "i32" },
    maxEach: MAX_BATCH,
  },
  /** Y = W·X over ncols columns, split by rows. */
  matmul: {
    op: Op.MATMUL,
    args: { type: "i32", w: "u32", rowBytes: "i32", xq: "u32", xqStride: "i32", y: "u32", yStride: "i32", n: "i32", rows: "i32", ncols: "i32" },
  },
  /** One query token over nPos cached positions, split by heads. */
  attention: {
    op: Op.ATTENTION,
    args: {
      q: "u32",
      kCache: "u32",
      vCache: "u32",
      out: "u32",
      scores: "u32",
      nHeads: "i32",
      nKvHeads: "i32",
      headDim: "i32",
      nPos: "i32",
      scale: "f32",
    },
  },
} as const satisfies Record<string, JobSpec>;

/** Argument words a job can use: its args plus maxEach groups. */
export function jobWords(spec: JobSpec): number {
  return Object.keys(spec.args).length + (spec.maxEach ?? 0) * Object.keys(spec.each ?? {}).length;
}

type Names<F> = keyof F & string;
/** The repeated group's fields: none for a job without one, any name for JobSpec itself. */
type EachOf<S extends JobSpec> = S extends { readonly each?: infer E } ? NonNullable<E> : Record<never, ArgKind>;

const KIND_CODE: Readonly<Record<ArgKind, number>> = { i32: 0, u32: 1, f32: 2 };

/** name → word offset × 4 + kind code: one lookup per access, fixed at construction. */
function packFields(fields: Fields): Readonly<Record<string, number>> {
  const out: Record<string, number> = {};
  Object.keys(fields).forEach((name, i) => (out[name] = i * 4 + KIND_CODE[fields[name]]));
  return out;
}

/**
 * Reads and writes one op's arguments by name in the ARGS words of the given views. Made once
 * (per pool, per worker); set/get allocate nothing, so decode can call them for every job.
 */
export class JobArgs<S extends JobSpec> {
  readonly op: S["op"];
  private readonly fields: Readonly<Record<string, number>>;
  private readonly eachFields: Readonly<Record<string, number>>;
  /** Word of the first repeated group, and the stride between groups. */
  private readonly eachBase: number;
  private readonly eachStride: number;

  constructor(
    spec: S,
    private readonly i32: Int32Array,
    private readonly f32: Float32Array,
    /** Word index of ARGS in the views. */
    private readonly base: number,
  ) {
    if (jobWords(spec) > ARG_WORDS) throw new Error(`job ${spec.op} needs ${jobWords(spec)} argument words; ARGS has ${ARG_WORDS}`);
    this.op = spec.op;
    this.fields = packFields(spec.args);
    this.eachFields = packFields(spec.each ?? {});
    this.eachBase = base + Object.keys(spec.args).length;
    this.eachStride = Object.keys(spec.each ?? {}).length;
  }

  set(name: Names<S["args"]>, value: number): void {
    this.put(this.base, this.fields[name], value);
  }

  get(name: Names<S["args"]>): number {
    return this.read(this.base, this.fields[name]);
  }

  /** Set a field of repeated group m (0 ≤ m < maxEach). */
  setEach(m: number, name: Names<EachOf<S>>, value: number): void {
    this.put(this.eachBase + m * this.eachStride, this.eachFields[name], value);
  }

  getEach(m: number, name: Names<EachOf<S>>): number {
    return this.read(this.eachBase + m * this.eachStride, this.eachFields[name]);
  }

  private put(base: number, packed: number, value: number): void {
    const word = base + (packed >> 2);
    // Stores into the Int32Array wrap a u32 pointer ≥ 2^31 to the same bits.
    if ((packed & 3) === KIND_CODE.f32) this.f32[word] = value;
    else this.i32[word] = value;
  }

  private read(base: number, packed: number): number {
    const word = base + (packed >> 2);
    const kind = packed & 3;
    if (kind === KIND_CODE.f32) return this.f32[word];
    return kind === KIND_CODE.u32 ? this.i32[word] >>> 0 : this.i32[word];
  }
}

/** One JobArgs per op, over the same views: what a pool's dispatcher and each worker hold. */
export interface Jobs {
  readonly matvec: JobArgs<typeof JOBS.matvec>;
  readonly matvecs: JobArgs<typeof JOBS.matvecs>;
  readonly matmul: JobArgs<typeof JOBS.matmul>;
  readonly attention: JobArgs<typeof JOBS.attention>;
}

export function jobsOver(i32: Int32Array, f32: Float32Array, base: number): Jobs {
  return {
    matvec: new JobArgs(JOBS.matvec, i32, f32, base),
    matvecs: new JobArgs(JOBS.matvecs, i32, f32, base),
    matmul: new JobArgs(JOBS.matmul, i32, f32, base),
    attention: new JobArgs(JOBS.attention, i32, f32, base),
  };
}
