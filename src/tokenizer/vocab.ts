// The vocabulary read from GGUF metadata (tokenizer.ggml.*), built once and never changed, following
// llama.cpp's llama_vocab::impl::load step by step: tokenizer type and its defaults, pre-tokenizer
// flags, tokens/scores/types, special ids, add_bos/add_eos, special tokens recognised by their text,
// the end-of-generation set, and the special tokens matched in text. Only metadata is read, so
// vocab-only GGUF files work.

import { GgufValueType, type GgufArray, type GgufValue } from "../gguf/types.js";
import { TokenizerError } from "./errors.js";
import { findPreTokenizer, type PreTokenizerRow } from "./pretokenizers.js";
import { applyTextRules, type SpecialIds } from "./special.js";
import { StringIndex } from "./string-index.js";
import type { NormalizerOptions } from "./wordpiece.js";

/** tokenizer.ggml.token_type values (llama_token_type). */
export const TokenType = { UNDEFINED: 0, NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** Token attribute bits (llama_token_attr). */
export const Attr = {
  UNDEFINED: 0,
  UNKNOWN: 1 << 0,
  UNUSED: 1 << 1,
  NORMAL: 1 << 2,
  CONTROL: 1 << 3,
  USER_DEFINED: 1 << 4,
  BYTE: 1 << 5,
  NORMALIZED: 1 << 6,
  LSTRIP: 1 << 7,
  RSTRIP: 1 << 8,
  SINGLE_WORD: 1 << 9,
} as const;

const TYPE_TO_ATTR: Record<number, number> = {
  [TokenType.UNKNOWN]: Attr.UNKNOWN,
  [TokenType.UNUSED]: Attr.UNUSED,
  [TokenType.NORMAL]: Attr.NORMAL,
  [TokenType.CONTROL]: Attr.CONTROL,
  [TokenType.USER_DEFINED]: Attr.USER_DEFINED,
  [TokenType.BYTE]: Attr.BYTE,
};

/** Anything with GGUF metadata: a parsed GgufFile, or a map built by hand. */
export interface GgufMetadataSource {
  readonly metadata: ReadonlyMap<string, GgufValue>;
}

/** SentencePiece, byte-pair encoding, WordPiece (llama.cpp's LLAMA_VOCAB_TYPE_SPM, _BPE, _WPM). */
export type VocabKind = "spm" | "bpe" | "wpm";

export interface Vocab {
  readonly kind: VocabKind;
  /** tokenizer.ggml.model */
  readonly model: string;
  /** The pre-tokenizer row (BPE only). */
  readonly pre: PreTokenizerRow | undefined;
  /** Token texts by id (empty texts renamed "[EMPTY_<id>]", as llama.cpp does). */
  readonly texts: readonly string[];
  readonly ids: StringIndex;
  readonly scores: Float32Array;
  /** Attribute bits by id (Attr). Read-only after loading. */
  readonly attrs: Uint16Array;
  /** BPE merges: "left right" → rank (first occurrence wins). */
  readonly merges: StringIndex;
  readonly special: SpecialIds;
  readonly eog: ReadonlySet<number>;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /**
   * llama.cpp's add_sep (BERT-style models and a few BPE embedders): the model expects [SEP]
   * (tokenizer.ggml.seperator_token_id) at the end. WordPiece adds it with addSpecial; for BPE it
   * is only reported, as in llama.cpp, whose tokenizer does not add it.
   */
  readonly addSep: boolean;
  /** tokenizer.ggml.normalizer.lowercase / strip_accents: WordPiece's, and lowercase for "whitespace" BPE. */
  readonly normalizer: NormalizerOptions;
  /** Longest token text in UTF-16 units (WordPiece's search window). */
  readonly maxTokenUnits: number;
  readonly addSpacePrefix: boolean;
  readonly cleanSpaces: boolean;
  readonly escapeWhitespaces: boolean;
  readonly ignoreMerges: boolean;
  /** BPE words are GPT-2 byte-encoded (false for SPM-style BPE, whose byte tokens are <0xXX>). */
  readonly byteEncode: boolean;
  /** Control, user-defined and unknown tokens, longest text first: matched in text before tokenizing. */
  readonly specialTokens: readonly number[];
}

const KEY = "tokenizer.ggml.";
const SUPPORTED = `supported: "llama" (SentencePiece), "gpt2", "gemma4" and "whitespace" (BPE), "bert" (WordPiece)`;

/** Tokenizer models llama.cpp knows but Woolly does not implement. */
const UNIMPLEMENTED_MODELS: Record<string, string> = {
  t5: "Unigram (UGM)",
  rwkv: "RWKV world",
  plamo2: "PLaMo-2",
  no_vocab: "no vocabulary",
  none: "no vocabulary",
  hybriddna: "hybrid DNA BPE",
  test: "llama.cpp's test vocabulary",
};

export function loadVocab(src: GgufMetadataSource): Vocab {
  const meta = src.metadata;
  const model = getString(meta, KEY + "model");
  if (model === undefined) throw new TokenizerError("missing_key", `metadata key "${KEY}model" is missing: the file has no tokenizer`);
  let preName = getString(meta, KEY + "pre") ?? "";

  // 1. Tokenizer type and its default special ids (llama.cpp's per-model defaults).
  let kind: VocabKind;
  const special: { -readonly [K in keyof SpecialIds]: SpecialIds[K] } = {
    bos: undefined, eos: undefined, eot: undefined, eom: undefined, unk: undefined, sep: undefined, pad: undefined,
    mask: undefined, fimPre: undefined, fimSuf: undefined, fimMid: undefined, fimPad: undefined, fimRep: undefined, fimSep: undefined,
  };
  let merges = NO_MERGES;
  if (model === "llama") {
    kind = "spm";
    Object.assign(special, { bos: 1, eos: 2, unk: 0 });
  } else if (model === "bert") {
    // BOS is [CLS]; EOS is unset; SEP, PAD and MASK have BERT's usual ids until the GGUF says otherwise.
    kind = "wpm";
    Object.assign(special, { bos: 101, unk: 100, sep: 102, pad: 0, mask: 103 });
  } else if (model === "gpt2" || model === "gemma4" || model === "whitespace") {
    kind = "bpe";
    if (model === "gemma4") preName = "gemma4";
    else Object.assign(special, { bos: 11, eos: 11 });
    const raw = meta.get(KEY + "merges");
    if (raw === undefined) {
      if (preName !== "kimi-k2") throw new TokenizerError("missing_key", `metadata key "${KEY}merges" is missing (required by BPE model "${model}")`);
    } else {
      merges = parseMerges(stringArray(raw, KEY + "merges"));
    }
  } else if (Object.hasOwn(UNIMPLEMENTED_MODELS, model)) {
    throw new TokenizerError("unsupported_tokenizer", `tokenizer.ggml.model "${model}" (${UNIMPLEMENTED_MODELS[model]}) is not supported by Woolly; ${SUPPORTED}`);
  } else {
    throw new TokenizerError("unsupported_tokenizer", `unknown tokenizer.ggml.model "${model}"; ${SUPPORTED}`);
  }

  // 2. Flags: per type, then per pre-tokenizer (BPE), then the GGUF's own keys.
  let pre: PreTokenizerRow | undefined;
  let addBos: boolean;
  let addEos = false;
  let addSpacePrefix: boolean;
  let cleanSpaces: boolean;
  let escapeWhitespaces = true;
  let ignoreMerges = false;
  let addSep = false;
  if (kind === "bpe") {
    // llama.cpp warns and uses 'default' only when the key is absent or empty.
    pre = findPreTokenizer(preName === "" ? "default" : preName);
    if (pre === undefined) {
      throw new TokenizerError("unsupported_pretokenizer", `unknown pre-tokenizer tokenizer.ggml.pre = "${preName}" (llama.cpp refuses it too)`);
    }
    addSpacePrefix = false;
    escapeWhitespaces = pre.escapeWhitespaces ?? false;
    cleanSpaces = pre.cleanSpaces ?? true;
    ignoreMerges = pre.ignoreMerges ?? false;
    addBos = pre.addBos ?? false;
    addSep = pre.addSep ?? false;
    if (pre.noDefaultBos) special.bos = undefined;
  } else if (kind === "wpm") {
    // llama.cpp ignores tokenizer.ggml.pre for WordPiece (BERT files say e.g. "bert-bge").
    addSpacePrefix = false;
    cleanSpaces = true;
    addBos = true;
    addSep = true;
  } else {
    addSpacePrefix = true;
    cleanSpaces = false;
    addBos = true;
  }
  addSpacePrefix = getBool(meta, KEY + "add_space_prefix") ?? addSpacePrefix;

  // 3. Tokens, scores and types.
  const tokensRaw = meta.get(KEY + "tokens");
  if (tokensRaw === undefined) throw new TokenizerError("missing_key", `metadata key "${KEY}tokens" is missing`);
  const texts = stringArray(tokensRaw, KEY + "tokens").slice();
  const n = texts.length;
  const scores = new Float32Array(n);
  const scoresRaw = meta.get(KEY + "scores");
  if (scoresRaw !== undefined) {
    const items = numericArray(scoresRaw, KEY + "scores", "arr[f32] or arr[i32]", [GgufValueType.FLOAT32, GgufValueType.INT32]);
    if (items.length < n) throw new TokenizerError("bad_vocab", `${KEY}scores has ${items.length} entries for ${n} tokens`);
    for (let i = 0; i < n; i++) scores[i] = items[i];
  }
  const attrs = new Uint16Array(n).fill(Attr.NORMAL);
  const typesRaw = meta.get(KEY + "token_type");
  if (typesRaw !== undefined) {
    const items = numericArray(typesRaw, KEY + "token_type", "arr[i32]", [GgufValueType.INT32]);
    if (items.length < n) throw new TokenizerError("bad_vocab", `${KEY}token_type has ${items.length} entries for ${n} tokens`);
    for (let i = 0; i < n; i++) attrs[i] = TYPE_TO_ATTR[items[i]] ?? Attr.UNDEFINED;
  }
  for (let i = 0; i < n; i++) if (texts[i] === "") texts[i] = `[EMPTY_${i}]`;
  // llama.cpp asserts that no two ids share a text; refuse such a vocabulary by name instead.
  const ids = new StringIndex(texts, undefined, (prev, i) => {
    throw new TokenizerError("bad_vocab", `duplicate token in vocabulary: ${JSON.stringify(texts[i])} has ids ${prev} and ${i}`);
  });

  // 4. Special ids: defaults outside the vocabulary are dropped; a key outside it is ignored.
  for (const [field, key] of SPECIAL_ID_KEYS) {
    const def = special[field];
    if (def !== undefined && def >= n) special[field] = undefined;
    const v = getInt(meta, KEY + key);
    if (v !== undefined && v >= 0 && v < n) special[field] = v;
  }
  // llama.cpp reads no cls_token_id: BERT's [CLS] is its BOS (101 by default). Woolly takes the
  // CLS key when the file names no BOS, so a BERT vocabulary with [CLS] elsewhere still works.
  if (kind === "wpm" && meta.get(KEY + "bos_token_id") === undefined) {
    const cls = getInt(meta, KEY + "cls_token_id");
    if (cls !== undefined && cls >= 0 && cls < n) special.bos = cls;
  }
  addBos = getBool(meta, KEY + "add_bos_token") ?? addBos;
  addEos = getBool(meta, KEY + "add_eos_token") ?? addEos;
  addSep = getBool(meta, KEY + "add_sep_token") ?? addSep;
  if (pre?.type === "gemma4") addBos = true; // llama.cpp forces BOS for Gemma 4
  if (addBos && special.bos === undefined) throw new TokenizerError("bad_vocab", `${KEY}add_bos_token is true, but ${KEY}bos_token_id is not set`);
  if (addEos && special.eos === undefined) throw new TokenizerError("bad_vocab", `${KEY}add_eos_token is true, but ${KEY}eos_token_id is not set`);
  // WordPiece wraps every addSpecial call in [CLS] … [SEP], whatever the flags say (as llama.cpp).
  if (kind === "wpm" && (special.bos === undefined || special.sep === undefined)) {
    throw new TokenizerError("bad_vocab", `WordPiece needs [CLS] and [SEP]: ${KEY}bos_token_id (or cls_token_id) and ${KEY}seperator_token_id must be ids of the vocabulary`);
  }
  // BertNormalizer options: lowercase by default (not for the "whitespace" pre-tokenizer); accents
  // stripped when lowercasing, unless told.
  const lowercase = getBool(meta, KEY + "normalizer.lowercase") ?? pre?.lowercase ?? true;
  const normalizer: NormalizerOptions = { lowercase, stripAccents: getBool(meta, KEY + "normalizer.strip_accents") ?? lowercase };
  let maxTokenUnits = 0;
  for (let i = 0; i < n; i++) if (texts[i].length > maxTokenUnits) maxTokenUnits = texts[i].length;

  // 5. Tokens recognised by their text: EOT/EOM/FIM, unused, end-of-generation, strip flags.
  const generalName = getString(meta, "general.name") ?? "";
  const arch = getString(meta, "general.architecture") ?? "";
  const eog = applyTextRules({ texts, ids, attrs, special, preName, generalName, arch });

  const specialTokens: number[] = [];
  for (let i = 0; i < n; i++) if (attrs[i] & (Attr.CONTROL | Attr.USER_DEFINED | Attr.UNKNOWN)) specialTokens.push(i);
  specialTokens.sort((a, b) => texts[b].length - texts[a].length || a - b);
  applyStripRules({ texts, ids, attrs, specialTokens, preName, generalName, arch });

  return {
    kind, model, pre, texts, ids, scores, attrs, merges, special, eog, addBos, addEos, addSep, normalizer, maxTokenUnits,
    addSpacePrefix, cleanSpaces,
    // SPM and WordPiece tokens spell spaces as U+2581; BPE only with an SPM-style pre-tokenizer.
    escapeWhitespaces: kind === "bpe" ? escapeWhitespaces : true,
    ignoreMerges,
    byteEncode: kind === "bpe" && !(pre?.rawBytes ?? false),
    specialTokens,
  };
}

const SPECIAL_ID_KEYS: readonly [keyof SpecialIds, string][] = [
  ["bos", "bos_token_id"], ["eos", "eos_token_id"], ["eot", "eot_token_id"], ["eom", "eom_token_id"],
  ["unk", "unknown_token_id"], ["sep", "seperator_token_id"], ["pad", "padding_token_id"], ["mask", "mask_token_id"],
  ["fimPre", "fim_pre_token_id"], ["fimSuf", "fim_suf_token_id"], ["fimMid", "fim_mid_token_id"],
  ["fimPad", "fim_pad_token_id"], ["fimRep", "fim_rep_token_id"], ["fimSep", "fim_sep_token_id"],
  // deprecated spellings, read after the current ones as llama.cpp does
  ["fimPre", "prefix_token_id"], ["fimSuf", "suffix_token_id"], ["fimMid", "middle_token_id"],
];

const NO_MERGES = new StringIndex([]);

/**
 * "a b" merge lines → rank (the line's index; the first of equal lines wins, as llama.cpp's emplace).
 * llama.cpp splits a line at the first space after its first character; a line without one becomes
 * the pair ("", ""), which no lookup of two non-empty symbols can meet, so such lines are left out.
 */
function parseMerges(lines: readonly string[]): StringIndex {
  return new StringIndex(lines, (i) => lines[i].indexOf(" ", 1) !== -1);
}

/** LSTRIP/RSTRIP by model name, as llama.cpp sets them (the GGUF does not carry them). */
function applyStripRules(v: {
  texts: readonly string[]; ids: StringIndex; attrs: Uint16Array; specialTokens: readonly number[];
  preName: string; generalName: string; arch: string;
}): void {
  const name = v.generalName.toLowerCase();
  const set = (text: string, bit: number, on: boolean): void => {
    const id = v.ids.get(text);
    if (id !== undefined) v.attrs[id] = on ? v.attrs[id] | bit : v.attrs[id] & ~bit;
  };
  if (["jina-v2-de", "jina-v2-es", "jina-v2-code"].some((s) => v.preName.includes(s)) ||
      ["nomic-bert-moe", "jina-bert-v3"].some((s) => v.arch.includes(s))) {
    set("<mask>", Attr.LSTRIP, true);
  } else if (name.includes("phi-3") || name.includes("phi3")) {
    for (const id of v.specialTokens) v.attrs[id] |= Attr.RSTRIP;
    set("</s>", Attr.RSTRIP, true);
    for (const t of ["<unk>", "<s>", "<|endoftext|>"]) set(t, Attr.RSTRIP, false);
  } else if (name.includes("modern-bert")) {
    set("[MASK]", Attr.LSTRIP, true);
  }
}

// --- metadata access (tokenizer errors name the key) ---------------------------------------------

function wrongType(key: string, expected: string, v: GgufValue): TokenizerError {
  const found = v.type === GgufValueType.ARRAY ? `arr of type ${v.value.itemType}` : `type ${v.type}`;
  return new TokenizerError("wrong_type", `metadata key "${key}" should be ${expected}, found ${found}`);
}

function getString(meta: ReadonlyMap<string, GgufValue>, key: string): string | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (v.type !== GgufValueType.STRING) throw wrongType(key, "a string", v);
  return v.value;
}

function getBool(meta: ReadonlyMap<string, GgufValue>, key: string): boolean | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (v.type !== GgufValueType.BOOL) throw wrongType(key, "a bool", v);
  return v.value;
}

/** Any integer type (files store token ids as u32, sometimes i32 or u64); huge values come back as-is. */
function getInt(meta: ReadonlyMap<string, GgufValue>, key: string): number | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  switch (v.type) {
    case GgufValueType.UINT64:
    case GgufValueType.INT64:
      return Number(v.value);
    case GgufValueType.UINT8:
    case GgufValueType.INT8:
    case GgufValueType.UINT16:
    case GgufValueType.INT16:
    case GgufValueType.UINT32:
    case GgufValueType.INT32:
      return v.value;
    default:
      throw wrongType(key, "an integer", v);
  }
}

function stringArray(v: GgufValue, key: string): readonly string[] {
  if (v.type === GgufValueType.ARRAY && v.value.itemType === GgufValueType.STRING && isStringArray(v.value.items)) return v.value.items;
  throw wrongType(key, "arr[str]", v);
}

/** The reader gives string items for itemType STRING; checking the first keeps the type honest cheaply. */
function isStringArray(items: GgufArray["items"]): items is string[] {
  return Array.isArray(items) && (items.length === 0 || typeof items[0] === "string");
}

function numericArray(v: GgufValue, key: string, expected: string, itemTypes: readonly number[]): ArrayLike<number> {
  if (v.type !== GgufValueType.ARRAY || !itemTypes.includes(v.value.itemType)) throw wrongType(key, expected, v);
  const items: GgufArray["items"] = v.value.items;
  if (items instanceof Float32Array || items instanceof Int32Array) return items;
  throw wrongType(key, expected, v);
}
