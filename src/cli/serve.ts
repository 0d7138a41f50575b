// `woolly serve MODEL.gguf`: the OpenAI-compatible HTTP server (src/server) on the command line.
import { loadModelFile } from "../model/load-node.js";
import { createServer } from "../server/index.js";
import { ParameterError } from "../errors.js";
import { modelPathArg, numberOption, parseArgs } from "./args.js";
import type { CliIo } from "./run.js";

const USAGE = "woolly serve MODEL.gguf [--host 127.0.0.1] [--port 8080] [--ctx N] [--threads N] [--name ID] [--quiet]";

/** Serve until `signal` fires (main's Ctrl-C), then close connections and free the model. */
export async function serveCommand(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, [
    { name: "host" },
    { name: "port" },
    { name: "ctx", short: "c" },
    { name: "threads", short: "t" },
    { name: "name" },
    { name: "quiet", short: "q", flag: true },
  ]);
  const path = modelPathArg(args, USAGE);
  const host = args.values.get("host") ?? "127.0.0.1";
  const port = numberOption(args, "port") ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ParameterError("--port", "an integer in [0, 65535]", port);
  const model = await loadModelFile(path, { contextLength: numberOption(args, "ctx"), threads: numberOption(args, "threads"), signal });
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
