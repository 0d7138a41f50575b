// Log-probabilities in OpenAI's two shapes: chat's `logprobs.content[]` ({ token, logprob, bytes,
// top_logprobs }) and the legacy completions' `logprobs` (tokens, token_logprobs, top_logprobs
// dictionaries, text_offset). Token text and bytes are what generation emits for the token.
import type { SampledLogprobs } from "../sampling/index.js";
import type { Tokenizer } from "../tokenizer/index.js";
import { ServerError } from "./http.js";

type Body = Record<string, unknown>;

const bad = (param: string, message: string): ServerError => new ServerError("invalid_request", message, { param });
const isInt = (v: unknown, lo: number, hi: number): v is number => typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;

/** Most alternatives per token (OpenAI's chat limit; Woolly allows the same on completions). */
const MAX_TOP = 20;

/** Chat's `logprobs` (boolean) and `top_logprobs` (0–20) as the library's `logprobs` count, or undefined. */
export function parseChatLogprobs(body: Body): number | undefined {
  const on = body.logprobs ?? undefined;
  const top = body.top_logprobs ?? undefined;
  if (on !== undefined && typeof on !== "boolean") throw bad("logprobs", "logprobs must be true or false");
  if (top !== undefined && !isInt(top, 0, MAX_TOP)) throw bad("top_logprobs", `top_logprobs must be an integer in [0, ${MAX_TOP}]`);
  if (top !== undefined && on !== true) throw bad("top_logprobs", "top_logprobs needs logprobs: true");
  return on === true ? (top ?? 0) : undefined;
}

/** Completions' `logprobs` (an integer 0–20, the alternatives per token), or undefined. */
export function parseCompletionLogprobs(body: Body): number | undefined {
  const v = body.logprobs ?? undefined;
  if (v === undefined || v === false) return undefined;
  if (!isInt(v, 0, MAX_TOP)) throw bad("logprobs", `logprobs must be an integer in [0, ${MAX_TOP}]`);
  return v;
}

/** Token text (its bytes decoded, an incomplete character as U+FFFD) and bytes, as generation emits them. */
class TokenShapes {
  private readonly decoder = new TextDecoder();
  constructor(private readonly tokenizer: Tokenizer) {}

  bytes(id: number): number[] {
    return Array.from(this.tokenizer.tokenBytes(id));
  }

  text(id: number): string {
    return this.decoder.decode(this.tokenizer.tokenBytes(id));
  }
}

export interface ChatLogprobs {
  content: { token: string; logprob: number; bytes: number[]; top_logprobs: { token: string; logprob: number; bytes: number[] }[] }[];
  refusal: null;
}

/** Chat's shape for these tokens. */
export function chatLogprobs(tokenizer: Tokenizer, lp: readonly SampledLogprobs[]): ChatLogprobs {
  const t = new TokenShapes(tokenizer);
  return {
    content: lp.map((p) => ({
      token: t.text(p.token),
      logprob: p.logprob,
      bytes: t.bytes(p.token),
      top_logprobs: p.top.map((a) => ({ token: t.text(a.token), logprob: a.logprob, bytes: t.bytes(a.token) })),
    })),
    refusal: null,
  };
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

/** The legacy completions shape; `offset0` is where the first token's text starts in the choice's text. */
export function completionLogprobs(tokenizer: Tokenizer, lp: readonly SampledLogprobs[], offset0 = 0): CompletionLogprobs {
  const t = new TokenShapes(tokenizer);
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = offset0;
  for (const p of lp) {
    const text = t.text(p.token);
    out.tokens.push(text);
    out.token_logprobs.push(p.logprob);
    const top: Record<string, number> = {};
    // Two alternatives with the same text (a byte token and a whole one) keep the likelier.
    for (const a of p.top) {
      const k = t.text(a.token);
      if (!(k in top)) top[k] = a.logprob;
    }
    out.top_logprobs.push(top);
    out.text_offset.push(offset);
    offset += text.length;
  }
  return out;
}
