// A model's hyper-parameters, read from GGUF metadata. Dimension names are fixed here and used
// everywhere (TS, AssemblyScript, WAT): dim, hiddenDim, nLayers, nHeads, nKvHeads, headDim, kvDim,
// nCtx, nVocab.
import { LoadError } from "../errors.js";
import type { GgufFile } from "../gguf/index.js";

/** Architectures Woolly runs; each differs from `llama` only in the fields below. */
export type Architecture = "llama" | "qwen2" | "granite";
export const ARCHITECTURES: readonly Architecture[] = ["llama", "qwen2", "granite"];

export interface RopeConfig {
  /** Leading dimensions of each head that are rotated (`rope.dimension_count`, default headDim). */
  readonly dim: number;
  /** θ base (`rope.freq_base`, default 10000). */
  readonly base: number;
  /** Linear position scaling: positions are multiplied by this (1 / `rope.scaling.factor`). */
  readonly freqScale: number;
  /** NeoX layout rotates (x[i], x[i + dim/2]) instead of (x[2i], x[2i+1]): qwen2. */
  readonly neox: boolean;
}

export interface ModelConfig {
  readonly arch: Architecture;
  readonly name: string;
  readonly dim: number;
  readonly hiddenDim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  /** nKvHeads * headDim: one position's K (or V) row in the cache. */
  readonly kvDim: number;
  readonly nVocab: number;
  /** Context length the model was trained for (`context_length`). */
  readonly nCtxTrain: number;
  readonly normEps: number;
  readonly rope: RopeConfig;
  /** Multiplies the token embedding (granite `embedding_scale`; 1 elsewhere). */
  readonly embeddingScale: number;
  /** Multiplies each block's output before the residual add (granite `residual_scale`; 1 elsewhere). */
  readonly residualScale: number;
  /** Scale of q·k (granite `attention.scale`; 1/sqrt(headDim) elsewhere). */
  readonly attentionScale: number;
  /** Logits are divided by this (granite `logit_scale`; 1 elsewhere). */
  readonly logitScale: number;
  /** Q, K and V projections carry biases (qwen2). */
  readonly qkvBias: boolean;
}

/** Read the hyper-parameters of a supported architecture, refusing anything else by name. */
export function configFromGguf(file: GgufFile): ModelConfig {
  const arch = file.getString("general.architecture");
  if (!(ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new LoadError(
      "unsupported_architecture",
      `architecture "${arch}" is not supported; Woolly runs ${ARCHITECTURES.join(", ")}`,
    );
  }
  const a = arch as Architecture;
  const key = (k: string) => `${a}.${k}`;
  const positive = (k: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new LoadError("bad_hyperparameter", `${key(k)} is ${v}; it must be a positive integer`);
    return v;
  };
  const dim = positive("embedding_length", file.getU32(key("embedding_length")));
  const nHeads = positive("attention.head_count", file.getU32(key("attention.head_count")));
  const nKvHeads = positive("attention.head_count_kv", file.getU32(key("attention.head_count_kv"), nHeads));
  if (dim % nHeads !== 0) throw new LoadError("bad_hyperparameter", `${key("embedding_length")} ${dim} is not a multiple of ${key("attention.head_count")} ${nHeads}`);
  if (nHeads % nKvHeads !== 0) throw new LoadError("bad_hyperparameter", `${key("attention.head_count")} ${nHeads} is not a multiple of ${key("attention.head_count_kv")} ${nKvHeads}`);
  const headDim = dim / nHeads;
  const ropeDim = positive("rope.dimension_count", file.getU32(key("rope.dimension_count"), headDim));
  if (ropeDim > headDim || ropeDim % 2 !== 0) throw new LoadError("bad_hyperparameter", `${key("rope.dimension_count")} ${ropeDim} must be even and at most the head size ${headDim}`);
  const scalingType = file.getString(key("rope.scaling.type"), "none");
  let freqScale = 1;
  if (scalingType === "linear") {
    const factor = file.getF32(key("rope.scaling.factor"), 1);
    if (!(factor > 0)) throw new LoadError("bad_hyperparameter", `${key("rope.scaling.factor")} is ${factor}; it must be > 0`);
    freqScale = Math.fround(1 / factor);
  } else if (scalingType !== "none") {
    throw new LoadError("bad_hyperparameter", `${key("rope.scaling.type")} "${scalingType}" is not supported (linear and none are; Llama-3 scaling comes from the rope_freqs tensor)`);
  }
  const tokens = file.get("tokenizer.ggml.tokens");
  const nVocab = file.getU32(key("vocab_size"), tokens?.type === 9 ? tokens.value.items.length : 0);
  positive("vocab_size", nVocab);
  const granite = a === "granite";
  const f = (k: string, fallback: number) => (granite ? file.getF32(key(k), fallback) : fallback);
  return {
    arch: a,
    name: file.getString("general.name", a),
    dim,
    hiddenDim: positive("feed_forward_length", file.getU32(key("feed_forward_length"))),
    nLayers: positive("block_count", file.getU32(key("block_count"))),
    nHeads,
    nKvHeads,
    headDim,
    kvDim: nKvHeads * headDim,
    nVocab,
    nCtxTrain: positive("context_length", file.getU32(key("context_length"), 4096)),
    normEps: file.getF32(key("attention.layer_norm_rms_epsilon"), 1e-5),
    rope: {
      dim: ropeDim,
      base: file.getF32(key("rope.freq_base"), 10000),
      freqScale,
      neox: a === "qwen2",
    },
    embeddingScale: f("embedding_scale", 1),
    residualScale: f("residual_scale", 1),
    attentionScale: f("attention.scale", 0) || 1 / Math.sqrt(headDim),
    logitScale: f("logit_scale", 1),
    qkvBias: a === "qwen2",
  };
}
