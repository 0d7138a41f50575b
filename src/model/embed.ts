// Embeddings: one vector per input, pooled from the final hidden states, L2-normalised by default.
// An encoder (bert) runs each input in one bidirectional pass (src/model/encoder.ts); a decoder runs
// its forward pass in batches and pools its final-normed hidden states (llama.cpp's t_embd, what
// `--embeddings` pools for a decoder).
import { ModelError, ParameterError } from "../errors.js";
import { checkTokens } from "../generate/generate.js";
import type { SequenceState } from "../generate/sequence.js";
import type { Tokenizer } from "../tokenizer/index.js";
import type { Engine } from "../wasm/engine.js";
import type { ModelConfig, Pooling } from "./config.js";
import type { Encoder } from "./encoder.js";
import type { Transformer } from "./forward.js";

/** How token vectors become one: the mean, the first token's ([CLS]), or the last token's. */
export type EmbedPooling = "mean" | "cls" | "last";
const EMBED_POOLINGS: readonly EmbedPooling[] = ["mean", "cls", "last"];

export interface EmbedOptions {
  /** Divide each vector by its L2 norm, as llama.cpp's server does (embd_normalize 2). Default true. */
  normalize?: boolean;
  /**
   * Default: the file's `pooling_type` when it is mean, cls or last; otherwise mean for an encoder and
   * last for a decoder (only a causal model's last token has seen the whole input).
   */
  pooling?: EmbedPooling;
}

/** One input: text (tokenized with the model's special tokens, as llama.cpp's server does) or token ids. */
export type EmbedInput = string | readonly number[];

/** The parts of a model embedding needs. */
export interface EmbedParts {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly engine: Engine;
  readonly encoder: Encoder | null;
  readonly net: Transformer | null;
  readonly sequence: SequenceState;
}

/** The inputs of embed(texts): a string, a token array, or an array of either. */
export function embedInputs(texts: EmbedInput | readonly EmbedInput[]): EmbedInput[] {
  if (typeof texts === "string") return [texts];
  if (texts.length > 0 && texts.every((t) => typeof t === "number")) return [texts as readonly number[]];
  return [...(texts as readonly EmbedInput[])];
}

export function defaultPooling(c: ModelConfig): EmbedPooling {
  const p: Pooling = c.pooling;
  if (p === "mean" || p === "cls" || p === "last") return p;
  return c.encoder ? "mean" : "last";
}

/** Token ids of one input, checked: in the vocabulary, non-empty, within what one pass holds. */
export function inputIds(parts: EmbedParts, input: EmbedInput): number[] {
  const ids = typeof input === "string" ? parts.tokenizer.tokenize(input, { addSpecial: true, parseSpecial: true }) : [...input];
  checkTokens(ids, parts.config.nVocab);
  if (ids.length === 0) throw new ModelError("bad_token", "an input is empty: give at least one token");
  const limit = parts.encoder ? parts.encoder.nCtx : (parts.net as Transformer).nCtx;
  if (ids.length > limit) throw new ModelError("context_overflow", `an input has ${ids.length} tokens; the model takes at most ${limit} in one pass`);
  return ids;
}

/**
 * A query and a document as one reranker input, as llama.cpp's server forms it (format_prompt_rerank):
 * the file's `tokenizer.chat_template.rerank` with {query} and {document} replaced when it has one; else
 * [BOS] query [EOS] [SEP] document [EOS], each special where the vocabulary adds it (BERT: [CLS] query
 * [SEP] document), EOS falling back to SEP.
 */
export function rerankIds(tokenizer: Tokenizer, template: string | undefined, query: string, doc: string): number[] {
  if (template !== undefined) {
    const prompt = template.split("{query}").join(query).split("{document}").join(doc);
    return tokenizer.tokenize(prompt, { addSpecial: false, parseSpecial: true });
  }
  const plain = (t: string) => tokenizer.tokenize(t, { addSpecial: false, parseSpecial: false });
  const eos = tokenizer.eos ?? tokenizer.sep;
  const ids: number[] = [];
  if (tokenizer.addBos && tokenizer.bos !== undefined) ids.push(tokenizer.bos);
  ids.push(...plain(query));
  if (tokenizer.addEos && eos !== undefined) ids.push(eos);
  if (tokenizer.addSep && tokenizer.sep !== undefined) ids.push(tokenizer.sep);
  ids.push(...plain(doc));
  if (tokenizer.addEos && eos !== undefined) ids.push(eos);
  return ids;
}

/** The (T, dim) final hidden states of one input, copied out of the engine's memory. */
export function hiddenStates(parts: EmbedParts, ids: readonly number[]): Float32Array {
  const dim = parts.config.dim;
  const out = new Float32Array(ids.length * dim);
  if (parts.encoder) {
    const p = parts.encoder.encode(ids);
    out.set(parts.engine.f32().subarray(p >> 2, (p >> 2) + ids.length * dim));
    return out;
  }
  const net = parts.net as Transformer;
  // The KV cache is overwritten: the next generation must not reuse what it held.
  parts.sequence.truncate(0);
  for (let at = 0; at < ids.length; at += net.batch) {
    const chunk = ids.slice(at, at + net.batch);
    const p = net.forward(chunk, at, "hidden");
    out.set(parts.engine.f32().subarray(p >> 2, (p >> 2) + chunk.length * dim), at * dim);
  }
  return out;
}

/** One pooled (and by default normalised) vector per input. */
export function embed(parts: EmbedParts, texts: EmbedInput | readonly EmbedInput[], options: EmbedOptions = {}): Float32Array[] {
  const pooling = options.pooling ?? defaultPooling(parts.config);
  if (!EMBED_POOLINGS.includes(pooling)) throw new ParameterError("pooling", EMBED_POOLINGS.join(", "), pooling);
  const normalize = options.normalize ?? true;
  if (typeof normalize !== "boolean") throw new ParameterError("normalize", "true or false", normalize);
  const inputs = embedInputs(texts).map((t) => inputIds(parts, t));
  const dim = parts.config.dim;
  return inputs.map((ids) => {
    let v: Float32Array;
    if (parts.encoder) {
      parts.encoder.encode(ids);
      const p = parts.encoder.pool(ids.length, pooling);
      v = parts.engine.f32().slice(p >> 2, (p >> 2) + dim);
    } else {
      v = poolRows(hiddenStates(parts, ids), ids.length, dim, pooling);
    }
    return normalize ? l2Normalize(v) : v;
  });
}

/**
 * Pool T rows of `h` (T, dim) in JavaScript, in the order of the encoder's kernel (pool_mean: llama.cpp's
 * ggml_vec_dot_f32 per dimension, with fused multiply-adds).
 */
export function poolRows(h: Float32Array, T: number, dim: number, pooling: EmbedPooling): Float32Array {
  if (pooling !== "mean") {
    const t = pooling === "cls" ? 0 : T - 1;
    return h.slice(t * dim, (t + 1) * dim);
  }
  const f = Math.fround;
  const w = f(1 / T);
  const out = new Float32Array(dim);
  const steps = T >> 5;
  const lanes = new Float32Array(32);
  for (let d = 0; d < dim; d++) {
    let r = 0;
    if (steps > 0) {
      lanes.fill(0);
      for (let j = 0; j < steps; j++) for (let l = 0; l < 32; l++) lanes[l] = fmaf(h[((j << 5) + l) * dim + d], w, lanes[l]);
      // GGML_F32x8_REDUCE: registers 0+2, 1+3, then 0+1; then the 8 lanes as lo + hi and two hadds.
      const x = (l: number) => f(f(lanes[l] + lanes[16 + l]) + f(lanes[8 + l] + lanes[24 + l]));
      const t = (p: number) => f(x(p) + x(4 + p));
      r = f(f(t(0) + t(1)) + f(t(2) + t(3)));
    }
    for (let i = steps << 5; i < T; i++) r = fmaf(h[i * dim + d], w, r);
    out[d] = r;
  }
  return out;
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/**
 * The f32 fused multiply-add a*b + c rounded once, as assembly/ops/math.ts fmaS computes it: the product is
 * exact in f64, the f64 sum is rounded to odd (its error recovered by TwoSum), then rounded to f32.
 */
function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  if (err === 0 || !Number.isFinite(s)) return Math.fround(s);
  f64[0] = s;
  if ((u64[0] & 1n) === 0n) u64[0] += err > 0 === s > 0 ? 1n : -1n;
  return Math.fround(f64[0]);
}

/** v / |v|₂ as llama.cpp's common_embd_normalize: squares summed in f64, one f32 factor 1/√sum. */
export function l2Normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += Math.fround(v[i] * v[i]);
  const norm = sum > 0 ? Math.fround(1 / Math.sqrt(sum)) : 0;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * norm;
  return out;
}
