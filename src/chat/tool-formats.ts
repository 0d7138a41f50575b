// Tool-call formats: which one a model's family uses, read from its chat template text as llama.cpp
// detects them (common/chat.cpp), the markers that open a call, and how much of a growing reply is
// certainly content (what a chat may stream before the reply is parsed).

/**
 * The tool-call formats Woolly reads and writes:
 * `hermes` `<tool_call>{"name", "arguments"}</tool_call>` (Hermes 2/3, Qwen 2.5/3, Granite 4, SmolLM3 …);
 * `qwen3-coder` `<tool_call><function=NAME><parameter=KEY>value</parameter></function></tool_call>`;
 * `glm` `<tool_call>NAME<arg_key>KEY</arg_key><arg_value>value</arg_value></tool_call>` (GLM 4.5–4.7,
 * Ling 3, Laguna, Spark); `kimi-k2` `<|tool_call_begin|>functions.NAME:0<|tool_call_argument_begin|>{args}<|tool_call_end|>`;
 * `llama3` a bare `{"name", "parameters"}` object, or `<|python_tag|>` (Llama 3.1–3.3);
 * `functionary-v3.1` `<function=NAME>{args}</function>`; `functionary-v3.2` `>>>NAME\n{args}`;
 * `mistral-nemo` `[TOOL_CALLS][{"name", "arguments", "id"}]`; `mistral` `[TOOL_CALLS]NAME[CALL_ID]id[ARGS]{args}`
 * (Mistral Small 3.2, Devstral, Ministral 3, [CALL_ID] optional); `deepseek-r1` its
 * `<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME` blocks; `granite` `<|tool_call|>[…]` (Granite 3.x);
 * `command-r7b` `<|START_ACTION|>[{"tool_name", "parameters"}]<|END_ACTION|>`; `firefunction-v2`
 * ` functools[…]`; `gpt-oss` harmony channels (`<|channel|>commentary to=functions.NAME … <|message|>{args}`);
 * `generic` for templates that know no tools: a JSON object `{"tool_call": {"name", "arguments"}}`
 * or `{"response": "…"}`, as llama.cpp's generic format.
 */
export type ToolFormatName =
  | "hermes"
  | "qwen3-coder"
  | "glm"
  | "kimi-k2"
  | "llama3"
  | "functionary-v3.1"
  | "functionary-v3.2"
  | "mistral-nemo"
  | "mistral"
  | "deepseek-r1"
  | "granite"
  | "command-r7b"
  | "firefunction-v2"
  | "gpt-oss"
  | "generic";

const has = (src: string, ...parts: string[]): boolean => parts.every((p) => src.includes(p));

/** The tool-call format of a chat template, from marker strings in its text (as llama.cpp detects them). */
export function detectToolFormat(template: string): ToolFormatName {
  if (has(template, "<|channel|>")) return "gpt-oss";
  if (has(template, "<|tool_calls_section_begin|>", "<|tool_call_begin|>")) return "kimi-k2";
  if (has(template, "[TOOL_CALLS]")) return has(template, "[ARGS]") ? "mistral" : "mistral-nemo";
  if (has(template, ">>>all")) return "functionary-v3.2";
  if (has(template, "<｜tool▁calls▁begin｜>")) return "deepseek-r1";
  if (has(template, "<|START_ACTION|>", "<|END_ACTION|>")) return "command-r7b";
  if (has(template, "<|tool_call|>")) return "granite";
  if (has(template, "functools[")) return "firefunction-v2";
  if (has(template, "<tool_call>", "<function=", "<parameter=")) return "qwen3-coder";
  if (has(template, "<tool_call>", "<arg_key>", "<arg_value>")) return "glm";
  if (has(template, "<tool_call>")) return "hermes";
  if (has(template, "<function=")) return "functionary-v3.1";
  if (has(template, "<|start_header_id|>") && (has(template, "<|python_tag|>") || has(template, "tools"))) return "llama3";
  return "generic";
}

/** Strings that open call markup in each format: text before them is content (and may stream). */
export const CALL_MARKERS: { readonly [F in ToolFormatName]: readonly string[] } = {
  hermes: ["<tool_call>", "<function="],
  "qwen3-coder": ["<tool_call>", "<function="],
  glm: ["<tool_call>"],
  "kimi-k2": ["<|tool_calls_section_begin|>", "<|tool_call_begin|>"],
  llama3: ["<|python_tag|>"],
  "functionary-v3.1": ["<function=", "<|python_tag|>"],
  "functionary-v3.2": [],
  "mistral-nemo": ["[TOOL_CALLS]"],
  mistral: ["[TOOL_CALLS]"],
  "deepseek-r1": ["<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>"],
  granite: ["<|tool_call|>"],
  "command-r7b": ["<|START_ACTION|>"],
  "firefunction-v2": [" functools[", "functools["],
  "gpt-oss": [],
  generic: [],
};

/** Formats whose replies open with a channel or recipient header: held until the end. */
const WHOLE_REPLY: ReadonlySet<ToolFormatName> = new Set(["functionary-v3.2", "gpt-oss"]);

/** Formats whose replies may open with a thinking section, and its tags. */
export const THINKING: { readonly [F in ToolFormatName]?: readonly [string, string] } = {
  hermes: ["<think>", "</think>"],
  "qwen3-coder": ["<think>", "</think>"],
  "deepseek-r1": ["<think>", "</think>"],
  granite: ["<think>", "</think>"],
  "command-r7b": ["<|START_THINKING|>", "<|END_THINKING|>"],
  glm: ["<think>", "</think>"],
};

/**
 * The part of the reply so far that is certainly content, whatever follows: the text up to the
 * earliest call marker (or a marker's start cut off at the end), trailing whitespace held back since
 * a call after it trims it, after any thinking section (`thinkingOpened`: the prompt ends with the
 * opening tag, so the reply starts inside it). A chat streams this as the reply grows.
 */
export function streamableContent(format: ToolFormatName, text: string, thinkingOpened = false): string {
  if (WHOLE_REPLY.has(format)) return "";
  const thinking = THINKING[format];
  if (thinking) {
    const [open, close] = thinking;
    const t = text.trimStart();
    const closeAt = t.indexOf(close);
    // A prompt that opened the thinking itself (DeepSeek R1's always does): reasoning until the close.
    const opened = thinkingOpened || format === "deepseek-r1";
    if (opened && closeAt < 0) return "";
    if (t.startsWith(open) || (t.length < open.length && open.startsWith(t))) {
      if (closeAt < 0) return "";
    }
    if (closeAt >= 0 && (t.startsWith(open) || opened)) text = t.slice(closeAt + close.length).trimStart();
  }
  // A reply that opens with a JSON object may be a call (Llama 3's, or the generic format's).
  if ((format === "llama3" || format === "generic") && (text.trimStart() === "" || text.trimStart().startsWith("{"))) return "";
  let end = text.length;
  for (const m of CALL_MARKERS[format]) {
    const at = text.indexOf(m);
    if (at >= 0) end = Math.min(end, at);
    for (let k = Math.min(m.length - 1, text.length); k > 0; k--) {
      if (text.endsWith(m.slice(0, k))) {
        end = Math.min(end, text.length - k);
        break;
      }
    }
  }
  while (end > 0 && /\s/.test(text[end - 1]!)) end--;
  return text.slice(0, end);
}
