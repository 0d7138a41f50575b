// Chat messages rendered to prompt text with a Jinja chat template: the model's own
// (`tokenizer.chat_template` in the GGUF), or ChatML when the model has none.
import { Template } from "@huggingface/jinja";
import { WoollyError } from "../errors.js";

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

/** Which template rendered a conversation: the model's own, or the ChatML fallback. */
export type ChatTemplateKind = "model" | "chatml";

/**
 * `bad_messages`: the messages are not a non-empty array of `{ role, content }`;
 * `no_template`: the model's template was asked for and the model has none;
 * `template_syntax`: the template does not parse;
 * `template_render`: it parses but fails on these messages (including its own `raise_exception`).
 */
export type ChatErrorKind = "bad_messages" | "no_template" | "template_syntax" | "template_render";

export class ChatError extends WoollyError {
  declare readonly kind: ChatErrorKind;
  constructor(kind: ChatErrorKind, message: string, options?: { cause?: unknown }) {
    super(kind, message, options);
  }
}

/** The GGUF key that holds a model's Jinja chat template. */
export const CHAT_TEMPLATE_KEY = "tokenizer.chat_template";

/**
 * ChatML (Qwen, SmolLM, many fine-tunes), the fallback for models without a template, as
 * llama.cpp's server also falls back to it: `<|im_start|>role\ncontent<|im_end|>\n` per message.
 */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** ChatML's end-of-turn marker: a stop string when the vocabulary has no such end-of-generation token. */
export const CHATML_END = "<|im_end|>";

const ROLES: readonly string[] = ["system", "user", "assistant"];

/** Checks the shape of `messages` (they may come straight from JSON), naming the first fault. */
export function checkMessages(messages: unknown): asserts messages is readonly ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new ChatError("bad_messages", "messages must be a non-empty array of { role, content }");
  }
  messages.forEach((m: unknown, i) => {
    if (typeof m !== "object" || m === null || Array.isArray(m)) {
      throw new ChatError("bad_messages", `messages[${i}] must be an object { role, content }`);
    }
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== "string" || !ROLES.includes(role)) {
      throw new ChatError("bad_messages", `messages[${i}].role must be one of ${ROLES.join(", ")}; got ${JSON.stringify(role) ?? "nothing"}`);
    }
    if (typeof content !== "string") {
      throw new ChatError("bad_messages", `messages[${i}].content must be a string; got ${content === null ? "null" : typeof content}`);
    }
  });
}

/** A parsed template; parsing is the slow part, so a model keeps its own (see chat.ts). */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    readonly kind: ChatTemplateKind,
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new ChatError("template_syntax", `the ${kind === "model" ? "model's" : "ChatML"} chat template does not parse: ${errorText(e)}`, {
        cause: e,
      });
    }
  }

  /**
   * The prompt text for `messages`, ending with the assistant's turn opened when
   * `addGenerationPrompt` (default true). `variables` are extra template variables (e.g. a
   * template's own switches such as `enable_thinking`).
   */
  render(
    messages: readonly ChatMessage[],
    tokens: { readonly bos: string; readonly eos: string },
    options: { readonly addGenerationPrompt?: boolean; readonly variables?: Readonly<Record<string, unknown>> } = {},
  ): string {
    checkMessages(messages);
    try {
      const out = this.template.render({
        ...options.variables,
        // Copies: the interpreter must not see (or keep) the caller's objects.
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        bos_token: tokens.bos,
        eos_token: tokens.eos,
        add_generation_prompt: options.addGenerationPrompt ?? true,
      });
      if (typeof out !== "string") throw new Error(`it produced ${typeof out}, not text`);
      return out;
    } catch (e) {
      // Includes the template's own raise_exception('Conversation roles must alternate …'), whose
      // text is the message of the error the interpreter throws.
      throw new ChatError("template_render", `the ${this.kind === "model" ? "model's" : "ChatML"} chat template cannot render these messages: ${errorText(e)}`, {
        cause: e,
      });
    }
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
