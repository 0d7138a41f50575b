// Special tokens that llama.cpp recognises by their text, because conversion scripts do not always
// record them: EOT, EOM and FIM ids, "unused" control tokens, and the end-of-generation (EOG) set.
// Mirrors the tail of llama_vocab::impl::load, including its workarounds.
//
// One deliberate difference: llama.cpp takes the first candidate it meets while iterating an
// unordered_map, so with several candidates present (Qwen2 has both <|im_end|> and <|endoftext|>)
// its pick depends on hash order. Here the first candidate in the list order below wins, which gives
// what llama.cpp reports for Llama 3 (<|eot_id|>) and Qwen2 (<|im_end|>). The EOG set, which is what
// stops generation, contains all candidates either way.

/** Special token ids; undefined where the vocabulary has none (llama.cpp's LLAMA_TOKEN_NULL). */
export interface SpecialIds {
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly eot: number | undefined;
  readonly eom: number | undefined;
  readonly unk: number | undefined;
  readonly sep: number | undefined;
  readonly pad: number | undefined;
  readonly mask: number | undefined;
  readonly fimPre: number | undefined;
  readonly fimSuf: number | undefined;
  readonly fimMid: number | undefined;
  readonly fimPad: number | undefined;
  readonly fimRep: number | undefined;
  readonly fimSep: number | undefined;
}

// Attribute bits used here (same values as vocab.ts's Attr; repeated to keep this module standalone).
const NORMAL = 1 << 2;
const UNUSED = 1 << 1;
const CONTROL = 1 << 3;
const USER_DEFINED = 1 << 4;

/** Texts that mark a token as one of the special roles when the GGUF does not name it. */
const BY_TEXT: readonly [keyof SpecialIds, readonly string[]][] = [
  ["eot", ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
    "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"]],
  ["eom", ["<|eom_id|>"]],
  ["fimPre", ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"]],
  ["fimSuf", ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"]],
  ["fimMid", ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"]],
  ["fimPad", ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]],
  ["fimRep", ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]],
  ["fimSep", ["<|file_sep|>"]],
];

/** Texts of tokens that end generation. */
const EOG_TEXTS: readonly string[] = [
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
  "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
  "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
];

/** gpt-oss channel markers that llama.cpp always renders (forced to user-defined). */
const ALWAYS_RENDERED = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"];

export interface TextRuleInput {
  readonly texts: readonly string[];
  readonly ids: { get(text: string): number | undefined };
  /** Mutated: tokens found by text become control, "unused" ones unused. */
  readonly attrs: Uint16Array;
  /** Mutated: EOT/EOM/FIM ids found by text are filled in. */
  readonly special: { -readonly [K in keyof SpecialIds]: SpecialIds[K] };
  readonly preName: string;
  readonly generalName: string;
  readonly arch: string;
}

/** Fills in ids and attributes found by text; returns the end-of-generation set. */
export function applyTextRules(v: TextRuleInput): Set<number> {
  const { texts, ids, attrs, special } = v;
  // A token that plays a control role must be control-typed, whatever the file said.
  const makeControl = (id: number): void => {
    attrs[id] |= CONTROL;
  };

  for (const [field, candidates] of BY_TEXT) {
    if (special[field] !== undefined) continue;
    for (const text of candidates) {
      const id = ids.get(text);
      if (id === undefined) continue;
      special[field] = id;
      makeControl(id);
      break;
    }
  }

  for (let id = 0; id < texts.length; id++) {
    if (attrs[id] & CONTROL && texts[id].includes("unused")) attrs[id] |= UNUSED;
  }

  const eog = new Set<number>();
  for (const id of [special.fimPad, special.fimRep, special.fimSep]) if (id !== undefined) eog.add(id);
  for (const text of EOG_TEXTS) {
    const id = ids.get(text);
    if (id === undefined) continue;
    eog.add(id);
    makeControl(id);
  }
  for (const text of ALWAYS_RENDERED) {
    const id = ids.get(text);
    if (id !== undefined) attrs[id] = USER_DEFINED;
  }
  for (const id of [special.eos, special.eot, special.eom]) if (id !== undefined) eog.add(id);

  // o200k_harmony (gpt-oss) and solar-open end turns with <|return|>/<|call|> (or <|calls|>/<|flush|>):
  // their <|end|> separates messages and must not stop generation.
  const eogText = (t: string): number | undefined => {
    const id = ids.get(t);
    return id !== undefined && eog.has(id) ? id : undefined;
  };
  const end = eogText("<|end|>");
  const call = eogText("<|call|>") ?? eogText("<|calls|>");
  if (end !== undefined && call !== undefined && (eogText("<|return|>") !== undefined || eogText("<|flush|>") !== undefined)) {
    eog.delete(end);
    attrs[end] = USER_DEFINED;
  }
  // Gemma 4 (and PaddleOCR): </s> is an ordinary token when <|tool_response> is present.
  const s = eogText("</s>");
  if (s !== undefined && eogText("<|tool_response>") !== undefined) {
    eog.delete(s);
    attrs[s] = NORMAL;
  }
  return eog;
}
