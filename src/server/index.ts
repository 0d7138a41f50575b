// An OpenAI-compatible HTTP server for one model, on node:http alone (so Deno and Bun run it too):
//
//   POST /v1/chat/completions   POST /v1/completions     (streamed as server-sent events, or whole)
//   POST /v1/embeddings         POST /v1/rerank           (src/server/embeddings.ts)
//   GET  /v1/models             GET  /v1/models/{id}
//   GET  /health                GET  /metrics            (JSON, or Prometheus text: Accept: text/plain or ?format=prometheus)
//
// Requests take turns on the model in arrival order; at most `maxQueue` wait, and the next gets 503
// with Retry-After. A client that disconnects aborts its generation (or gives up its place in the
// queue); a request running past `requestTimeoutMs` is aborted and answered 504. Every handler
// catches: a bad request gets an OpenAI-shaped error body and the server goes on.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { ParameterError } from "../errors.js";
import type { Model } from "../model/model.js";
import { CORS_HEADERS, parseJsonObject, readBody, sendError, sendJson, sendText, ServerError } from "./http.js";
import { CLIENT_CLOSED, Metrics, type MetricsSnapshot } from "./metrics.js";
import { chatCompletions, clientLeft, completions, toServerError, type EndpointContext } from "./openai.js";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.js";
import { DEFAULT_MAX_QUEUE, RequestQueue, RETRY_AFTER_SECONDS } from "./queue.js";
import { embeddings, rerank } from "./embeddings.js";
import { slotOf, slots } from "./slots.js";

export { ServerError, type ServerErrorKind } from "./http.js";
export type { MetricsSnapshot } from "./metrics.js";
export { finishReason } from "./openai.js";
export { escapeLabelValue, renderPrometheus, type MetricFamily, type Sample } from "./prometheus.js";
export { DEFAULT_MAX_QUEUE, RETRY_AFTER_SECONDS } from "./queue.js";

/** Default request body limit: a long conversation is far below it; a runaway upload is refused early. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Time as the server reads it: the real one by default; tests pass one they advance themselves. */
export interface ServerClock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_CLOCK: ServerClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface ServerOptions {
  /** The model's name in /v1/models and in responses (default: `general.name` from the file, else "woolly"). */
  modelId?: string;
  /** Largest request body in bytes; larger ones get 413 (default 4 MiB). */
  maxBodyBytes?: number;
  /** Requests that may wait behind the running one; the next gets 503 with Retry-After (default 64). */
  maxQueue?: number;
  /** Most tokens one request may generate: asking more is a 400 (param max_tokens); asking nothing gets this (default: no ceiling). */
  maxTokensCeiling?: number;
  /** Milliseconds from a request's arrival (queue wait included) to its end; past it the generation is aborted and the request answered 504 (default: none). */
  requestTimeoutMs?: number;
  /** One line per request (method, path, status, milliseconds, and the client's X-Request-Id). The server prints nothing itself. */
  onLog?: (line: string) => void;
  /** Injected time, for tests of the timeout. */
  clock?: ServerClock;
  /** Directory for `POST /slots/0?action=save|restore` session files (llama.cpp's --slot-save-path); without it saving is off. */
  slotSavePath?: string;
}

export interface WoollyServer {
  /** Start listening (port 0 picks a free one); resolves with the bound port. Defaults: 8080 on 127.0.0.1. */
  listen(port?: number, host?: string): Promise<{ port: number; host: string }>;
  /** Stop accepting, abort running generations, close connections; resolves when all handlers are done. */
  close(): Promise<void>;
  /** What /metrics reports. */
  metrics(): MetricsSnapshot;
}

type PostHandler = (ctx: EndpointContext, body: Record<string, unknown>, res: ServerResponse, signal: AbortSignal) => Promise<void>;

const POST_ROUTES: ReadonlyMap<string, PostHandler> = new Map([
  ["/v1/chat/completions", chatCompletions],
  ["/v1/completions", completions],
  ["/v1/embeddings", embeddings],
  ["/v1/rerank", rerank],
  ["/rerank", rerank],
]);
const GET_ROUTES = new Set(["/v1/models", "/health", "/metrics"]);

function checkInteger(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) throw new ParameterError(name, `an integer ≥ ${min}`, value);
}

/** A client's X-Request-Id, echoed back and logged, if it is short plain text (it goes into a header and a log line). */
function requestId(req: IncomingMessage): string | undefined {
  const v = req.headers["x-request-id"];
  return typeof v === "string" && /^[\x21-\x7e]{1,128}$/.test(v) ? v : undefined;
}

/** Prometheus text when asked by query (?format=prometheus) or by Accept (a scraper's text/plain or OpenMetrics); JSON otherwise, as before. */
function wantsPrometheus(req: IncomingMessage, url: URL): boolean {
  const format = url.searchParams.get("format");
  if (format !== null) return format === "prometheus";
  const accept = (req.headers.accept ?? "").toLowerCase();
  if (accept.includes("application/json")) return false;
  return accept.includes("text/plain") || accept.includes("application/openmetrics-text");
}

export function createServer(model: Model, options: ServerOptions = {}): WoollyServer {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  checkInteger("maxBodyBytes", maxBody, 1);
  checkInteger("maxQueue", options.maxQueue, 0);
  checkInteger("maxTokensCeiling", options.maxTokensCeiling, 1);
  checkInteger("requestTimeoutMs", options.requestTimeoutMs, 1);
  const clock = options.clock ?? REAL_CLOCK;
  const timeoutMs = options.requestTimeoutMs;
  const queue = new RequestQueue(options.maxQueue ?? DEFAULT_MAX_QUEUE);
  const metrics = new Metrics(queue, () => clock.now());
  const modelId = options.modelId ?? model.file.getString("general.name", "woolly");
  const ctx: EndpointContext = { model, modelId, queue, metrics, limits: { maxTokensCeiling: options.maxTokensCeiling } };
  const log = options.onLog;
  const controllers = new Set<AbortController>();
  const handlers = new Set<Promise<void>>();
  const sockets = new Set<Socket>();
  let closing = false;

  const modelEntry = { id: modelId, object: "model", created: Math.floor(Date.now() / 1000), owned_by: "woolly" };

  async function handle(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    const method = req.method ?? "GET";
    if (closing) throw new ServerError("unavailable", "the server is shutting down");
    if (method === "OPTIONS") {
      res.writeHead(204, CORS_HEADERS).end();
      return;
    }
    const slot = slotOf(path);
    if (slot !== undefined) {
      if (method !== "POST") throw new ServerError("method_not_allowed", `${path} takes POST, not ${method}`);
      const raw = await readBody(req, maxBody, signal);
      await slots(ctx, options.slotSavePath, slot, url.searchParams.get("action"), raw.length === 0 ? {} : parseJsonObject(raw), res);
      return;
    }
    const post = POST_ROUTES.get(path);
    if (post) {
      if (method !== "POST") throw new ServerError("method_not_allowed", `${path} takes POST, not ${method}`);
      const body = parseJsonObject(await readBody(req, maxBody, signal));
      await post(ctx, body, res, signal);
      return;
    }
    const modelPath = path.startsWith("/v1/models/") ? decodeURIComponent(path.slice("/v1/models/".length)) : undefined;
    if (GET_ROUTES.has(path) || modelPath !== undefined) {
      if (method !== "GET" && method !== "HEAD") throw new ServerError("method_not_allowed", `${path} takes GET, not ${method}`);
      if (path === "/health") sendJson(res, 200, { status: "ok" });
      else if (path === "/metrics" && wantsPrometheus(req, url)) sendText(res, metrics.prometheus(), PROMETHEUS_CONTENT_TYPE);
      else if (path === "/metrics") sendJson(res, 200, metrics.snapshot());
      else if (modelPath === undefined) sendJson(res, 200, { object: "list", data: [modelEntry] });
      else if (modelPath === modelId) sendJson(res, 200, modelEntry);
      else throw new ServerError("not_found", `no model ${JSON.stringify(modelPath)}: this server has ${JSON.stringify(modelId)}`, { param: "model", code: "model_not_found" });
      return;
    }
    throw new ServerError("not_found", `no route ${method} ${path}`, { code: "unknown_url" });
  }

  /** The endpoint a request is counted under: its route, or "other" (so random paths cannot grow the label set). */
  function endpointOf(req: IncomingMessage): string {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (POST_ROUTES.has(path) || GET_ROUTES.has(path)) return path;
    if (slotOf(path) !== undefined) return "/slots/{id}";
    return path.startsWith("/v1/models/") ? "/v1/models/{id}" : "other";
  }

  const server: Server = createHttpServer((req, res) => {
    const t0 = clock.now();
    const controller = new AbortController();
    controllers.add(controller);
    const id = requestId(req);
    if (id !== undefined) res.setHeader("X-Request-Id", id);
    // 'close' before the response finished: the client went away, so its generation stops.
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    const timer =
      timeoutMs === undefined
        ? undefined
        : clock.setTimeout(() => controller.abort(new ServerError("timeout", `the request took longer than the server's limit of ${timeoutMs} ms`)), timeoutMs);
    const done = handle(req, res, controller.signal)
      .catch((e: unknown) => {
        const err = toServerError(e, "prompt");
        if (clientLeft(controller.signal)) {
          if (!res.writableEnded) res.end();
          return;
        }
        metrics.fail(err.kind);
        if (!res.headersSent) {
          const headers: Record<string, string> = {};
          // After a 413 or a timeout the rest of the body is not wanted: close the connection once answered.
          if (err.kind === "request_too_large" || err.kind === "timeout") headers.Connection = "close";
          if (err.kind === "queue_full") headers["Retry-After"] = String(RETRY_AFTER_SECONDS);
          if (err.kind === "method_not_allowed") headers.Allow = POST_ROUTES.has(new URL(req.url ?? "/", "http://localhost").pathname) ? "POST, OPTIONS" : "GET, HEAD, OPTIONS";
          sendError(res, err, headers);
        } else if (!res.writableEnded) {
          res.end();
        }
      })
      .catch(() => {
        // Writing the error itself failed (the socket is gone): nothing is left to tell anyone.
      })
      .finally(() => {
        if (timer !== undefined) clock.clearTimeout(timer);
        controllers.delete(controller);
        handlers.delete(done);
        const left = clientLeft(controller.signal);
        metrics.response(endpointOf(req), left ? CLIENT_CLOSED : res.statusCode);
        try {
          log?.(`${req.method ?? "?"} ${req.url ?? "?"} ${res.statusCode} ${(clock.now() - t0).toFixed(0)} ms${left ? " (client left)" : ""}${id === undefined ? "" : ` [${id}]`}`);
        } catch {
          // A failing logger must not take the server down.
        }
      });
    handlers.add(done);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  return {
    listen(port = 8080, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address();
          resolve({ port: typeof address === "object" && address !== null ? address.port : port, host });
        });
      });
    },
    async close() {
      closing = true;
      for (const c of controllers) c.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...handlers]);
      for (const s of sockets) s.destroy();
      await closed;
    },
    metrics: () => metrics.snapshot(),
  };
}
