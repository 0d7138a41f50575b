// Options and results of text generation, their validation, and the interface of something that
// generates (what chat builds on).
import { ParameterError } from "../errors.js";
import type { GgufFile } from "../gguf/index.js";
import { MAX_TOP_LOGPROBS, type SamplingOptions, type SampledLogprobs } from "../sampling/index.js";
import type { Tokenizer } from "../tokenizer/index.js";
import type { ConstraintOptions } from "./constrain.js";

export interface GenerateOptions extends SamplingOptions, ConstraintOptions {
  /** Most tokens to generate (default: until the context is full). Integer ≥ 1. */
  maxTokens?: number;
  /** Strings that end generation; the stop string itself is not returned. */
  stop?: readonly string[];
  /** Cancels generation; the model stays ready for the next call. */
  signal?: AbortSignal;
  /** Keep generating past end-of-generation tokens (benchmarks; llama.cpp's --ignore-eos). */
  ignoreEos?: boolean;
  /** Add BOS/EOS as the model's tokenizer asks (default true). Ignored when the prompt is token ids. */
  addSpecial?: boolean;
  /** Recognize special tokens such as `<|im_start|>` written in the prompt text (default true). */
  parseSpecial?: boolean;
  /**
   * Report each generated token's log-probability and the `logprobs` most likely alternatives (integer in
   * [0, 20]) in `result.logprobs`: log-softmax of the logits the sampler saw (after penalties and a
   * grammar's mask, before truncation and temperature).
   */
  logprobs?: number;
  /**
   * Control tokens whose text is emitted when generated (they are silent otherwise): the markers of a
   * tool-call format such as `[TOOL_CALLS]` or `<|python_tag|>`, which the reply's parser must see
   * (llama.cpp's preserved tokens).
   */
  preserveTokens?: readonly number[];
  /**
   * Called with each generated token as it is accepted, before its text is emitted, with its
   * log-probabilities when `logprobs` was asked for (a server streams them beside the text).
   */
  onToken?: (token: number, logprobs: SampledLogprobs | undefined) => void;
}

/**
 * Why generation ended: `eos` the model produced an end-of-generation token, `stop` a stop string
 * was produced, `length` maxTokens was reached, `context_full` the context has no room for another
 * token, `aborted` the signal fired.
 */
export type FinishReason = "eos" | "stop" | "length" | "context_full" | "aborted";

export interface Timings {
  /** Prompt tokens actually computed (those not reused from the KV cache). */
  readonly prefillTokens: number;
  readonly prefillMs: number;
  readonly prefillTokensPerSecond: number;
  /** Decode forward passes (the first generated token comes from the prefill's logits). */
  readonly decodeTokens: number;
  readonly decodeMs: number;
  readonly decodeTokensPerSecond: number;
}

export interface GenerationResult {
  readonly text: string;
  /** Generated token ids (the end-of-generation token excluded). */
  readonly tokens: readonly number[];
  readonly finishReason: FinishReason;
  /** Prompt length in tokens, and how many of them were reused from the KV cache. */
  readonly promptTokens: number;
  readonly cachedTokens: number;
  readonly timings: Timings;
  /** Per generated token, when `logprobs` was asked for. */
  readonly logprobs?: readonly SampledLogprobs[];
}

/** Streamed text pieces; `result` resolves when the stream ends (or rejects with its error). */
export interface Generation extends AsyncIterable<string> {
  readonly result: Promise<GenerationResult>;
}

/**
 * What text generation offers to the layers above it (chat, servers): a tokenizer, the file's
 * metadata (the chat template), and generate(). Model implements it; chat depends on this, not on
 * Model, so the import graph runs one way.
 */
export interface TextGenerator {
  readonly file: GgufFile;
  readonly tokenizer: Tokenizer;
  generate(prompt: string | readonly number[], options?: GenerateOptions): Generation;
}

/** Validate what the sampler does not: maxTokens and the stop list are checked by their owners. */
export function checkMaxTokens(maxTokens: number | undefined): number {
  if (maxTokens === undefined) return Number.POSITIVE_INFINITY;
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new ParameterError("maxTokens", "an integer ≥ 1", maxTokens);
  }
  return maxTokens;
}

/** Validate `logprobs`: undefined, or an integer in [0, 20]. */
export function checkLogprobs(k: number | undefined): number | undefined {
  if (k === undefined) return undefined;
  if (typeof k !== "number" || !Number.isInteger(k) || k < 0 || k > MAX_TOP_LOGPROBS) {
    throw new ParameterError("logprobs", `an integer in [0, ${MAX_TOP_LOGPROBS}]`, k);
  }
  return k;
}
