// `woolly chat MODEL.gguf`: an interactive terminal chat. Replies stream as they are generated;
// Ctrl-C during a reply stops that reply, Ctrl-C at an empty prompt (or Ctrl-D) exits. The whole
// conversation is re-sent each turn, and the model's KV-cache prefix reuse keeps that cheap.
import { createInterface } from "node:readline";
import { CHAT_TEMPLATE_KEY, ChatError, type ChatMessage, type ChatOptions } from "../chat/index.js";
import { WoollyError } from "../errors.js";
import { modelPathArg, parseArgs, samplingFromArgs, SAMPLING_OPTIONS, type CommandSpec } from "./args.js";
import { loadForCommand, LOAD_OPTIONS } from "./load.js";
import type { CliIo } from "./run.js";

export const CHAT_COMMAND: CommandSpec = {
  name: "chat",
  operands: "MODEL.gguf",
  summary: "an interactive chat; Ctrl-C stops a reply, Ctrl-C at an empty prompt or Ctrl-D quits",
  options: [
    { name: "system", short: "s", value: "TEXT", description: "a system message that opens the conversation" },
    ...SAMPLING_OPTIONS,
    {
      name: "template",
      choices: ["auto", "model", "chatml"],
      description: "chat template: auto uses the model's, else ChatML; model uses only the model's; chatml always ChatML (default auto)",
    },
    ...LOAD_OPTIONS,
  ],
};

export interface ChatIo extends CliIo {
  /** Where lines are read from (default: process.stdin). */
  readonly input?: NodeJS.ReadableStream;
  /** Where the prompt is drawn (default: process.stdout). */
  readonly output?: NodeJS.WritableStream;
}

const HELP = "type a message; /reset starts over, /exit (or Ctrl-D) quits, Ctrl-C stops a reply\n";

/**
 * Runs until the input ends, /exit, or Ctrl-C at an empty prompt. `signal` (main's SIGINT, which
 * fires when the input is not a terminal) exits at any moment: during the load, at the prompt, or
 * mid-reply (the reply stops first). Each of those exits with 0.
 */
export async function chatCommand(argv: string[], io: ChatIo, signal?: AbortSignal): Promise<number> {
  const args = parseArgs(argv, CHAT_COMMAND.options);
  const path = modelPathArg(args, CHAT_COMMAND);
  // parseArgs has already refused anything but the choices.
  const template = (args.values.get("template") ?? "auto") as NonNullable<ChatOptions["template"]>;
  const options: ChatOptions = {
    template,
    ...samplingFromArgs(args),
  };
  const loaded = await loadForCommand(path, args, io, signal);
  if (!loaded) return 0;
  const model = loaded; // narrowed for turn() below
  const system = args.values.get("system");
  const start: ChatMessage[] = system ? [{ role: "system", content: system }] : [];
  const messages: ChatMessage[] = [...start];
  const rl = createInterface({ input: io.input ?? process.stdin, output: io.output ?? process.stdout, prompt: "> " });
  // The line iterator is made at once, before anything can close the interface: readline's
  // iterator starts listening for 'close' only when it is created, so a close that came earlier
  // (an abort before the first prompt) left the loop below waiting for a line that never came.
  const lines = rl[Symbol.asyncIterator]();
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
  try {
    const hasTemplate = (model.file.getString(CHAT_TEMPLATE_KEY, "") ?? "").trim() !== "";
    const used = template === "chatml" ? "ChatML" : hasTemplate ? "the model's" : template === "model" ? "none" : "ChatML (the model has none)";
    io.err(`woolly: ${path} (context ${model.contextLength}, ${model.simd} kernels); chat template: ${used}\n${HELP}`);
    prompt();
    // `exiting` is checked too: lines that arrived before a quit stay buffered in the iterator, and
    // none of them may start a reply after the user asked to stop.
    for (let next = await lines.next(); !next.done && !exiting; next = await lines.next()) {
      const text = next.value.trim();
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
