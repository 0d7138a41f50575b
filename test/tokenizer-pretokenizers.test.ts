// The BPE pre-tokenizer table against llama.cpp of Sep 2026 (src/llama-vocab.cpp): every
// tokenizer.ggml.pre name it accepts is here and no other, each one builds a tokenizer that splits and
// round-trips a mixed-script sample, unknown names are refused by name, and the hand-written matchers
// llama.cpp dispatches to by regex text split as their regexes do.

import { describe, expect, it } from "vitest";
import { GgufValueType, type GgufValue } from "../src/gguf/index.js";
import { PRETOKENIZERS, Tokenizer, TokenizerError } from "../src/tokenizer/index.js";
import { RegexSplitter } from "../src/tokenizer/regex-split.js";
import { LINES_REGEX, QWEN2_REGEX, QWEN35_REGEX } from "../src/tokenizer/split-custom.js";
import { BYTE_TO_CHAR } from "../src/tokenizer/unicode.js";

/** Every `tokenizer_pre ==` string in llama_vocab::impl::load, plus "default" (90 in all). */
const LLAMA_CPP_PRE_NAMES = [
  "a.x-4.0", "afmoe", "bailingmoe", "bailingmoe2", "bloom", "chameleon", "chatglm-bpe", "codeshell", "cohere2moe", "command-r",
  "dbrx", "deepseek-coder", "deepseek-llm", "deepseek-r1-qwen", "deepseek-v3", "default", "exaone", "exaone-moe", "exaone4",
  "f2llmv2", "falcon", "falcon-h1", "falcon3", "gemma4", "gigachat", "glm4", "gpt-2", "gpt-4o", "gpt3-finnish", "granite-docling",
  "granite-embed-multi-311m", "granite-embed-multi-97m", "grok-2", "hunyuan", "hunyuan-dense", "hy_v4", "jais", "jais-2", "jina-de",
  "jina-es", "jina-v1-en", "jina-v2-code", "jina-v2-de", "jina-v2-es", "jina-v5-nano", "joyai-llm", "kanana2", "kimi-k2", "kormo",
  "laguna", "lfm2", "llada-moe", "llama-bpe", "llama-v3", "llama3", "llama4", "megrez", "mellum", "mellum2", "midm-2.0",
  "minerva-7b", "minicpm5", "minimax-m2", "modern-bert", "mpt", "olmo", "phi-2", "pixtral", "poro-chat", "qwen2", "qwen35",
  "refact", "roberta-bpe", "sarvam-moe", "seed-coder", "smaug-bpe", "smollm", "solar-open", "spark2_5", "stablelm2", "starcoder",
  "superbpe", "talkie", "tekken", "tiny_aya", "trillion", "ufakzeka", "viking", "whitespace", "youtu",
];

const SAMPLE =
  "Hello, y'all! I'VE 12345 cats\t\n\n  naïve Zürich ΑΒΓ абв 東京タワー 서울 ١٢٣ 🦙🦙 a.b-c_d $x+1 ~ <sentinel:12> IMGIMGABZ   end  " +
  "e\u0301\u0301 नमस्ते ꀀab 1,234,567\r\n";

const str = (value: string): GgufValue => ({ type: GgufValueType.STRING, value });
const strs = (items: string[]): GgufValue => ({ type: GgufValueType.ARRAY, value: { itemType: GgufValueType.STRING, items } });

/**
 * A small vocabulary that can spell anything under the pre-tokenizer `pre`: the 256 byte-level
 * characters (byte-encoded BPE; raw-UTF-8 rows get printable ASCII only, because their normal tokens
 * are raw text), the 256 <0xXX> byte tokens (raw-UTF-8 BPE's fallback), U+2581 (SPM-style BPE's
 * space) and "ab" from the single merge "a b".
 */
function tinyVocab(pre: string): Tokenizer {
  const raw = PRETOKENIZERS.find((r) => r.names.includes(pre))?.rawBytes ?? false;
  const tokens = raw ? Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i)) : [...BYTE_TO_CHAR];
  const types: number[] = tokens.map(() => 1);
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(6);
  }
  tokens.push("\u2581", "ab");
  types.push(1, 1);
  const metadata = new Map<string, GgufValue>([
    ["tokenizer.ggml.model", str("gpt2")],
    ["tokenizer.ggml.pre", str(pre)],
    ["tokenizer.ggml.tokens", strs(tokens)],
    ["tokenizer.ggml.token_type", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT32, items: Int32Array.from(types) } }],
    ["tokenizer.ggml.merges", strs(["a b"])],
  ]);
  return Tokenizer.fromGguf({ metadata });
}

function expectRefused(pre: string): void {
  try {
    tinyVocab(pre);
  } catch (e) {
    expect(e).toBeInstanceOf(TokenizerError);
    expect((e as TokenizerError).kind).toBe("unsupported_pretokenizer");
    expect((e as TokenizerError).message).toContain(JSON.stringify(pre));
    return;
  }
  throw new Error(`pre-tokenizer ${JSON.stringify(pre)} was accepted`);
}

describe("pre-tokenizer table", () => {
  const names = PRETOKENIZERS.flatMap((r) => r.names);

  it("holds exactly the names llama.cpp accepts, each once", () => {
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...LLAMA_CPP_PRE_NAMES].sort());
  });

  it.each(PRETOKENIZERS.map((r) => [r.names[0], r] as const))("row %s prepares and splits losslessly", (_name, row) => {
    const words = new RegexSplitter(row.regexes).split(SAMPLE);
    expect(words.join("")).toBe(SAMPLE);
    expect(words.every((w) => w.length > 0)).toBe(true);
  });

  it.each(names)("%s builds a tokenizer that round-trips a mixed-script sample", (name) => {
    const t = tinyVocab(name);
    // the tokenizer uses the table's row for this name
    expect(t.preTokenizer).toBe(PRETOKENIZERS.find((r) => r.names.includes(name))?.type);
    const ids = t.tokenize(SAMPLE, { addSpecial: false, parseSpecial: false });
    expect(ids.length).toBeGreaterThan(0);
    expect(t.detokenize(ids, { cleanSpaces: false })).toBe(SAMPLE);
  });

  it.each(["martian", "Qwen2", "llama3 ", "gpt2", "constructor", "__proto__", "toString"])("refuses the unknown name %j", (name) => {
    expectRefused(name);
  });

  it("takes an empty name as 'default', as llama.cpp does", () => {
    expect(tinyVocab("").preTokenizer).toBe("default");
  });
});

describe("matchers and regex details as llama.cpp", () => {
  const rowSplitter = (name: string): RegexSplitter => {
    const row = PRETOKENIZERS.find((r) => r.names.includes(name));
    if (row === undefined) throw new Error(`no pre-tokenizer ${name}`);
    return new RegexSplitter(row.regexes);
  };

  it("GPT-2 and Llama 3 matchers split as their regexes do", () => {
    expect(rowSplitter("gpt-2").split("Hello  world's 123abc   !!\n")).toEqual(["Hello", " ", " world", "'s", " 123", "abc", "  ", " !!", "\n"]);
    expect(rowSplitter("llama3").split("I'VE 12345 x\n\n  y")).toEqual(["I", "'VE", " ", "123", "45", " x", "\n\n", " ", " y"]);
  });

  // llama.cpp picks a hand-written matcher by the regex's exact text; appending an alternative that
  // never matches keeps the meaning but sends the same pattern through the regex engine.
  it.each([["qwen2", QWEN2_REGEX], ["qwen35", QWEN35_REGEX], ["lines", LINES_REGEX]])("the %s matcher agrees with its regex", (_n, re) => {
    const custom = new RegexSplitter([re]);
    const engine = new RegexSplitter([re + "|(?!)"]);
    for (const s of [SAMPLE, "a\u0301\u0301b x\u0300 \u0300\u0300 ''' 'Re 12345\n\r\n  \u00a0 end", "\n\n\nx\n"]) {
      expect(custom.split(s)).toEqual(engine.split(s));
    }
    expect(new RegexSplitter([QWEN2_REGEX]).split("12345")).toEqual(["1", "2", "3", "4", "5"]);
    expect(new RegexSplitter([QWEN35_REGEX]).split("e\u0301x !")).toEqual(["e\u0301x", " !"]);
  });

  it("Tiny Aya's digit regex runs llama.cpp's AFMoE matcher: \\p{N} in groups of three from the right", () => {
    const digits = new RegexSplitter(["\\d{1,3}(?=(?:\\d{3})*\\b)"]);
    expect(digits.split("1234567")).toEqual(["1", "234", "567"]);
    // Arabic-Indic digits are \p{N} (not \d): the matcher groups them too; like llama.cpp's, it keeps
    // the text before a digit run with the run's first group (the next regex splits it off).
    expect(digits.split("x١٢٣٤y")).toEqual(["x١", "٢٣٤", "y"]);
  });

  it("\\p{S} includes '~' in collapsed regexes", () => {
    expect(rowSplitter("deepseek-v3").split("a~~b")).toEqual(["a", "~~", "b"]);
  });

  it("AFMoE's CJK class starts at U+8C48, as llama.cpp's source spells it", () => {
    // U+A000 (Yi) lies inside U+8C48-U+FAFF: it is cut off from the Latin letters after it.
    expect(rowSplitter("afmoe").split("\uA000ab")).toEqual(["\uA000", "ab"]);
  });
});

describe('tokenizer.ggml.model "whitespace" (jina-embeddings-v2-base-zh)', () => {
  function whitespaceVocab(extra: [string, GgufValue][] = []): Tokenizer {
    const tokens = ["a", "b", "ab", "你", "好", "你好"];
    for (let b = 0; b < 256; b++) tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    const types = tokens.map((t) => (t.startsWith("<0x") ? 6 : 1));
    return Tokenizer.fromGguf({
      metadata: new Map<string, GgufValue>([
        ["tokenizer.ggml.model", str("whitespace")],
        ["tokenizer.ggml.pre", str("whitespace")],
        ["tokenizer.ggml.tokens", strs(tokens)],
        ["tokenizer.ggml.token_type", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT32, items: Int32Array.from(types) } }],
        ["tokenizer.ggml.merges", strs(["a b", "你 好"])],
        ...extra,
      ]),
    });
  }

  it("drops whitespace, merges raw UTF-8 per segment and falls back to <0xXX> bytes", () => {
    const t = whitespaceVocab();
    // "A" has no token: its byte token; whitespace of any kind vanishes.
    expect(t.tokenize("ab\u3000你好 \tA", { addSpecial: false })).toEqual([2, 5, 6 + 0x41]);
  });

  it("lower-cases only when tokenizer.ggml.normalizer.lowercase says so (the pre-tokenizer's default is off)", () => {
    const t = whitespaceVocab([["tokenizer.ggml.normalizer.lowercase", { type: GgufValueType.BOOL, value: true }]]);
    expect(t.tokenize("AB", { addSpecial: false })).toEqual([2]);
  });
});
