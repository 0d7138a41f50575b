// SentencePiece (SPM) tokenization of one text fragment, as llama.cpp's llm_tokenizer_spm_session:
// characters merge pairwise, highest-scoring resulting token first (leftmost on ties); whatever is
// left that is not a token is spelled with byte tokens (<0xXX>).
//
// llama.cpp's "resegment" step can split a final symbol back along its recorded merges, but a merged
// symbol is always a token (a pair only merges into a token), so only single characters ever reach
// the byte fallback.

import { mergeSymbols } from "./merge.js";
import { utf8Encode } from "./unicode.js";
import type { Vocab } from "./vocab.js";

/**
 * Appends the ids of `text` (already prefixed and with spaces escaped to U+2581) to `out`.
 * `byteTokens[b]` is the token of byte b, or -1 (then `missingByte` decides).
 */
export function spmTokenize(
  vocab: Vocab,
  byteTokens: Int32Array,
  missingByte: (byte: number) => number,
  text: string,
  out: number[],
): void {
  if (text.length === 0) return;
  const { ids, scores } = vocab;
  const symbols = mergeSymbols(text, charUnits(text), (w, start, l, r) => {
    const id = ids.get(w.substr(start, l + r));
    return id === undefined ? undefined : scores[id];
  });
  for (const [start, len] of symbols) {
    const piece = text.substr(start, len);
    const id = ids.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    for (const b of utf8Encode(piece)) out.push(byteTokens[b] >= 0 ? byteTokens[b] : missingByte(b));
  }
}

/** UTF-16 length of each character (code point) of `s`: the initial symbols. */
export function charUnits(s: string): number[] {
  const units: number[] = [];
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    const u = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
    units.push(u);
    i += u;
  }
  return units;
}
