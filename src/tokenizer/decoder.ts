// Ids back to text, as llama.cpp's token_to_piece and llama_detokenize: each token's bytes (SPM:
// U+2581 → space and <0xXX> → the byte; byte-level BPE: each character → its byte), control and
// unknown tokens only when unparseSpecial is set, the SPM leading space removed from the first piece,
// and BPE's clean-up of spaces before punctuation. Also the streaming decoder, which only ever
// returns whole characters.

import { CHAR_TO_BYTE, codePoints, newUtf8Decoder, utf8Encode } from "./unicode.js";
import { Attr, type Vocab } from "./vocab.js";

const EMPTY = new Uint8Array(0);
const SPECIAL = Attr.UNKNOWN | Attr.CONTROL;

/** The bytes token `id` stands for (llama.cpp's token_to_piece without lstrip). */
export function pieceBytes(vocab: Vocab, id: number, unparseSpecial: boolean): Uint8Array {
  const attr = vocab.attrs[id];
  if (!unparseSpecial && attr & SPECIAL) return EMPTY;
  const text = vocab.texts[id];
  if (attr & (SPECIAL | Attr.USER_DEFINED)) return utf8Encode(text);
  if (attr & Attr.NORMAL) {
    if (vocab.kind === "spm" || vocab.escapeWhitespaces) return utf8Encode(text.replaceAll("\u2581", " "));
    return decodeByteLevel(text);
  }
  if (attr & Attr.BYTE) return Uint8Array.of(tokenByte(text));
  return EMPTY; // unused and undefined tokens render as nothing
}

/** The byte of a <0xXX> token (C's strtol on the two characters after "<0x"; 0 if none parse). */
function tokenByte(text: string): number {
  const v = parseInt(text.substr(3, 2), 16);
  return Number.isNaN(v) ? 0 : v & 0xff;
}

/** llama.cpp's llama_decode_text: byte-level characters → bytes; others are flagged inline. */
function decodeByteLevel(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    if (b < 0) return decodeByteLevelSlow(text);
    out[n++] = b;
  }
  return out;
}

/** The rare path: a character that stands for no byte. llama.cpp appends the whole token text here. */
function decodeByteLevelSlow(text: string): Uint8Array {
  const out: number[] = [];
  for (const cp of codePoints(text)) {
    const b = cp < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[cp] : -1;
    if (b >= 0) {
      out.push(b);
      continue;
    }
    const hex = Array.from(utf8Encode(String.fromCodePoint(cp)), (x) => x.toString(16).padStart(2, "0")).join("");
    out.push(...utf8Encode(`[UNK_BYTE_0x${hex}${text}]`));
  }
  return Uint8Array.from(out);
}

export interface DetokenizeOptions {
  /** Drop a leading BOS and trailing EOS when the model adds them (default false). */
  readonly removeSpecial?: boolean;
  /** Render control and unknown tokens as their text (default false: they render as nothing). */
  readonly unparseSpecial?: boolean;
  /**
   * Woolly extension: override the vocabulary's clean-up of spaces before punctuation (llama.cpp's
   * clean_spaces, on for most BPE vocabularies). Default: the vocabulary's setting.
   */
  readonly cleanSpaces?: boolean;
}

/** llama.cpp's llama_detokenize, returning the raw bytes. */
export function detokenizeBytes(vocab: Vocab, ids: readonly number[], options: DetokenizeOptions, check: (id: number) => void): Uint8Array {
  const removeSpecial = options.removeSpecial ?? false;
  const unparse = options.unparseSpecial ?? false;
  let first = 0;
  let last = ids.length;
  // The first piece loses one leading space (the one SPM's add_space_prefix put there); not when a
  // removed BOS came first, exactly as llama.cpp.
  let removeSpace = vocab.addSpacePrefix;
  if (removeSpecial && vocab.addBos && last > first && ids[first] === vocab.special.bos) {
    removeSpace = false;
    first++;
  }
  if (removeSpecial && vocab.addEos && last > first && ids[last - 1] === vocab.special.eos) last--;

  const pieces: Uint8Array[] = [];
  let total = 0;
  for (let i = first; i < last; i++) {
    check(ids[i]);
    let piece = pieceBytes(vocab, ids[i], unparse);
    if (removeSpace && piece.length > 0 && piece[0] === 0x20) piece = piece.subarray(1);
    removeSpace = false;
    pieces.push(piece);
    total += piece.length;
  }
  const text = new Uint8Array(total);
  let off = 0;
  for (const p of pieces) {
    text.set(p, off);
    off += p.length;
  }
  return options.cleanSpaces ?? vocab.cleanSpaces ? cleanSpaces(text) : text;
}

const SP = 0x20;
const APOS = 0x27;

/**
 * llama.cpp's three clean-up passes, ported literally (in place, same index arithmetic), so their
 * quirks carry over: " ?" " !" " ." " ," lose the space; a lone "'" between spaces loses both;
 * " 's" " 'm" " 're" " 've" lose the space (lower case only).
 */
function cleanSpaces(text: Uint8Array): Uint8Array {
  const q = (c: number): boolean => c === 0x3f || c === 0x21 || c === 0x2e || c === 0x2c;
  let total = text.length;
  const total1 = total;
  total = total ? 1 : 0;
  for (let i = 1; i < total1; i++) {
    const x = text[i];
    if (text[i - 1] === SP && q(x)) total--;
    text[total++] = x;
  }
  const total2 = total;
  total = total ? 1 : 0;
  for (let i = 1; i < total2; i++) {
    const x = text[i];
    if (x === APOS && i + 1 < total2 && text[i - 1] === SP && text[i + 1] === SP) {
      total--;
      text[++i] = 0;
    }
    text[total++] = x;
  }
  const total3 = total;
  total = total ? 1 : 0;
  for (let i = 1; i < total3; i++) {
    const x = text[i];
    if (text[i - 1] === SP && x === APOS && i + 1 < total3) {
      const x1 = text[i + 1];
      if (x1 === 0x73 || x1 === 0x6d) total--; // 's 'm
      else if (i + 2 < total3) {
        const x2 = text[i + 2];
        if ((x1 === 0x72 && x2 === 0x65) || (x1 === 0x76 && x2 === 0x65)) total--; // 're 've
      }
    }
    text[total++] = x;
  }
  return text.subarray(0, total);
}

export interface DecoderOptions {
  /** Render control and unknown tokens as their text (default false). */
  readonly unparseSpecial?: boolean;
}

/** Streaming detokenizer: push ids as they are generated, get text back in whole characters. */
export interface StreamDecoder {
  /**
   * The text completed by this token. Bytes of a character split across tokens (byte tokens of an
   * emoji) are held back until the character is complete; invalid bytes become U+FFFD.
   */
  push(id: number): string;
  /** Ends the stream: a held-back incomplete character becomes U+FFFD. The decoder can be reused. */
  flush(): string;
}

/**
 * Pieces are emitted as llama.cpp's token_to_piece gives them (what its CLI streams): no leading
 * space removal and no space clean-up, which need the whole text.
 */
export function createStreamDecoder(piece: (id: number) => Uint8Array): StreamDecoder {
  const utf8 = newUtf8Decoder();
  return {
    push: (id) => utf8.decode(piece(id), { stream: true }),
    flush: () => utf8.decode(),
  };
}
