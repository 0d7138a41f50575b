// Glue between a Tokenizer and the grammar engine: the token trie of a tokenizer's vocabulary and a
// resolver for `<name>` tokens in GBNF. Uses only the Tokenizer's public API.

import type { Tokenizer } from "../tokenizer/index.js";
import type { TokenResolver } from "./parser.js";
import { TokenTrie } from "./trie.js";

export interface TokenTrieOptions {
  /**
   * Give control tokens (e.g. <|im_start|>) their text as bytes, as llama.cpp's grammar sampler does,
   * so a grammar can match them as text. Default false: they have no bytes, as generation emits them,
   * and a grammar never allows them (except EOG tokens where the grammar can end).
   */
  readonly unparseSpecial?: boolean;
}

/** Every token's bytes (as generation emits them) and the EOG ids, indexed for masking. */
export function tokenTrieFromTokenizer(tokenizer: Tokenizer, options: TokenTrieOptions = {}): TokenTrie {
  const unparseSpecial = options.unparseSpecial ?? false;
  const pieces: Uint8Array[] = new Array<Uint8Array>(tokenizer.nVocab);
  const eog: number[] = [];
  for (let id = 0; id < tokenizer.nVocab; id++) {
    pieces[id] = tokenizer.tokenBytes(id, { unparseSpecial });
    if (tokenizer.isEog(id)) eog.push(id);
  }
  return new TokenTrie(pieces, eog);
}

/**
 * Resolves a GBNF `<name>` token as llama.cpp does: the text (angle brackets included) must tokenize,
 * special tokens parsed, to exactly one token.
 */
export function tokenResolver(tokenizer: Tokenizer): TokenResolver {
  return (text) => {
    const ids = tokenizer.tokenize(text, { addSpecial: false, parseSpecial: true });
    return ids.length === 1 ? ids[0] : undefined;
  };
}
