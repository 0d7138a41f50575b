// The Tokenizer: text ↔ token ids for a GGUF vocabulary, matching llama.cpp's llama_tokenize and
// llama_detokenize. Built once from metadata (immutable); every call keeps its state to itself.

import { ParameterError } from "../errors.js";
import { bpeTokenize } from "./bpe.js";
import { createStreamDecoder, detokenizeBytes, pieceBytes, type DecoderOptions, type DetokenizeOptions, type StreamDecoder } from "./decoder.js";
import { TokenizerError } from "./errors.js";
import { partition } from "./partition.js";
import { RegexSplitter } from "./regex-split.js";
import { spmTokenize } from "./spm.js";
import { CP, codePoints, cpClass, newUtf8Decoder, toLower, wellFormed } from "./unicode.js";
import { Attr, loadVocab, type GgufMetadataSource, type Vocab, type VocabKind } from "./vocab.js";
import { wordPieceTokenize } from "./wordpiece.js";

export interface TokenizeOptions {
  /**
   * Add BOS/EOS as the model asks (tokenizer.ggml.add_bos_token / add_eos_token); WordPiece (BERT)
   * always wraps the text as [CLS] … [SEP]. Default true.
   */
  readonly addSpecial?: boolean;
  /** Match control tokens written in the text (e.g. "<|im_start|>") as single ids. Default true. */
  readonly parseSpecial?: boolean;
}

export class Tokenizer {
  /** "spm" (SentencePiece, tokenizer.ggml.model "llama"), "bpe" ("gpt2", "gemma4", "whitespace") or "wpm" (WordPiece, "bert"). */
  readonly kind: VocabKind;
  /** The pre-tokenizer type (BPE), e.g. "llama3", "qwen2", "gpt2", "gemma4"; undefined for SPM and WordPiece. */
  readonly preTokenizer: string | undefined;
  readonly nVocab: number;
  /** Beginning of sequence; for WordPiece (BERT) this is [CLS]. */
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  /** End of turn (tokenizer.ggml.eot_token_id, else found by text such as <|eot_id|> or <|im_end|>). */
  readonly eot: number | undefined;
  readonly eom: number | undefined;
  readonly unk: number | undefined;
  readonly pad: number | undefined;
  /** Separator, [SEP] for BERT (tokenizer.ggml.seperator_token_id). */
  readonly sep: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** The model expects [SEP] after the text (llama.cpp's add_sep; WordPiece adds it with addSpecial). */
  readonly addSep: boolean;

  private readonly vocab: Vocab;
  private readonly splitter: RegexSplitter | undefined;
  /** byte → its <0xXX> token (SPM and SPM-style BPE), or -1 */
  private readonly byteTokens: Int32Array;

  private constructor(vocab: Vocab) {
    this.vocab = vocab;
    this.kind = vocab.kind;
    this.preTokenizer = vocab.pre?.type;
    this.nVocab = vocab.texts.length;
    ({ bos: this.bos, eos: this.eos, eot: this.eot, eom: this.eom, unk: this.unk, pad: this.pad, sep: this.sep } = vocab.special);
    this.addBos = vocab.addBos;
    this.addEos = vocab.addEos;
    this.addSep = vocab.addSep;
    this.splitter = vocab.pre ? new RegexSplitter(vocab.pre.regexes) : undefined;
    this.byteTokens = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) {
      const hex = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
      // llama.cpp's byte_to_token: <0xXX>, else the byte itself as a one-character token.
      const id = vocab.ids.get(hex) ?? (vocab.kind === "spm" && b < 0x80 ? vocab.ids.get(String.fromCharCode(b)) : undefined);
      if (id !== undefined) this.byteTokens[b] = id;
    }
  }

  /**
   * The tokenizer described by a GGUF file's metadata (only `metadata` is read, so vocab-only files
   * work). Throws TokenizerError naming the problem: a missing or mistyped tokenizer.ggml.* key, an
   * unsupported tokenizer.ggml.model, an unknown tokenizer.ggml.pre (an absent one means "default",
   * as in llama.cpp), or an inconsistent vocabulary.
   */
  static fromGguf(file: GgufMetadataSource): Tokenizer {
    return new Tokenizer(loadVocab(file));
  }

  /** Whether `id` ends generation (EOS, EOT, EOM and tokens like <|im_end|>, <|eot_id|>, <|endoftext|>). */
  isEog(id: number): boolean {
    return this.vocab.eog.has(id);
  }

  isControl(id: number): boolean {
    this.checkId(id);
    return (this.vocab.attrs[id] & Attr.CONTROL) !== 0;
  }

  /** The token's text as stored in the vocabulary (U+2581 for spaces in SPM, Ġ in byte-level BPE). */
  tokenText(id: number): string {
    this.checkId(id);
    return this.vocab.texts[id];
  }

  /** The id of a token given its stored text, if any. */
  tokenId(text: string): number | undefined {
    return this.vocab.ids.get(text);
  }

  tokenize(text: string, options: TokenizeOptions = {}): number[] {
    const addSpecial = options.addSpecial ?? true;
    const parseSpecial = options.parseSpecial ?? true;
    const v = this.vocab;
    const raw = wellFormed(text);
    if (v.kind === "wpm") return this.tokenizeWordPiece(raw, addSpecial, parseSpecial);
    const out: number[] = [];
    if (addSpecial && v.addBos && v.special.bos !== undefined) out.push(v.special.bos);
    // SPM prefixes a space to the text at the start and after each special token.
    let prevSpecial = true;
    const seen = new Map<string, readonly number[]>();
    for (const f of partition(v, raw, parseSpecial)) {
      if (f.kind === "token") {
        out.push(f.id);
        prevSpecial = true;
        continue;
      }
      let piece = raw.slice(f.start, f.end);
      if (v.kind === "spm") {
        if (v.addSpacePrefix && prevSpecial) piece = " " + piece;
        spmTokenize(v, this.byteTokens, (b) => this.missingByte(b), piece.replaceAll(" ", "\u2581"), out);
      } else {
        if (v.escapeWhitespaces) piece = piece.replaceAll(" ", "\u2581");
        const splitter = this.splitter;
        // loadVocab gives every BPE vocabulary a pre-tokenizer row; this only guards the types.
        if (splitter === undefined) throw new TokenizerError("bad_vocab", "a BPE vocabulary without a pre-tokenizer");
        if (v.model === "whitespace") {
          for (const segment of whitespaceSegments(piece, v.normalizer.lowercase)) bpeTokenize(v, splitter, this.byteTokens, segment, out, seen);
        } else {
          bpeTokenize(v, splitter, this.byteTokens, piece, out, seen);
        }
      }
      prevSpecial = false;
    }
    if (addSpecial && v.addEos && v.special.eos !== undefined) out.push(v.special.eos);
    return out;
  }

  /** llama.cpp's WPM branch of llama_tokenize: [CLS] and [SEP] around the text with addSpecial. */
  private tokenizeWordPiece(raw: string, addSpecial: boolean, parseSpecial: boolean): number[] {
    const v = this.vocab;
    const wpm = { ids: v.ids, maxTokenUnits: v.maxTokenUnits, unk: v.special.unk };
    const out: number[] = [];
    // loadVocab refuses a WordPiece vocabulary without both ids.
    if (addSpecial && v.special.bos !== undefined) out.push(v.special.bos);
    for (const f of partition(v, raw, parseSpecial)) {
      if (f.kind === "token") out.push(f.id);
      else wordPieceTokenize(wpm, v.normalizer, raw.slice(f.start, f.end), out);
    }
    if (addSpecial && v.special.sep !== undefined) out.push(v.special.sep);
    return out;
  }

  /** The raw bytes token `id` stands for; control and unknown tokens are empty unless unparseSpecial. */
  tokenBytes(id: number, options: { readonly unparseSpecial?: boolean } = {}): Uint8Array {
    this.checkId(id);
    return pieceBytes(this.vocab, id, options.unparseSpecial ?? false);
  }

  /** llama.cpp's llama_detokenize as bytes (useful when the ids end inside a character). */
  detokenizeBytes(ids: readonly number[], options: DetokenizeOptions = {}): Uint8Array {
    return detokenizeBytes(this.vocab, ids, options, (id) => this.checkId(id));
  }

  /**
   * llama.cpp's llama_detokenize: the first piece loses one leading space when the vocabulary adds a
   * space prefix (SPM) — except after a BOS dropped by removeSpecial, as in llama.cpp — and BPE
   * vocabularies with clean_spaces drop spaces before ? ! . , and in front of 's 'm 're 've.
   * Bytes that are not valid UTF-8 (ids ending mid-character) decode to U+FFFD.
   */
  detokenize(ids: readonly number[], options: DetokenizeOptions = {}): string {
    return newUtf8Decoder().decode(this.detokenizeBytes(ids, options));
  }

  /** A streaming decoder (see StreamDecoder): emits pieces as llama.cpp's token_to_piece, in whole characters. */
  createDecoder(options: DecoderOptions = {}): StreamDecoder {
    const unparse = options.unparseSpecial ?? false;
    return createStreamDecoder((id) => this.tokenBytes(id, { unparseSpecial: unparse }));
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.nVocab) {
      throw new ParameterError("token id", `an integer in [0, ${this.nVocab})`, id);
    }
  }

  /** SPM's byte fallback for a byte without a token: llama.cpp fails (std::out_of_range) too. */
  private missingByte(b: number): number {
    throw new TokenizerError("bad_vocab", `the vocabulary has no token for byte 0x${b.toString(16).padStart(2, "0")} (<0x${b.toString(16).toUpperCase().padStart(2, "0")}>)`);
  }
}

/**
 * llama.cpp's llm_tokenizer_whitespace_session (tokenizer.ggml.model "whitespace", e.g.
 * jina-embeddings-v2-base-zh): whitespace separates segments and is dropped, letters are lower-cased
 * if the normalizer says so, and each segment then goes through the BPE session on its own.
 */
function whitespaceSegments(text: string, lowercase: boolean): string[] {
  const out: string[] = [];
  let segment = "";
  for (const cp of codePoints(text)) {
    if (cpClass(cp) & CP.WHITESPACE) {
      if (segment !== "") out.push(segment);
      segment = "";
    } else {
      segment += String.fromCodePoint(lowercase ? toLower(cp) : cp);
    }
  }
  if (segment !== "") out.push(segment);
  return out;
}
