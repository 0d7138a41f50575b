// The Woolly worker: a module Web Worker that owns one model and answers the page's messages
// (protocol.ts). Built to dist/worker.js; createWorkerModel() (worker-client.ts) starts it. The
// engine lives here because a page's main thread must never block on a forward pass (nor, with
// threads, on Atomics.wait, which the main thread may not call at all).
import { loadModel } from "../model/load.js";
import type { Model } from "../model/model.js";
import type { Request, Response, SerializedError } from "./protocol.js";

/** The few members of a worker's global scope used here (tsconfig's lib is the DOM's, not the worker's). */
interface WorkerScope {
  postMessage(message: Response): void;
  addEventListener(type: "message", listener: (event: MessageEvent<Request>) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
let model: Model | undefined;
let loading: Promise<Model> | undefined;
/** One AbortController per request in flight (a load or a generation), by request id. */
const controllers = new Map<number, AbortController>();

function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) {
    const kind = (e as Error & { kind?: unknown }).kind;
    return { name: e.name, kind: typeof kind === "string" ? kind : undefined, message: e.message };
  }
  return { name: "Error", kind: undefined, message: String(e) };
}

async function handle(req: Request): Promise<void> {
  const post = (r: Response) => scope.postMessage(r);
  switch (req.type) {
    case "load": {
      if (model || loading) throw new Error("this worker already holds a model; start another worker for another model");
      const controller = new AbortController();
      controllers.set(req.id, controller);
      loading = loadModel(req.source, {
        ...req.options,
        signal: controller.signal,
        onProgress: ({ loadedBytes, totalBytes }) => post({ type: "progress", id: req.id, loadedBytes, totalBytes }),
      });
      try {
        model = await loading;
      } finally {
        loading = undefined;
        controllers.delete(req.id);
      }
      post({
        type: "loaded",
        id: req.id,
        info: {
          config: model.config, contextLength: model.contextLength, simd: model.simd, threads: model.threads, memoryBytes: model.memoryBytes,
          kvType: model.kvType, kvCacheBytes: model.kvCacheBytes,
        },
      });
      return;
    }
    case "generate": {
      if (!model) throw new Error("no model is loaded");
      const controller = new AbortController();
      controllers.set(req.id, controller);
      try {
        const g = model.generate(req.prompt, { ...req.options, signal: controller.signal });
        for await (const text of g) post({ type: "piece", id: req.id, text });
        post({ type: "done", id: req.id, result: await g.result });
      } finally {
        controllers.delete(req.id);
      }
      return;
    }
    case "tokenize": {
      if (!model) throw new Error("no model is loaded");
      post({ type: "tokens", id: req.id, tokens: model.tokenize(req.text) });
      return;
    }
    case "abort":
      // The request being aborted ends with its own "done" (finishReason "aborted") or "error".
      controllers.get(req.id)?.abort();
      return;
    case "dispose":
      for (const c of controllers.values()) c.abort();
      model?.dispose();
      model = undefined;
      post({ type: "disposed", id: req.id });
      return;
  }
}

scope.addEventListener("message", (event) => {
  const req = event.data;
  handle(req).catch((e: unknown) => scope.postMessage({ type: "error", id: req.id, error: serializeError(e) }));
});
