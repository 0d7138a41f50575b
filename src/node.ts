// The `woolly/node` subpath: helpers that need Node's file system (also works in Deno and Bun).

export { FileSource, fileSource, readGgufFile, openGgufPath } from "./gguf/node-source.js";
export { loadModelFile } from "./model/load-node.js";
export {
  createServer,
  ServerError,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_QUEUE,
  RETRY_AFTER_SECONDS,
  renderPrometheus,
  escapeLabelValue,
  type ServerOptions,
  type ServerClock,
  type WoollyServer,
  type MetricsSnapshot,
  type ServerErrorKind,
  type MetricFamily,
} from "./server/index.js";
