// A model's hyper-parameters, read from GGUF metadata. Dimension names are fixed here and used
// everywhere (TS, AssemblyScript, WAT): dim, hiddenDim, nLayers, nHeads, nKvHeads, headDim, qDim, kvDim,
// nCtx, nVocab.
//
// An architecture is data: the common reader below takes what every decoder shares (dims, heads, RoPE,
// norm epsilon), and the architecture's own small file (src/model/arch/<arch>.ts) states how it differs
// from llama (norm placement, Q/K norms, RoPE per layer, sliding windows, soft-capping, activation,
// scales, short-convolution layers). The forward pass reads only the resulting ModelConfig.
import { LoadError } from "../errors.js";
import type { GgufFile } from "../gguf/index.js";
import { ARCHS, type ArchHparams, type ArchTraits } from "./arch/index.js";

/** The most layers a model may have (a named limit: the largest published models have ~130). */
export const MAX_LAYERS = 1024;

/** Architectures Woolly runs (`general.architecture`). */
export type Architecture = keyof typeof ARCHS;
export const ARCHITECTURES = Object.keys(ARCHS) as Architecture[];

export interface RopeConfig {
  /** Leading dimensions of each head that are rotated (`rope.dimension_count`, default headDim). */
  readonly dim: number;
  /** θ base (`rope.freq_base`, default 10000; a window layer's own base where the model has one). */
  readonly base: number;
  /** Linear position scaling: positions are multiplied by this (1 / `rope.scaling.factor`). */
  readonly freqScale: number;
  /** NeoX layout rotates (x[i], x[i + dim/2]) instead of (x[2i], x[2i+1]): qwen2, qwen3, gemma, phi3, olmo2, lfm2. */
  readonly neox: boolean;
  /** cos and sin are multiplied by this (`rope.scaling.attn_factor`; LongRoPE's magnitude scaling). */
  readonly attnFactor: number;
}

/** What one layer is: how its mixer works and which RoPE it uses. */
export interface LayerConfig {
  /** `attention`, or `shortconv` (lfm2's gated short convolution: no KV cache, a small state instead). */
  readonly kind: "attention" | "shortconv";
  /** KV heads of this layer (0 for a short-convolution layer). */
  readonly nKvHeads: number;
  /** nKvHeads * headDim: one position's K (or V) row in this layer's cache. */
  readonly kvDim: number;
  /** Index into ModelConfig.ropes, or -1: this layer applies no RoPE (smollm3's every fourth layer). */
  readonly rope: number;
  /** Sliding window: a position sees itself and the window-1 before it; 0 = every earlier position. */
  readonly window: number;
}

export interface ModelConfig extends Required<Omit<ArchTraits, "layer" | "swaRopeBase" | "swaRopeScale">> {
  readonly arch: Architecture;
  readonly name: string;
  readonly dim: number;
  readonly hiddenDim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  /** The most KV heads of any layer. */
  readonly nKvHeads: number;
  /** `attention.key_length`, default dim / nHeads (qwen3 and gemma set it apart). */
  readonly headDim: number;
  /** nHeads * headDim: the width of Q and of the attention output. */
  readonly qDim: number;
  /** The widest K (or V) row of any layer: nKvHeads * headDim. */
  readonly kvDim: number;
  readonly nVocab: number;
  /** Context length the model was trained for (`context_length`). */
  readonly nCtxTrain: number;
  /** Context the RoPE was trained at before extension (`rope.scaling.original_context_length`). */
  readonly nCtxOrig: number;
  readonly normEps: number;
  /** The RoPE variants the layers use (one, or a global and a window one). */
  readonly ropes: readonly RopeConfig[];
  readonly layers: readonly LayerConfig[];
  /** The largest sliding window of any layer, 0 when every layer sees the whole context. */
  readonly window: number;
  /** How the file says its hidden states become one embedding (`<arch>.pooling_type`; absent: "none"). */
  readonly pooling: Pooling;
  /** Attention sees only earlier positions (`<arch>.attention.causal`, default true; bert: false). */
  readonly causal: boolean;
  /** Outputs of a classifier (rank) head: `<arch>.classifier.output_labels`' length, default 1. */
  readonly classifierOutputs: number;
}

/** llama.cpp's pooling types, in the order of their `pooling_type` numbers 0..4. */
export const POOLINGS = ["none", "mean", "cls", "last", "rank"] as const;
export type Pooling = (typeof POOLINGS)[number];

/** Read the hyper-parameters of a supported architecture, refusing anything else by name. */
export function configFromGguf(file: GgufFile): ModelConfig {
  const arch = file.getString("general.architecture");
  if (!Object.hasOwn(ARCHS, arch)) {
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
  const nLayers = positive("block_count", file.getU32(key("block_count")));
  // Real models have up to ~130 layers; a count far past that is a corrupt file, refused before any
  // per-layer array is built for it.
  if (nLayers > MAX_LAYERS) throw new LoadError("bad_hyperparameter", `${key("block_count")} is ${nLayers}; Woolly reads at most ${MAX_LAYERS} layers`);
  const nHeads = positive("attention.head_count", file.getU32(key("attention.head_count")));
  const kvHeads = perLayer(file, key("attention.head_count_kv"), nLayers, nHeads);
  const headDim = positive("attention.key_length", file.getU32(key("attention.key_length"), dim / nHeads));
  const valueLength = file.getU32(key("attention.value_length"), headDim);
  if (valueLength !== headDim) {
    throw new LoadError("bad_hyperparameter", `${key("attention.value_length")} ${valueLength} differs from ${key("attention.key_length")} ${headDim}; Woolly needs them equal`);
  }
  const ropeDim = positive("rope.dimension_count", file.getU32(key("rope.dimension_count"), headDim));
  if (ropeDim > headDim || ropeDim % 2 !== 0) throw new LoadError("bad_hyperparameter", `${key("rope.dimension_count")} ${ropeDim} must be even and at most the head size ${headDim}`);
  const scalingType = file.getString(key("rope.scaling.type"), "none");
  let freqScale = 1;
  if (scalingType === "linear") {
    const factor = file.getF32(key("rope.scaling.factor"), 1);
    if (!(factor > 0)) throw new LoadError("bad_hyperparameter", `${key("rope.scaling.factor")} is ${factor}; it must be > 0`);
    freqScale = Math.fround(1 / factor);
  } else if (scalingType !== "none") {
    throw new LoadError("bad_hyperparameter", `${key("rope.scaling.type")} "${scalingType}" is not supported (linear and none are; Llama-3 scaling comes from the rope_freqs tensor, LongRoPE from rope_factors_long/short)`);
  }
  const tokens = file.get("tokenizer.ggml.tokens");
  const nVocab = file.getU32(key("vocab_size"), tokens?.type === 9 ? tokens.value.items.length : 0);
  positive("vocab_size", nVocab);
  const nCtxTrain = positive("context_length", file.getU32(key("context_length"), 4096));

  const h: ArchHparams = {
    key,
    file,
    dim,
    nLayers,
    nHeads,
    headDim,
    kvHeads,
    u32: (k, fallback) => file.getU32(key(k), fallback),
    f32: (k, fallback) => file.getF32(key(k), fallback),
  };
  const t = ARCHS[a](h);
  const base = file.getF32(key("rope.freq_base"), 10000);
  const neox = t.ropeNeox ?? false;
  const attnFactor = Math.fround(file.getF32(key("rope.scaling.attn_factor"), 1));
  const ropes: RopeConfig[] = [{ dim: ropeDim, base, freqScale, neox, attnFactor }];
  const swaRope = t.swaRopeBase !== undefined || t.swaRopeScale !== undefined;
  if (swaRope) ropes.push({ dim: ropeDim, base: t.swaRopeBase ?? base, freqScale: t.swaRopeScale ?? freqScale, neox, attnFactor });
  const layers: LayerConfig[] = [];
  for (let l = 0; l < nLayers; l++) {
    const d = t.layer?.(l) ?? {};
    const nKv = kvHeads[l];
    if (nKv > 0 && nHeads % nKv !== 0) {
      throw new LoadError("bad_hyperparameter", `${key("attention.head_count")} ${nHeads} is not a multiple of ${key("attention.head_count_kv")} ${nKv} (layer ${l})`);
    }
    const kind = nKv === 0 ? "shortconv" : "attention";
    if (kind === "shortconv" && t.shortConvKernel === 0) {
      throw new LoadError("bad_hyperparameter", `${key("attention.head_count_kv")} is 0 for layer ${l}, but a ${a} model has no layers without attention`);
    }
    const window = d.window ?? 0;
    layers.push({
      kind,
      nKvHeads: nKv,
      kvDim: nKv * headDim,
      rope: d.noRope ? -1 : window > 0 && swaRope ? 1 : 0,
      window,
    });
  }
  const nKvHeads = Math.max(...kvHeads);
  return {
    arch: a,
    name: file.getString("general.name", a),
    dim,
    hiddenDim: positive("feed_forward_length", file.getU32(key("feed_forward_length"))),
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    qDim: nHeads * headDim,
    kvDim: nKvHeads * headDim,
    nVocab,
    nCtxTrain,
    nCtxOrig: file.getU32(key("rope.scaling.original_context_length"), nCtxTrain),
    // RMSNorm models give layer_norm_rms_epsilon, LayerNorm ones (bert) layer_norm_epsilon.
    normEps: file.getF32(key("attention.layer_norm_rms_epsilon"), file.getF32(key("attention.layer_norm_epsilon"), 1e-5)),
    ropes,
    layers,
    window: Math.max(0, ...layers.map((l) => l.window)),
    ropeNeox: neox,
    qkvBias: t.qkvBias ?? false,
    qkNorm: t.qkNorm ?? "none",
    preNorms: t.preNorms ?? true,
    postNorms: t.postNorms ?? false,
    activation: t.activation ?? "silu",
    embeddingScale: t.embeddingScale ?? 1,
    residualScale: t.residualScale ?? 1,
    attentionScale: t.attentionScale ?? Math.fround(1 / Math.sqrt(headDim)),
    queryScale: t.queryScale ?? 1,
    logitScale: t.logitScale ?? 1,
    attnSoftcap: t.attnSoftcap ?? 0,
    finalSoftcap: t.finalSoftcap ?? 0,
    outputNorm: t.outputNorm ?? "output_norm",
    shortConvKernel: t.shortConvKernel ?? 0,
    ropeFactors: t.ropeFactors ?? "rope_freqs",
    encoder: t.encoder ?? false,
    encoderRope: t.encoderRope ?? false,
    pooling: poolingOf(file, key("pooling_type")),
    causal: file.getBool(key("attention.causal"), true),
    classifierOutputs: Math.max(1, file.getStringArray(key("classifier.output_labels"), []).length),
  };
}

function poolingOf(file: GgufFile, key: string): Pooling {
  const n = file.getU32(key, 0);
  const p = POOLINGS[n];
  if (p === undefined) throw new LoadError("bad_hyperparameter", `${key} is ${n}; llama.cpp's pooling types are 0..4 (${POOLINGS.join(", ")})`);
  return p;
}

/** A per-layer count stored as one integer or as an array with an entry per layer. */
function perLayer(file: GgufFile, key: string, nLayers: number, fallback: number): number[] {
  const v = file.get(key);
  if (v === undefined) return new Array<number>(nLayers).fill(fallback);
  if (v.type !== 9) return new Array<number>(nLayers).fill(file.getU32(key));
  const items = file.getI32Array(key);
  if (items.length !== nLayers) throw new LoadError("bad_hyperparameter", `${key} has ${items.length} entries; the model has ${nLayers} layers`);
  return Array.from(items, (n, l) => {
    if (n < 0) throw new LoadError("bad_hyperparameter", `${key}[${l}] is ${n}; it must be >= 0`);
    return n;
  });
}
