// Messages between a page and the Woolly worker (worker-entry.ts ↔ worker-client.ts). Everything in
// them is structured-cloneable: no functions, no AbortSignal — progress and abort travel as messages.
import type { GenerateOptions, GenerationResult } from "../generate/options.js";
import type { LoadOptions } from "../model/load.js";
import type { ModelConfig } from "../model/config.js";
import type { SimdFlavour } from "../wasm/features.js";

/** Load options that can cross a postMessage (progress and abort are messages of their own). */
// Functions (fetch, callbacks) and a custom cache store cannot cross a postMessage: `cache` is a
// boolean here (OPFS from the worker).
export type WorkerLoadOptions = Omit<LoadOptions, "onProgress" | "signal" | "fetch" | "onDownloadProgress" | "cache"> & { cache?: boolean };
/** Generation options that can cross a postMessage (abort is a message of its own). */
export type WorkerGenerateOptions = Omit<GenerateOptions, "signal">;

/** What a model source can be on the way to the worker: a File/Blob, bytes, or a URL string. */
export type WorkerModelSource = Blob | ArrayBuffer | Uint8Array | string;

export type Request =
  | { type: "load"; id: number; source: WorkerModelSource; options: WorkerLoadOptions }
  | { type: "generate"; id: number; prompt: string | readonly number[]; options: WorkerGenerateOptions }
  | { type: "tokenize"; id: number; text: string }
  | { type: "abort"; id: number }
  | { type: "dispose"; id: number };

/** What the page learns about a loaded model. */
export interface WorkerModelInfo {
  readonly config: ModelConfig;
  readonly contextLength: number;
  readonly simd: SimdFlavour;
  readonly threads: number;
  readonly memoryBytes: number;
  /** The KV cache's format (the load option kvType), and the bytes its keys and values take. */
  readonly kvType: "f16" | "q8_0";
  readonly kvCacheBytes: number;
}

/** An error as it crosses to the page: Woolly's `kind` survives, the class does not. */
export interface SerializedError {
  readonly name: string;
  readonly kind: string | undefined;
  readonly message: string;
}

export type Response =
  | { type: "progress"; id: number; loadedBytes: number; totalBytes: number }
  | { type: "loaded"; id: number; info: WorkerModelInfo }
  | { type: "piece"; id: number; text: string }
  | { type: "done"; id: number; result: GenerationResult }
  | { type: "tokens"; id: number; tokens: number[] }
  | { type: "disposed"; id: number }
  | { type: "error"; id: number; error: SerializedError };
