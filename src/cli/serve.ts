// `woolly serve MODEL.gguf`: the OpenAI-compatible HTTP server (src/server) on the command line.
import { createServer, DEFAULT_MAX_QUEUE, type ServerOptions } from "../server/index.js";
import { ParameterError } from "../errors.js";
import { modelPathArg, numberOption, parseArgs, type CommandSpec, type ParsedArgs } from "./args.js";
import { loadForCommand, LOAD_OPTIONS } from "./load.js";
import type { CliIo } from "./run.js";

export const SERVE_COMMAND: CommandSpec = {
  name: "serve",
  operands: "MODEL.gguf",
  summary: "an OpenAI-compatible HTTP server (chat/completions, completions, models, /health, /metrics)",
  options: [
    { name: "host", value: "ADDR", description: "the address to listen on (default 127.0.0.1)" },
    { name: "port", value: "PORT", description: "the port to listen on; 0 picks a free one (default 8080)" },
    { name: "name", value: "ID", description: "the model id clients see (default: the file name without .gguf)" },
    { name: "slot-save-path", value: "DIR", description: "directory for POST /slots/0?action=save|restore session files (off without it)" },
    { name: "max-queue", value: "N", description: `requests that may wait for the model; the next gets 503 with Retry-After (default ${DEFAULT_MAX_QUEUE})` },
    { name: "max-tokens-ceiling", value: "N", description: "most tokens one request may generate: asking more is a 400, asking nothing gets N (default: no ceiling)" },
    { name: "timeout", value: "SECONDS", description: "abort a request still unanswered this long after it arrived, queue wait included, with a 504 (default: none)" },
    { name: "quiet", short: "q", flag: true, description: "log no requests" },
    ...LOAD_OPTIONS,
  ],
};

/** The server limits the flags set (absent flags stay undefined: the server's defaults); malformed values are ParameterErrors naming the flag. */
export function serverLimitsFromArgs(args: ParsedArgs): Pick<ServerOptions, "maxQueue" | "maxTokensCeiling" | "requestTimeoutMs"> {
  const integer = (name: string, min: number): number | undefined => {
    const v = numberOption(args, name);
    if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) throw new ParameterError(`--${name}`, `an integer ≥ ${min}`, v);
    return v;
  };
  const seconds = numberOption(args, "timeout");
  if (seconds !== undefined && !(seconds > 0)) throw new ParameterError("--timeout", "a number of seconds > 0", seconds);
  return {
    maxQueue: integer("max-queue", 0),
    maxTokensCeiling: integer("max-tokens-ceiling", 1),
    requestTimeoutMs: seconds === undefined ? undefined : Math.max(1, Math.round(seconds * 1000)),
  };
}

/** Serve until `signal` fires (main's Ctrl-C), then close connections and free the model. */
export async function serveCommand(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, SERVE_COMMAND.options);
  const path = modelPathArg(args, SERVE_COMMAND);
  const host = args.values.get("host") ?? "127.0.0.1";
  const port = numberOption(args, "port") ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ParameterError("--port", "an integer in [0, 65535]", port);
  // Checked before the model loads, which can take a while: a typo fails at once.
  const limits = serverLimitsFromArgs(args);
  const model = await loadForCommand(path, args, io, signal);
  if (!model) return 0;
  try {
    // The file's name is what users typed; general.name is often absent or generic.
    const modelId = args.values.get("name") ?? (path.split(/[\\/]/).pop() ?? path).replace(/\.gguf$/i, "");
    const quiet = args.flags.has("quiet");
    const server = createServer(model, { modelId, ...limits, slotSavePath: args.values.get("slot-save-path"), onLog: quiet ? undefined : (line) => io.err(line + "\n") });
    const bound = await server.listen(port, host);
    const shownHost = host.includes(":") ? `[${host}]` : host;
    io.err(
      `woolly: serving ${modelId} (context ${model.contextLength}, ${model.kvType} KV cache ${(model.kvCacheBytes / 2 ** 20).toFixed(1)} MiB, ${model.simd} kernels, ${model.threads} thread${model.threads === 1 ? "" : "s"})\n` +
        `  http://${shownHost}:${bound.port}/v1  (chat/completions, completions, models)  /health  /metrics\n` +
        `  at most ${server.metrics().queue_capacity} waiting, max_tokens ${limits.maxTokensCeiling === undefined ? "unlimited" : `≤ ${limits.maxTokensCeiling}`}, ` +
        `timeout ${limits.requestTimeoutMs === undefined ? "none" : `${limits.requestTimeoutMs / 1000} s`}\n` +
        `  Ctrl-C stops\n`,
    );
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    io.err("woolly: stopping\n");
    await server.close();
    return 0;
  } finally {
    model.dispose();
  }
}
