// The `woolly/node` subpath: helpers that need Node's file system (also works in Deno and Bun).

export { FileSource, fileSource, readGgufFile, openGgufPath } from "./gguf/node-source.js";
export { loadModelFile } from "./model/load-node.js";
export { createServer, ServerError, DEFAULT_MAX_BODY_BYTES, type ServerOptions, type WoollyServer, type MetricsSnapshot, type ServerErrorKind } from "./server/index.js";
