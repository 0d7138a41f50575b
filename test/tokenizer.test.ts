// Tokenizers against llama.cpp's own test vectors (../shared/fixtures/tokenizer: test-tokenizer-0's
// .inp/.out pairs, produced with add_special = false, parse_special = false) and against the
// stories260K reference runs (prompt ids with BOS, greedy continuation bytes). WordPiece details are
// in tokenizer-wordpiece.test.ts, the pre-tokenizer table in tokenizer-pretokenizers.test.ts.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ParameterError } from "../src/errors.js";
import { GgufValueType, parseGguf, type GgufValue } from "../src/gguf/index.js";
import { Tokenizer, TokenizerError, type GgufMetadataSource } from "../src/tokenizer/index.js";
import { join } from "node:path";
import { FIXTURES, fixturePath } from "./helpers/fixtures.js";
import { bertWords } from "./helpers/wordpiece.js";

const VOCABS = ["llama-spm", "llama-bpe", "qwen2", "gpt-2", "bert-bge", "gemma-4"] as const;
type VocabName = (typeof VOCABS)[number];

const parsed = new Map<string, GgufMetadataSource>();
const loaded = new Map<string, Tokenizer>();
/** Each GGUF is parsed once per test file (the large vocabularies take up to a second). */
function metadataOf(file: string, dir: "tokenizer" | "models" = "tokenizer"): GgufMetadataSource {
  let m = parsed.get(file);
  if (m === undefined) {
    m = parseGguf(readFileSync(fixturePath(dir, file)));
    parsed.set(file, m);
  }
  return m;
}
function tokenizer(file: string, dir: "tokenizer" | "models" = "tokenizer"): Tokenizer {
  let t = loaded.get(file);
  if (t === undefined) {
    t = Tokenizer.fromGguf(metadataOf(file, dir));
    loaded.set(file, t);
  }
  return t;
}
const vocab = (name: VocabName): Tokenizer => tokenizer(`ggml-vocab-${name}.gguf`);

interface Case {
  readonly name: string;
  readonly vocab: VocabName;
  readonly input: string;
  readonly ids: readonly number[];
}

/** test-tokenizer-0's reader: inputs end with the separator; one output line per input. */
function readCases(v: VocabName): Case[] {
  const base = fixturePath("tokenizer", `ggml-vocab-${v}.gguf`);
  const inputs = readFileSync(`${base}.inp`, "utf8").split("\n__ggml_vocab_test__\n");
  if (inputs[inputs.length - 1] === "") inputs.pop();
  const lines = readFileSync(`${base}.out`, "utf8").split("\n");
  return inputs.map((input, i) => {
    const line = (lines[i] ?? "").trim();
    const ids = line === "" ? [] : line.split(" ").map(Number);
    return { name: `${v} #${i} ${JSON.stringify(input)}`, vocab: v, input, ids };
  });
}

const CASES = VOCABS.flatMap(readCases);

describe("llama.cpp test-tokenizer-0 vectors", () => {
  it("has 46 cases per vocabulary", () => {
    for (const v of VOCABS) expect(CASES.filter((c) => c.vocab === v)).toHaveLength(46);
  });

  it.each(CASES)("tokenize $name", (c) => {
    expect(vocab(c.vocab).tokenize(c.input, { addSpecial: false, parseSpecial: false })).toEqual(c.ids);
  });

  // llama.cpp's clean_spaces (on for llama-bpe and gpt-2) rewrites " ?" and friends on purpose, so the
  // exact round trip is checked with it off; the vocabulary's own setting is checked below.
  it.each(CASES.filter((c) => c.vocab !== "bert-bge"))("detokenize $name", (c) => {
    expect(vocab(c.vocab).detokenize(c.ids, { cleanSpaces: false })).toBe(c.input);
  });

  // WordPiece decoding is lossy: llama.cpp gives back the normalized words (lower case, accents and
  // control characters gone, punctuation and CJK ideographs standing alone), each with the space its
  // "▁" stands for, so the text starts with a space; [UNK] stands for a whole word. Checked word by
  // word against an independent normalization, [UNK] matching any one word.
  it.each(CASES.filter((c) => c.vocab === "bert-bge"))("detokenize $name", (c) => {
    const t = vocab(c.vocab);
    const got = t.detokenize(c.ids, { unparseSpecial: true, cleanSpaces: false }).replaceAll("[UNK]", " [UNK]");
    const want = bertWords(c.input);
    if (want.length === 0) {
      expect(got).toBe("");
      return;
    }
    expect(got[0]).toBe(" ");
    const words = got.slice(1).split(" ");
    expect(words.map((w, i) => (w === "[UNK]" ? want[i] : w))).toEqual(want);
    // Without unparseSpecial, [UNK] renders as nothing, as llama.cpp's token_to_piece.
    expect(t.detokenize(c.ids, { cleanSpaces: false })).toBe(got.split(" [UNK]").join(""));
  });
});

describe("detokenize as llama.cpp", () => {
  it("SPM drops the space it prefixed, only from the first piece", () => {
    const t = vocab("llama-spm");
    expect(t.detokenize(t.tokenize(" Hello", { addSpecial: false }))).toBe(" Hello");
    expect(t.detokenize([15043])).toBe("Hello"); // "▁Hello"
    // After BOS the space stays, with or without removeSpecial (llama_detokenize's remove_space logic).
    expect(t.detokenize([1, 15043])).toBe(" Hello");
    expect(t.detokenize([1, 15043], { removeSpecial: true })).toBe(" Hello");
    expect(t.detokenize([1, 15043], { unparseSpecial: true })).toBe("<s> Hello");
  });

  it("clean_spaces follows the vocabulary: on for llama-bpe and gpt-2, off for qwen2 and SPM", () => {
    const s = "Hello, y'all! How are you 😁 ?我想在apple工作1314151天～";
    const cleaned = "Hello, y'all! How are you 😁?我想在apple工作1314151天～";
    for (const v of ["llama-bpe", "gpt-2"] as const) {
      const t = vocab(v);
      expect(t.detokenize(t.tokenize(s, { addSpecial: false })), v).toBe(cleaned);
    }
    for (const v of ["qwen2", "llama-spm"] as const) {
      const t = vocab(v);
      expect(t.detokenize(t.tokenize(s, { addSpecial: false })), v).toBe(s);
    }
    const t = vocab("gpt-2");
    expect(t.detokenize(t.tokenize("a ' b , c 's d 'll", { addSpecial: false }))).toBe("a'b, c's d 'll");
  });

  it("removeSpecial drops BOS and renders control tokens only with unparseSpecial", () => {
    const t = vocab("llama-bpe");
    const ids = t.tokenize("Hi<|eot_id|>");
    expect(ids).toEqual([128000, 13347, 128009]);
    expect(t.detokenize(ids)).toBe("Hi");
    expect(t.detokenize(ids, { unparseSpecial: true })).toBe("<|begin_of_text|>Hi<|eot_id|>");
    expect(t.detokenize(ids, { unparseSpecial: true, removeSpecial: true })).toBe("Hi<|eot_id|>");
  });

  it("rejects ids outside the vocabulary", () => {
    const t = vocab("gpt-2");
    expect(() => t.tokenBytes(50257)).toThrow(ParameterError);
    expect(() => t.detokenize([-1])).toThrow(ParameterError);
  });
});

describe("special tokens", () => {
  it("parse as single ids only with parseSpecial", () => {
    const q = vocab("qwen2");
    const text = "<|im_start|>user\nhi<|im_end|>";
    const on = q.tokenize(text);
    expect(on[0]).toBe(151644);
    expect(on[on.length - 1]).toBe(151645);
    const off = q.tokenize(text, { parseSpecial: false });
    expect(off).not.toContain(151644);
    expect(off).not.toContain(151645);
    expect(q.detokenize(off)).toBe(text);

    const spm = vocab("llama-spm");
    expect(spm.tokenize("<s>Hello", { addSpecial: false })).toEqual([1, 15043]); // text after a special token gets the space prefix
    expect(spm.tokenize("<s>Hello", { addSpecial: false, parseSpecial: false })).not.toContain(1);
  });

  it("BOS/EOS follow each vocabulary's flags", () => {
    expect(vocab("llama-spm").tokenize("Hello")).toEqual([1, 15043]);
    expect(vocab("llama-spm").tokenize("")).toEqual([1]);
    expect(vocab("llama-spm").tokenize("", { addSpecial: false })).toEqual([]);
    expect(vocab("llama-bpe").tokenize("Hello")).toEqual([128000, 9906]);
    expect(vocab("qwen2").tokenize("Hello")).toEqual([9707]);
    expect(vocab("gpt-2").tokenize("Hello")).toEqual([15496]);
    for (const v of VOCABS) expect(vocab(v).addEos, v).toBe(false);
  });

  it.each([
    ["llama-spm", [2], [1, 0, 13]],
    ["llama-bpe", [128001, 128009], [128000, 128006, 198]],
    ["qwen2", [151645, 151643, 151662, 151663, 151664], [151644, 11, 198]],
    ["gpt-2", [50256], [198, 0]],
  ] as const)("isEog for %s", (v, eog, notEog) => {
    const t = vocab(v);
    expect(t.eos === undefined || t.isEog(t.eos)).toBe(true);
    expect(t.eot === undefined || t.isEog(t.eot)).toBe(true);
    for (const id of eog) expect(t.isEog(id), `${id}`).toBe(true);
    for (const id of notEog) expect(t.isEog(id), `${id}`).toBe(false);
  });

  it("ids as llama.cpp reports them (defaults, keys, and EOT found by text)", () => {
    const spm = vocab("llama-spm");
    expect([spm.bos, spm.eos, spm.eot, spm.unk, spm.pad]).toEqual([1, 2, undefined, 0, undefined]);
    const l3 = vocab("llama-bpe");
    expect([l3.bos, l3.eos, l3.eot, l3.unk]).toEqual([128000, 128001, 128009, undefined]);
    const q = vocab("qwen2");
    // No bos_token_id key: llama.cpp's BPE default (11) stands.
    expect([q.bos, q.eos, q.eot, q.pad, q.addBos]).toEqual([11, 151645, 151645, 151643, false]);
    expect(q.isControl(151644)).toBe(true);
    expect(q.isControl(9707)).toBe(false);
    const g = vocab("gemma-4");
    expect([g.bos, g.eos, g.eot, g.unk, g.pad, g.addBos]).toEqual([2, 1, undefined, 3, 0, true]);
    const b = vocab("bert-bge");
    expect([b.bos, b.eos, b.sep, b.unk, b.pad, b.addBos, b.addSep]).toEqual([101, undefined, 102, 100, 0, true, true]);
  });
});

describe("Gemma 4 (tokenizer.ggml.model gemma4: SPM-style BPE, 262,144 tokens)", () => {
  const g = (): Tokenizer => vocab("gemma-4");

  it("is BPE with the gemma4 pre-tokenizer whatever tokenizer.ggml.pre says, and adds BOS", () => {
    expect([g().kind, g().preTokenizer, g().nVocab]).toEqual(["bpe", "gemma4", 262144]);
    expect(g().tokenize("Hello world")).toEqual([2, 9259, 1902]); // <bos> Hello ▁world
  });

  it("merges raw UTF-8 with spaces as U+2581, falls back to <0xXX> bytes, and keeps newline runs whole", () => {
    const t = g();
    expect(t.tokenize("  lead", { addSpecial: false }).map((id) => t.tokenText(id))).toEqual(["\u2581\u2581", "lead"]);
    const ids = t.tokenize("\u{10FFFD}x", { addSpecial: false });
    expect(ids.map((id) => t.tokenText(id))).toEqual(["<0xF4>", "<0x8F>", "<0xBF>", "<0xBD>", "x"]);
    expect(t.detokenize(ids)).toBe("\u{10FFFD}x");
    expect(t.tokenize("a\n\n\nb", { addSpecial: false }).map((id) => t.tokenText(id))).toEqual(["a", "\n\n\n", "b"]);
  });

  it("forces add_bos as llama.cpp does, even when the file says false", () => {
    const meta = new Map(metadataOf("ggml-vocab-gemma-4.gguf").metadata);
    meta.set("tokenizer.ggml.add_bos_token", { type: GgufValueType.BOOL, value: false });
    meta.set("tokenizer.ggml.pre", { type: GgufValueType.STRING, value: "martian" }); // ignored for gemma4
    const t = Tokenizer.fromGguf({ metadata: meta });
    expect(t.addBos).toBe(true);
    expect(t.tokenize("Hello")[0]).toBe(2);
  });

  it("ends generation on <eos>, <turn|> and <|tool_response>, not on </s>", () => {
    const t = g();
    for (const text of ["<eos>", "<turn|>", "<|tool_response>"]) expect(t.isEog(t.tokenId(text) ?? -1), text).toBe(true);
    for (const text of ["<bos>", "<|turn>", "</s>"]) expect(t.isEog(t.tokenId(text) ?? -1), text).toBe(false);
    expect(t.tokenize("<|turn>user\nhi<turn|>", { addSpecial: false })).toEqual([105, 2364, 107, 2202, 106]);
  });
});

describe("stories260K (SPM, 512 tokens)", () => {
  const ref = (p: string): { prompt: number[]; greedy: number[]; greedy_bytes_hex: string } =>
    JSON.parse(readFileSync(join(FIXTURES, "reference", `stories260K-F32.${p}.json`), "utf8"));
  const stories = (): Tokenizer => tokenizer("stories260K-F32.gguf", "models");
  const hex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));

  it.each([
    ["p1", "Once upon a time"],
    ["p2", "The little dog ran to the park and"],
  ])("%s prompt %j tokenizes with BOS to the reference ids", (p, text) => {
    const t = stories();
    expect(t.nVocab).toBe(512);
    expect(t.tokenize(text)).toEqual(ref(p).prompt);
  });

  it.each(["p1", "p2"])("%s greedy ids decode to greedy_bytes_hex", (p) => {
    const t = stories();
    const r = ref(p);
    const want = hex(r.greedy_bytes_hex);
    // Token by token (what llama.cpp streams) ...
    const pieces = r.greedy.map((id) => t.tokenBytes(id));
    expect(Uint8Array.from(pieces.flatMap((b) => [...b]))).toEqual(want);
    // ... and as the tail of detokenizing prompt + continuation.
    const head = t.detokenizeBytes(r.prompt);
    expect(t.detokenizeBytes([...r.prompt, ...r.greedy])).toEqual(Uint8Array.from([...head, ...want]));
    // The streaming decoder emits exactly those bytes, whole characters only.
    const dec = t.createDecoder();
    let got = "";
    for (const id of r.greedy) {
      const s = dec.push(id);
      expect(s).not.toContain("\uFFFD");
      got += s;
      expect(want.subarray(0, new TextEncoder().encode(got).length)).toEqual(new TextEncoder().encode(got));
    }
    got += dec.flush();
    expect(got).toBe(new TextDecoder("utf-8", { ignoreBOM: true }).decode(want));
  });
});

describe("streaming decoder", () => {
  it("holds back the byte tokens of one character until it is complete", () => {
    const t = vocab("llama-spm");
    const ids = t.tokenize("🦙!", { addSpecial: false }); // ▁ <0xF0> <0x9F> <0xA6> <0x99> !
    expect(ids).toEqual([29871, 243, 162, 169, 156, 29991]);
    const dec = t.createDecoder();
    expect(ids.map((id) => dec.push(id))).toEqual([" ", "", "", "", "🦙", "!"]);
    expect(dec.flush()).toBe("");
  });

  it("byte-level BPE: a character split across tokens comes out once complete", () => {
    const t = vocab("gpt-2");
    const ids = t.tokenize(" 🦙", { addSpecial: false });
    const dec = t.createDecoder();
    const out = ids.map((id) => dec.push(id));
    expect(out.join("")).toBe(" 🦙");
    expect(out.join("")).not.toContain("\uFFFD");
    expect(out.filter((s) => s.includes("🦙"))).toHaveLength(1);
  });

  it("flush turns an unfinished character into U+FFFD", () => {
    const t = vocab("llama-spm");
    const dec = t.createDecoder();
    expect(dec.push(243)).toBe(""); // <0xF0>
    expect(dec.flush()).toBe("\uFFFD");
  });
});

describe("vocabulary errors", () => {
  const str = (value: string): GgufValue => ({ type: GgufValueType.STRING, value });
  const strs = (items: string[]): GgufValue => ({ type: GgufValueType.ARRAY, value: { itemType: GgufValueType.STRING, items } });
  const meta = (entries: Record<string, GgufValue>): { metadata: Map<string, GgufValue> } => ({ metadata: new Map(Object.entries(entries)) });
  const tokens = strs(["a", "b", "c", "ab", "abc"]);

  function expectError(fn: () => unknown, kind: string, text: string): void {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(TokenizerError);
      expect((e as TokenizerError).kind).toBe(kind);
      expect((e as TokenizerError).message).toContain(text);
      return;
    }
    throw new Error("expected a TokenizerError");
  }

  it("names an unknown tokenizer.ggml.model", () => {
    expectError(() => Tokenizer.fromGguf(meta({ "tokenizer.ggml.model": str("nonsense"), "tokenizer.ggml.tokens": tokens })), "unsupported_tokenizer", '"nonsense"');
  });
  it("does not mistake object properties for tokenizer names", () => {
    expectError(() => Tokenizer.fromGguf(meta({ "tokenizer.ggml.model": str("constructor"), "tokenizer.ggml.tokens": tokens })), "unsupported_tokenizer", '"constructor"');
  });
  it("names a known but unimplemented one", () => {
    expectError(() => Tokenizer.fromGguf(meta({ "tokenizer.ggml.model": str("t5"), "tokenizer.ggml.tokens": tokens })), "unsupported_tokenizer", '"t5"');
  });
  it("names an unknown tokenizer.ggml.pre", () => {
    const m = meta({ "tokenizer.ggml.model": str("gpt2"), "tokenizer.ggml.pre": str("martian"), "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.merges": strs(["a b"]) });
    expectError(() => Tokenizer.fromGguf(m), "unsupported_pretokenizer", '"martian"');
  });
  it("names missing keys", () => {
    expectError(() => Tokenizer.fromGguf(meta({})), "missing_key", "tokenizer.ggml.model");
    expectError(() => Tokenizer.fromGguf(meta({ "tokenizer.ggml.model": str("gpt2"), "tokenizer.ggml.tokens": tokens })), "missing_key", "tokenizer.ggml.merges");
    expectError(() => Tokenizer.fromGguf(meta({ "tokenizer.ggml.model": str("llama") })), "missing_key", "tokenizer.ggml.tokens");
  });
  it("refuses duplicate tokens and mistyped keys", () => {
    expectError(() => Tokenizer.fromGguf(meta({ "tokenizer.ggml.model": str("llama"), "tokenizer.ggml.tokens": strs(["a", "a"]) })), "bad_vocab", "duplicate");
    expectError(() => Tokenizer.fromGguf(meta({ "tokenizer.ggml.model": str("llama"), "tokenizer.ggml.tokens": str("a") })), "wrong_type", "tokenizer.ggml.tokens");
  });
  it("uses 'default' when tokenizer.ggml.pre is absent, as llama.cpp does", () => {
    const m = meta({
      "tokenizer.ggml.model": str("gpt2"), "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.merges": strs(["a b", "ab c"]),
      "tokenizer.ggml.bos_token_id": { type: GgufValueType.UINT32, value: 0 },
    });
    const t = Tokenizer.fromGguf(m);
    expect(t.preTokenizer).toBe("default");
    expect(t.tokenize("abc cab", { addSpecial: false })).toEqual([4, 2, 3]); // "abc", " " has no token (dropped), "c", "ab"
  });
});
