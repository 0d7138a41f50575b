// The `woolly` command: dispatches to a sub-command, prints errors as one line, sets the exit code.
import { WoollyError } from "../errors.js";
import { chatCommand } from "./chat.js";
import { inspectCommand } from "./inspect.js";
import { serveCommand } from "./serve.js";
import { templateCommand } from "./template.js";
import { logitsCommand, runCommand, tokenizeCommand, type CliIo } from "./run.js";

const HELP = `woolly — LLM inference in WebAssembly

usage:
  woolly run MODEL.gguf -p "prompt" [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P] [--seed S] [--ctx N]
  woolly chat MODEL.gguf [--system "…"] [--temp T] [-n N] [--ctx N] [--threads N] [--template auto|model|chatml]
  woolly serve MODEL.gguf [--host 127.0.0.1] [--port 8080] [--ctx N] [--threads N] [--name ID] [--quiet]
  woolly tokenize MODEL.gguf "text" [--no-special]
  woolly logits MODEL.gguf (--tokens 1,403,407 | -p "text") [--json]
  woolly inspect MODEL.gguf [--json]
  woolly template TEMPLATE.jinja|MODEL.gguf --conversation FILE.json [--index N | --name K] [--bos S] [--eos S] [--now DATE]
`;

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.on("SIGINT", onSigint);
  try {
    switch (command) {
      case "run":
        return await runCommand(rest, io, abort.signal);
      case "tokenize":
        return await tokenizeCommand(rest, io);
      case "logits":
        return await logitsCommand(rest, io);
      case "chat":
        return await chatCommand(rest, io, abort.signal);
      case "serve":
        return await serveCommand(rest, io, abort.signal);
      case "template":
        return await templateCommand(rest, io);
      case "inspect":
        return await inspectCommand(rest, (line) => io.out(line + "\n"));
      case undefined:
      case "help":
      case "--help":
      case "-h":
        io.out(HELP);
        return command === undefined ? 1 : 0;
      default:
        io.err(`woolly: unknown command "${command}"\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof WoollyError) {
      io.err(`woolly: ${e.message} [${e.kind}]\n`);
      return 1;
    }
    throw e;
  } finally {
    process.off("SIGINT", onSigint);
  }
}
