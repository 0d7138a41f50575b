// The one error type of chat rendering, with its kinds.
import { WoollyError } from "../errors.js";

/**
 * `bad_messages`: the messages are not a non-empty array of `{ role, content, … }`, or the tools are malformed;
 * `no_template`: the model's template was asked for and the model has none;
 * `template_syntax`: the template does not parse;
 * `template_render`: it parses but fails on these messages (including its own `raise_exception`).
 */
export type ChatErrorKind = "bad_messages" | "no_template" | "template_syntax" | "template_render";

export class ChatError extends WoollyError {
  declare readonly kind: ChatErrorKind;
  /** The template's own `raise_exception` message, exactly, when that is what failed. */
  readonly raised: string | undefined;
  constructor(kind: ChatErrorKind, message: string, options?: { cause?: unknown; raised?: string }) {
    super(kind, message, options);
    this.raised = options?.raised;
  }
}

