// WordPiece (tokenizer.ggml.model "bert") as llama.cpp's llm_tokenizer_wpm: [CLS] … [SEP] with
// addSpecial, normalization, greedy longest match with continuation pieces, [UNK] for a whole word,
// the normalizer keys, and decoding as llama.cpp's detokenize gives it.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GgufValueType, parseGguf, type GgufValue } from "../src/gguf/index.js";
import { Tokenizer, TokenizerError } from "../src/tokenizer/index.js";
import { wordPieceWords } from "../src/tokenizer/wordpiece.js";
import { join } from "node:path";
import { FIXTURES, fixturePath } from "./helpers/fixtures.js";

let bge: Tokenizer | undefined;
/** bge-small's vocabulary (30,522 tokens), parsed once. */
function bert(): Tokenizer {
  bge ??= Tokenizer.fromGguf(parseGguf(readFileSync(fixturePath("tokenizer", "ggml-vocab-bert-bge.gguf"))));
  return bge;
}

const str = (value: string): GgufValue => ({ type: GgufValueType.STRING, value });
const bool = (value: boolean): GgufValue => ({ type: GgufValueType.BOOL, value });
const u32 = (value: number): GgufValue => ({ type: GgufValueType.UINT32, value });

/** A hand-made WordPiece vocabulary: "▁x" starts a word, "x" continues one (llama.cpp's converter's spelling of "##x"). */
function tiny(extra: Record<string, GgufValue> = {}, tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "▁hello", "▁Hello", "▁he", "llo", "▁e", "▁é", "▁!", "s"]): Tokenizer {
  const types = tokens.map((t) => (t.startsWith("[") ? 3 : 1));
  return Tokenizer.fromGguf({
    metadata: new Map<string, GgufValue>([
      ["tokenizer.ggml.model", str("bert")],
      ["tokenizer.ggml.tokens", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.STRING, items: tokens } }],
      ["tokenizer.ggml.token_type", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT32, items: Int32Array.from(types) } }],
      ["tokenizer.ggml.unknown_token_id", u32(1)],
      ["tokenizer.ggml.cls_token_id", u32(2)],
      ["tokenizer.ggml.seperator_token_id", u32(3)],
      ...Object.entries(extra),
    ]),
  });
}

describe("WordPiece with bge-small's vocabulary", () => {
  it("wraps the text in [CLS] … [SEP] with addSpecial (the embeddings' input)", () => {
    const t = bert();
    expect(t.kind).toBe("wpm");
    expect(t.tokenize("Hello, world!")).toEqual([101, 7592, 1010, 2088, 999, 102]);
    expect(t.tokenize("Hello, world!", { addSpecial: false })).toEqual([7592, 1010, 2088, 999]);
    expect(t.tokenize("")).toEqual([101, 102]);
    expect(t.tokenText(101)).toBe("[CLS]");
    expect(t.tokenText(102)).toBe("[SEP]");
  });

  // archs/reference/synth-bert-*.e1/e2.json: the ids llama.cpp fed the synthetic BERT model.
  let synth: Tokenizer | undefined;
  it.each([
    ["e1", "Hello world"],
    ["e2", "The quick brown fox jumps over the lazy dog."],
  ])("the synth-bert %s prompt %j tokenizes to the reference ids", (ref, text) => {
    const want: { prompt: number[] } = JSON.parse(readFileSync(join(FIXTURES, "archs", "reference", `synth-bert-Q8_0.${ref}.json`), "utf8"));
    synth ??= Tokenizer.fromGguf(parseGguf(readFileSync(join(FIXTURES, "archs", "models", "synth-bert-Q8_0.gguf"))));
    expect(synth.tokenize(text)).toEqual(want.prompt);
    expect(bert().tokenize(text)).toEqual(want.prompt);
  });

  it("matches written special tokens only with parseSpecial, without stripping the spaces around them", () => {
    const t = bert();
    expect(t.tokenize("[CLS] hi [SEP]", { addSpecial: false })).toEqual([101, 7632, 102]);
    expect(t.tokenize("[CLS] hi [SEP]", { addSpecial: false, parseSpecial: false })).not.toContain(101);
  });

  it("cuts words into the longest pieces from the left, continuation pieces without ▁", () => {
    const t = bert();
    expect(t.tokenize("unaffable", { addSpecial: false }).map((id) => t.tokenText(id))).toEqual(["▁una", "ffa", "ble"]);
  });

  it("gives one [UNK] for a word with any piece missing", () => {
    expect(bert().tokenize("this is 🦙.cpp", { addSpecial: false })).toEqual([2023, 2003, 100, 1012, 18133, 2361]);
  });

  it("decodes as llama.cpp's detokenize: normalized words, a leading space, clean_spaces on", () => {
    const t = bert();
    expect(t.detokenize(t.tokenize("Hello, world!"))).toBe(" hello, world!");
    expect(t.detokenize(t.tokenize("this is 🦙.cpp"))).toBe(" this is. cpp");
    expect(t.detokenize(t.tokenize("Cửa Việt"))).toBe(" cua viet");
    expect(t.detokenize(t.tokenize("Hello"), { unparseSpecial: true })).toBe("[CLS] hello[SEP]");
    // removeSpecial drops the leading [CLS] (add_bos); [SEP] is not EOS, so it stays.
    expect(t.detokenize(t.tokenize("Hello"), { unparseSpecial: true, removeSpecial: true })).toBe(" hello[SEP]");
  });
});

describe("WordPiece normalization", () => {
  const opts = { lowercase: true, stripAccents: true };

  it("splits on whitespace, punctuation, ASCII symbols and CJK ideographs; drops marks and control characters", () => {
    expect(wordPieceWords("  Héllo,wörld!\tA+b 東京x ½ a\u200Db\u0000c", opts)).toEqual(["hello", ",", "world", "!", "a", "+", "b", "東", "京", "x", "½", "abc"]);
    // Non-ASCII symbols stay inside words; the first code point of a Hangul syllable's NFD is kept.
    expect(wordPieceWords("a€b 한", opts)).toEqual(["a€b", "\u1112"]);
  });

  it("reads tokenizer.ggml.normalizer.lowercase and strip_accents (accents follow lowercase unless given)", () => {
    expect(tiny().tokenize("HELLO é", { addSpecial: false })).toEqual([4, 8]);
    expect(tiny({ "tokenizer.ggml.normalizer.lowercase": bool(false) }).tokenize("Hello é", { addSpecial: false })).toEqual([5, 9]);
    expect(tiny({ "tokenizer.ggml.normalizer.strip_accents": bool(false) }).tokenize("É", { addSpecial: false })).toEqual([9]);
  });

  it("prefers the longest piece and discards a word at its first unmatched position", () => {
    const t = tiny();
    expect(t.tokenize("hellos helloX !", { addSpecial: false })).toEqual([4, 11, 1, 10]);
  });
});

describe("WordPiece special ids", () => {
  it("uses cls_token_id as [CLS] when no bos_token_id is given (llama.cpp's default 101 is out of this vocabulary)", () => {
    const t = tiny();
    expect([t.bos, t.sep, t.unk]).toEqual([2, 3, 1]);
    expect(t.tokenize("hello")).toEqual([2, 4, 3]);
    expect(tiny({ "tokenizer.ggml.bos_token_id": u32(0) }).tokenize("hello")).toEqual([0, 4, 3]);
  });

  it("refuses a WordPiece vocabulary without [SEP]", () => {
    const tokens = ["[PAD]", "[UNK]", "[CLS]", "▁a"];
    try {
      Tokenizer.fromGguf({
        metadata: new Map<string, GgufValue>([
          ["tokenizer.ggml.model", str("bert")],
          ["tokenizer.ggml.tokens", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.STRING, items: tokens } }],
          ["tokenizer.ggml.cls_token_id", u32(2)],
        ]),
      });
    } catch (e) {
      expect(e).toBeInstanceOf(TokenizerError);
      expect((e as TokenizerError).kind).toBe("bad_vocab");
      expect((e as TokenizerError).message).toContain("seperator_token_id");
      return;
    }
    throw new Error("expected a TokenizerError");
  });
});
