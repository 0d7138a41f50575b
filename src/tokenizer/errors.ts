// The tokenizer's typed error. (Lives beside the tokenizer; src/errors.ts may re-export it.)

import { WoollyError } from "../errors.js";

/** What can be wrong with a vocabulary, or with a request to the tokenizer. */
export type TokenizerErrorKind =
  /** A required tokenizer.ggml.* key is absent. */
  | "missing_key"
  /** A tokenizer.ggml.* key holds the wrong GGUF type. */
  | "wrong_type"
  /** tokenizer.ggml.model names a tokenizer Woolly does not implement (or llama.cpp does not know). */
  | "unsupported_tokenizer"
  /** tokenizer.ggml.pre names a pre-tokenizer llama.cpp does not know. */
  | "unsupported_pretokenizer"
  /** A pre-tokenizer regex cannot be prepared. */
  | "bad_pretokenizer"
  /** The vocabulary contradicts itself: duplicate tokens, short arrays, a missing byte token, … */
  | "bad_vocab";

export class TokenizerError extends WoollyError {
  declare readonly kind: TokenizerErrorKind;
  constructor(kind: TokenizerErrorKind, message: string, options?: { cause?: unknown }) {
    super(kind, message, options);
  }
}
