// HTTP plumbing for the server on node:http alone (Deno and Bun implement it): bounded request
// bodies, JSON and server-sent-event responses, and OpenAI-shaped error bodies.
import type { IncomingMessage, ServerResponse } from "node:http";
import { WoollyError } from "../errors.js";

/** What a failed request was: each kind has its HTTP status and OpenAI error type. */
export type ServerErrorKind =
  | "invalid_request"
  | "context_length_exceeded"
  | "not_found"
  | "method_not_allowed"
  | "request_too_large"
  | "unavailable"
  | "queue_full"
  | "timeout"
  | "internal";

const STATUS: { readonly [K in ServerErrorKind]: number } = {
  invalid_request: 400,
  context_length_exceeded: 400,
  not_found: 404,
  method_not_allowed: 405,
  request_too_large: 413,
  unavailable: 503,
  // 503 with Retry-After: OpenAI's clients retry it (429 would read as a rate limit on the key).
  queue_full: 503,
  // The gateway-timeout status: the server gave up on its own work, not on the client.
  timeout: 504,
  internal: 500,
};

/** A request the server answers with an error status; `param` names the request field at fault. */
export class ServerError extends WoollyError {
  declare readonly kind: ServerErrorKind;
  readonly param: string | null;
  readonly code: string | null;
  constructor(kind: ServerErrorKind, message: string, options: { param?: string | null; code?: string | null; cause?: unknown } = {}) {
    super(kind, message, { cause: options.cause });
    this.param = options.param ?? null;
    this.code = options.code ?? (kind === "invalid_request" || kind === "internal" ? null : kind);
  }

  get status(): number {
    return STATUS[this.kind];
  }

  /** The body OpenAI's API sends, which its clients turn into typed exceptions. */
  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    const type = this.status >= 500 ? "server_error" : "invalid_request_error";
    return { error: { message: this.message, type, param: this.param, code: this.code } };
  }
}

const encoder = new TextEncoder();

/** Headers every response carries: browsers may call a local server from any page, as llama.cpp's allows. */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "Content-Type, Authorization, X-Request-Id",
  "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
  // A page's script may read these only if listed: the 503's retry hint and the echoed request id.
  "Access-Control-Expose-Headers": "Retry-After, X-Request-Id",
};

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  const bytes = encoder.encode(JSON.stringify(value));
  res.writeHead(status, { ...CORS_HEADERS, ...headers, "Content-Type": "application/json", "Content-Length": String(bytes.length) });
  res.end(bytes);
}

export function sendText(res: ServerResponse, text: string, contentType: string): void {
  if (res.headersSent || res.writableEnded) return;
  const bytes = encoder.encode(text);
  res.writeHead(200, { ...CORS_HEADERS, "Content-Type": contentType, "Content-Length": String(bytes.length) });
  res.end(bytes);
}

export function sendError(res: ServerResponse, e: ServerError, headers: Record<string, string> = {}): void {
  sendJson(res, e.status, e.body(), headers);
}

/**
 * The request body as text. A declared or actual length over `limit` bytes is
 * ServerError('request_too_large'); the rest of such a body is read and dropped, so the 413 reaches
 * a client that is still sending instead of a reset connection.
 */
export function readBody(req: IncomingMessage, limit: number, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): ServerError =>
      new ServerError("request_too_large", `the request body is larger than the server's limit of ${limit} bytes`);
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    let failed = false;
    // The request timed out (or its client left) while it was still sending: stop waiting for the rest.
    signal?.addEventListener(
      "abort",
      () => {
        if (failed) return;
        failed = true;
        chunks.length = 0;
        reject(signal.reason instanceof ServerError ? signal.reason : new ServerError("invalid_request", "the request ended before its body arrived"));
      },
      { once: true },
    );
    req.on("data", (chunk: Uint8Array | string) => {
      if (failed) return;
      const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
      size += bytes.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(bytes);
    });
    req.on("end", () => {
      if (failed) return;
      const all = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.length;
      }
      try {
        resolve(new TextDecoder("utf-8", { fatal: true }).decode(all));
      } catch (e) {
        reject(new ServerError("invalid_request", "the request body is not valid UTF-8", { cause: e }));
      }
    });
    req.on("error", (e) => {
      failed = true;
      reject(new ServerError("invalid_request", `reading the request body failed: ${e.message}`, { cause: e }));
    });
    // A client that leaves mid-body: without this the handler would wait for an 'end' that never comes.
    req.on("close", () => {
      if (!req.complete && !failed) {
        failed = true;
        reject(new ServerError("invalid_request", "the client closed the connection before sending the whole body"));
      }
    });
  });
}

/** Parse a body as a JSON object (OpenAI's requests are objects), or ServerError('invalid_request'). */
export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ServerError("invalid_request", `the request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ServerError("invalid_request", "the request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/** A server-sent-event stream: `data: {json}\n\n` per event, `data: [DONE]` at the end, as OpenAI sends. */
export class EventStream {
  constructor(private readonly res: ServerResponse) {}

  /** Sends the head; the caller sends the first event right away (Node holds the head until then). */
  open(): void {
    this.res.writeHead(200, {
      ...CORS_HEADERS,
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
    });
  }

  send(value: unknown): void {
    // A client that left: its generation is being aborted; nothing more is written.
    if (!this.res.writableEnded && !this.res.destroyed) this.res.write(`data: ${JSON.stringify(value)}\n\n`);
  }

  done(): void {
    if (!this.res.writableEnded) this.res.end("data: [DONE]\n\n");
  }

  /** An error after the head was sent: OpenAI's clients raise an `error` event as an APIError. */
  fail(e: ServerError): void {
    this.send(e.body());
    if (!this.res.writableEnded) this.res.end();
  }
}
