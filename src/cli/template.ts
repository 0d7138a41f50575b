// `woolly template`: render one conversation through a chat template (a .jinja file, or a GGUF's
// `tokenizer.chat_template`) and print exactly the text, to check a template or a prompt.
import { readFile } from "node:fs/promises";
import { CHAT_TEMPLATE_KEY, ChatError, ChatTemplate, type ChatMessage, type ChatTool } from "../chat/index.js";
import { ParameterError } from "../errors.js";
import { readGgufFile } from "../gguf/node-source.js";
import { numberOption, parseArgs, usageLine, type CommandSpec } from "./args.js";
import type { CliIo } from "./run.js";

export const TEMPLATE_COMMAND: CommandSpec = {
  name: "template",
  operands: "TEMPLATE.jinja|MODEL.gguf",
  summary: "print one conversation rendered by a chat template, exactly (no newline added)",
  options: [
    { name: "conversation", value: "FILE.json", description: "the conversation: one object, an array (pick with --index) or named ones (pick with --name)" },
    { name: "index", value: "N", description: "which conversation of the file, from 0" },
    { name: "name", value: "K", description: "which named conversation of the file" },
    { name: "bos", value: "S", description: "bos_token (default: the GGUF's own, empty for a .jinja file)" },
    { name: "eos", value: "S", description: "eos_token (default: the GGUF's own, empty for a .jinja file)" },
    { name: "now", value: "DATE", description: "the date strftime_now sees, e.g. 2026-01-15T09:30 (default: now)" },
  ],
};
export const TEMPLATE_USAGE = usageLine(TEMPLATE_COMMAND, Infinity);

/**
 * One conversation as the file gives it: `messages`, optional `tools`, `add_generation_prompt`
 * (default true) and `context` (extra template variables, e.g. `{ "enable_thinking": false }`).
 */
export interface ConversationFile {
  readonly messages: readonly ChatMessage[];
  readonly tools?: readonly ChatTool[];
  readonly add_generation_prompt?: boolean;
  readonly context?: Readonly<Record<string, unknown>>;
}

/**
 * Prints the rendering with no newline added. The file holds one conversation object, or several:
 * a JSON array (`--index N` picks one, from 0) or an object of named ones like the fixtures'
 * conversations.json (`--name K`, or `--index N` in file order); with several, one must be picked.
 * bos_token/eos_token are the GGUF's own token texts, or empty for a .jinja file, unless given.
 * A template's own raise_exception exits 1 with exactly its message on stderr.
 */
export async function templateCommand(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, TEMPLATE_COMMAND.options);
  const path = args.positional[0];
  if (path === undefined) throw new ParameterError("TEMPLATE", `a .jinja or .gguf file (usage: ${TEMPLATE_USAGE})`, "nothing");
  const file = args.values.get("conversation");
  if (file === undefined) throw new ParameterError("--conversation", `a JSON file (usage: ${TEMPLATE_USAGE})`, "nothing");
  const conversation = pickConversation(parseJson(await readText(file, "--conversation"), file), args.values.get("name"), numberOption(args, "index"));
  const source = await loadTemplate(path);
  const now = args.values.get("now");
  const date = now === undefined ? new Date() : new Date(now);
  if (Number.isNaN(date.getTime())) throw new ParameterError("--now", "a date such as 2026-01-15T09:30 (local time)", now);
  try {
    io.out(
      new ChatTemplate(source.text, "model").render(
        conversation.messages,
        { bos: args.values.get("bos") ?? source.bos, eos: args.values.get("eos") ?? source.eos },
        { addGenerationPrompt: conversation.add_generation_prompt, tools: conversation.tools, variables: conversation.context, now: date },
      ),
    );
    return 0;
  } catch (e) {
    if (e instanceof ChatError && e.raised !== undefined) {
      io.err(e.raised + "\n");
      return 1;
    }
    throw e;
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw new ParameterError(what, "a readable file", `${path} (${e instanceof Error ? e.message : String(e)})`);
  }
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ParameterError("--conversation", "a JSON file", `${path} (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** The template's text, and the BOS/EOS texts it is rendered with by default. */
async function loadTemplate(path: string): Promise<{ text: string; bos: string; eos: string }> {
  if (!path.toLowerCase().endsWith(".gguf")) return { text: await readText(path, "TEMPLATE"), bos: "", eos: "" };
  const gguf = await readGgufFile(path);
  const text = gguf.getString(CHAT_TEMPLATE_KEY, undefined);
  if (text === undefined) throw new ChatError("no_template", `${path} has no chat template (no ${CHAT_TEMPLATE_KEY})`);
  const tokens = gguf.getStringArray("tokenizer.ggml.tokens", []);
  const token = (key: string): string => {
    const id = gguf.getU32(key, undefined);
    return id === undefined ? "" : (tokens[id] ?? "");
  };
  return { text, bos: token("tokenizer.ggml.bos_token_id"), eos: token("tokenizer.ggml.eos_token_id") };
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** The conversation the options pick out of the file's JSON (its shape is checked when rendering). */
export function pickConversation(json: unknown, name: string | undefined, index: number | undefined): ConversationFile {
  let picked: unknown;
  if (isRecord(json) && "messages" in json) {
    if (name !== undefined || (index !== undefined && index !== 0)) throw new ParameterError("--index/--name", "absent for a file of one conversation", name ?? index);
    picked = json;
  } else if (Array.isArray(json) || isRecord(json)) {
    const entries: [string, unknown][] = Array.isArray(json) ? json.map((c, i) => [String(i), c]) : Object.entries(json);
    if (name !== undefined) {
      if (Array.isArray(json)) throw new ParameterError("--name", "used with an object of named conversations (use --index for an array)", name);
      picked = entries.find(([k]) => k === name)?.[1];
      if (picked === undefined) throw new ParameterError("--name", `one of ${entries.map(([k]) => k).join(", ")}`, name);
    } else if (index !== undefined) {
      if (!Number.isInteger(index) || index < 0 || index >= entries.length) throw new ParameterError("--index", `an integer from 0 to ${entries.length - 1}`, index);
      picked = entries[index][1];
    } else if (entries.length === 1) {
      picked = entries[0][1];
    } else {
      throw new ParameterError("--index/--name", `given: the file holds ${entries.length} conversations`, "neither");
    }
  }
  if (!isRecord(picked) || !Array.isArray(picked.messages)) {
    throw new ParameterError("--conversation", "a conversation { messages, tools?, add_generation_prompt?, context? } or a collection of them", describe(picked));
  }
  const { add_generation_prompt, context } = picked;
  if (add_generation_prompt !== undefined && typeof add_generation_prompt !== "boolean") throw new ParameterError("add_generation_prompt", "a boolean", add_generation_prompt);
  if (context !== undefined && !isRecord(context)) throw new ParameterError("context", "an object of template variables", describe(context));
  return picked as unknown as ConversationFile;
}

function describe(x: unknown): string {
  return x === undefined ? "nothing" : x === null ? "null" : Array.isArray(x) ? "an array" : typeof x;
}
