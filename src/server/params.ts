// OpenAI request bodies → Woolly's messages, prompts and GenerateOptions. Types are checked here
// (naming the field); ranges are checked by Woolly's own validators, whose ParameterError is mapped
// back to the OpenAI field name, so the server and the library can never disagree on a range.
import { ParameterError } from "../errors.js";
import { checkMaxTokens, type GenerateOptions } from "../generate/options.js";
import { StopMatcher } from "../generate/stop.js";
import { resolveSamplingOptions } from "../sampling/index.js";
import type { ChatMessage } from "../chat/index.js";
import { ServerError } from "./http.js";
import { parseMessages, parseToolRequest, type ToolRequest } from "./tools.js";
import { parseChatLogprobs, parseCompletionLogprobs } from "./logprobs.js";

type Body = Record<string, unknown>;

/** OpenAI's (and llama.cpp's extension) field for each Woolly option. */
const FIELD: Readonly<Record<string, string>> = {
  temperature: "temperature",
  topP: "top_p",
  topK: "top_k",
  minP: "min_p",
  repeatPenalty: "repeat_penalty",
  repeatLastN: "repeat_last_n",
  frequencyPenalty: "frequency_penalty",
  presencePenalty: "presence_penalty",
  seed: "seed",
  maxTokens: "max_tokens",
  stop: "stop",
  toolChoice: "tool_choice",
};

/** The request field a Woolly option comes from. */
export function paramName(option: string): string {
  return FIELD[option] ?? option;
}

function bad(param: string, message: string): ServerError {
  return new ServerError("invalid_request", message, { param });
}

/** A field's value; null counts as absent, as OpenAI treats it. */
function field(body: Body, key: string): unknown {
  const v = body[key];
  return v === null ? undefined : v;
}

function optNumber(body: Body, key: string): number | undefined {
  const v = field(body, key);
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw bad(key, `${key} must be a number; got ${describe(v)}`);
  return v;
}

function optBoolean(body: Body, key: string): boolean | undefined {
  const v = field(body, key);
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw bad(key, `${key} must be true or false; got ${describe(v)}`);
  return v;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  return typeof v === "object" ? "an object" : String(v);
}

/** Fields Woolly cannot honour: refused rather than silently ignored, so a client is not misled. */
function refuseUnsupported(body: Body, checks: readonly (readonly [string, (v: unknown) => boolean, string])[]): void {
  for (const [key, ok, what] of checks) {
    const v = field(body, key);
    if (v !== undefined && !ok(v)) throw bad(key, `${key}: ${what}`);
  }
}

export interface StreamRequest {
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** Log-probabilities were asked for (streamed beside the text). */
  readonly logprobs?: boolean;
}

function streamOptions(body: Body): StreamRequest {
  const stream = optBoolean(body, "stream") ?? false;
  const so = field(body, "stream_options");
  let includeUsage = false;
  if (so !== undefined) {
    if (typeof so !== "object" || Array.isArray(so) || so === null) throw bad("stream_options", "stream_options must be an object");
    const v = field(so as Body, "include_usage");
    if (v !== undefined && typeof v !== "boolean") throw bad("stream_options.include_usage", "stream_options.include_usage must be true or false");
    includeUsage = v === true;
  }
  return { stream, includeUsage };
}

/** What the server allows every request, whatever it asks. */
export interface RequestLimits {
  /**
   * The most tokens one request may generate. A request asking for more is refused (400, param
   * `max_tokens` or `max_completion_tokens`), as OpenAI refuses one above a model's limit: clamping
   * would return a shorter answer than asked with finish_reason "length", which a client cannot
   * tell from a real one. A request asking nothing gets the ceiling (or its endpoint's default, if lower).
   */
  readonly maxTokensCeiling?: number;
}

/**
 * Sampling and length options of either endpoint, validated now (before the request queues) with
 * the same checks generate() applies. `defaultMaxTokens` differs: OpenAI's completions stop at 16
 * tokens by default, chat at the context's end.
 */
function generateOptions(body: Body, defaultMaxTokens: number | undefined, limits: RequestLimits): GenerateOptions {
  const maxCompletion = optNumber(body, "max_completion_tokens");
  const maxTokens = optNumber(body, "max_tokens");
  const stopField = field(body, "stop");
  let stop: string[] | undefined;
  if (typeof stopField === "string") stop = [stopField];
  else if (Array.isArray(stopField) && stopField.every((s) => typeof s === "string")) stop = stopField as string[];
  else if (stopField !== undefined) throw bad("stop", "stop must be a string or an array of strings");
  const ceiling = limits.maxTokensCeiling;
  const n = optNumber(body, "n");
  if (n !== undefined && n !== 1) throw bad("n", `n must be 1: the server generates one choice per request; got ${n}`);
  const options: GenerateOptions = {
    temperature: optNumber(body, "temperature"),
    topP: optNumber(body, "top_p"),
    topK: optNumber(body, "top_k"),
    minP: optNumber(body, "min_p"),
    repeatPenalty: optNumber(body, "repeat_penalty"),
    repeatLastN: optNumber(body, "repeat_last_n"),
    frequencyPenalty: optNumber(body, "frequency_penalty"),
    presencePenalty: optNumber(body, "presence_penalty"),
    seed: optNumber(body, "seed"),
    maxTokens: maxCompletion ?? maxTokens ?? lowest(defaultMaxTokens, ceiling),
    stop,
    // llama.cpp's extension, for benchmarks that need a fixed number of tokens.
    ignoreEos: optBoolean(body, "ignore_eos"),
  };
  try {
    resolveSamplingOptions(options);
    checkMaxTokens(options.maxTokens);
    new StopMatcher(stop ?? []);
  } catch (e) {
    if (e instanceof ParameterError) {
      const param = e.parameter === "maxTokens" && maxCompletion !== undefined ? "max_completion_tokens" : paramName(e.parameter);
      // Woolly's message names its own option; the client knows the OpenAI field.
      throw bad(param, e.message.replace(e.parameter, param));
    }
    throw e;
  }
  const asked = maxCompletion ?? maxTokens;
  if (ceiling !== undefined && asked !== undefined && asked > ceiling) {
    const param = maxCompletion !== undefined ? "max_completion_tokens" : "max_tokens";
    throw bad(param, `${param} is ${asked}, above this server's limit of ${ceiling} tokens per request`);
  }
  return options;
}

/** The smaller of two optional limits (undefined: no limit). */
function lowest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

export interface ChatRequest extends StreamRequest {
  readonly messages: ChatMessage[];
  readonly options: GenerateOptions;
  /** tools, tool_choice, parallel_tool_calls (see tools.ts). */
  readonly tools: ToolRequest;
}

/** A /v1/chat/completions body. Message content may be a string or OpenAI's array of text parts. */
export function parseChatRequest(body: Body, limits: RequestLimits = {}): ChatRequest {
  const messages = parseMessages(field(body, "messages"));
  const logprobs = parseChatLogprobs(body);
  const options = { ...generateOptions(body, undefined, limits), ...(logprobs !== undefined ? { logprobs } : {}) };
  return { messages, options, tools: parseToolRequest(body), ...streamOptions(body), logprobs: logprobs !== undefined };
}

export interface CompletionRequest extends StreamRequest {
  /** Text (tokenized with BOS as the model asks) or token ids (used as they are). */
  readonly prompt: string | number[];
  readonly options: GenerateOptions;
}

/** OpenAI's default max_tokens for /v1/completions. */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

/** A /v1/completions body: `prompt` is a string, token ids, or a one-element array of either. */
export function parseCompletionRequest(body: Body, limits: RequestLimits = {}): CompletionRequest {
  refuseUnsupported(body, [
    ["echo", (v) => v === false, "echo is not supported"],
    ["suffix", (v) => v === "", "suffix (insertion) is not supported"],
    ["best_of", (v) => v === 1, "best_of must be 1"],
  ]);
  let prompt = field(body, "prompt");
  if (Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === "string" || Array.isArray(prompt[0]))) prompt = prompt[0];
  const isIds = Array.isArray(prompt) && prompt.every((t) => typeof t === "number" && Number.isInteger(t));
  if (typeof prompt !== "string" && !isIds) {
    throw bad("prompt", "prompt must be a string, an array of token ids, or an array holding one of those (one prompt per request)");
  }
  const logprobs = parseCompletionLogprobs(body);
  const options = { ...generateOptions(body, COMPLETIONS_DEFAULT_MAX_TOKENS, limits), ...(logprobs !== undefined ? { logprobs } : {}) };
  return { prompt: prompt as string | number[], options, ...streamOptions(body), logprobs: logprobs !== undefined };
}
