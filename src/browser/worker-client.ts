// The page's side of the Woolly worker: createWorkerModel() starts dist/worker.js, loads a model in
// it, and gives back an object shaped like Model (generate/complete/tokenize/dispose) whose calls are
// messages. The page's main thread stays free while the worker computes.
import { WoollyError } from "../errors.js";
import type { GenerateOptions, GenerationResult } from "../generate/options.js";
import type { ModelConfig } from "../model/config.js";
import type { SimdFlavour } from "../wasm/features.js";
import type { Request, Response, SerializedError, WorkerLoadOptions, WorkerModelInfo, WorkerModelSource } from "./protocol.js";

export type { WorkerLoadOptions, WorkerGenerateOptions, WorkerModelInfo, WorkerModelSource } from "./protocol.js";

export interface WorkerModelOptions extends WorkerLoadOptions {
  /** Called as tensor bytes arrive in the worker. */
  onProgress?: (progress: { loadedBytes: number; totalBytes: number }) => void;
  /** Aborts the load (the worker is terminated). */
  signal?: AbortSignal;
  /**
   * The worker to use: a Worker already started on Woolly's worker script, or that script's URL.
   * Default: `worker.js` beside this module (dist/worker.js), as a module worker. Pass it when a
   * bundler moves the files apart.
   */
  worker?: Worker | URL | string;
}

/** Streamed text pieces; `result` resolves when the stream ends (or rejects with its error). */
export interface WorkerGeneration extends AsyncIterable<string> {
  readonly result: Promise<GenerationResult>;
}

type Listener = (r: Response) => void;

function toError(s: SerializedError): Error {
  const e = new WoollyError(s.kind ?? "worker", s.message);
  e.name = s.name;
  return e;
}

function startWorker(w: WorkerModelOptions["worker"]): Worker {
  if (typeof w === "object" && !(w instanceof URL)) return w;
  // Resolved against this module's URL at run time: in the published bundle that is dist/index.js,
  // so the default is dist/worker.js.
  return new Worker(w ?? new URL("./worker.js", import.meta.url), { type: "module" });
}

/** A model running in a Web Worker of its own. */
export class WorkerModel {
  private nextId = 1;
  private readonly listeners = new Map<number, Listener>();
  private terminated = false;

  private constructor(
    private readonly worker: Worker,
    readonly info: WorkerModelInfo,
  ) {}

  get config(): ModelConfig {
    return this.info.config;
  }
  get contextLength(): number {
    return this.info.contextLength;
  }
  get simd(): SimdFlavour {
    return this.info.simd;
  }
  get threads(): number {
    return this.info.threads;
  }
  /** The KV cache's format (the load option kvType). */
  get kvType(): "f16" | "q8_0" {
    return this.info.kvType;
  }

  /** @internal Start the worker and load the model in it. */
  static async create(source: WorkerModelSource, options: WorkerModelOptions = {}): Promise<WorkerModel> {
    const { onProgress, signal, worker: workerOption, ...loadOptions } = options;
    signal?.throwIfAborted();
    const worker = startWorker(workerOption);
    const id = 0;
    const info = await new Promise<WorkerModelInfo>((resolve, reject) => {
      const fail = (e: unknown) => {
        worker.terminate();
        reject(e);
      };
      const onAbort = () => fail(signal?.reason ?? new DOMException("loading was aborted", "AbortError"));
      signal?.addEventListener("abort", onAbort, { once: true });
      worker.onerror = (event) => {
        event.preventDefault();
        fail(new WoollyError("worker", `the Woolly worker failed to start: ${event.message || "(no message; is the worker URL right?)"}`));
      };
      worker.onmessage = (event: MessageEvent<Response>) => {
        const r = event.data;
        if (r.id !== id) return;
        if (r.type === "progress") onProgress?.({ loadedBytes: r.loadedBytes, totalBytes: r.totalBytes });
        else if (r.type === "loaded") {
          signal?.removeEventListener("abort", onAbort);
          resolve(r.info);
        } else if (r.type === "error") {
          signal?.removeEventListener("abort", onAbort);
          fail(toError(r.error));
        }
      };
      const req: Request = { type: "load", id, source, options: loadOptions };
      // Bytes are handed over, not copied; a File or Blob is cloned by reference to the same data.
      const transfer = source instanceof ArrayBuffer ? [source] : [];
      worker.postMessage(req, transfer);
    });
    const model = new WorkerModel(worker, info);
    worker.onmessage = (event: MessageEvent<Response>) => model.listeners.get(event.data.id)?.(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      const r: Response = { type: "error", id: -1, error: { name: "Error", kind: "worker", message: event.message } };
      for (const l of [...model.listeners.values()]) l(r);
    };
    return model;
  }

  private request(req: Request, listener: Listener): void {
    if (this.terminated) throw new WoollyError("disposed", "the model was disposed");
    this.listeners.set(req.id, listener);
    this.worker.postMessage(req);
  }

  /** Stream the continuation of `prompt`, as Model.generate does. */
  generate(prompt: string | readonly number[], options: GenerateOptions = {}): WorkerGeneration {
    const { signal, ...rest } = options;
    const id = this.nextId++;
    const pieces: string[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    let settle!: { resolve: (r: GenerationResult) => void; reject: (e: unknown) => void };
    const result = new Promise<GenerationResult>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // A caller that only iterates must not see an unhandled rejection from `result`.
    result.catch(() => undefined);
    let failure: unknown;
    const onAbort = () => this.worker.postMessage({ type: "abort", id } satisfies Request);
    const finish = () => {
      ended = true;
      this.listeners.delete(id);
      signal?.removeEventListener("abort", onAbort);
      wake?.();
    };
    this.request({ type: "generate", id, prompt, options: rest }, (r) => {
      if (r.type === "piece") {
        pieces.push(r.text);
        wake?.();
      } else if (r.type === "done") {
        settle.resolve(r.result);
        finish();
      } else if (r.type === "error") {
        failure = toError(r.error);
        settle.reject(failure);
        finish();
      }
    });
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });

    async function* stream(): AsyncGenerator<string, void, undefined> {
      for (;;) {
        if (pieces.length > 0) {
          yield pieces.shift() as string;
          continue;
        }
        if (ended) break;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
      if (failure !== undefined) throw failure;
    }
    return { result, [Symbol.asyncIterator]: stream };
  }

  /** Generate and return the whole text with timings. */
  async complete(prompt: string | readonly number[], options: GenerateOptions = {}): Promise<GenerationResult> {
    const g = this.generate(prompt, options);
    for await (const _piece of g) {
      // the pieces are collected into result.text
    }
    return g.result;
  }

  /** The model's tokenizer, run in the worker. */
  tokenize(text: string): Promise<number[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.request({ type: "tokenize", id, text }, (r) => {
        this.listeners.delete(id);
        if (r.type === "tokens") resolve(r.tokens);
        else if (r.type === "error") reject(toError(r.error));
      });
    });
  }

  /** Free the model and stop the worker. Later calls throw WoollyError('disposed'). */
  dispose(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.worker.terminate();
    const r: Response = { type: "error", id: -1, error: { name: "WoollyError", kind: "disposed", message: "the model was disposed" } };
    for (const l of [...this.listeners.values()]) l(r);
    this.listeners.clear();
  }
}

/**
 * Load a model in a Web Worker of its own (browsers; Deno too). `source` is a File/Blob, bytes or a
 * URL string. Threads (`threads` option) need a cross-origin isolated page.
 */
export function createWorkerModel(source: WorkerModelSource, options: WorkerModelOptions = {}): Promise<WorkerModel> {
  return WorkerModel.create(source, options);
}
