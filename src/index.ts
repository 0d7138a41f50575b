// Woolly: LLM inference in WebAssembly. This entry uses Web APIs only (Node, Deno, Bun, browsers);
// file-system helpers are in `woolly/node`.

export { loadModel, type LoadOptions, type ModelSource } from "./model/load.js";
export { Model, ModelError, type Generation } from "./model/model.js";
export { chat, chatPrompt, ChatError, ChatTemplate, CHATML_TEMPLATE, type ChatMessage, type ChatRole, type ChatTool, type ChatToolCall, type ChatOptions, type ChatGeneration, type ChatPrompt, type ChatTemplateKind, type ChatErrorKind, type ChatResult, type ToolChoice, type ParsedToolCall, type ToolFormatName, detectToolFormat, parseToolCalls } from "./chat/index.js";
export type { ModelConfig, Architecture, RopeConfig, Pooling } from "./model/config.js";
export type { KvType } from "./model/kv-cache.js";
export type { EmbedOptions, EmbedInput, EmbedPooling } from "./model/embed.js";
export type { GenerateOptions, GenerationResult, FinishReason, Timings } from "./generate/options.js";
export type { SamplingOptions, SampledLogprobs, TokenLogprob } from "./sampling/index.js";
export { Sampler } from "./sampling/index.js";
export { Tokenizer } from "./tokenizer/index.js";
export {
  WoollyError,
  GgufError,
  WasmError,
  LoadError,
  ParameterError,
  SessionError,
  type SessionErrorKind,
  SplitError,
  DownloadError,
  type SplitErrorKind,
  type DownloadErrorKind,
  type GgufErrorKind,
  type WasmErrorKind,
  type LoadErrorKind,
} from "./errors.js";
export {
  GgufFile,
  parseGguf,
  GgufValueType,
  type GgufValue,
  type GgufArray,
  type GgufTensorInfo,
} from "./gguf/index.js";
export { readGguf, readRange, bytesSource, blobSource, urlSource, type GgufSource } from "./gguf/source.js";
export { writeGguf, ggufChunks, ggufLayout } from "./gguf/writer.js";
export {
  listCachedModels,
  deleteCachedModel,
  downloadModel,
  resolveModelUrl,
  openCacheStore,
  type CacheOptions,
  type RemoteModelOptions,
} from "./download/cache.js";
export type { DownloadProgress } from "./download/download.js";
export type { CacheStore, CachedModel, PartialWriter } from "./download/store.js";
export { SplitSource, splitPartName, parseSplitName, splitInfo } from "./gguf/split.js";
export { writeGgufSplit, planSplit, type GgufSplitOptions } from "./gguf/writer-split.js";
export { GGML_TYPES, GgmlType, ggmlType, ggmlTypeByName, type GgmlTypeInfo } from "./quant/types.js";
export { bestFlavour, detectFeatures, supportedFlavours, type SimdFeatures, type SimdFlavour } from "./wasm/features.js";
export { createWorkerModel, WorkerModel, type WorkerModelOptions, type WorkerGeneration, type WorkerModelInfo, type WorkerModelSource } from "./browser/worker-client.js";
export {
  compileGrammar,
  compileJsonGrammar,
  jsonSchemaToGbnf,
  Grammar,
  GrammarConstraint,
  TokenTrie,
  tokenTrieFromTokenizer,
  tokenResolver,
  GrammarError,
  SchemaError,
  type GrammarOptions,
  type GrammarErrorKind,
  type SchemaErrorKind,
  type JsonFormat,
  type JsonValue,
  type TokenResolver,
  type TokenTrieOptions,
} from "./grammar/index.js";
