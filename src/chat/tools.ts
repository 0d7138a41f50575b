// Tool calling for chat: which tools the prompt offers (tool_choice), the grammar that forces a call,
// the markers generation must keep, and the reply stream with the call markup held back and parsed.
import { ParameterError } from "../errors.js";
import type { GenerateOptions, Generation, GenerationResult } from "../generate/options.js";
import type { Tokenizer } from "../tokenizer/index.js";
import { checkTools, type ChatMessage, type ChatTool } from "./messages.js";
import { markerTokens, toolCallGrammar } from "./tool-grammar.js";
import { CALL_MARKERS, detectToolFormat, streamableContent, THINKING, type ToolFormatName } from "./tool-formats.js";
import { parseToolCalls, type ParsedReply, type ParsedToolCall } from "./tool-parse.js";

/** OpenAI's tool_choice: may call (auto), must not (none), must (required), must call this one. */
export type ToolChoice = "auto" | "none" | "required" | { readonly type: "function"; readonly function: { readonly name: string } };

/** A chat reply's result: the generation's, plus the reply split into content and tool calls. */
export interface ChatResult extends GenerationResult {
  /** The reply without call markup (and without a thinking section); `text` is the raw reply. */
  readonly content: string;
  /** The calls the reply makes (empty when it makes none, or when no tools were offered). */
  readonly toolCalls: readonly ParsedToolCall[];
  /** The reply's thinking section, for formats that mark one. */
  readonly reasoning?: string;
  /** The format the reply was parsed by, when tools were offered. */
  readonly toolFormat?: ToolFormatName;
}

/** Markers beyond the call openers that the parsers read, kept when they are control tokens. */
const EXTRA_MARKERS: { readonly [F in ToolFormatName]?: readonly string[] } = {
  hermes: ["</tool_call>", "<think>", "</think>"],
  "qwen3-coder": ["</tool_call>", "<think>", "</think>"],
  glm: ["</tool_call>", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", "<think>", "</think>"],
  "kimi-k2": ["<|tool_calls_section_end|>", "<|tool_call_end|>", "<|tool_call_argument_begin|>"],
  llama3: ["<|eom_id|>"],
  mistral: ["[ARGS]", "[CALL_ID]"],
  "deepseek-r1": ["<｜tool▁calls▁end｜>", "<｜tool▁call▁end｜>", "<｜tool▁sep｜>", "<think>", "</think>"],
  granite: ["<think>", "</think>"],
  "command-r7b": ["<|END_ACTION|>", "<|START_THINKING|>", "<|END_THINKING|>"],
  "gpt-oss": ["<|channel|>", "<|message|>", "<|constrain|>", "<|start|>", "<|end|>"],
};

/** What a chat call does with its tools, decided before rendering. */
export interface ToolPlan {
  /** The tools the template is given (none for tool_choice "none"). */
  readonly tools: readonly ChatTool[] | undefined;
  /** The format replies are parsed by, or undefined when calls are not parsed. */
  readonly format: ToolFormatName | undefined;
  /** Generation options the plan adds: the forced call's grammar, the kept markers. */
  readonly generate: Pick<GenerateOptions, "grammar" | "preserveTokens">;
  /** The conversation as the template should see it (the generic format describes the tools itself). */
  readonly messages: readonly ChatMessage[];
  /** Template variables the format's template reads besides `tools` (the caller's own take precedence). */
  readonly variables?: Readonly<Record<string, unknown>>;
  /** The rendered prompt ends inside the format's thinking section (set once the prompt is rendered). */
  readonly thinkingOpened?: boolean;
}

/** The plan, told whether the rendered prompt opened the thinking section (Qwen3.5, DeepSeek R1 end with `<think>\n`). */
export function withPrompt(plan: ToolPlan, prompt: string): ToolPlan {
  const tags = plan.format !== undefined ? THINKING[plan.format] : undefined;
  return tags && prompt.trimEnd().endsWith(tags[0]) ? { ...plan, thinkingOpened: true } : plan;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function checkChoice(choice: unknown, tools: readonly ChatTool[]): ToolChoice {
  if (choice === undefined) return "auto";
  if (choice === "auto" || choice === "none" || choice === "required") return choice;
  const named = choice as { type?: unknown; function?: { name?: unknown } } | null;
  if (typeof named === "object" && named !== null && named.type === "function" && typeof named.function?.name === "string") {
    const name = named.function.name;
    if (!tools.some((t) => t.function.name === name)) {
      throw new ParameterError("toolChoice", `the name of one of the tools (${tools.map((t) => t.function.name).join(", ") || "none given"})`, name);
    }
    return { type: "function", function: { name } };
  }
  throw new ParameterError("toolChoice", '"auto", "none", "required" or { type: "function", function: { name } }', choice);
}

/** llama.cpp's generic tool prompt, for templates that do not print tools themselves. */
function genericToolPrompt(tools: readonly ChatTool[], forced: boolean): string {
  const list = JSON.stringify(tools.map((t) => t.function), null, 2);
  return (
    `You can call these tools:\n${list}\n\n` +
    (forced
      ? 'Respond with a JSON object {"tool_call": {"name": …, "arguments": {…}}} calling one of them.'
      : 'To call one, respond with only a JSON object {"tool_call": {"name": …, "arguments": {…}}}; otherwise answer the user normally.')
  );
}

/** The conversation for a template that knows no tools: a system prompt lists them, earlier calls become JSON text. */
function genericMessages(messages: readonly ChatMessage[], tools: readonly ChatTool[], forced: boolean): ChatMessage[] {
  const out: ChatMessage[] = messages.map((m) =>
    m.role === "assistant" && m.tool_calls
      ? {
          role: "assistant",
          content: JSON.stringify({
            tool_calls: m.tool_calls.map((c) => ({
              name: c.function.name,
              arguments: typeof c.function.arguments === "string" ? (JSON.parse(c.function.arguments) as unknown) : c.function.arguments,
              ...(c.id !== undefined ? { id: c.id } : {}),
            })),
          }),
        }
      : m,
  );
  const prompt = genericToolPrompt(tools, forced);
  if (out[0]?.role === "system") out[0] = { ...out[0], content: `${out[0].content ?? ""}\n\n${prompt}` };
  else out.unshift({ role: "system", content: prompt });
  return out;
}

/**
 * Decide the tools' part of a chat call. `template` is the source of the template that renders
 * the conversation (its markers name the format); `callerConstrains` is true when the caller set
 * its own grammar, schema or json, which a forced call cannot be combined with.
 */
export function planTools(
  tokenizer: Tokenizer,
  template: string,
  messages: readonly ChatMessage[],
  options: {
    tools?: readonly ChatTool[];
    toolChoice?: ToolChoice;
    parallelToolCalls?: boolean;
    callerConstrains: boolean;
    format?: ToolFormatName;
    now?: Date;
  },
): ToolPlan {
  const tools = options.tools;
  if (tools === undefined) {
    if (options.toolChoice !== undefined && options.toolChoice !== "none" && options.toolChoice !== "auto") {
      throw new ParameterError("toolChoice", '"auto" or "none" when no tools are given', options.toolChoice);
    }
    return { tools: undefined, format: undefined, generate: {}, messages };
  }
  checkTools(tools);
  const choice = checkChoice(options.toolChoice, tools);
  // As llama.cpp: "none" renders the conversation without the tools, and nothing is parsed.
  if (choice === "none" || tools.length === 0) {
    if (choice !== "none" && choice !== "auto") throw new ParameterError("toolChoice", "a choice among the tools given (there are none)", choice);
    return { tools: undefined, format: undefined, generate: {}, messages };
  }
  const names = new Set<string>();
  for (const t of tools) {
    if (names.has(t.function.name)) throw new ParameterError("tools", "tools with distinct function names", t.function.name);
    names.add(t.function.name);
  }
  const format = options.format ?? detectToolFormat(template);
  const forced = choice !== "auto";
  const preserve = markerTokens(tokenizer, [...CALL_MARKERS[format], ...(EXTRA_MARKERS[format] ?? [])]);
  let grammar: string | undefined;
  if (forced) {
    if (options.callerConstrains) throw new ParameterError("toolChoice", '"auto" or "none" when a grammar, jsonSchema or json is given', choice);
    const chosen = choice === "required" ? tools : tools.filter((t) => t.function.name === choice.function.name);
    const g = toolCallGrammar(format, chosen, tokenizer, {
      parallel: options.parallelToolCalls ?? false,
      callId: template.includes("[CALL_ID]"),
      argNewlines: template.includes("</arg_key>\n"),
    });
    grammar = g.gbnf;
    for (const id of g.preservedTokens) if (!preserve.includes(id)) preserve.push(id);
  }
  return {
    tools,
    format,
    generate: { ...(grammar !== undefined ? { grammar } : {}), ...(preserve.length ? { preserveTokens: preserve } : {}) },
    messages: format === "generic" ? genericMessages(messages, tools, forced) : messages,
    // FireFunction v2's template prints `functions` and `datetime` rather than `tools`.
    ...(format === "firefunction-v2" ? { variables: { functions: JSON.stringify(tools, null, 2), datetime: datetime(options.now ?? new Date()) } } : {}),
  };
}

/** llama.cpp's `datetime` template variable: "%b %d %Y" in UTC. */
function datetime(d: Date): string {
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, "0")} ${d.getUTCFullYear()}`;
}

/** The parameters a function declares as plain strings (Qwen3-Coder writes them unquoted). */
function stringParams(tools: readonly ChatTool[]): (name: string) => ReadonlySet<string> {
  return (name) => {
    const p = tools.find((t) => t.function.name === name)?.function.parameters as { properties?: Record<string, { type?: unknown }> } | undefined;
    return new Set(Object.entries(p?.properties ?? {}).filter(([, s]) => s.type === "string").map(([k]) => k));
  };
}

/** The reply split by the plan's format (all content when no tools are parsed). */
export function parseReply(plan: ToolPlan, text: string): ParsedReply {
  if (plan.format === undefined) return { content: text, toolCalls: [] };
  return parseToolCalls(plan.format, text, { stringParams: stringParams(plan.tools ?? []), thinkingOpened: plan.thinkingOpened ?? false });
}

/**
 * The chat reply stream over a generation: content pieces as soon as they are certainly content
 * (call markup is held back), and at the end the rest of the parsed content. The pieces add up to
 * `result.content`.
 */
export function toolStream(plan: ToolPlan, g: Generation): { result: Promise<ChatResult>; pieces: () => AsyncIterator<string> } {
  const result = g.result.then((r): ChatResult => {
    const parsed = parseReply(plan, r.text);
    return {
      ...r,
      content: parsed.content,
      toolCalls: parsed.toolCalls,
      ...(parsed.reasoning !== undefined ? { reasoning: parsed.reasoning } : {}),
      ...(plan.format !== undefined ? { toolFormat: plan.format } : {}),
    };
  });
  result.catch(() => undefined);
  const format = plan.format;
  if (format === undefined) return { result, pieces: () => g[Symbol.asyncIterator]() };
  async function* pieces(): AsyncGenerator<string, void, undefined> {
    let text = "";
    let sent = "";
    for await (const piece of g) {
      text += piece;
      const ready = streamableContent(format!, text, plan.thinkingOpened ?? false);
      if (ready.length > sent.length && ready.startsWith(sent)) {
        yield ready.slice(sent.length);
        sent = ready;
      }
    }
    const { content } = await result;
    if (content.length > sent.length && content.startsWith(sent)) yield content.slice(sent.length);
  }
  return { result, pieces: () => pieces() };
}
