// `woolly serve MODEL.gguf`: the OpenAI-compatible HTTP server (src/server) on the command line.
import { createServer } from "../server/index.js";
import { ParameterError } from "../errors.js";
import { modelPathArg, numberOption, parseArgs, type CommandSpec } from "./args.js";
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
    { name: "quiet", short: "q", flag: true, description: "log no requests" },
    ...LOAD_OPTIONS,
  ],
};

/** Serve until `signal` fires (main's Ctrl-C), then close connections and free the model. */
export async function serveCommand(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, SERVE_COMMAND.options);
  const path = modelPathArg(args, SERVE_COMMAND);
  const host = args.values.get("host") ?? "127.0.0.1";
  const port = numberOption(args, "port") ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ParameterError("--port", "an integer in [0, 65535]", port);
  const model = await loadForCommand(path, args, io, signal);
  if (!model) return 0;
  try {
    // The file's name is what users typed; general.name is often absent or generic.
    const modelId = args.values.get("name") ?? (path.split(/[\\/]/).pop() ?? path).replace(/\.gguf$/i, "");
    const quiet = args.flags.has("quiet");
    const server = createServer(model, { modelId, onLog: quiet ? undefined : (line) => io.err(line + "\n") });
    const bound = await server.listen(port, host);
    const shownHost = host.includes(":") ? `[${host}]` : host;
    io.err(
      `woolly: serving ${modelId} (context ${model.contextLength}, ${model.simd} kernels, ${model.threads} thread${model.threads === 1 ? "" : "s"})\n` +
        `  http://${shownHost}:${bound.port}/v1  (chat/completions, completions, models)  /health  /metrics\n` +
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
