// The `woolly` command: dispatches to a sub-command, prints errors as one line, sets the exit code.
// The help is written from the commands' option tables (args.ts usageLine/commandHelp), the same
// tables that parse the flags.
import { WoollyError } from "../errors.js";
import { commandHelp, usageLine, type CommandSpec } from "./args.js";
import { CACHE_COMMAND, cacheCommand } from "./cache.js";
import { CHAT_COMMAND, chatCommand } from "./chat.js";
import { EMBED_COMMAND, embedCommand } from "./embed.js";
import { INSPECT_COMMAND, inspectCommand } from "./inspect.js";
import { SERVE_COMMAND, serveCommand } from "./serve.js";
import { TEMPLATE_COMMAND, templateCommand } from "./template.js";
import { LOGITS_COMMAND, logitsCommand, RUN_COMMAND, runCommand, TOKENIZE_COMMAND, tokenizeCommand, type CliIo } from "./run.js";

/** The commands `woolly --help` lists, in its order. */
const COMMANDS: readonly CommandSpec[] = [RUN_COMMAND, CHAT_COMMAND, SERVE_COMMAND, EMBED_COMMAND, TOKENIZE_COMMAND, LOGITS_COMMAND, INSPECT_COMMAND, TEMPLATE_COMMAND, CACHE_COMMAND];

export function help(): string {
  const usage = COMMANDS.map((c) => "  " + usageLine(c).replace(/\n/g, "\n  ")).join("\n");
  return `woolly — LLM inference in WebAssembly\n\nusage:\n${usage}\n\n"woolly COMMAND --help" describes a command's options.\n`;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  const spec = COMMANDS.find((c) => c.name === command);
  // Options end at "--": a prompt that reads "--help" after it is a prompt.
  const options = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (spec && (options.includes("--help") || options.includes("-h"))) {
    io.out(commandHelp(spec));
    return 0;
  }
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
        return await logitsCommand(rest, io, abort.signal);
      case "chat":
        return await chatCommand(rest, io, abort.signal);
      case "serve":
        return await serveCommand(rest, io, abort.signal);
      case "template":
        return await templateCommand(rest, io);
      case "cache":
        return await cacheCommand(rest, io);
      case "embed":
        return await embedCommand(rest, io, abort.signal);
      case "inspect":
        return await inspectCommand(rest, (line) => io.out(line + "\n"));
      case undefined:
      case "help":
      case "--help":
      case "-h":
        io.out(help());
        return command === undefined ? 1 : 0;
      default:
        io.err(`woolly: unknown command "${command}"\n\n${help()}`);
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
