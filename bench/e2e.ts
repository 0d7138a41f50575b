// `woolly-bench e2e`: prefill and decode tokens/s of whole models through the public API, on
// synthesized TinyLlama-shaped models (no download) or any GGUF file given.
import { statSync } from "node:fs";
import { loadModelFile } from "../src/model/load-node.js";
import type { Model } from "../src/model/model.js";
import type { SimdFlavour } from "../src/wasm/features.js";
import type { KvType } from "../src/model/kv-cache.js";
import { median } from "./stats.js";

export interface E2eResult {
  readonly bench: "e2e";
  readonly model: string;
  readonly weights: string;
  readonly threads: number;
  readonly simd: string;
  readonly phase: "prefill" | "decode";
  readonly tokens: number;
  readonly tokensPerS: number;
  /** WebAssembly memory of the loaded model, and the process's peak resident set so far (its high-water mark). */
  readonly wasmMemoryBytes: number;
  readonly peakRssBytes: number;
  /** How many WebAssembly memories the model is split over (1 below 4 GiB). */
  readonly memories: number;
  /** Seconds loadModelFile took, and the model file's size. */
  readonly loadSeconds: number;
  readonly fileBytes: number;
  /** The KV cache's format and the bytes its keys and values take (for the context the bench loads). */
  readonly kvType: KvType;
  readonly kvCacheBytes: number;
  /** Decode: the prompt length the tokens were decoded after (the context they attend to). */
  readonly context: number;
}

export interface E2eOptions {
  readonly prefillLengths: readonly number[];
  readonly decodeTokens: number;
  readonly runs: number;
  readonly simd: "auto" | SimdFlavour;
  /** Threads to load the model with (default: the library's default, the machine's cores). */
  readonly threads?: number;
  /** KV cache format (default f16). */
  readonly kvType?: KvType;
  /**
   * Decode after a prompt of this many tokens (default 16, a new prompt each run). Longer: the same prompt
   * every run (the cache keeps it, so only the first run computes it), to time decode at long context.
   */
  readonly decodeAfter?: number;
}

class E2eCheckError extends Error {}

/** Prompt ids that share no prefix across runs (so the KV cache is never reused between them). */
function prompt(model: Model, length: number, run: number): number[] {
  const n = model.config.nVocab;
  const ids = [model.tokenizer.bos ?? 1];
  for (let i = 1; i < length; i++) ids.push(259 + ((run * 7919 + i * 104729) % (n - 259)));
  ids[1] = 259 + ((run * 31 + 17) % (n - 259));
  return ids;
}

/** The process's resident-set high-water mark (getrusage's ru_maxrss, KiB on Linux), not a sample: it catches the peak of loading. */
function rss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export async function* benchModel(path: string, label: string, weights: string, o: E2eOptions): AsyncGenerator<E2eResult> {
  const started = performance.now();
  const decodeAfter = o.decodeAfter ?? 16;
  const contextLength = Math.max(...o.prefillLengths, decodeAfter) + o.decodeTokens + 8;
  const model = await loadModelFile(path, { contextLength, simd: o.simd, threads: o.threads, kvType: o.kvType });
  const loadSeconds = (performance.now() - started) / 1000;
  try {
    // Check first: the logits of a short prompt are finite, and greedy decoding is deterministic.
    const ids = prompt(model, 8, 999);
    const logits = await model.logits(ids);
    if (!logits.every((row) => row.every(Number.isFinite))) throw new E2eCheckError(`${label}: non-finite logits`);
    const a = await model.complete(ids, { temperature: 0, maxTokens: 8, ignoreEos: true });
    const b = await model.complete(prompt(model, 8, 998), { temperature: 0, maxTokens: 2, ignoreEos: true });
    const c = await model.complete(ids, { temperature: 0, maxTokens: 8, ignoreEos: true });
    if (b.tokens.length !== 2 || a.tokens.join() !== c.tokens.join()) throw new E2eCheckError(`${label}: greedy decoding is not deterministic`);

    const base = {
      bench: "e2e" as const, model: label, weights, threads: model.threads, simd: model.simd,
      memories: model.memories, loadSeconds, fileBytes: statSync(path).size, kvType: model.kvType, kvCacheBytes: model.kvCacheBytes,
    };
    for (const len of o.prefillLengths) {
      const speeds: number[] = [];
      for (let r = 0; r < o.runs; r++) {
        // Seeds apart per length: with --runs 1 the 512-token prompt otherwise began with the 64-token one.
        const res = await model.complete(prompt(model, len, len * 1000 + r), { temperature: 0, maxTokens: 1, ignoreEos: true });
        // Every prompt starts with BOS, which the cache always shares; anything more is a reuse.
        if (res.cachedTokens > 1) throw new E2eCheckError(`${label}: prompt ${r} reused the cache`);
        speeds.push(res.timings.prefillTokensPerSecond);
      }
      yield { ...base, phase: "prefill", tokens: len, tokensPerS: median(speeds), wasmMemoryBytes: model.memoryBytes, peakRssBytes: rss(), context: 0 };
    }
    const speeds: number[] = [];
    for (let r = 0; r < o.runs; r++) {
      const ids = o.decodeAfter === undefined ? prompt(model, 16, 100 + r) : prompt(model, decodeAfter, 100);
      const res = await model.complete(ids, { temperature: 0, maxTokens: o.decodeTokens, ignoreEos: true });
      speeds.push(res.timings.decodeTokensPerSecond);
    }
    yield {
      ...base, phase: "decode", tokens: o.decodeTokens, tokensPerS: median(speeds), wasmMemoryBytes: model.memoryBytes, peakRssBytes: rss(), context: decodeAfter,
    };
  } finally {
    model.dispose();
  }
}

export { E2eCheckError };
