// Public entry of the GGUF module: the reader, sources, writer and types. (The file-path source is
// exported from src/node.ts only, since it imports node:fs.)

export * from "./types.js";
export { GgufFile, describeType } from "./file.js";
export { parseGguf, GGUF_LIMITS, GGUF_DEFAULT_ALIGNMENT, type GgufLimits, type ParseOptions, type ParseBytesOptions } from "./reader.js";
export {
  readGguf,
  readRange,
  readRangeInto,
  bytesSource,
  blobSource,
  urlSource,
  DEFAULT_CHUNK_BYTES,
  type GgufSource,
  type ReadGgufOptions,
  type UrlSourceOptions,
} from "./source.js";
export { UrlSource } from "./url-source.js";
export { writeGguf, ggufChunks, ggufLayout, type GgufTensorDesc, type GgufTensorInput, type GgufWriteSpec, type GgufLayout } from "./writer.js";
export { GGUF_TYPE_NAMES, ggufTypeName } from "./values.js";
export { GGML_MAX_DIMS } from "./tensor-infos.js";
export {
  SplitSource,
  splitPartName,
  parseSplitName,
  splitInfo,
  blobsSource,
  splitUrlSource,
  SPLIT_NO_KEY,
  SPLIT_COUNT_KEY,
  SPLIT_TENSORS_COUNT_KEY,
  type SplitInfo,
  type SplitPart,
} from "./split.js";
export { writeGgufSplit, planSplit, type GgufSplitOptions } from "./writer-split.js";
