// Loading a model: parse the GGUF header, check everything that can be checked before a byte of
// weights is read (architecture, tensor names, shapes and types, the memory it all needs), then
// stream each tensor from the source straight into the arena. Nothing holds the whole file.
import { LoadError, ParameterError, WasmError } from "../errors.js";
import { blobSource, bytesSource, readGguf, readRangeInto, urlSource, type GgufSource } from "../gguf/source.js";
import type { GgufFile, GgufTensorInfo } from "../gguf/index.js";
import { openRemoteModel, type RemoteModelOptions } from "../download/cache.js";
import { assertNotLonePart, blobsSource, splitUrlSource } from "../gguf/split.js";
import { ggmlType, GgmlType, type GgmlTypeInfo } from "../quant/types.js";
import { Tokenizer } from "../tokenizer/index.js";
import { createEngine, formatBytes, MAX_PAGES, PAGE_BYTES, sharedMemoryUnavailable, type Engine, type EngineOptions } from "../wasm/engine.js";
import { defaultThreads, MAX_THREADS, SCRATCH_BYTES } from "../wasm/pool.js";
import { configFromGguf, type ModelConfig } from "./config.js";
import { DEFAULT_MIN_PARALLEL_BYTES, startThreads } from "./exec.js";
import { Encoder, encoderTensors, encoderWeights } from "./encoder.js";
import { Transformer } from "./forward.js";
import { KV_TYPES, KvCache, type KvType } from "./kv-cache.js";
import { machineMemoryBytes, planShards, tensorGroup, type ShardPlan, type SizedTensor } from "./shards.js";
import { Model } from "./model.js";
import type { AttentionWeights, LayerWeights, ModelWeights, ShortConvWeights, WeightMatrix } from "./weights.js";

/**
 * Where a model comes from: bytes, a Blob/File, a URL (read with HTTP Range requests), or any
 * GgufSource. A split set (`name-00001-of-00003.gguf`): its first URL (the others are derived), or
 * every part as Blobs/Files in any order.
 */
export type ModelSource = Uint8Array | ArrayBuffer | Blob | readonly Blob[] | URL | string | GgufSource;

export interface LoadOptions extends Omit<EngineOptions, "shared">, RemoteModelOptions {
  /**
   * Threads running the kernels, the calling thread included (default: the machine's logical cores,
   * at most 64). Integer in [1, 64]; 1 runs everything on the calling thread. Where shared memory is
   * unavailable (a page without COOP/COEP) the model runs on one thread: `model.threadFallback` says why.
   */
  threads?: number;
  /** KV cache positions (default: the smaller of the model's context length and 4096). Integer in [1, 1048576]. */
  contextLength?: number;
  /** Prompt tokens computed per forward pass (default 64). Integer in [1, 4096]. */
  batchSize?: number;
  /**
   * How the KV cache stores keys and values: "f16" (default), or "q8_0", 8-bit blocks as llama.cpp's
   * `--cache-type-k/-v q8_0`: 34 bytes per 32 values, 53% of the f16 cache, for long contexts. Attention over
   * it computes as llama.cpp's CPU flash attention does for a q8_0 cache; logits move by about the noise
   * of 8-bit keys and values (README: "An 8-bit KV cache"). "q8_0" needs a head size that is a multiple of 32.
   * No effect on an embedding encoder (bert), which keeps no cache.
   */
  kvType?: KvType;
  /** Called as tensor bytes arrive. */
  onProgress?: (progress: { loadedBytes: number; totalBytes: number }) => void;
  /** Aborts the load; everything it took is released. */
  signal?: AbortSignal;
}

/**
 * Load options for tests and benchmarks, not part of the public API: pass an object of this type
 * where LoadOptions is asked for (loadModel, loadModelFile).
 */
export interface InternalLoadOptions extends LoadOptions {
  /** Jobs smaller than this many bytes run on the calling thread (DEFAULT_MIN_PARALLEL_BYTES in exec.ts). */
  minParallelBytes?: number;
  /** The smallest chunk of a job a thread claims (DEFAULT_MIN_CHUNK_BYTES in pool.ts; tests use 0). */
  minChunkBytes?: number;
  /** ms without progress before a worker holding a chunk is taken as dead (DEFAULT_STALL_MS in pool.ts). */
  stallMs?: number;
  /**
   * Arena bytes one WebAssembly memory may hold (default: all of it, 4 GiB less the static area), so
   * tests can make a small model split over several memories as a model past 4 GiB does.
   */
  maxMemoryBytes?: number;
}

const ARENA_BASE = 0x20000;
const ALIGN = 64;
const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

export function toSource(source: ModelSource): GgufSource {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return bytesSource(source);
  if (isBlobList(source)) return blobsSource(source, blobSource);
  if (source instanceof URL || typeof source === "string") return splitUrlSource(String(source), (u) => urlSource(u)) ?? urlSource(source);
  if (isGgufSource(source)) return source;
  return blobSource(source);
}

// Array.isArray does not narrow a readonly array type.
function isBlobList(s: ModelSource): s is readonly Blob[] {
  return Array.isArray(s);
}

function isGgufSource(s: Blob | readonly Blob[] | GgufSource): s is GgufSource {
  return typeof (s as Partial<GgufSource>).read === "function";
}

function integerIn(name: string, v: number | undefined, lo: number, hi: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw new ParameterError(name, `an integer in [${lo}, ${hi}]`, v);
  return v;
}

/** Load a GGUF model from `source`. */
export async function loadModel(source: ModelSource, options: LoadOptions = {}): Promise<Model> {
  // URLs and hf: references go through src/download: the cache when asked for, fetch and headers.
  const src = typeof source === "string" || source instanceof URL ? await openRemoteModel(String(source), options) : toSource(source);
  try {
    return await loadFrom(src, options);
  } finally {
    await src.close?.();
  }
}

async function loadFrom(src: GgufSource, options: InternalLoadOptions): Promise<Model> {
  const { signal } = options;
  const file = await readGguf(src, { signal });
  assertNotLonePart(file);
  const config = configFromGguf(file);
  const tokenizer = Tokenizer.fromGguf(file);
  const nCtx = integerIn("contextLength", options.contextLength, 1, 1 << 20, Math.min(config.nCtxTrain, 4096));
  const batch = integerIn("batchSize", options.batchSize, 1, 4096, Math.min(64, nCtx));
  const kvType = kvTypeFor(config, options.kvType);
  const plan = planTensors(file, config);
  const threads = options.threads === undefined ? await defaultThreads() : integerIn("threads", options.threads, 1, MAX_THREADS, 1);
  const noSharedMemory = threads > 1 ? sharedMemoryUnavailable() : null;
  const minParallelBytes = integerIn("minParallelBytes", options.minParallelBytes, 0, Number.MAX_SAFE_INTEGER, DEFAULT_MIN_PARALLEL_BYTES);
  const limit = MAX_PAGES * PAGE_BYTES - ARENA_BASE;
  const budget = integerIn("maxMemoryBytes", options.maxMemoryBytes, 1 << 16, limit, limit);
  // Everything the model needs, planned over memories of at most `budget` bytes before anything is allocated.
  // A thread pool keeps its workers' private output buffers in every memory (pool.ts SCRATCH_BYTES).
  const poolBytes = threads > 1 && noSharedMemory === null ? threads * SCRATCH_BYTES : 0;
  const shards = planMemories(config, plan, budget, nCtx, batch, poolBytes, kvType);
  const total = shards.bytes.reduce((a, b) => a + b, 0);
  const machine = await machineMemoryBytes();
  if (machine !== null && total > machine) {
    throw new WasmError(
      "out_of_memory",
      `the model needs ${formatBytes(total)} for its weights, a ${nCtx}-position KV cache and scratch buffers (${shards.bytes.length} WebAssembly memories), ` +
        `more than this machine's ${formatBytes(machine)} of RAM; try a smaller contextLength or a smaller quantization`,
    );
  }
  const engines: Engine[] = [];
  const shared = threads > 1 && noSharedMemory === null;
  for (let s = 0; s < shards.bytes.length; s++) engines.push(createEngine({ simd: options.simd, shared }));

  // Workers start while the weights stream in (~25 ms each on Node 20, measured); a failed load
  // ends them.
  const starting = startThreads(engines, threads, noSharedMemory, { minParallelBytes, minChunkBytes: options.minChunkBytes, stallMs: options.stallMs });
  let net: Transformer | Encoder;
  try {
    // Allocate, then stream tensor bytes in file order straight into their memory's arena: nothing
    // is held twice (the source reads each range into the arena itself).
    const ptrs = new Map<string, number>();
    const engineOf = (name: string) => engines[shards.tensorShard.get(name) ?? 0];
    for (const p of plan) ptrs.set(p.info.name, engineOf(p.info.name).alloc(p.info.size, `tensor ${p.info.name}`));
    const totalBytes = plan.reduce((s, p) => s + p.info.size, 0);
    let loadedBytes = 0;
    for (const p of [...plan].sort((a, b) => a.info.offset - b.info.offset)) {
      if (signal?.aborted) throw new LoadError("aborted", "loading was aborted", { cause: signal.reason });
      const ptr = ptrs.get(p.info.name) as number;
      await readRangeInto(src, file.tensorStart(p.info), engineOf(p.info.name).u8().subarray(ptr, ptr + p.info.size), signal);
      loadedBytes += p.info.size;
      options.onProgress?.({ loadedBytes, totalBytes });
    }
    // Vectors (norms, biases) are read as f32; convert the rare file that stores them otherwise.
    for (const p of plan) {
      if (!p.toF32) continue;
      const engine = engineOf(p.info.name);
      const dst = engine.alloc(p.elements * 4, `tensor ${p.info.name} as f32`);
      engine.kernels.dequant_row(p.info.type, ptrs.get(p.info.name) as number, dst, p.elements);
      ptrs.set(p.info.name, dst);
    }
    const threading = await starting;
    if (config.encoder) {
      const { mat, vec } = placer(file, ptrs);
      net = new Encoder(engines[0], config, encoderWeights(config, mat, vec, (name) => ptrs.has(name)), threading.executor, nCtx);
    } else {
      const layout = { shards: engines.map((engine, s) => ({ engine, exec: threading.executors[s] })), layerShard: shards.layerShard, outputShard: shards.outputShard };
      net = new Transformer(layout, config, placeWeights(file, config, engines[0], ptrs, nCtx), nCtx, batch, kvType);
    }
  } catch (e) {
    void starting.then((t) => t.end());
    throw e;
  }
  return new Model(file, config, tokenizer, engines, net, await starting);
}

/**
 * How a model would be laid out over memories of `budget` bytes (for tests: which budget splits a small
 * model in two or three). Throws as loading would for what cannot fit.
 */
export function planModelMemories(file: GgufFile, budget: number, nCtx: number, batch: number, poolBytes = 0, kvType: KvType = "f16"): ShardPlan {
  const config = configFromGguf(file);
  return planMemories(config, planTensors(file, config), budget, nCtx, batch, poolBytes, kvType);
}

/**
 * The KV cache type asked for (default f16), checked: one of KV_TYPES, and q8_0 only where every head's
 * keys and values split into whole 32-value blocks (headDim % 32 == 0).
 */
function kvTypeFor(config: ModelConfig, kvType: KvType | undefined): KvType {
  if (kvType === undefined) return "f16";
  if (!KV_TYPES.includes(kvType)) throw new ParameterError("kvType", KV_TYPES.map((t) => JSON.stringify(t)).join(" or "), kvType);
  if (kvType === "q8_0" && !config.encoder && config.headDim % 32 !== 0) {
    throw new ParameterError(
      "kvType",
      `"f16" for this model: "q8_0" stores blocks of 32 values and its head size (${config.arch}.attention.key_length, ` +
        `or embedding_length / head_count) is ${config.headDim}, not a multiple of 32`,
      kvType,
    );
  }
  return kvType;
}

/**
 * The memories the model needs: one for an encoder (which is never split: refused past one memory), else
 * planShards' layers-per-memory plan under `budget` bytes each.
 */
function planMemories(config: ModelConfig, plan: readonly TensorPlan[], budget: number, nCtx: number, batch: number, poolBytes: number, kvType: KvType = "f16"): ShardPlan {
  const bytesOf = (p: TensorPlan) => alignUp(p.info.size) + (p.toF32 ? alignUp(p.elements * 4) : 0);
  const limitText = budget === MAX_PAGES * PAGE_BYTES - ARENA_BASE ? "the 4 GiB one WebAssembly memory holds" : "the per-memory budget (maxMemoryBytes)";
  if (config.encoder) {
    const weightBytes = plan.reduce((s, p) => s + bytesOf(p), 0);
    const scratchBytes = Encoder.scratchBytes(config, nCtx) + poolBytes;
    if (weightBytes + scratchBytes > budget) {
      throw new WasmError(
        "out_of_memory",
        `the ${config.arch} encoder needs ${formatBytes(weightBytes)} of weights and ${formatBytes(scratchBytes)} of scratch buffers for ${nCtx} positions, ` +
          `${formatBytes(weightBytes + scratchBytes)} in all, more than ${limitText} (${formatBytes(budget)}), and an encoder is not split across memories; ` +
          `try a smaller contextLength or a smaller quantization`,
      );
    }
    return { layerShard: [], outputShard: 0, tensorShard: new Map(plan.map((p) => [p.info.name, 0])), bytes: [weightBytes + scratchBytes] };
  }
  const layers = config.layers.map((_, l) => ({ tensors: [] as SizedTensor[], kvBytes: KvCache.layerBytes(config, l, nCtx, batch, kvType) }));
  const head: SizedTensor[] = [];
  const tail: SizedTensor[] = [];
  for (const p of plan) {
    const t = { name: p.info.name, bytes: bytesOf(p) };
    const g = tensorGroup(t.name);
    if (g.kind === "layer") layers[g.layer].tensors.push(t);
    else (g.kind === "head" ? head : tail).push(t);
  }
  return planShards({
    budget,
    limitText,
    stageBytes: Transformer.stageBytes(config, nCtx, batch, kvType) + poolBytes,
    logitsBytes: Transformer.logitsBytes(config, batch),
    head,
    layers,
    tail,
    tiedOutput: plan.every((p) => p.info.name !== "output.weight"),
    nCtx,
  });
}

interface TensorPlan {
  readonly info: GgufTensorInfo;
  readonly elements: number;
  /** A 1-D tensor stored in another type than f32, converted after loading. */
  readonly toF32: boolean;
}

/** Check every tensor the architecture needs: present, right shape, a type Woolly computes. */
function planTensors(file: GgufFile, c: ModelConfig): TensorPlan[] {
  const plan: TensorPlan[] = [];
  const need = (name: string, dims: readonly number[], optional = false): boolean => {
    const info = file.tensor(name);
    if (!info) {
      if (optional) return false;
      throw new LoadError("missing_tensor", `tensor ${name} is missing from this ${c.arch} model`);
    }
    const type = typeOf(info);
    if (!type.supported) {
      throw new LoadError("unsupported_tensor_type", `tensor ${name} is ${type.name}, which Woolly does not support`);
    }
    const same = info.dims.length === dims.length && info.dims.every((d, i) => d === dims[i]);
    if (!same) {
      throw new LoadError("bad_shape", `tensor ${name} has shape [${info.dims.join(", ")}]; a ${c.arch} model with these hyper-parameters needs [${dims.join(", ")}]`);
    }
    if (dims.length === 2 && dims[0] % type.blockElements !== 0) {
      throw new LoadError("bad_shape", `tensor ${name}: rows of ${dims[0]} elements are not whole ${type.name} blocks of ${type.blockElements}`);
    }
    const elements = dims.reduce((a, b) => a * b, 1);
    // Norms, biases and lfm2's convolution taps are read as f32 by the ops.
    const readAsF32 = dims.length === 1 || name.endsWith("shortconv.conv.weight");
    plan.push({ info, elements, toF32: readAsF32 && type.id !== GgmlType.F32 });
    return true;
  };
  if (c.encoder) {
    for (const [name, dims, optional] of encoderTensors(c, (name) => file.tensor(name) !== undefined)) need(name, dims, optional);
    return plan;
  }
  need("token_embd.weight", [c.dim, c.nVocab]);
  need(`${c.outputNorm}.weight`, [c.dim]);
  need("output.weight", [c.dim, c.nVocab], true);
  const half = c.ropes[0].dim / 2;
  if (c.ropeFactors === "longrope") {
    need("rope_factors_long.weight", [half], true);
    need("rope_factors_short.weight", [half], true);
  } else {
    need("rope_freqs.weight", [half], true);
  }
  for (let l = 0; l < c.nLayers; l++) {
    const b = `blk.${l}.`;
    const L = c.layers[l];
    if (c.preNorms || L.kind === "shortconv") need(b + "attn_norm.weight", [c.dim]);
    if (L.kind === "attention") {
      const qkvRows = c.qDim + 2 * L.kvDim;
      if (!need(b + "attn_qkv.weight", [c.dim, qkvRows], true)) {
        need(b + "attn_q.weight", [c.dim, c.qDim]);
        need(b + "attn_k.weight", [c.dim, L.kvDim]);
        need(b + "attn_v.weight", [c.dim, L.kvDim]);
      }
      need(b + "attn_q.bias", [c.qDim], !c.qkvBias);
      need(b + "attn_k.bias", [L.kvDim], !c.qkvBias);
      need(b + "attn_v.bias", [L.kvDim], !c.qkvBias);
      if (c.qkNorm !== "none") {
        need(b + "attn_q_norm.weight", [c.qkNorm === "head" ? c.headDim : c.qDim]);
        need(b + "attn_k_norm.weight", [c.qkNorm === "head" ? c.headDim : L.kvDim]);
      }
      need(b + "attn_output.weight", [c.qDim, c.dim]);
    } else {
      need(b + "shortconv.in_proj.weight", [c.dim, 3 * c.dim]);
      need(b + "shortconv.conv.weight", [c.shortConvKernel, c.dim]);
      need(b + "shortconv.out_proj.weight", [c.dim, c.dim]);
    }
    if (c.postNorms) need(b + "post_attention_norm.weight", [c.dim]);
    if (c.preNorms) need(b + "ffn_norm.weight", [c.dim]);
    if (!need(b + "ffn_gate.weight", [c.dim, c.hiddenDim], true)) need(b + "ffn_up.weight", [c.dim, 2 * c.hiddenDim]);
    else need(b + "ffn_up.weight", [c.dim, c.hiddenDim]);
    need(b + "ffn_down.weight", [c.hiddenDim, c.dim]);
    if (c.postNorms) need(b + "post_ffw_norm.weight", [c.dim]);
  }
  return plan;
}

function typeOf(info: GgufTensorInfo): GgmlTypeInfo {
  const type = ggmlType(info.type);
  if (!type) throw new LoadError("unsupported_tensor_type", `tensor ${info.name} has unknown ggml type id ${info.type}`);
  return type;
}

/** Placed tensors by name: a vector's offset (0 when absent), a matrix's shape and type. */
function placer(file: GgufFile, ptrs: Map<string, number>): { vec: (name: string) => number; mat: (name: string) => WeightMatrix } {
  return {
    vec: (name) => ptrs.get(name) ?? 0,
    mat: (name) => {
      const info = file.tensor(name) as GgufTensorInfo;
      const type = typeOf(info);
      const [cols, rows] = info.dims;
      return { name, ptr: ptrs.get(name) as number, type, rows, cols, rowBytes: (cols / type.blockElements) * type.blockBytes };
    },
  };
}

function placeWeights(file: GgufFile, c: ModelConfig, engine: Engine, ptrs: Map<string, number>, nCtx: number): ModelWeights {
  const { vec, mat } = placer(file, ptrs);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const b = `blk.${l}.`;
    const has = (name: string) => ptrs.has(b + name);
    const mixer: AttentionWeights | ShortConvWeights =
      c.layers[l].kind === "attention"
        ? {
            kind: "attention",
            qkv: has("attn_qkv.weight") ? [mat(b + "attn_qkv.weight")] : [mat(b + "attn_q.weight"), mat(b + "attn_k.weight"), mat(b + "attn_v.weight")],
            bq: vec(b + "attn_q.bias"),
            bk: vec(b + "attn_k.bias"),
            bv: vec(b + "attn_v.bias"),
            qNorm: vec(b + "attn_q_norm.weight"),
            kNorm: vec(b + "attn_k_norm.weight"),
            wo: mat(b + "attn_output.weight"),
          }
        : {
            kind: "shortconv",
            inProj: mat(b + "shortconv.in_proj.weight"),
            conv: vec(b + "shortconv.conv.weight"),
            outProj: mat(b + "shortconv.out_proj.weight"),
          };
    layers.push({
      attnNorm: vec(b + "attn_norm.weight"),
      attnPostNorm: vec(b + "post_attention_norm.weight"),
      ffnNorm: vec(b + "ffn_norm.weight"),
      ffnPostNorm: vec(b + "post_ffw_norm.weight"),
      mixer,
      gateUp: has("ffn_gate.weight") ? [mat(b + "ffn_gate.weight"), mat(b + "ffn_up.weight")] : [mat(b + "ffn_up.weight")],
      wDown: mat(b + "ffn_down.weight"),
    });
  }
  const tokenEmbd = mat("token_embd.weight");
  // LongRoPE (phi3): the long factors once the context passes the original one, as llama.cpp chooses.
  const factorsName =
    c.ropeFactors === "longrope" ? (nCtx > c.nCtxOrig ? "rope_factors_long.weight" : "rope_factors_short.weight") : "rope_freqs.weight";
  const freqs = ptrs.get(factorsName);
  const half = c.ropes[0].dim / 2;
  return {
    tokenEmbd,
    outputNorm: vec(`${c.outputNorm}.weight`),
    output: file.tensor("output.weight") ? mat("output.weight") : tokenEmbd,
    layers,
    ropeFreqFactors: freqs === undefined ? null : engine.f32().slice(freqs >> 2, (freqs >> 2) + half),
  };
}
