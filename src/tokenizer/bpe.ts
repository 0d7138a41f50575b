// Byte-pair-encoding (BPE) tokenization of one text fragment, as llama.cpp's
// llm_tokenizer_bpe_session: the pre-tokenizer splits the text into words; each word (GPT-2
// byte-encoded unless the vocabulary is SPM-style) merges its characters pairwise, lowest merge rank
// first (leftmost on ties), and each final symbol becomes its token.

import { mergeSymbols } from "./merge.js";
import type { RegexSplitter } from "./regex-split.js";
import { charUnits } from "./spm.js";
import { byteEncode, utf8Encode } from "./unicode.js";
import type { Vocab } from "./vocab.js";

/**
 * Appends the ids of `text` to `out`. `byteTokens` maps bytes to <0xXX> tokens (SPM-style BPE).
 * `seen` memoizes words within one tokenize call: a word's ids depend only on the word, and natural
 * text repeats words often (about 3x faster on English prose, measured).
 */
export function bpeTokenize(
  vocab: Vocab,
  splitter: RegexSplitter,
  byteTokens: Int32Array,
  text: string,
  out: number[],
  seen: Map<string, readonly number[]>,
): void {
  const gemma4 = vocab.pre?.type === "gemma4";
  for (const raw of splitter.split(text)) {
    const memo = seen.get(raw);
    if (memo !== undefined) {
      for (const id of memo) out.push(id);
      continue;
    }
    const first = out.length;
    wordIds(vocab, byteTokens, gemma4, raw, out);
    seen.set(raw, out.slice(first));
  }
}

/** The ids of one pre-tokenized word. */
function wordIds(vocab: Vocab, byteTokens: Int32Array, gemma4: boolean, raw: string, out: number[]): void {
  const { ids, merges } = vocab;
  const word = vocab.byteEncode ? byteEncode(raw) : raw;
  if (word.length === 0) return;
  // A word that is already a token stays whole: with ignore_merges (Llama 3 and kin), and for
  // Gemma 4's runs of newlines.
  if (vocab.ignoreMerges || (gemma4 && /^\n+$/.test(word))) {
    const id = ids.get(word);
    if (id !== undefined) {
      out.push(id);
      return;
    }
  }
  const symbols = mergeSymbols(word, charUnits(word), (w, start, l, r) => {
    const rank = merges.get(w.substr(start, l) + " " + w.substr(start + l, r));
    return rank === undefined ? undefined : -rank;
  });
  for (const [start, len] of symbols) {
    const piece = word.substr(start, len);
    const id = ids.get(piece);
    if (id !== undefined) out.push(id);
    else fallback(vocab, byteTokens, piece, out);
  }
}

/**
 * A symbol that is no token, spelled byte by byte as llama.cpp does. Byte-encoded vocabularies look
 * up each UTF-8 byte of the *encoded* symbol as a one-byte string, which only ASCII bytes can match;
 * bytes without a token are dropped (llama.cpp drops them too).
 */
function fallback(vocab: Vocab, byteTokens: Int32Array, piece: string, out: number[]): void {
  for (const b of utf8Encode(piece)) {
    const id = vocab.byteEncode ? (b < 0x80 ? vocab.ids.get(String.fromCharCode(b)) : undefined) : byteTokens[b];
    if (id !== undefined && id >= 0) out.push(id);
  }
}
