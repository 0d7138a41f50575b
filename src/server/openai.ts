// The two generation endpoints in OpenAI's shapes: /v1/chat/completions and /v1/completions, each
// streamed (server-sent events, ending `data: [DONE]`) or whole, with usage and finish_reason.
import type { ServerResponse } from "node:http";
import { ParameterError, WoollyError } from "../errors.js";
import type { FinishReason, GenerateOptions, GenerationResult } from "../generate/options.js";
import type { SampledLogprobs } from "../sampling/index.js";
import type { Generation, Model } from "../model/model.js";
import { ChatError, type ChatResult } from "../chat/index.js";
import { SchemaError } from "../grammar/index.js";
import type { Tokenizer } from "../tokenizer/index.js";
import { chatLogprobs, completionLogprobs } from "./logprobs.js";
import { parseResponseConstraint } from "./response-format.js";
import { toolCallDeltas, toolCallJson } from "./tools.js";
import { EventStream, sendJson, ServerError } from "./http.js";
import type { Metrics } from "./metrics.js";
import { paramName, parseChatRequest, parseCompletionRequest, type RequestLimits, type StreamRequest } from "./params.js";
import type { RequestQueue } from "./queue.js";

export interface EndpointContext {
  readonly model: Model;
  readonly modelId: string;
  readonly queue: RequestQueue;
  readonly metrics: Metrics;
  readonly limits: RequestLimits;
}

/**
 * Why a request's signal fired, when it was the server's own timeout (its reason is the error to
 * answer with); undefined when the client left or nothing fired. A client that left gets no answer;
 * a request that timed out gets one.
 */
export function timeoutOf(signal: AbortSignal): ServerError | undefined {
  const reason: unknown = signal.aborted ? signal.reason : undefined;
  return reason instanceof ServerError && reason.kind === "timeout" ? reason : undefined;
}

/** The request's client closed its connection before its answer ended. */
export function clientLeft(signal: AbortSignal): boolean {
  return signal.aborted && timeoutOf(signal) === undefined;
}

type Kind = "chat" | "completion";

/** OpenAI's finish_reason for Woolly's (aborted requests have no client left to tell). */
export function finishReason(r: FinishReason): "stop" | "length" {
  return r === "length" || r === "context_full" ? "length" : "stop";
}

function usage(r: GenerationResult): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.tokens.length, total_tokens: r.promptTokens + r.tokens.length };
}

function newId(prefix: string): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Any error from parsing, rendering or generating, as the HTTP error it should be. */
export function toServerError(e: unknown, promptField: string): ServerError {
  if (e instanceof ServerError) return e;
  if (e instanceof ParameterError) {
    // Woolly's message names its own option (toolChoice); the client knows the OpenAI field (tool_choice).
    const param = paramName(e.parameter);
    return new ServerError("invalid_request", e.message.replace(e.parameter, param), { param, cause: e });
  }
  // Grammars and response schemas are compiled before generation; a schema failing here is a forced tool call's parameters.
  if (e instanceof SchemaError) return new ServerError("invalid_request", `a tool's parameters cannot be enforced: ${e.message}`, { param: "tools", cause: e });
  if (e instanceof ChatError) {
    const client = e.kind === "bad_messages" || e.kind === "template_render";
    return new ServerError(client ? "invalid_request" : "internal", e.message, { param: client ? "messages" : null, cause: e });
  }
  if (e instanceof WoollyError) {
    switch (e.kind) {
      case "context_overflow":
        return new ServerError("context_length_exceeded", `the prompt does not fit the model's context: ${e.message}`, { param: promptField, cause: e });
      case "bad_token":
        return new ServerError("invalid_request", e.message, { param: promptField, cause: e });
      case "disposed":
        return new ServerError("unavailable", "the model is no longer loaded", { cause: e });
      case "encoder_only":
        return new ServerError("invalid_request", e.message, { code: "model_not_generative", cause: e });
    }
    // Tokenizer errors come from the request's text.
    if (e.name === "TokenizerError") return new ServerError("invalid_request", e.message, { param: promptField, cause: e });
  }
  return new ServerError("internal", `internal error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** Builds each response body of one request: the same id and creation time on every chunk. */
class Shapes {
  readonly id: string;
  readonly created = Math.floor(Date.now() / 1000);

  constructor(
    private readonly kind: Kind,
    private readonly model: string,
    private readonly tokenizer: Tokenizer,
  ) {
    this.id = newId(kind === "chat" ? "chatcmpl-" : "cmpl-");
  }

  private head(object: string): { id: string; object: string; created: number; model: string } {
    return { id: this.id, object, created: this.created, model: this.model };
  }

  /** The choice's logprobs in the endpoint's shape, or null when not asked for. */
  logprobs(r: GenerationResult): unknown {
    return r.logprobs ? this.logprobsOf(r.logprobs, 0) : null;
  }

  /** Some tokens' logprobs; `offset` is where their text starts in the completion's text. */
  logprobsOf(lp: readonly SampledLogprobs[], offset: number): unknown {
    return this.kind === "chat" ? chatLogprobs(this.tokenizer, lp) : completionLogprobs(this.tokenizer, lp, offset);
  }

  whole(r: GenerationResult): unknown {
    const logprobs = this.logprobs(r);
    let choice: unknown;
    if (this.kind === "chat") {
      const calls = toolCalls(r);
      const reasoning = reasoningOf(r);
      const message = {
        role: "assistant",
        content: calls.length ? contentOf(r) || null : contentOf(r),
        // llama.cpp's field for a thinking section the tool format separates (DeepSeek R1, GPT-OSS …).
        ...(reasoning !== undefined ? { reasoning_content: reasoning } : {}),
        ...(calls.length ? { tool_calls: calls.map(toolCallJson) } : {}),
        refusal: null,
      };
      choice = { index: 0, message, logprobs, finish_reason: calls.length ? "tool_calls" : finishReason(r.finishReason) };
    } else {
      choice = { index: 0, text: r.text, logprobs, finish_reason: finishReason(r.finishReason) };
    }
    return { ...this.head(this.kind === "chat" ? "chat.completion" : "text_completion"), choices: [choice], usage: usage(r) };
  }

  /**
   * What a stream sends after its last piece: the calls as tool_calls deltas, the tokens'
   * log-probabilities, then the chunk with finish_reason.
   */
  ending(r: GenerationResult, pending: readonly SampledLogprobs[] | null, offset: number): unknown[] {
    const out: unknown[] = [];
    const calls = this.kind === "chat" ? toolCalls(r) : [];
    const chat = (delta: unknown, extra: Record<string, unknown> = {}): unknown => ({
      ...this.head("chat.completion.chunk"),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: null, ...extra }],
    });
    const reasoning = this.kind === "chat" ? reasoningOf(r) : undefined;
    if (reasoning !== undefined) out.push(chat({ reasoning_content: reasoning }));
    for (const delta of toolCallDeltas(calls)) out.push(chat(delta));
    // Tokens whose text was never streamed (held back, or cut by a stop string).
    const logprobs = pending && pending.length ? this.logprobsOf(pending, offset) : null;
    if (logprobs !== null) {
      out.push(this.kind === "chat" ? chat({}, { logprobs }) : { ...this.head("text_completion"), choices: [{ index: 0, text: "", logprobs, finish_reason: null }] });
    }
    const last = this.chunk("", r.finishReason) as { choices: { finish_reason: string | null }[] };
    if (calls.length) last.choices[0]!.finish_reason = "tool_calls";
    out.push(last);
    return out;
  }

  /** A streamed piece; `role` opens a chat reply, as OpenAI's first chunk does. */
  chunk(text: string, finish: FinishReason | null, role = false, logprobs: unknown = null): unknown {
    const finish_reason = finish === null ? null : finishReason(finish);
    if (this.kind === "chat") {
      const delta = role ? { role: "assistant", content: text } : finish === null ? { content: text } : {};
      return { ...this.head("chat.completion.chunk"), choices: [{ index: 0, delta, logprobs, finish_reason }] };
    }
    return { ...this.head("text_completion"), choices: [{ index: 0, text, logprobs, finish_reason }] };
  }

  usageChunk(r: GenerationResult): unknown {
    return { ...this.head(this.kind === "chat" ? "chat.completion.chunk" : "text_completion"), choices: [], usage: usage(r) };
  }
}

/**
 * Waits for the model, generates, and answers. Errors before the first token (the prompt too long,
 * a template failing) are JSON errors with their status; errors after an event stream opened end
 * it with an error event. A request whose client left gets no answer.
 */
async function run(
  ctx: EndpointContext,
  res: ServerResponse,
  signal: AbortSignal,
  kind: Kind,
  stream: StreamRequest,
  start: (onToken: GenerateOptions["onToken"]) => Generation,
  promptField: string,
): Promise<void> {
  const release = await ctx.queue.acquire(signal);
  if (!release) {
    const timeout = timeoutOf(signal);
    if (timeout) throw timeout; // its turn never came in time: answered (and counted) by the router
    ctx.metrics.abandon();
    return;
  }
  const shapes = new Shapes(kind, ctx.modelId, ctx.model.tokenizer);
  let events: EventStream | undefined;
  try {
    // Streamed logprobs go with the chunk that carries their tokens' text.
    const pending: SampledLogprobs[] | null = stream.stream && stream.logprobs ? [] : null;
    const g = start(pending ? (_token, lp) => lp && pending.push(lp) : undefined);
    const pieces = g[Symbol.asyncIterator]();
    let offset = 0;
    // The first piece (or the end) before any byte of the answer: its errors still get a status.
    let next = await pieces.next();
    if (stream.stream) {
      events = new EventStream(res);
      events.open();
      if (kind === "chat") events.send(shapes.chunk("", null, true));
      for (; !next.done; next = await pieces.next()) {
        const logprobs = pending && pending.length ? shapes.logprobsOf(pending.splice(0), offset) : null;
        events.send(shapes.chunk(next.value, null, false, logprobs));
        offset += next.value.length;
      }
    } else {
      for (; !next.done; next = await pieces.next()) {
        // pieces are collected into result.text
      }
    }
    const r = await g.result;
    ctx.metrics.record(r);
    if (r.finishReason === "aborted") {
      // Stopped by the timeout: the client is still there and gets the error (below).
      const timeout = timeoutOf(signal);
      if (timeout) throw timeout;
      return;
    }
    if (events) {
      for (const chunk of shapes.ending(r, pending, offset)) events.send(chunk);
      if (stream.includeUsage) events.send(shapes.usageChunk(r));
      events.done();
    } else {
      sendJson(res, 200, shapes.whole(r));
    }
  } catch (e) {
    if (clientLeft(signal)) return;
    const err = toServerError(e, promptField);
    if (!events) throw err; // answered (and counted) by the router
    ctx.metrics.fail(err.kind);
    events.fail(err);
  } finally {
    release();
  }
}

/** A chat result's parsed calls (none for a completion). */
function toolCalls(r: GenerationResult): ChatResult["toolCalls"] {
  return "toolCalls" in r ? (r as ChatResult).toolCalls : [];
}

/** A chat result's thinking section, when its tool format separates one. */
function reasoningOf(r: GenerationResult): string | undefined {
  return "reasoning" in r ? (r as ChatResult).reasoning : undefined;
}

/** A chat result's content without call markup. */
function contentOf(r: GenerationResult): string {
  return "content" in r ? (r as ChatResult).content : r.text;
}

export async function chatCompletions(ctx: EndpointContext, body: Record<string, unknown>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const req = parseChatRequest(body, ctx.limits);
  const constraint = parseResponseConstraint(body, ctx.model.tokenizer, true);
  await run(ctx, res, signal, "chat", req, (onToken) => ctx.model.chat(req.messages, { ...req.options, ...req.tools, ...constraint, onToken, signal }), "messages");
}

export async function completions(ctx: EndpointContext, body: Record<string, unknown>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const req = parseCompletionRequest(body, ctx.limits);
  const constraint = parseResponseConstraint(body, ctx.model.tokenizer, false);
  await run(ctx, res, signal, "completion", req, (onToken) => ctx.model.generate(req.prompt, { ...req.options, ...constraint, onToken, signal }), "prompt");
}
