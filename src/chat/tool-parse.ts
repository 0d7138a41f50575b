// Tool calls in a model's reply, parsed by the format its family was trained on (the formats of
// llama.cpp's common/chat*.cpp; tool-formats.ts detects which): each format's parser turns the raw
// reply into content and calls.
import type { ToolFormatName } from "./tool-formats.js";

/** A call the model made: `arguments` is JSON text, as OpenAI's API gives it. */
export interface ParsedToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: string;
}

/** A reply split into what it says, what it calls, and (templates with thinking) its reasoning. */
export interface ParsedReply {
  readonly content: string;
  readonly toolCalls: readonly ParsedToolCall[];
  readonly reasoning?: string;
}

/** The end of the JSON value starting at `at` (after whitespace), or -1 when it is incomplete. */
export function scanJson(text: string, at: number): number {
  let i = at;
  while (i < text.length && /\s/.test(text[i]!)) i++;
  let depth = 0;
  let inString = false;
  const start = i;
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i + 1;
      if (depth < 0) return -1;
    } else if (depth === 0 && /[\s,;:<]/.test(c)) return i > start ? i : -1;
  }
  return depth === 0 && !inString && i > start ? i : -1;
}

/** The JSON value at `at`, with where it ends; undefined when there is none. */
function jsonAt(text: string, at: number): { value: unknown; end: number } | undefined {
  const end = scanJson(text, at);
  if (end < 0) return undefined;
  try {
    return { value: JSON.parse(text.slice(at, end)), end };
  } catch {
    return undefined;
  }
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** A fresh call id as OpenAI writes them (`call_` and 24 letters or digits). */
export function newCallId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = new Uint8Array(24);
  crypto.getRandomValues(bytes);
  return "call_" + Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

function call(name: unknown, args: unknown, id?: unknown): ParsedToolCall | undefined {
  if (typeof name !== "string" || name === "") return undefined;
  const a = args === undefined ? {} : args;
  return { id: typeof id === "string" && id !== "" ? id : newCallId(), name, arguments: typeof a === "string" ? a : JSON.stringify(a) };
}

/** A call object in the JSON shapes the formats use ({name, arguments|parameters}, or command-r's tool_name). */
function callFromObject(o: unknown): ParsedToolCall | undefined {
  if (!isRecord(o)) return undefined;
  const f = isRecord(o.function) ? o.function : o;
  return call(f.name ?? o.tool_name, f.arguments ?? f.parameters ?? o.parameters, o.id ?? o.tool_call_id);
}

/** Content from the pieces around calls: the text before the first call keeps its start, pieces are trimmed where calls cut them. */
function joinContent(pieces: string[]): string {
  return pieces
    .map((p, i) => (i === 0 ? (pieces.length > 1 ? p.trimEnd() : p) : p.trim()))
    .filter((p, i) => i === 0 || p !== "")
    .join("\n");
}

/**
 * Repeated `open … close` blocks, each read by `read`; text outside is content. Without a `close`, a
 * block runs to the next `open` (or the end), and `read` may say how much of it the call used.
 */
function parseBlocks(
  text: string,
  open: string,
  close: string,
  read: (inner: string) => ParsedToolCall[] | { calls: ParsedToolCall[]; used: number } | undefined,
): ParsedReply {
  const pieces: string[] = [];
  const calls: ParsedToolCall[] = [];
  let at = 0;
  for (;;) {
    const start = text.indexOf(open, at);
    if (start < 0) break;
    const from = start + open.length;
    const stop = close === "" ? -1 : text.indexOf(close, from);
    const inner = text.slice(from, stop < 0 ? text.length : stop);
    const found = read(inner);
    if (!found) break;
    pieces.push(text.slice(at, start));
    if (Array.isArray(found)) {
      calls.push(...found);
      at = stop < 0 ? text.length : stop + close.length;
    } else {
      calls.push(...found.calls);
      at = stop < 0 ? from + found.used : stop + close.length;
    }
  }
  pieces.push(text.slice(at));
  return calls.length === 0 ? { content: text, toolCalls: [] } : { content: joinContent(pieces), toolCalls: calls };
}

/** A JSON value that is the whole of `inner`, as calls (one object, or an array of them). */
function jsonCalls(inner: string, one: (o: unknown) => ParsedToolCall | undefined = callFromObject): ParsedToolCall[] | undefined {
  const j = jsonAt(inner, 0);
  if (!j) return undefined;
  const list = Array.isArray(j.value) ? j.value : [j.value];
  const calls = list.map(one);
  return calls.every((c): c is ParsedToolCall => c !== undefined) && calls.length > 0 ? calls : undefined;
}

/**
 * A thinking section at the start, as reasoning. `implicit`: the prompt opened it (DeepSeek R1's
 * template ends with `<think>\n`), so everything before the closing tag is reasoning.
 */
function splitThinking(text: string, open: string, close: string, implicit = false): { text: string; reasoning?: string } {
  const t = text.trimStart();
  const start = t.startsWith(open) ? open.length : 0;
  const end = t.indexOf(close);
  if (end < 0 || (start === 0 && !implicit)) return { text };
  return { text: t.slice(end + close.length).trimStart(), reasoning: t.slice(start, end).trim() };
}

function withReasoning(r: ParsedReply, reasoning: string | undefined): ParsedReply {
  return reasoning === undefined ? r : { ...r, reasoning };
}

/** Python-style `name.call(key="value", n=1)` of Llama 3.1's built-in tools. */
function builtinCall(code: string): ParsedToolCall | undefined {
  const m = /^\s*([A-Za-z_][\w]*)\.call\(([\s\S]*)\)\s*$/.exec(code);
  if (!m) return undefined;
  const args: Record<string, unknown> = {};
  for (const a of m[2]!.matchAll(/([A-Za-z_]\w*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,]+)/g)) {
    const v = a[2]!.trim();
    try {
      args[a[1]!] = JSON.parse(v);
    } catch {
      args[a[1]!] = v;
    }
  }
  return call(m[1], args);
}

/** After `<|python_tag|>`: JSON calls, a built-in tool call, or code for the `python` tool. */
function pythonTag(text: string): ParsedReply | undefined {
  const at = text.indexOf("<|python_tag|>");
  if (at < 0) return undefined;
  const rest = text.slice(at + "<|python_tag|>".length).replace(/<\|eom_id\|>\s*$/, "");
  const calls = jsonCalls(rest.trim()) ?? (builtinCall(rest) ? [builtinCall(rest)!] : [call("python", { code: rest })!]);
  return { content: joinContent([text.slice(0, at), ""]), toolCalls: calls };
}

/** Llama 3.x: one or more `{"name", "parameters"}` objects (separated by `;`), or `<|python_tag|>`. */
function parseLlama3(text: string): ParsedReply {
  const tagged = pythonTag(text);
  if (tagged) return tagged;
  const calls: ParsedToolCall[] = [];
  let at = 0;
  for (;;) {
    while (at < text.length && /[\s;]/.test(text[at]!)) at++;
    if (text[at] !== "{") break;
    const j = jsonAt(text, at);
    const c = j && isRecord(j.value) && (j.value.parameters !== undefined || j.value.arguments !== undefined) ? callFromObject(j.value) : undefined;
    if (!j || !c) break;
    calls.push(c);
    at = j.end;
  }
  return calls.length === 0 ? { content: text, toolCalls: [] } : { content: text.slice(at).trim(), toolCalls: calls };
}

/**
 * A parameter written as text (Qwen3-Coder, GLM): JSON when it parses as JSON and the function does
 * not declare it a string; a declared string is the text itself, unless it is a JSON string (a forced
 * call's string with a pattern or format, which the grammar quotes).
 */
function paramValue(raw: string, isString: boolean): unknown {
  if (isString) {
    if (raw.length > 1 && raw.startsWith('"') && raw.endsWith('"')) {
      try {
        const v: unknown = JSON.parse(raw);
        if (typeof v === "string") return v;
      } catch {
        // text that happens to be quoted
      }
    }
    return raw;
  }
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Qwen3-Coder's XML: `<function=NAME>` then `<parameter=KEY>\nvalue\n</parameter>` per argument. */
function xmlCall(inner: string, stringParams: (name: string) => ReadonlySet<string>): ParsedToolCall[] | undefined {
  const f = /<function=([^>\n]+)>([\s\S]*?)(?:<\/function>|$)/.exec(inner);
  if (!f) return undefined;
  const name = f[1]!.trim();
  const strings = stringParams(name);
  const args: Record<string, unknown> = {};
  for (const p of f[2]!.matchAll(/<parameter=([^>\n]+)>\n?([\s\S]*?)\n?<\/parameter>/g)) {
    const key = p[1]!.trim();
    args[key] = paramValue(p[2]!, strings.has(key));
  }
  return [call(name, args)!];
}

/** GLM's `NAME` then `<arg_key>KEY</arg_key><arg_value>value</arg_value>` per argument (newlines optional). */
function glmCall(inner: string, stringParams: (name: string) => ReadonlySet<string>): ParsedToolCall[] | undefined {
  const m = /^\s*([^<\s]+)\s*/.exec(inner);
  if (!m) return undefined;
  const rest = inner.slice(m[0].length);
  const strings = stringParams(m[1]!);
  const args: Record<string, unknown> = {};
  let used = 0;
  for (const p of rest.matchAll(/<arg_key>([\s\S]*?)<\/arg_key>\s*<arg_value>([\s\S]*?)<\/arg_value>\s*/g)) {
    if (p.index !== used) return undefined;
    args[p[1]!.trim()] = paramValue(p[2]!, strings.has(p[1]!.trim()));
    used = p.index + p[0].length;
  }
  return used === rest.length ? [call(m[1], args)!] : undefined;
}

/** Kimi K2's `functions.NAME:INDEX<|tool_call_argument_begin|>{args}`; the id is `functions.NAME:INDEX`, as Kimi writes it. */
function kimiCall(inner: string): ParsedToolCall[] | undefined {
  const m = /^\s*((?:functions\.)?([^:<\s]+)(?::\d+)?)\s*<\|tool_call_argument_begin\|>/.exec(inner);
  if (!m) return undefined;
  const j = jsonAt(inner, m[0].length);
  return j ? [call(m[2], j.value, m[1])!] : undefined;
}

/** Functionary v3.2: `>>>recipient\n…` segments; the prompt ends with the first `>>>`. */
function parseFunctionary32(text: string): ParsedReply {
  const src = text.startsWith(">>>") ? text : ">>>" + text;
  const pieces: string[] = [];
  const calls: ParsedToolCall[] = [];
  let at = 0;
  while (src.startsWith(">>>", at)) {
    const nl = src.indexOf("\n", at);
    if (nl < 0) break;
    const recipient = src.slice(at + 3, nl).trim();
    const next = src.indexOf(">>>", nl);
    if (recipient === "all") {
      pieces.push(src.slice(nl + 1, next < 0 ? src.length : next));
      at = next < 0 ? src.length : next;
      continue;
    }
    const j = recipient === "python" ? undefined : jsonAt(src, nl + 1);
    if (j) {
      calls.push(call(recipient, j.value)!);
      at = j.end;
      while (at < src.length && /\s/.test(src[at]!)) at++;
    } else {
      calls.push(call(recipient, recipient === "python" ? { code: src.slice(nl + 1, next < 0 ? undefined : next) } : src.slice(nl + 1, next < 0 ? undefined : next))!);
      at = next < 0 ? src.length : next;
    }
  }
  if (at === 0) return { content: text, toolCalls: [] };
  if (at < src.length) pieces.push(src.slice(at));
  return { content: pieces.map((p) => p.trim()).filter((p) => p !== "").join("\n"), toolCalls: calls };
}

/** GPT-OSS harmony: `<|channel|>CHANNEL[ to=functions.NAME][ <|constrain|>json]<|message|>BODY` messages. */
function parseGptOss(text: string): ParsedReply {
  const content: string[] = [];
  const reasoning: string[] = [];
  const calls: ParsedToolCall[] = [];
  const messages = text.split(/<\|start\|>assistant/);
  let structured = false;
  for (const m of messages) {
    const body = m.indexOf("<|message|>");
    if (body < 0) {
      if (m.trim() !== "") content.push(m);
      continue;
    }
    structured = true;
    const header = m.slice(0, body);
    const message = m.slice(body + "<|message|>".length).replace(/<\|(end|call|return)\|>[\s\S]*$/, "");
    const to = /to=functions\.([^\s<]+)/.exec(header);
    if (to) calls.push(call(to[1], jsonAt(message, 0)?.value ?? message)!);
    else if (/<\|channel\|>\s*analysis/.test(header)) reasoning.push(message);
    else content.push(message);
  }
  if (!structured) return { content: text, toolCalls: [] };
  return withReasoning({ content: content.join(""), toolCalls: calls }, reasoning.length ? reasoning.join("\n") : undefined);
}

/** llama.cpp's generic format: `{"tool_call": {…}}`, `{"tool_calls": […]}` or `{"response": "…"}`. */
function parseGeneric(text: string): ParsedReply {
  const t = text.trim();
  const j = t.startsWith("{") ? jsonAt(t, 0) : undefined;
  if (!j || !isRecord(j.value) || t.slice(j.end).trim() !== "") return { content: text, toolCalls: [] };
  const v = j.value;
  const list = v.tool_calls !== undefined ? v.tool_calls : v.tool_call !== undefined ? [v.tool_call] : undefined;
  if (Array.isArray(list)) {
    const calls = list.map(callFromObject);
    if (calls.every((c): c is ParsedToolCall => c !== undefined)) return { content: "", toolCalls: calls };
  }
  if (typeof v.response === "string") return { content: v.response, toolCalls: [] };
  return { content: text, toolCalls: [] };
}

export interface ParseContext {
  /** The parameters typed "string" of a function (Qwen3-Coder writes them unquoted). */
  readonly stringParams?: (name: string) => ReadonlySet<string>;
  /** The prompt ended with the thinking section's opening tag: the reply starts inside it. */
  readonly thinkingOpened?: boolean;
}

/** Split a reply into content and tool calls by its format. Text that holds no well-formed call is all content. */
export function parseToolCalls(format: ToolFormatName, text: string, ctx: ParseContext = {}): ParsedReply {
  const opened = ctx.thinkingOpened ?? false;
  switch (format) {
    case "hermes": {
      // Qwen3 and other thinking models of this format write <think>…</think> first.
      const { text: rest, reasoning } = splitThinking(text, "<think>", "</think>", opened);
      const r = parseBlocks(rest, "<tool_call>", "</tool_call>", (inner) => jsonCalls(inner.trim()));
      return withReasoning(r.toolCalls.length ? r : parseBlocks(rest, "<function=", "</function>", functionBlock), reasoning);
    }
    case "qwen3-coder": {
      const strings = ctx.stringParams ?? (() => new Set<string>());
      const { text: rest, reasoning } = splitThinking(text, "<think>", "</think>", opened);
      return withReasoning(parseBlocks(rest, "<tool_call>", "</tool_call>", (inner) => xmlCall(inner, strings)), reasoning);
    }
    case "glm": {
      const strings = ctx.stringParams ?? (() => new Set<string>());
      const { text: rest, reasoning } = splitThinking(text, "<think>", "</think>", opened);
      return withReasoning(parseBlocks(rest, "<tool_call>", "</tool_call>", (inner) => glmCall(inner, strings)), reasoning);
    }
    case "kimi-k2": {
      const r = parseBlocks(text, "<|tool_call_begin|>", "<|tool_call_end|>", kimiCall);
      return r.toolCalls.length ? { ...r, content: r.content.replace(/<\|tool_calls_section_(begin|end)\|>/g, "").trim() } : r;
    }
    case "llama3":
      return parseLlama3(text);
    case "functionary-v3.1": {
      const r = parseBlocks(text, "<function=", "</function>", functionBlock);
      return r.toolCalls.length ? r : (pythonTag(text) ?? r);
    }
    case "functionary-v3.2":
      return parseFunctionary32(text);
    case "mistral-nemo":
      return parseBlocks(text, "[TOOL_CALLS]", "", mistralCall);
    case "mistral":
      return parseBlocks(text, "[TOOL_CALLS]", "", mistralCall);
    case "deepseek-r1": {
      const { text: rest, reasoning } = splitThinking(text, "<think>", "</think>", true);
      const r = parseBlocks(rest, "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", deepseekCall);
      const content = r.toolCalls.length ? r.content.replace(/<｜tool▁calls▁(begin|end)｜>/g, "").trim() : r.content;
      return withReasoning({ ...r, content }, reasoning);
    }
    case "granite": {
      const { text: rest, reasoning } = splitThinking(text, "<think>", "</think>", opened);
      return withReasoning(parseBlocks(rest, "<|tool_call|>", "", jsonBlock), reasoning);
    }
    case "command-r7b": {
      const { text: rest, reasoning } = splitThinking(text, "<|START_THINKING|>", "<|END_THINKING|>", opened);
      const r = parseBlocks(rest, "<|START_ACTION|>", "<|END_ACTION|>", (inner) => jsonCalls(inner.trim()));
      const content = r.content.replace(/<\|(START|END)_RESPONSE\|>/g, "");
      return withReasoning({ ...r, content: r.toolCalls.length ? content.trim() : content }, reasoning);
    }
    case "firefunction-v2":
      return parseBlocks(text, "functools", "", (inner) => (inner.trimStart().startsWith("[") ? jsonBlock(inner) : undefined));
    case "gpt-oss":
      return parseGptOss(text);
    case "generic":
      return parseGeneric(text);
  }
}

/** `NAME>{args}` after `<function=` (Functionary v3.1, and Hermes' alternative). */
function functionBlock(inner: string): ParsedToolCall[] | undefined {
  const gt = inner.indexOf(">");
  if (gt <= 0) return undefined;
  const j = jsonAt(inner, gt + 1);
  return j ? [call(inner.slice(0, gt).trim(), j.value)!] : undefined;
}

/** A JSON call or array of calls at the start of `inner`, and how much of it that took. */
function jsonBlock(inner: string): { calls: ParsedToolCall[]; used: number } | undefined {
  const j = jsonAt(inner, 0);
  const calls = j ? jsonCalls(inner.slice(0, j.end)) : undefined;
  return j && calls ? { calls, used: j.end } : undefined;
}

/** `NAME[CALL_ID]id[ARGS]{args}` after one [TOOL_CALLS] (or Mistral Nemo's JSON array). */
function mistralCall(inner: string): { calls: ParsedToolCall[]; used: number } | undefined {
  const m = /^\s*([^[\s]+)\s*(?:\[CALL_ID\]([A-Za-z0-9]+))?\s*\[ARGS\]/.exec(inner);
  if (!m) return jsonBlock(inner);
  const j = jsonAt(inner, m[0].length);
  return j ? { calls: [call(m[1], j.value, m[2])!], used: j.end } : undefined;
}

/** `function<｜tool▁sep｜>NAME\n```json\n{args}\n```` */
function deepseekCall(inner: string): ParsedToolCall[] | undefined {
  const m = /^\s*(?:function)?<｜tool▁sep｜>([^\n]+)\n```(?:json)?\n/.exec(inner);
  if (!m) return undefined;
  const j = jsonAt(inner, m[0].length);
  return j ? [call(m[1]!.trim(), j.value)!] : undefined;
}
