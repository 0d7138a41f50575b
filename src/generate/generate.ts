// The generation loop, shaped like llama2.c's generate(): turn the prompt into token ids, prefill
// them (reusing the KV cache's common prefix), then sample, emit and decode one token at a time
// until something ends it, flush held-back text, and report timings. Model.generate() hands it the
// model's parts (a Runner); calls are serialized by Runner.acquire.
import { ModelError } from "../errors.js";
import { LogprobsRecorder, Sampler, type SampledLogprobs } from "../sampling/index.js";
import type { Tokenizer } from "../tokenizer/index.js";
import { createStreamDecoder } from "../tokenizer/decoder.js";
import { checkLogprobs, checkMaxTokens, type FinishReason, type GenerateOptions, type Generation, type GenerationResult } from "./options.js";
import type { SequenceState } from "./sequence.js";
import { StopMatcher } from "./stop.js";
import { constraintFor } from "./constrain.js";
import type { GrammarConstraint } from "../grammar/index.js";

/** How often (ms) a long generation returns to the event loop so I/O and timers run. */
const YIELD_EVERY_MS = 30;

/** The forward pass as the loop sees it (the Transformer). */
export interface ForwardPass {
  /** KV cache positions. */
  readonly nCtx: number;
  /** Most tokens one forward() call takes. */
  readonly batch: number;
  /** Compute `tokens` at positions pos0…; returns the byte offset of the logits (nVocab f32 per row). */
  forward(tokens: ArrayLike<number>, pos0: number, logitsFor: "last" | "all"): number;
}

/** The parts of a model the loop runs on. */
export interface Runner {
  readonly tokenizer: Tokenizer;
  readonly nVocab: number;
  readonly net: ForwardPass;
  /** The memory the logits are in; its buffer changes when it grows. */
  readonly memory: WebAssembly.Memory;
  readonly sequence: SequenceState;
  /** Wait until earlier calls finish; rejects with ModelError('disposed') once the model is gone. */
  acquire(): Promise<() => void>;
}

type Settle = { resolve: (r: GenerationResult) => void; reject: (e: unknown) => void };

/** Stream the continuation of `prompt` (text, or token ids used as they are). */
export function generate(r: Runner, prompt: string | readonly number[], options: GenerateOptions): Generation {
  let settle!: Settle;
  const result = new Promise<GenerationResult>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // A caller that only iterates must not see an unhandled rejection from `result`.
  result.catch(() => undefined);
  return {
    result,
    [Symbol.asyncIterator]() {
      return run(r, prompt, options, settle);
    },
  };
}

/** Throw ModelError('bad_token') unless every id is a token of the vocabulary. */
export function checkTokens(ids: readonly number[], nVocab: number): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= nVocab) {
      throw new ModelError("bad_token", `token ${i} is ${id}, not an id in [0, ${nVocab})`);
    }
  }
}

/**
 * Logits at every position of `tokens`, evaluated from an empty context (as llama.cpp's eval of a
 * prompt gives them): one Float32Array of nVocab per token. The caller holds the lock.
 */
export function evaluate(r: Runner, tokens: readonly number[]): Float32Array[] {
  checkTokens(tokens, r.nVocab);
  if (tokens.length > r.net.nCtx) {
    throw new ModelError("context_overflow", `${tokens.length} tokens do not fit the context of ${r.net.nCtx}`);
  }
  r.sequence.truncate(0);
  const out: Float32Array[] = [];
  const n = r.nVocab;
  for (let at = 0; at < tokens.length; at += r.net.batch) {
    const chunk = tokens.slice(at, at + r.net.batch);
    const ptr = r.net.forward(chunk, at, "all");
    const f = new Float32Array(r.memory.buffer);
    for (let t = 0; t < chunk.length; t++) out.push(f.slice((ptr >> 2) + t * n, (ptr >> 2) + (t + 1) * n));
    r.sequence.append(chunk);
  }
  return out;
}

/** The prompt's token ids, checked: non-empty, in the vocabulary, leaving room for one generated token. */
function promptIds(r: Runner, prompt: string | readonly number[], options: GenerateOptions): number[] {
  const ids =
    typeof prompt === "string"
      ? r.tokenizer.tokenize(prompt, { addSpecial: options.addSpecial ?? true, parseSpecial: options.parseSpecial ?? true })
      : [...prompt];
  checkTokens(ids, r.nVocab);
  if (ids.length === 0) throw new ModelError("bad_token", "the prompt is empty: give at least one token");
  if (ids.length >= r.net.nCtx) {
    throw new ModelError(
      "context_overflow",
      `the prompt has ${ids.length} tokens but the context holds ${r.net.nCtx}, which must leave room for at least one generated token`,
    );
  }
  return ids;
}

/**
 * Prefill: reuse what the sequence already holds of `ids`, compute the rest in batches. Returns how
 * many positions were reused and the offset of the last token's logits. Stops early on abort (the
 * decode loop then reports "aborted").
 */
function prefill(r: Runner, ids: readonly number[], signal: AbortSignal | undefined): { reused: number; logits: number } {
  const reused = r.sequence.reusable(ids, ids.length - 1);
  r.sequence.truncate(reused);
  let logits = 0;
  for (let at = reused; at < ids.length; at += r.net.batch) {
    if (signal?.aborted) break;
    const chunk = ids.slice(at, at + r.net.batch);
    logits = r.net.forward(chunk, at, "last");
    r.sequence.append(chunk);
  }
  return { reused, logits };
}

/** One decode step: compute `token` at the next position (through the reused one-token array). Returns its logits' offset. */
function decodeStep(r: Runner, one: Int32Array, token: number): number {
  one[0] = token;
  const logits = r.net.forward(one, r.sequence.length, "last");
  r.sequence.push(token);
  return logits;
}

/** A Float32Array over the logits, re-made only if the memory grew or the logits moved: not per token. */
class LogitsView {
  private view = new Float32Array(0);
  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly nVocab: number,
  ) {}

  at(ptr: number): Float32Array {
    // The logits of "last" are always at the same place; re-view only if the memory grew.
    if (this.view.buffer !== this.memory.buffer || this.view.byteOffset !== ptr) {
      this.view = new Float32Array(this.memory.buffer, ptr, this.nVocab);
    }
    return this.view;
  }
}

/** What a generation has produced so far. */
interface Produced {
  readonly tokens: number[];
  text: string;
  finish: FinishReason;
  /** Decode forward passes: the first token comes from the prefill's logits. */
  forwards: number;
  /** Per generated token, when asked for. */
  readonly logprobs: SampledLogprobs[] | null;
}

async function* run(r: Runner, prompt: string | readonly number[], options: GenerateOptions, settle: Settle): AsyncGenerator<string, void, undefined> {
  let release: () => void = () => undefined;
  try {
    const maxTokens = checkMaxTokens(options.maxTokens);
    const topLogprobs = checkLogprobs(options.logprobs);
    const stop = new StopMatcher(options.stop ?? []);
    const sampler = new Sampler(r.nVocab, options);
    const constraint = constraintFor(r.tokenizer, options);
    const ids = promptIds(r, prompt, options);
    release = await r.acquire();

    const t0 = performance.now();
    const { reused, logits } = prefill(r, ids, options.signal);
    for (const id of ids) sampler.accept(id);
    const t1 = performance.now();

    const out: Produced = { tokens: [], text: "", finish: "length", forwards: 0, logprobs: topLogprobs === undefined ? null : [] };
    const recorder = topLogprobs === undefined ? null : new LogprobsRecorder(r.nVocab, topLogprobs);
    yield* decode(r, logits, sampler, constraint, recorder, stop, maxTokens, options, out);
    const t2 = performance.now();

    const prefillTokens = ids.length - reused;
    settle.resolve({
      text: out.text,
      tokens: out.tokens,
      finishReason: out.finish,
      promptTokens: ids.length,
      cachedTokens: reused,
      ...(out.logprobs ? { logprobs: out.logprobs } : {}),
      timings: {
        prefillTokens,
        prefillMs: t1 - t0,
        prefillTokensPerSecond: prefillTokens / ((t1 - t0) / 1000),
        decodeTokens: out.forwards,
        decodeMs: t2 - t1,
        decodeTokensPerSecond: out.forwards / ((t2 - t1) / 1000),
      },
    });
  } catch (e) {
    settle.reject(e);
    throw e;
  } finally {
    release();
  }
}

/**
 * Sample a token from `logits`, emit its text, decode it; repeat until end of generation, a stop
 * string, maxTokens, a full context, a completed grammar or an abort. Then flush the text held back.
 * Allocates nothing per token of its own: one reused token array and logits view. A grammar masks the
 * logits before sampling (tokens it forbids get -Infinity; end-of-generation only where it may end).
 */
async function* decode(
  r: Runner,
  firstLogits: number,
  sampler: Sampler,
  constraint: GrammarConstraint | null,
  recorder: LogprobsRecorder | null,
  stop: StopMatcher,
  maxTokens: number,
  options: GenerateOptions,
  out: Produced,
): AsyncGenerator<string, void, undefined> {
  const preserved = options.preserveTokens?.length ? new Set(options.preserveTokens) : null;
  const tk = r.tokenizer;
  const decoder = preserved ? createStreamDecoder((id) => tk.tokenBytes(id, { unparseSpecial: preserved.has(id) })) : tk.createDecoder();
  const view = new LogitsView(r.memory, r.nVocab);
  const one = new Int32Array(1);
  let logits = firstLogits;
  let lastYield = performance.now();
  let grammarDone = false;
  for (;;) {
    if (options.signal?.aborted) {
      out.finish = "aborted";
      break;
    }
    const l = view.at(logits);
    constraint?.mask(l);
    const token = sampler.sample(l, recorder ?? undefined);
    if (!options.ignoreEos && r.tokenizer.isEog(token)) {
      out.finish = "eos";
      break;
    }
    const lp = recorder ? recorder.result(token) : undefined;
    if (lp) out.logprobs?.push(lp);
    options.onToken?.(token, lp);
    constraint?.accept(token);
    sampler.accept(token);
    out.tokens.push(token);
    const { emit, stopped } = stop.push(decoder.push(token));
    if (emit) {
      out.text += emit;
      yield emit;
    }
    if (stopped) {
      out.finish = "stop";
      break;
    }
    // A grammar that is complete and admits nothing more ends the text (finish "stop", text flushed).
    if (constraint !== null && constraint.isComplete() && !constraint.canContinue()) {
      out.finish = "stop";
      grammarDone = true;
      break;
    }
    if (out.tokens.length >= maxTokens) {
      out.finish = "length";
      break;
    }
    if (r.sequence.length >= r.net.nCtx) {
      out.finish = "context_full";
      break;
    }
    logits = decodeStep(r, one, token);
    out.forwards++;
    if (performance.now() - lastYield > YIELD_EVERY_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      lastYield = performance.now();
    }
  }
  if (out.finish !== "stop" || grammarDone) {
    // Text held back by the decoder (an incomplete character) or by the stop matcher.
    const tail = stop.push(decoder.flush());
    let rest = tail.emit;
    if (tail.stopped) out.finish = "stop";
    else rest += stop.flush();
    if (rest) {
      out.text += rest;
      yield rest;
    }
  }
}
