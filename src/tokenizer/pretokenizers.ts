// The BPE pre-tokenizers: one row per llama.cpp pre-tokenizer type, keyed by the GGUF's
// `tokenizer.ggml.pre` values that select it (llama-vocab.cpp: the `tokenizer_pre ==` chain in
// llama_vocab::impl::load and the regex switch in llm_tokenizer_bpe's constructor).
//
// Regexes are written exactly as llama.cpp's C++ string literals (same escapes), because llama.cpp
// picks its hand-written matchers by comparing regex text (see split-custom.ts). Non-ASCII class
// members are \u escapes so that no editor or tool can normalize them (several are compatibility
// characters, e.g. U+2126 OHM SIGN, that NFC would silently replace).

import {
  AFMOE_DIGITS_REGEX, GPT2_REGEX, KIMI_K2_REGEX, LINES_REGEX, LLAMA3_REGEX, QWEN2_REGEX, QWEN35_REGEX, TINY_AYA_DIGITS_REGEX,
} from "./split-custom.js";

/** How one pre-tokenizer type splits words and which vocabulary flags it changes. */
export interface PreTokenizerRow {
  /** llama.cpp's LLAMA_VOCAB_PRE_TYPE_* name, lower-cased (for messages). */
  readonly type: string;
  /** `tokenizer.ggml.pre` values that select this row. */
  readonly names: readonly string[];
  readonly regexes: readonly string[];
  /** Detokenization cleans " ?", " !", " 's"… (llama.cpp's clean_spaces; BPE default true). */
  readonly cleanSpaces?: boolean;
  /** A word that is already a token is emitted whole, without merges. */
  readonly ignoreMerges?: boolean;
  /** Sets add_bos before the GGUF's own add_bos_token is read. */
  readonly addBos?: boolean;
  /** Spaces become U+2581 before splitting (SPM-style BPE). */
  readonly escapeWhitespaces?: boolean;
  /** Words are raw UTF-8, not GPT-2 byte-encoded; byte fallback uses <0xXX> tokens. */
  readonly rawBytes?: boolean;
  /** The type has no BOS by default (ChatGLM). */
  readonly noDefaultBos?: boolean;
  /** Sets llama.cpp's add_sep (BERT-style BPE embedders) before the GGUF's add_sep_token is read. */
  readonly addSep?: boolean;
  /** The normalizer's lowercase default before tokenizer.ggml.normalizer.lowercase (false only for "whitespace"). */
  readonly lowercase?: boolean;
}

const CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";


const DEEPSEEK_LETTERS =
  "A-Za-z\\u00B5\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u01BA\\u01BC-\\u01BF\\u01C4-\\u0293\\u0295-\\u02AF" +
  "\\u0370-\\u0373\\u0376\\u0377\\u037B-\\u037D\\u037F\\u0386\\u0388-\\u038A\\u038C\\u038E-\\u03A1\\u03A3-\\u03F5" +
  "\\u03F7-\\u0481\\u048A-\\u052F\\u0531-\\u0556\\u10A0-\\u10C5\\u13A0-\\u13F5\\u13F8-\\u13FD\\u1C90-\\u1CBA" +
  "\\u1CBD-\\u1CBF\\u1D00-\\u1D2B\\u1D6B-\\u1D77\\u1D79-\\u1D9A\\u1E00-\\u1F15\\u1F18-\\u1F1D\\u1F20-\\u1F45" +
  "\\u1F48-\\u1F4D\\u1F50-\\u1F57\\u1F59\\u1F5B\\u1F5D\\u1F5F-\\u1F7D\\u1F80-\\u1FB4\\u1FB6-\\u1FBC\\u1FBE" +
  "\\u1FC2-\\u1FC4\\u1FC6-\\u1FCC\\u1FD0-\\u1FD3\\u1FD6-\\u1FDB\\u1FE0-\\u1FEC\\u1FF2-\\u1FF4\\u1FF6-\\u1FFC" +
  "\\u2102\\u2107\\u210A-\\u2113\\u2115\\u2119-\\u211D\\u2124\\u2126\\u2128\\u212A-\\u212D\\u212F-\\u2134\\u2139" +
  "\\u213C-\\u213F\\u2145-\\u2149\\u214E\\u2183\\u2184\\u2C00-\\u2C7B\\u2C7E-\\u2CE4\\u2CEB-\\u2CEE\\u2CF2\\u2CF3" +
  "\\uA640-\\uA66D\\uA680-\\uA69B\\uA722-\\uA76F\\uA771-\\uA787\\uA78B-\\uA78E\\uAB70-\\uABBF\\uFB00-\\uFB06" +
  "\\uFB13-\\uFB17\\uFF21-\\uFF3A\\uFF41-\\uFF5A\\u{10400}-\\u{1044F}\\u{104B0}-\\u{104D3}\\u{104D8}-\\u{104FB}" +
  "\\u{10C80}-\\u{10CB2}\\u{10CC0}-\\u{10CF2}\\u{118A0}-\\u{118DF}\\u{1E900}-\\u{1E943}";

const CJK_HANGUL = "[\\u4E00-\\u9FA5\\u0800-\\u4E00\\uAC00-\\uD7FF]+";
const CJK_KANA = "[\\u4E00-\\u9FA5\\u3040-\\u309F\\u30A0-\\u30FF]+";
const ASCII_PUNCT_WORD = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+";
const NORDIC = " ?[^(\\s|.,!?\\u2026\\u3002\\uFF0C\\u3001\\u0964\\u06D4\\u060C)]+";
const LINES = LINES_REGEX;

/** Cased words through lookaheads (Tekken, GPT-4o): an optional lead, "upper* lower+" or "upper+ lower*", then `suffix`. */
function lookaheadWords(letters: string, suffix: string): string {
  const upper = `((?=[${letters}])([^a-z]))`;
  const lower = `((?=[${letters}])([^A-Z]))`;
  return `[^\\r\\n\\p{L}\\p{N}]?${upper}*${lower}+${suffix}|[^\\r\\n\\p{L}\\p{N}]?${upper}+${lower}*${suffix}`;
}
const CASED_WORDS =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" + CONTRACTIONS + "?|" +
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*" + CONTRACTIONS + "?";
const TAIL = "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const PUNCT_SLASH_TAIL = "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*" + TAIL;
const DEEPSEEK3_WORDS =
  ASCII_PUNCT_WORD + "|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

/** llama.cpp's default list (also used when tokenizer.ggml.pre is absent). */
const DEFAULT_REGEXES = ["[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_REGEX, "\\p{N}+", "[0-9][0-9][0-9]"];

export const PRETOKENIZERS: readonly PreTokenizerRow[] = [
  { type: "default", names: ["default"], regexes: DEFAULT_REGEXES },
  {
    type: "llama3",
    names: ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"],
    regexes: [LLAMA3_REGEX], ignoreMerges: true, addBos: true,
  },
  { type: "dbrx", names: ["dbrx", "smaug-bpe"], regexes: [LLAMA3_REGEX] },
  { type: "chatglm4", names: ["glm4", "chatglm-bpe"], noDefaultBos: true, regexes: [LLAMA3_REGEX] },
  {
    type: "jais2", names: ["jais-2"],
    regexes: [
      CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" +
        "\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}",
    ],
  },
  {
    type: "deepseek-llm", names: ["deepseek-llm"], cleanSpaces: false,
    regexes: [
      "[\r\n]", "\\s?[" + DEEPSEEK_LETTERS + "]+",
      "\\s?[!-/:-~\\uFF01-\\uFF0F\\uFF1A-\\uFF5E\\u2018-\\u201F\\u3000-\\u3002]+", "\\s+$", CJK_HANGUL, "\\p{N}+",
    ],
  },
  {
    type: "deepseek3-llm", names: ["deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"], cleanSpaces: false,
    regexes: ["\\p{N}{1,3}", CJK_KANA, DEEPSEEK3_WORDS],
  },
  {
    type: "spark2_5", names: ["spark2_5"], cleanSpaces: false,
    regexes: ["\\p{N}{1,3}", CJK_KANA, ASCII_PUNCT_WORD + "|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+|[\r\n]|\\s+(?!\\S)|\\s+", "\\p{N}"],
  },
  {
    type: "youtu", names: ["youtu"], cleanSpaces: false, ignoreMerges: true,
    regexes: [
      "[\\uAC00-\\uD7A3\\u3131-\\u318E]+|[\\uFF01\\u2026\\u201C\\u201D\\u2018\\u2019\\u2014\\uFF1A\\uFF1B\\uFF0C\\u3001-\\u303F\\uFE30-\\uFE4F]+|[\\u3105-\\u312F]+|" + CJK_KANA,
      CASED_WORDS + "|\\p{N}" + PUNCT_SLASH_TAIL,
    ],
  },
  {
    type: "deepseek-coder", names: ["deepseek-coder"], cleanSpaces: false,
    regexes: ["[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", CJK_HANGUL, "\\p{N}"],
  },
  { type: "falcon", names: ["falcon"], regexes: ["[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_REGEX, "[0-9][0-9][0-9]"] },
  { type: "starcoder", names: ["starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"], regexes: ["\\p{N}", GPT2_REGEX] },
  { type: "command-r", names: ["command-r", "smollm"], cleanSpaces: false, regexes: ["\\p{N}", GPT2_REGEX] },
  {
    type: "gpt2",
    names: ["gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert",
      "exaone4", "mpt", "olmo", "jais"],
    regexes: [GPT2_REGEX],
  },
  // RoBERTa-style embedders: GPT-2 splitting, and llama.cpp marks them as wanting a trailing separator.
  { type: "gpt2", names: ["jina-v1-en", "jina-v2-code", "roberta-bpe"], addSep: true, regexes: [GPT2_REGEX] },
  { type: "trillion", names: ["trillion", "granite-docling"], cleanSpaces: false, regexes: [GPT2_REGEX] },
  // llama.cpp maps "megrez" to qwen2 but, unlike "qwen2", leaves clean_spaces on.
  { type: "stablelm2", names: ["stablelm2", "megrez"], regexes: [QWEN2_REGEX] },
  {
    type: "qwen2", names: ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2"], cleanSpaces: false,
    regexes: [QWEN2_REGEX],
  },
  {
    type: "qwen35", names: ["qwen35"], cleanSpaces: false,
    regexes: [QWEN35_REGEX],
  },
  { type: "bloom", names: ["bloom", "gpt3-finnish"], regexes: [NORDIC] },
  { type: "poro", names: ["poro-chat"], cleanSpaces: false, regexes: [NORDIC] },
  { type: "viking", names: ["viking"], cleanSpaces: false, regexes: [NORDIC, "\\p{N}"] },
  {
    type: "tekken", names: ["tekken"], cleanSpaces: false, ignoreMerges: true, addBos: true,
    regexes: [lookaheadWords("\\p{L}", "") + "|\\p{N}" + PUNCT_SLASH_TAIL],
  },
  {
    type: "chameleon", names: ["chameleon"], cleanSpaces: false, addBos: true,
    regexes: ["<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}", "[\\p{P}!-/:-@\\[-`{-~]", GPT2_REGEX],
  },
  {
    type: "gpt4o", names: ["gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"], cleanSpaces: false,
    regexes: [lookaheadWords("\\p{L}", CONTRACTIONS + "?") + "|\\p{N}{1,3}" + PUNCT_SLASH_TAIL],
  },
  {
    // \p{M} joins the lookaheads so combining marks stay with their letters.
    type: "granite-emb-multi", names: ["granite-embed-multi-97m"], cleanSpaces: false, ignoreMerges: true,
    regexes: [lookaheadWords("\\p{L}\\p{M}", CONTRACTIONS + "?") + "|\\p{N}{1,3}" + PUNCT_SLASH_TAIL],
  },
  {
    type: "tiny-aya", names: ["tiny_aya", "cohere2moe"], cleanSpaces: false,
    regexes: [TINY_AYA_DIGITS_REGEX, CASED_WORDS + "|\\p{N}{1,3}" + PUNCT_SLASH_TAIL],
  },
  { type: "kimi-k2", names: ["kimi-k2"], cleanSpaces: false, regexes: [KIMI_K2_REGEX] },
  { type: "superbpe", names: ["superbpe"], cleanSpaces: false, regexes: ["\\p{N}+", "(?=(\\d{3})+(?!\\d))"] },
  {
    type: "bailingmoe", names: ["bailingmoe", "bailingmoe2", "llada-moe"], cleanSpaces: false,
    regexes: ["'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"],
  },
  {
    type: "seed-coder", names: ["seed-coder"], cleanSpaces: false,
    regexes: [CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+" + TAIL],
  },
  {
    // Qwen2's pattern without the contraction group, so Turkish apostrophe suffixes stay attached.
    type: "ufakzeka", names: ["ufakzeka"], cleanSpaces: false,
    regexes: ["[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*" + TAIL],
  },
  {
    // llama.cpp's source spells the CJK compatibility block's start as U+8C48, not U+F900: its literal
    // 豈 went through NFC (U+F900 → U+8C48). The class therefore runs from U+8C48 to U+FAFF (taking in
    // Hangul syllables, Yi, private use …), and that is what AFMoE token ids are made with.
    type: "afmoe", names: ["afmoe"], cleanSpaces: false,
    regexes: [
      AFMOE_DIGITS_REGEX,
      "[\\u4E00-\\u9FFF\\u3400-\\u4DBF\\u8C48-\\uFAFF\\u3040-\\u309F\\u30A0-\\u30FF\\uFF65-\\uFF9F\\u2F00-\\u2FDF\\u0E40-\\u0E7F" +
        "\\u0E80-\\u0EFF\\u1780-\\u17FF\\u1000-\\u109F\\uAA60-\\uAA7F\\uA9E0-\\uA9FF\\uAC00-\\uD7AF\\u1100-\\u11FF]+",
      ASCII_PUNCT_WORD + "|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*" + TAIL,
    ],
  },
  { type: "laguna", names: ["laguna"], cleanSpaces: false, regexes: [LINES, QWEN2_REGEX] },
  {
    type: "exaone-moe", names: ["exaone-moe"],
    regexes: [CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"],
  },
  // SPM-style BPE: the normalizer turns spaces into U+2581 and merges run over whole lines.
  { type: "gemma4", names: ["gemma4", "granite-embed-multi-311m"], escapeWhitespaces: true, rawBytes: true, regexes: [LINES] },
  { type: "sarvam-moe", names: ["sarvam-moe"], cleanSpaces: false, escapeWhitespaces: true, rawBytes: true, regexes: [LINES] },
  // jina-embeddings-v2-base-zh: words are runs of non-space, merged as raw UTF-8.
  { type: "whitespace", names: ["whitespace"], rawBytes: true, lowercase: false, regexes: ["\\S+"] },
  {
    type: "minicpm5", names: ["minicpm5"], ignoreMerges: true,
    regexes: ["\\p{N}{1,3}", CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*" + TAIL],
  },
];

/** The row for a `tokenizer.ggml.pre` value; undefined when llama.cpp does not know it. */
export function findPreTokenizer(pre: string): PreTokenizerRow | undefined {
  return BY_NAME.get(pre);
}

const BY_NAME: ReadonlyMap<string, PreTokenizerRow> = (() => {
  const m = new Map<string, PreTokenizerRow>();
  for (const row of PRETOKENIZERS) {
    for (const name of row.names) {
      if (m.has(name)) throw new Error(`pre-tokenizer table lists "${name}" twice`);
      m.set(name, row);
    }
  }
  return m;
})();
