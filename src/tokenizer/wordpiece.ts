// WordPiece (BERT, tokenizer.ggml.model "bert") as llama.cpp's llm_tokenizer_wpm_session.
//
// 1. Normalize and split into words (preprocess): each code point is first replaced by the first code
//    point of its NFD when accents are stripped; whitespace ends a word; NUL, U+FFFD and control
//    characters vanish; so do combining marks when accents are stripped; the rest is lower-cased (if
//    asked) and either starts a one-character word of its own (punctuation, ASCII symbols, CJK
//    ideographs) or joins the current word.
// 2. Each word, with U+2581 prefixed (llama.cpp's converter stores word-initial pieces as "▁piece"
//    and continuations "##piece" as plain "piece"), is cut greedily into the longest vocabulary
//    entries from the left. A word with any position that matches nothing becomes one [UNK].
//
// Everything here works on code points or UTF-16 units of well-formed text; llama.cpp works on UTF-8
// bytes, but a vocabulary entry is whole characters, so byte- and unit-based longest matches agree.

import { CP, codePoints, cpClass, nfdFirst, toLower } from "./unicode.js";

/** llama.cpp's normalizer options (tokenizer.ggml.normalizer.*): WordPiece, and lowercase for "whitespace" BPE. */
export interface NormalizerOptions {
  readonly lowercase: boolean;
  readonly stripAccents: boolean;
}

/** What the WordPiece session needs of the vocabulary. */
export interface WordPieceVocab {
  readonly ids: { get(text: string): number | undefined };
  /** Longest token text in UTF-16 units (the search window). */
  readonly maxTokenUnits: number;
  readonly unk: number | undefined;
}

/**
 * llama.cpp's is_chinese_char, kept as it is: it copies Hugging Face's range list, including its
 * 0x2B920 (not 0x2B820) start of the sixth block, and leaves CJK punctuation and full-width forms to
 * the punctuation test.
 */
function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** llama.cpp's llm_tokenizer_wpm_session::preprocess: the normalized words of `text`, none empty. */
export function wordPieceWords(text: string, opts: NormalizerOptions): string[] {
  const words: string[] = [];
  let word = "";
  for (const raw of codePoints(text)) {
    const cp = opts.stripAccents ? nfdFirst(raw) : raw;
    const f = cpClass(cp);
    if (f & CP.WHITESPACE) {
      if (word !== "") words.push(word);
      word = "";
      continue;
    }
    if (cp === 0 || cp === 0xfffd || f & CP.CONTROL) continue;
    if (opts.stripAccents && f & CP.ACCENT_MARK) continue;
    const s = String.fromCodePoint(opts.lowercase ? toLower(cp) : cp);
    if (f & CP.PUNCTUATION || (cp < 0x7f && f & CP.SYMBOL) || isChineseChar(cp)) {
      if (word !== "") words.push(word);
      words.push(s);
      word = "";
    } else {
      word += s;
    }
  }
  if (word !== "") words.push(word);
  return words;
}

/** Appends the ids of `text` (one fragment between special tokens) to `out`. */
export function wordPieceTokenize(vocab: WordPieceVocab, opts: NormalizerOptions, text: string, out: number[]): void {
  for (const w of wordPieceWords(text, opts)) {
    const word = "\u2581" + w;
    const n = word.length;
    const first = out.length;
    for (let i = 0; i < n; ) {
      let id: number | undefined;
      let j = Math.min(n, i + vocab.maxTokenUnits);
      for (; j > i; j--) {
        id = vocab.ids.get(word.slice(i, j));
        if (id !== undefined) break;
      }
      if (id === undefined) {
        out.length = first; // one position without a match discards the whole word
        break;
      }
      out.push(id);
      i = j;
    }
    // llama.cpp pushes its unknown id even when the vocabulary has none (LLAMA_TOKEN_NULL, -1);
    // Woolly drops the word instead of emitting an id that is no token.
    if (out.length === first && vocab.unk !== undefined) out.push(vocab.unk);
  }
}
