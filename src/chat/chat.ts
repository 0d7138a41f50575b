// model.chat(messages): render the conversation with the model's chat template, tokenize it the way
// llama.cpp's server does, and stream the assistant's reply through model.generate.
//
// Chat builds on a TextGenerator (generate + tokenizer + file metadata), not on Model: Model offers
// model.chat() by calling chat(this, …), and nothing here imports the model.
//
// Multi-turn chat needs nothing extra: the next turn's prompt begins with this turn's prompt tokens,
// and generate() reuses the KV cache for the longest common prefix of token ids.
import { ParameterError } from "../errors.js";
import type { GenerateOptions, Generation, TextGenerator } from "../generate/options.js";
import { planTools, toolStream, withPrompt, type ChatResult, type ToolChoice } from "./tools.js";
import type { ToolFormatName } from "./tool-formats.js";
import { MAX_STOPS } from "../generate/stop.js";
import {
  CHAT_TEMPLATE_KEY,
  CHATML_END,
  CHATML_TEMPLATE,
  ChatError,
  ChatTemplate,
  type ChatMessage,
  type ChatTemplateKind,
  type ChatTool,
  type ChatToolCall,
} from "./template.js";

export interface ChatOptions extends Omit<GenerateOptions, "addSpecial" | "parseSpecial"> {
  /**
   * `"auto"` (default): the model's template, or ChatML when the model has none; `"model"`: the
   * model's template, else ChatError('no_template'); `"chatml"`: ChatML always.
   */
  template?: "auto" | "model" | "chatml";
  /** Extra variables for the template, e.g. `{ enable_thinking: false }` for templates that read it. */
  templateVariables?: Readonly<Record<string, unknown>>;
  /**
   * Tool definitions the template offers the model (its `tools` variable). The reply is then parsed
   * for calls in the format of the model's family (`result.toolCalls`, `result.content`).
   */
  tools?: readonly ChatTool[];
  /**
   * `"auto"` (default): the model may call a tool; `"none"`: the tools are not rendered and nothing
   * is parsed; `"required"`: a grammar forces at least one call of one of the tools, with arguments
   * valid against its parameters schema; `{ type: "function", function: { name } }`: forces that one.
   */
  toolChoice?: ToolChoice;
  /** Forced calls: allow several calls in one reply (default false: exactly one). */
  parallelToolCalls?: boolean;
  /** Parse calls in this format rather than the one detected from the template's text. */
  toolFormat?: ToolFormatName;
  /**
   * The clock of the template's `strftime_now` (templates that print today's date); default: the
   * current time. A server or a test fixes it to make prompts reproducible.
   */
  now?: Date;
}

/**
 * A reply streaming like generate()'s, with what the model was actually given. With tools, the
 * stream holds call markup back: its pieces add up to `result.content`.
 */
export interface ChatGeneration extends Generation {
  readonly result: Promise<ChatResult>;
  /** Which template rendered the conversation. */
  readonly template: ChatTemplateKind;
  /** The rendered prompt text (BOS text removed when the tokenizer adds the BOS token itself). */
  readonly prompt: string;
  /** The prompt's token ids, as passed to generate(). */
  readonly promptTokens: readonly number[];
}

/** The rendered prompt and its tokens, without generating (for inspection, and for servers). */
export interface ChatPrompt {
  readonly template: ChatTemplateKind;
  readonly text: string;
  readonly tokens: number[];
}

/** Parsed templates per model: parsing a long template takes milliseconds, rendering far less. */
const templates = new WeakMap<TextGenerator, { model?: ChatTemplate; chatml?: ChatTemplate }>();

function templateFor(model: TextGenerator, choice: ChatOptions["template"]): ChatTemplate {
  if (choice !== undefined && choice !== "auto" && choice !== "model" && choice !== "chatml") {
    throw new ParameterError("template", '"auto", "model" or "chatml"', choice);
  }
  let cache = templates.get(model);
  if (!cache) templates.set(model, (cache = {}));
  if (choice !== "chatml") {
    if (cache.model) return cache.model;
    const source = model.file.getString(CHAT_TEMPLATE_KEY, undefined);
    if (source !== undefined && source.trim() !== "") return (cache.model = new ChatTemplate(source, "model"));
    if (choice === "model") {
      throw new ChatError("no_template", `the model has no chat template (no ${CHAT_TEMPLATE_KEY} in the file); use template "chatml" or "auto"`);
    }
  }
  return (cache.chatml ??= new ChatTemplate(CHATML_TEMPLATE, "chatml"));
}

/**
 * Render and tokenize a conversation. As llama.cpp does (common/chat.cpp): templates usually write
 * `bos_token` themselves, so when the tokenizer also adds BOS the rendered text's leading BOS is
 * cut (and a trailing EOS when it adds EOS), then the text is tokenized with special tokens added
 * and parsed. The result never starts with two BOS tokens.
 */
export function chatPrompt(
  model: TextGenerator,
  messages: readonly ChatMessage[],
  options: Pick<ChatOptions, "template" | "templateVariables" | "tools" | "now"> = {},
): ChatPrompt {
  const template = templateFor(model, options.template);
  const tk = model.tokenizer;
  const bos = tk.bos !== undefined ? tk.tokenText(tk.bos) : "";
  const eos = tk.eos !== undefined ? tk.tokenText(tk.eos) : "";
  let text = template.render(withArgumentObjects(template, messages), { bos, eos }, { variables: options.templateVariables, tools: options.tools, now: options.now });
  if (tk.addBos && bos !== "" && text.startsWith(bos)) text = text.slice(bos.length);
  if (tk.addEos && eos !== "" && text.endsWith(eos)) text = text.slice(0, -eos.length);
  const tokens = tk.tokenize(text, { addSpecial: true, parseSpecial: true });
  // Never two BOS tokens at the start (a template that writes bos_token twice, say).
  while (tk.bos !== undefined && tokens.length > 1 && tokens[0] === tk.bos && tokens[1] === tk.bos) tokens.shift();
  return { template: template.kind, text, tokens };
}

/** Whether each template prints tool-call arguments given as objects (most `tojson` them). */
const objectArguments = new WeakMap<ChatTemplate, boolean>();

/**
 * Tool-call arguments as objects for templates that print objects (as transformers passes them):
 * OpenAI clients send JSON text, which such a template would print as a quoted string. Found as
 * llama.cpp does, by rendering a probe call and looking for its argument's name.
 */
function withArgumentObjects(template: ChatTemplate, messages: readonly ChatMessage[]): readonly ChatMessage[] {
  if (!Array.isArray(messages) || !messages.some((m: ChatMessage) => m?.tool_calls?.some((c: ChatToolCall) => typeof c?.function?.arguments === "string"))) return messages;
  let objects = objectArguments.get(template);
  if (objects === undefined) {
    const probe: ChatMessage[] = [
      { role: "user", content: "Hi" },
      { role: "assistant", content: null, tool_calls: [{ id: "call00001", type: "function", function: { name: "probe", arguments: { argument_needle: 1 } } }] },
      { role: "tool", tool_call_id: "call00001", name: "probe", content: "ok" },
    ];
    try {
      objects = template.render(probe, { bos: "", eos: "" }, { addGenerationPrompt: false }).includes("argument_needle");
    } catch {
      objects = false;
    }
    objectArguments.set(template, objects);
  }
  if (!objects) return messages;
  return messages.map((m: ChatMessage): ChatMessage =>
    m.tool_calls
      ? {
          ...m,
          tool_calls: m.tool_calls.map((c: ChatToolCall): ChatToolCall => {
            if (typeof c.function.arguments !== "string") return c;
            try {
              const parsed: unknown = JSON.parse(c.function.arguments);
              return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
                ? { ...c, function: { ...c.function, arguments: parsed as Record<string, unknown> } }
                : c;
            } catch {
              return c;
            }
          }),
        }
      : m,
  );
}

/** Stream the assistant's reply to `messages`; see Model.chat. */
export function chat(model: TextGenerator, messages: readonly ChatMessage[], options: ChatOptions = {}): ChatGeneration {
  const template = templateFor(model, options.template);
  const plan = planTools(model.tokenizer, template.source, messages, {
    tools: options.tools,
    toolChoice: options.toolChoice,
    parallelToolCalls: options.parallelToolCalls,
    format: options.toolFormat,
    now: options.now,
    callerConstrains: options.grammar !== undefined || options.jsonSchema !== undefined || options.json === true,
  });
  const variables = plan.variables ? { ...plan.variables, ...options.templateVariables } : options.templateVariables;
  const prompt = chatPrompt(model, plan.messages, { ...options, tools: plan.tools, templateVariables: variables });
  const {
    template: _template,
    templateVariables: _variables,
    tools: _tools,
    toolChoice: _choice,
    parallelToolCalls: _parallel,
    toolFormat: _format,
    now: _now,
    ...generateOptions
  } = options;
  let stop = options.stop;
  // Without an <|im_end|> token that ends generation, ChatML's end of turn is plain text: stop on it.
  const endIsToken = (() => {
    const id = model.tokenizer.tokenId(CHATML_END);
    return id !== undefined && model.tokenizer.isEog(id);
  })();
  const room = stop === undefined || (Array.isArray(stop) && stop.length < MAX_STOPS && !stop.includes(CHATML_END));
  if (prompt.template === "chatml" && !endIsToken && room) stop = [...(stop ?? []), CHATML_END];
  const preserve = [...(generateOptions.preserveTokens ?? []), ...(plan.generate.preserveTokens ?? [])];
  const g = model.generate(prompt.tokens, {
    ...generateOptions,
    ...(plan.generate.grammar !== undefined ? { grammar: plan.generate.grammar } : {}),
    ...(preserve.length ? { preserveTokens: preserve } : {}),
    stop,
  });
  const reply = toolStream(withPrompt(plan, prompt.text), g);
  return {
    result: reply.result,
    [Symbol.asyncIterator]: reply.pieces,
    template: prompt.template,
    prompt: prompt.text,
    promptTokens: prompt.tokens,
  };
}
