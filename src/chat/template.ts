// Chat messages rendered to prompt text with a Jinja chat template: the model's own
// (`tokenizer.chat_template` in the GGUF), or ChatML when the model has none. Rendering follows
// Python's jinja2 as Hugging Face transformers sets it up (./jinja/render.ts).
import { ChatError } from "./errors.js";
import { compileTemplate, renderTemplate, TemplateRaised, type CompiledTemplate } from "./jinja/render.js";
import { checkMessages, checkTools, type ChatMessage, type ChatTool } from "./messages.js";

export { ChatError, type ChatErrorKind } from "./errors.js";
export { checkMessages, checkTools, type ChatContent, type ChatMessage, type ChatRole, type ChatTool, type ChatToolCall } from "./messages.js";

/** Which template rendered a conversation: the model's own, or the ChatML fallback. */
export type ChatTemplateKind = "model" | "chatml";

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

/** A parsed template; parsing is the slow part, so a model keeps its own (see chat.ts). */
export class ChatTemplate {
  private readonly template: CompiledTemplate;

  constructor(
    readonly source: string,
    readonly kind: ChatTemplateKind,
  ) {
    try {
      this.template = compileTemplate(source);
    } catch (e) {
      throw new ChatError("template_syntax", `the ${kind === "model" ? "model's" : "ChatML"} chat template does not parse: ${errorText(e)}`, {
        cause: e,
      });
    }
  }

  /**
   * The prompt text for `messages`, ending with the assistant's turn opened when
   * `addGenerationPrompt` (default true). `tools` are the tool definitions offered (left undefined
   * for the template when absent, as transformers does); `variables` are extra template variables
   * (a template's own switches such as `enable_thinking`); `now` is the clock `strftime_now`
   * reads (default: the current time).
   */
  render(messages: readonly ChatMessage[], tokens: { readonly bos: string; readonly eos: string }, options: RenderOptions = {}): string {
    checkMessages(messages);
    if (options.tools !== undefined) checkTools(options.tools);
    try {
      return renderTemplate(
        this.template,
        {
          ...options.variables,
          messages,
          tools: options.tools,
          bos_token: tokens.bos,
          eos_token: tokens.eos,
          add_generation_prompt: options.addGenerationPrompt ?? true,
        },
        options.now ?? new Date(),
      );
    } catch (e) {
      const which = this.kind === "model" ? "model's" : "ChatML";
      if (e instanceof TemplateRaised) {
        // The template's own raise_exception('Conversation roles must alternate …').
        throw new ChatError("template_render", `the ${which} chat template refuses these messages: ${e.message}`, { cause: e, raised: e.message });
      }
      throw new ChatError("template_render", `the ${which} chat template cannot render these messages: ${errorText(e)}`, { cause: e });
    }
  }
}

export interface RenderOptions {
  readonly addGenerationPrompt?: boolean;
  readonly tools?: readonly ChatTool[];
  readonly variables?: Readonly<Record<string, unknown>>;
  readonly now?: Date;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
