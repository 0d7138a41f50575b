// Each pool job's arguments, laid out once. The forward pass's executor (src/model/exec.ts) writes
// them into the control block's ARGS words and every thread reads them back (pool-jobs.ts): both
// sides go through the JobArgs below, built from the one table JOBS, so they cannot disagree.
//
// A field's word is its position in its op's `args` (in the order written); an op with repeated
// groups (MATVECS: one per matrix) has `each`, laid out after `args` at a stride of its size.
// Adding a field is one line in JOBS; the writer then sets it by name (`job.args.scale.set(x)`)
// and the reader gets it (`job.args.scale.get()`); the compiler checks the names on both sides.
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
  ENCODER_ATTENTION: 6,
  MATMULS: 7,
} as const;
export type OpId = (typeof Op)[keyof typeof Op];

/** The most matrices one MATVECS job carries (2 + 6 × 8 = 50 argument words), or one MATMULS job (4 + 7 × 8 = 60). */
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
  /**
   * Several matmuls over one converted activation (a batch's Q/K/V, gate/up): the rows of all
   * matrices split as one range, so a prefill step waits once per projection, not once per matrix.
   */
  matmuls: {
    op: Op.MATMULS,
    args: { count: "i32", xq: "u32", xqStride: "i32", ncols: "i32" },
    each: { type: "i32", w: "u32", rowBytes: "i32", y: "u32", yStride: "i32", n: "i32", rows: "i32" },
    maxEach: MAX_BATCH,
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
      softcap: "f32",
      batch: "i32",
      /** The cache's format: 0 f16 (kernel attention), 1 q8_0 (attention_q8, which also takes qq). */
      kv: "i32",
      /** attention_q8's quantized-query slots. */
      qq: "u32",
    },
  },
  /** Every query of an encoder layer over all nPos tokens (bidirectional, f32 K/V), split by heads. */
  encoderAttention: {
    op: Op.ENCODER_ATTENTION,
    args: {
      q: "u32",
      qStride: "i32",
      k: "u32",
      kStride: "i32",
      vT: "u32",
      out: "u32",
      outStride: "i32",
      scores: "u32",
      nHeads: "i32",
      nKvHeads: "i32",
      headDim: "i32",
      nPos: "i32",
      scale: "f32",
    },
  },
} as const satisfies Record<string, JobSpec>;

/**
 * K and V cache bytes one attention call reads: nPos rows of kvDim values, K and V, as f16 (kv 0) or
 * block_q8_0 (kv 1, 34 bytes per 32 values). What the pool weighs an ATTENTION job by.
 */
export function attentionBytes(kv: number, nPos: number, kvDim: number): number {
  return kv === 1 ? nPos * (kvDim / 32) * 34 * 2 : nPos * kvDim * 4;
}

/** Argument words a job can use: its args plus maxEach groups. */
export function jobWords(spec: JobSpec): number {
  return Object.keys(spec.args).length + (spec.maxEach ?? 0) * Object.keys(spec.each ?? {}).length;
}

/** One argument word, read and written as its kind. */
export interface Arg {
  set(value: number): void;
  get(): number;
}

// One class per kind, so each call site (always the same field, hence the same kind) stays
// monomorphic and V8 inlines it down to one typed-array access. A generic set(name, value) that
// looked the name up per call measured ~1.7 µs per job of 10 fields against ~50 ns for raw
// offsets; these run at the raw speed.
class I32Arg implements Arg {
  constructor(
    private readonly i32: Int32Array,
    readonly word: number,
  ) {}
  set(value: number): void {
    this.i32[this.word] = value;
  }
  get(): number {
    return this.i32[this.word];
  }
}

/** Pointers: a store wraps values ≥ 2^31 to the same bits; reads give them back unsigned. */
class U32Arg implements Arg {
  constructor(
    private readonly i32: Int32Array,
    readonly word: number,
  ) {}
  set(value: number): void {
    this.i32[this.word] = value;
  }
  get(): number {
    return this.i32[this.word] >>> 0;
  }
}

/** Floats, by bit pattern in the same word through the Float32Array view. */
class F32Arg implements Arg {
  constructor(
    private readonly f32: Float32Array,
    readonly word: number,
  ) {}
  set(value: number): void {
    this.f32[this.word] = value;
  }
  get(): number {
    return this.f32[this.word];
  }
}

type ArgsOf<F> = { readonly [K in keyof F]: Arg };
/** The repeated group's fields: none for a job without one, any name for JobSpec itself. */
type EachOf<S extends JobSpec> = S extends { readonly each?: infer E } ? NonNullable<E> : Record<never, ArgKind>;

/** The fields of `fields` as Args at consecutive words from `base`. */
function argsAt<F extends Fields>(fields: F, i32: Int32Array, f32: Float32Array, base: number): ArgsOf<F> {
  const out: Record<string, Arg> = {};
  Object.keys(fields).forEach((name, i) => {
    const kind = fields[name];
    out[name] = kind === "f32" ? new F32Arg(f32, base + i) : kind === "u32" ? new U32Arg(i32, base + i) : new I32Arg(i32, base + i);
  });
  return out as ArgsOf<F>;
}

/**
 * One op's arguments by name over the control block's views: `args.xq.set(p)` writes, `.get()`
 * reads. Made once (per pool, per worker), so nothing is allocated per call on the decode path.
 */
export class JobArgs<S extends JobSpec> {
  readonly op: S["op"];
  readonly args: ArgsOf<S["args"]>;
  /** The repeated groups, maxEach of them (empty for a job without `each`). */
  readonly each: readonly ArgsOf<EachOf<S>>[];

  constructor(spec: S, i32: Int32Array, f32: Float32Array, base: number) {
    if (jobWords(spec) > ARG_WORDS) throw new Error(`job ${spec.op} needs ${jobWords(spec)} argument words; ARGS has ${ARG_WORDS}`);
    this.op = spec.op;
    this.args = argsAt(spec.args, i32, f32, base);
    const first = base + Object.keys(spec.args).length;
    const stride = Object.keys(spec.each ?? {}).length;
    const each: ArgsOf<EachOf<S>>[] = [];
    // spec.each is EachOf<S> for every S (JobSpec's own optional `each` included).
    for (let m = 0; m < (spec.maxEach ?? 0); m++) each.push(argsAt((spec.each ?? {}) as EachOf<S>, i32, f32, first + m * stride));
    this.each = each;
  }
}

/** One JobArgs per op, over the same views: what a pool's dispatcher and each worker hold. */
export interface Jobs {
  readonly matvec: JobArgs<typeof JOBS.matvec>;
  readonly matvecs: JobArgs<typeof JOBS.matvecs>;
  readonly matmul: JobArgs<typeof JOBS.matmul>;
  readonly matmuls: JobArgs<typeof JOBS.matmuls>;
  readonly attention: JobArgs<typeof JOBS.attention>;
  readonly encoderAttention: JobArgs<typeof JOBS.encoderAttention>;
}

export function jobsOver(i32: Int32Array, f32: Float32Array, base: number): Jobs {
  return {
    matvec: new JobArgs(JOBS.matvec, i32, f32, base),
    matvecs: new JobArgs(JOBS.matvecs, i32, f32, base),
    matmul: new JobArgs(JOBS.matmul, i32, f32, base),
    matmuls: new JobArgs(JOBS.matmuls, i32, f32, base),
    attention: new JobArgs(JOBS.attention, i32, f32, base),
    encoderAttention: new JobArgs(JOBS.encoderAttention, i32, f32, base),
  };
}
