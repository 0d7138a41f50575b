// The two generation endpoints in OpenAI's shapes: /v1/chat/completions and /v1/completions, each
// streamed (server-sent events, ending `data: [DONE]`) or whole, with usage and finish_reason.
import type { ServerResponse } from "node:http";
import { ParameterError, WoollyError } from "../errors.js";
import type { FinishReason, GenerationResult } from "../generate/options.js";
import type { Generation, Model } from "../model/model.js";
import { ChatError } from "../chat/index.js";
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
  if (e instanceof ParameterError) return new ServerError("invalid_request", e.message, { param: paramName(e.parameter), cause: e });
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
  ) {
    this.id = newId(kind === "chat" ? "chatcmpl-" : "cmpl-");
  }

  private head(object: string): { id: string; object: string; created: number; model: string } {
    return { id: this.id, object, created: this.created, model: this.model };
  }

  whole(r: GenerationResult): unknown {
    const finish_reason = finishReason(r.finishReason);
    const choice =
      this.kind === "chat"
        ? { index: 0, message: { role: "assistant", content: r.text, refusal: null }, logprobs: null, finish_reason }
        : { index: 0, text: r.text, logprobs: null, finish_reason };
    return { ...this.head(this.kind === "chat" ? "chat.completion" : "text_completion"), choices: [choice], usage: usage(r) };
  }

  /** A streamed piece; `role` opens a chat reply, as OpenAI's first chunk does. */
  chunk(text: string, finish: FinishReason | null, role = false): unknown {
    const finish_reason = finish === null ? null : finishReason(finish);
    if (this.kind === "chat") {
      const delta = role ? { role: "assistant", content: text } : finish === null ? { content: text } : {};
      return { ...this.head("chat.completion.chunk"), choices: [{ index: 0, delta, logprobs: null, finish_reason }] };
    }
    return { ...this.head("text_completion"), choices: [{ index: 0, text, logprobs: null, finish_reason }] };
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
  start: () => Generation,
  promptField: string,
): Promise<void> {
  const release = await ctx.queue.acquire(signal);
  if (!release) {
    const timeout = timeoutOf(signal);
    if (timeout) throw timeout; // its turn never came in time: answered (and counted) by the router
    ctx.metrics.abandon();
    return;
  }
  const shapes = new Shapes(kind, ctx.modelId);
  let events: EventStream | undefined;
  try {
    const g = start();
    const pieces = g[Symbol.asyncIterator]();
    // The first piece (or the end) before any byte of the answer: its errors still get a status.
    let next = await pieces.next();
    if (stream.stream) {
      events = new EventStream(res);
      events.open();
      if (kind === "chat") events.send(shapes.chunk("", null, true));
      for (; !next.done; next = await pieces.next()) events.send(shapes.chunk(next.value, null));
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
      events.send(shapes.chunk("", r.finishReason));
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

export async function chatCompletions(ctx: EndpointContext, body: Record<string, unknown>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const req = parseChatRequest(body, ctx.limits);
  await run(ctx, res, signal, "chat", req, () => ctx.model.chat(req.messages, { ...req.options, signal }), "messages");
}

export async function completions(ctx: EndpointContext, body: Record<string, unknown>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const req = parseCompletionRequest(body, ctx.limits);
  await run(ctx, res, signal, "completion", req, () => ctx.model.generate(req.prompt, { ...req.options, signal }), "prompt");
}
