// An OpenAI-compatible HTTP server for one model, on node:http alone (so Deno and Bun run it too):
//
//   POST /v1/chat/completions   POST /v1/completions     (streamed as server-sent events, or whole)
//   POST /v1/embeddings         POST /v1/rerank           (src/server/embeddings.ts)
//   GET  /v1/models             GET  /v1/models/{id}
//   GET  /health                GET  /metrics            (JSON counters, speeds and queue depth)
//
// Requests take turns on the model in arrival order. A client that disconnects aborts its
// generation (or gives up its place in the queue). Every handler catches: a bad request gets an
// OpenAI-shaped error body and the server goes on.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { ParameterError } from "../errors.js";
import type { Model } from "../model/model.js";
import { CORS_HEADERS, parseJsonObject, readBody, sendError, sendJson, ServerError } from "./http.js";
import { Metrics, RequestQueue, type MetricsSnapshot } from "./metrics.js";
import { embeddings, rerank } from "./embeddings.js";
import { chatCompletions, completions, toServerError, type EndpointContext } from "./openai.js";

export { ServerError, type ServerErrorKind } from "./http.js";
export type { MetricsSnapshot } from "./metrics.js";
export { finishReason } from "./openai.js";

/** Default request body limit: a long conversation is far below it; a runaway upload is refused early. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface ServerOptions {
  /** The model's name in /v1/models and in responses (default: `general.name` from the file, else "woolly"). */
  modelId?: string;
  /** Largest request body in bytes; larger ones get 413 (default 4 MiB). */
  maxBodyBytes?: number;
  /** One line per request (method, path, status, milliseconds). The server prints nothing itself. */
  onLog?: (line: string) => void;
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

export function createServer(model: Model, options: ServerOptions = {}): WoollyServer {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBody) || maxBody < 1) throw new ParameterError("maxBodyBytes", "a positive integer", maxBody);
  const queue = new RequestQueue();
  const metrics = new Metrics(queue);
  const modelId = options.modelId ?? model.file.getString("general.name", "woolly");
  const ctx: EndpointContext = { model, modelId, queue, metrics };
  const log = options.onLog;
  const controllers = new Set<AbortController>();
  const handlers = new Set<Promise<void>>();
  const sockets = new Set<Socket>();
  let closing = false;

  const modelEntry = { id: modelId, object: "model", created: Math.floor(Date.now() / 1000), owned_by: "woolly" };

  async function handle(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const method = req.method ?? "GET";
    if (closing) throw new ServerError("unavailable", "the server is shutting down");
    if (method === "OPTIONS") {
      res.writeHead(204, CORS_HEADERS).end();
      return;
    }
    const post = POST_ROUTES.get(path);
    if (post) {
      if (method !== "POST") throw new ServerError("method_not_allowed", `${path} takes POST, not ${method}`);
      const body = parseJsonObject(await readBody(req, maxBody));
      await post(ctx, body, res, signal);
      return;
    }
    const modelPath = path.startsWith("/v1/models/") ? decodeURIComponent(path.slice("/v1/models/".length)) : undefined;
    if (GET_ROUTES.has(path) || modelPath !== undefined) {
      if (method !== "GET" && method !== "HEAD") throw new ServerError("method_not_allowed", `${path} takes GET, not ${method}`);
      if (path === "/health") sendJson(res, 200, { status: "ok" });
      else if (path === "/metrics") sendJson(res, 200, metrics.snapshot());
      else if (modelPath === undefined) sendJson(res, 200, { object: "list", data: [modelEntry] });
      else if (modelPath === modelId) sendJson(res, 200, modelEntry);
      else throw new ServerError("not_found", `no model ${JSON.stringify(modelPath)}: this server has ${JSON.stringify(modelId)}`, { param: "model", code: "model_not_found" });
      return;
    }
    throw new ServerError("not_found", `no route ${method} ${path}`, { code: "unknown_url" });
  }

  const server: Server = createHttpServer((req, res) => {
    const t0 = performance.now();
    const controller = new AbortController();
    controllers.add(controller);
    // 'close' before the response finished: the client went away, so its generation stops.
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    const done = handle(req, res, controller.signal)
      .catch((e: unknown) => {
        const err = toServerError(e, "prompt");
        metrics.fail();
        if (!res.headersSent && !controller.signal.aborted) {
          // After a 413 the rest of the body is not wanted: close the connection once answered.
          const headers: Record<string, string> = err.kind === "request_too_large" ? { Connection: "close" } : {};
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
        controllers.delete(controller);
        handlers.delete(done);
        try {
          log?.(`${req.method ?? "?"} ${req.url ?? "?"} ${res.statusCode} ${(performance.now() - t0).toFixed(0)} ms${controller.signal.aborted ? " (client left)" : ""}`);
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
