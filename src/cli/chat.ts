// `woolly chat MODEL.gguf`: an interactive terminal chat. Replies stream as they are generated;
// Ctrl-C during a reply stops that reply, Ctrl-C at an empty prompt (or Ctrl-D) exits. The whole
// conversation is re-sent each turn, and the model's KV-cache prefix reuse keeps that cheap.
import { createInterface } from "node:readline";
import { loadModelFile } from "../model/load-node.js";
import { CHAT_TEMPLATE_KEY, ChatError, type ChatMessage, type ChatOptions } from "../chat/index.js";
import { ParameterError, WoollyError } from "../errors.js";
import { modelPathArg, numberOption, parseArgs, samplingFromArgs, SAMPLING_OPTIONS } from "./args.js";
import type { CliIo } from "./run.js";

const USAGE =
  'woolly chat MODEL.gguf [--system "…"] [--temp T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S] [-n N] [--ctx N] [--threads N] [--template auto|model|chatml]';

export interface ChatIo extends CliIo {
  /** Where lines are read from (default: process.stdin). */
  readonly input?: NodeJS.ReadableStream;
  /** Where the prompt is drawn (default: process.stdout). */
  readonly output?: NodeJS.WritableStream;
}

const HELP = "type a message; /reset starts over, /exit (or Ctrl-D) quits, Ctrl-C stops a reply\n";

/**
 * Runs until the input ends, /exit, or Ctrl-C at an empty prompt. `signal` (main's SIGINT, which
 * fires when the input is not a terminal) stops the reply being generated and then exits.
 */
export async function chatCommand(argv: string[], io: ChatIo, signal?: AbortSignal): Promise<number> {
  const args = parseArgs(argv, [
    { name: "system", short: "s" },
    ...SAMPLING_OPTIONS,
    { name: "ctx", short: "c" },
    { name: "threads", short: "t" },
    { name: "template" },
  ]);
  const path = modelPathArg(args, USAGE);
  const template = args.values.get("template") ?? "auto";
  if (template !== "auto" && template !== "model" && template !== "chatml") throw new ParameterError("--template", "auto, model or chatml", template);
  const options: ChatOptions = {
    template,
    ...samplingFromArgs(args),
  };
  const model = await loadModelFile(path, { contextLength: numberOption(args, "ctx"), threads: numberOption(args, "threads"), signal });
  const system = args.values.get("system");
  const start: ChatMessage[] = system ? [{ role: "system", content: system }] : [];
  const messages: ChatMessage[] = [...start];
  const rl = createInterface({ input: io.input ?? process.stdin, output: io.output ?? process.stdout, prompt: "> " });
  let reply: AbortController | null = null;
  let exiting = false;
  // Piped input can end (and close the interface) while a reply is still streaming; Node 22+
  // throws on prompt() after close.
  let closed = false;
  rl.on("close", () => {
    closed = true;
  });
  const prompt = (): void => {
    if (!closed) rl.prompt();
  };
  const quit = (): void => {
    exiting = true;
    reply?.abort();
    rl.close();
  };
  rl.on("SIGINT", () => {
    if (reply) reply.abort();
    else if (rl.line === "") quit();
    else {
      // Like a shell: Ctrl-C on a half-typed line discards it.
      io.out("^C\n");
      rl.write(null, { ctrl: true, name: "u" });
      prompt();
    }
  });
  signal?.addEventListener("abort", quit, { once: true });
  // An abort that came while the model was loading has no event left to fire.
  if (signal?.aborted) quit();
  try {
    const hasTemplate = (model.file.getString(CHAT_TEMPLATE_KEY, "") ?? "").trim() !== "";
    const used = template === "chatml" ? "ChatML" : hasTemplate ? "the model's" : template === "model" ? "none" : "ChatML (the model has none)";
    io.err(`woolly: ${path} (context ${model.contextLength}, ${model.simd} kernels); chat template: ${used}\n${HELP}`);
    prompt();
    for await (const line of rl) {
      const text = line.trim();
      if (text === "/exit") break;
      if (text === "/reset") {
        messages.splice(0, messages.length, ...start);
        io.out("(conversation cleared)\n");
      } else if (text !== "") {
        await turn(text);
      }
      if (exiting) break;
      prompt();
    }
    return 0;
  } finally {
    signal?.removeEventListener("abort", quit);
    rl.close();
    model.dispose();
  }

  async function turn(text: string): Promise<void> {
    messages.push({ role: "user", content: text });
    const ac = new AbortController();
    reply = ac;
    let said = "";
    try {
      const g = model.chat(messages, { ...options, signal: ac.signal });
      for await (const piece of g) {
        said += piece;
        io.out(piece);
      }
      const r = await g.result;
      io.out(r.finishReason === "aborted" ? " [stopped]\n" : r.finishReason === "context_full" ? " [context full]\n" : "\n");
      // A stopped reply stays in the history as it stands, so turns keep alternating.
      messages.push({ role: "assistant", content: said });
    } catch (e) {
      messages.pop();
      if (!(e instanceof WoollyError)) throw e;
      const hint = e.kind === "context_overflow" ? " (/reset starts a new conversation)" : "";
      io.err(`\nwoolly: ${e.message} [${e.kind}]${hint}\n`);
      if (e instanceof ChatError && e.kind !== "bad_messages") quit();
    } finally {
      reply = null;
    }
  }
}
