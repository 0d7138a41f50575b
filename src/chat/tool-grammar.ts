// The GBNF grammar of a forced tool call (tool_choice "required" or a named function): the family's
// call markup around arguments that validate against the function's parameters schema, so a model
// that must call a tool always produces a call the parser reads and the function accepts.
import { jsonSchemaToGbnf, type JsonValue } from "../grammar/index.js";
import type { Tokenizer } from "../tokenizer/index.js";
import type { ChatTool } from "./messages.js";
import type { ToolFormatName } from "./tool-formats.js";

/** A GBNF string literal. */
export function gbnfLiteral(text: string): string {
  return '"' + text.replace(/[\\"\n\r\t]/g, (c) => ({ "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c]!) + '"';
}

/**
 * Prefix every rule name of a GBNF text (definitions and references), so the grammars of several
 * schemas live in one text. String literals, character classes, `<token>`s, `{m,n}` and comments are
 * left as they are.
 */
export function prefixRules(gbnf: string, prefix: string): string {
  let out = "";
  let i = 0;
  const skipTo = (close: string, from: number): number => {
    let j = from + 1;
    while (j < gbnf.length && gbnf[j] !== close) j += gbnf[j] === "\\" ? 2 : 1;
    return j + 1;
  };
  while (i < gbnf.length) {
    const c = gbnf[i]!;
    let j: number;
    if (c === '"') j = skipTo('"', i);
    else if (c === "[") j = skipTo("]", i);
    else if (c === "<") j = skipTo(">", i);
    else if (c === "{") j = skipTo("}", i);
    else if (c === "#") j = gbnf.indexOf("\n", i) < 0 ? gbnf.length : gbnf.indexOf("\n", i);
    else if (/[A-Za-z0-9_-]/.test(c)) {
      j = i;
      while (j < gbnf.length && /[A-Za-z0-9_-]/.test(gbnf[j]!)) j++;
      out += prefix + gbnf.slice(i, j);
      i = j;
      continue;
    } else j = i + 1;
    out += gbnf.slice(i, j);
    i = j;
  }
  return out;
}

export interface ToolGrammar {
  readonly gbnf: string;
  /** Control tokens the grammar writes as tokens, whose text generation must then emit for the parser. */
  readonly preservedTokens: readonly number[];
}

/**
 * `<[id]>` for a marker that is one control token of the vocabulary (models emit `[TOOL_CALLS]` as
 * one token, which has no text bytes the grammar could match), else the marker as text.
 */
function markerFor(tokenizer: Tokenizer, preserved: number[]): (text: string) => string {
  return (text) => {
    const ids = tokenizer.tokenize(text, { addSpecial: false, parseSpecial: true });
    if (ids.length === 1 && tokenizer.tokenBytes(ids[0]!).length === 0) {
      if (!preserved.includes(ids[0]!)) preserved.push(ids[0]!);
      return `<[${ids[0]}]>`;
    }
    return gbnfLiteral(text);
  };
}

const params = (t: ChatTool): JsonValue => (t.function.parameters as JsonValue | undefined) ?? { type: "object" };

/**
 * The properties of an object schema as one tagged value each (Qwen3-Coder's `<parameter=KEY>`,
 * GLM's `<arg_key>`/`<arg_value>`): `tags(key)` gives the text before and after a value.
 */
function taggedArguments(t: ChatTool, rule: string, rules: string[], tags: (key: string) => [string, string]): string {
  const p = params(t) as { properties?: Record<string, JsonValue>; required?: string[] };
  const props = p.properties ?? {};
  const required = new Set(p.required ?? []);
  const names = [...Object.keys(props).filter((k) => required.has(k)), ...Object.keys(props).filter((k) => !required.has(k))];
  const parts = names.map((k, j) => {
    const s = props[k] as Record<string, JsonValue>;
    const keys = Object.keys(s).filter((key) => key !== "description" && key !== "title");
    const bound = (key: string): number | undefined => (typeof s[key] === "number" ? (s[key] as number) : undefined);
    let value = `${rule}-p${j}`;
    if (s.type === "string" && keys.every((key) => key === "type" || key === "minLength" || key === "maxLength")) {
      // Qwen3-Coder writes strings unquoted: text that cannot close the tag early, within the length bounds.
      const min = bound("minLength") ?? 0;
      const max = bound("maxLength");
      rules.push(`${value} ::= ${max === undefined && min === 0 ? '([^<] | "<" [^/])*' : `[^<]{${min},${max ?? ""}}`}`);
    } else if (Array.isArray(s.enum) && s.enum.every((v) => typeof v === "string") && (s.type === undefined || s.type === "string")) {
      rules.push(`${value} ::= ${(s.enum as string[]).map(gbnfLiteral).join(" | ")}`);
    } else {
      // Anything else as JSON (a string with a pattern or format quoted; the parser unquotes it).
      rules.push(prefixRules(jsonSchemaToGbnf(s), `${rule}-p${j}-`));
      value = `${rule}-p${j}-root`;
    }
    const [before, after] = tags(k);
    const tag = `${gbnfLiteral(before)} ${value} ${gbnfLiteral(after)}`;
    return required.has(k) ? tag : `(${tag})?`;
  });
  return parts.join(" ") || '""';
}

/**
 * The grammar of one or more calls (`parallel`) of `tools` in `format`. `callId` asks Mistral's
 * [CALL_ID] (templates that print it). Throws SchemaError for parameters that cannot be enforced.
 */
export function toolCallGrammar(
  format: ToolFormatName,
  tools: readonly ChatTool[],
  tokenizer: Tokenizer,
  options: { parallel: boolean; callId: boolean; argNewlines?: boolean },
): ToolGrammar {
  const preserved: number[] = [];
  const mark = markerFor(tokenizer, preserved);
  const rules: string[] = [];
  const lit = gbnfLiteral;
  const alternatives = tools.map((t, i) => {
    const name = t.function.name;
    const args = `t${i}-root`;
    if (format !== "qwen3-coder" && format !== "glm") rules.push(prefixRules(jsonSchemaToGbnf(params(t)), `t${i}-`));
    const jsonName = JSON.stringify(name);
    switch (format) {
      case "hermes":
        return `${mark("<tool_call>")} ${lit(`\n{"name": ${jsonName}, "arguments": `)} ${args} ${lit("}\n")} ${mark("</tool_call>")}`;
      case "qwen3-coder":
        return `${mark("<tool_call>")} ${lit(`\n<function=${name}>\n`)} ${taggedArguments(t, `t${i}`, rules, (k) => [`<parameter=${k}>\n`, "\n</parameter>\n"])} ${lit("</function>\n")} ${mark("</tool_call>")}`;
      case "glm": {
        const nl = options.argNewlines ? "\n" : "";
        const tags = (k: string): [string, string] => [`<arg_key>${k}</arg_key>${nl}<arg_value>`, `</arg_value>${nl}`];
        return `${mark("<tool_call>")} ${lit(name + nl)} ${taggedArguments(t, `t${i}`, rules, tags)} ${mark("</tool_call>")}`;
      }
      case "kimi-k2":
        return `${mark("<|tool_call_begin|>")} ${lit(`functions.${name}:`)} [0-9] ${mark("<|tool_call_argument_begin|>")} ${args} ${mark("<|tool_call_end|>")}`;
      case "llama3":
        return `${lit(`{"name": ${jsonName}, "parameters": `)} ${args} ${lit("}")}`;
      case "functionary-v3.1":
        return `${lit(`<function=${name}>`)} ${args} ${lit("</function>")}`;
      case "functionary-v3.2":
        // The prompt ends with ">>>"; later calls open their own.
        return `${lit(`${name}\n`)} ${args}`;
      case "mistral-nemo":
        return `${lit(`{"name": ${jsonName}, "arguments": `)} ${args} ${lit(', "id": "')} [a-zA-Z0-9]{9} ${lit('"}')}`;
      case "mistral":
        return `${mark("[TOOL_CALLS]")} ${lit(name)} ${options.callId ? `${mark("[CALL_ID]")} [a-zA-Z0-9]{9} ` : ""}${mark("[ARGS]")} ${args}`;
      case "deepseek-r1":
        return `${mark("<｜tool▁call▁begin｜>")} ${lit("function")} ${mark("<｜tool▁sep｜>")} ${lit(`${name}\n\`\`\`json\n`)} ${args} ${lit("\n```")} ${mark("<｜tool▁call▁end｜>")}`;
      case "granite":
      case "firefunction-v2":
        return `${lit(`{"name": ${jsonName}, "arguments": `)} ${args} ${lit("}")}`;
      case "command-r7b":
        return `${lit(`{"tool_call_id": "`)} [0-9]+ ${lit(`", "tool_name": ${jsonName}, "parameters": `)} ${args} ${lit("}")}`;
      case "gpt-oss":
        return `${mark("<|channel|>")} ${lit(`commentary to=functions.${name} `)} ${mark("<|constrain|>")} ${lit("json")} ${mark("<|message|>")} ${args}`;
      case "generic":
        return `${lit(`{"name": ${jsonName}, "arguments": `)} ${args} ${lit("}")}`;
    }
  });
  const one = `tool-call`;
  rules.push(`${one} ::= ${alternatives.map((a) => `(${a})`).join(" | ")}`);
  const many = (sep: string): string => (options.parallel ? `${one} (${sep} ${one})*` : one);
  let root: string;
  switch (format) {
    case "mistral-nemo":
      root = `${mark("[TOOL_CALLS]")} "[" ${many('", "')} "]"`;
      break;
    case "granite":
      root = `${mark("<|tool_call|>")} "[" ${many('", "')} "]"`;
      break;
    case "firefunction-v2":
      root = `" functools[" ${many('", "')} "]"`;
      break;
    case "command-r7b":
      root = `${mark("<|START_ACTION|>")} "[" ${many('", "')} "]" ${mark("<|END_ACTION|>")}`;
      break;
    case "kimi-k2":
      root = `${mark("<|tool_calls_section_begin|>")} ${many('""')} ${mark("<|tool_calls_section_end|>")}`;
      break;
    case "deepseek-r1":
      root = `${mark("<｜tool▁calls▁begin｜>")} ${many('""')} ${mark("<｜tool▁calls▁end｜>")}`;
      break;
    case "functionary-v3.2":
      root = many(`"\\n>>>"`);
      break;
    case "llama3":
      root = many('"; "');
      break;
    case "generic":
      root = options.parallel ? `"{\\"tool_calls\\": [" ${many('", "')} "]}"` : `"{\\"tool_call\\": " ${one} "}"`;
      break;
    case "gpt-oss":
      // A harmony call ends with <|call|>, an end-of-generation token: one call per reply.
      root = one;
      break;
    default:
      root = many('"\\n"');
  }
  rules.unshift(`root ::= ${root}`);
  return { gbnf: rules.join("\n") + "\n", preservedTokens: preserved };
}

/** Control tokens among a format's markers, whose text generation must emit for the parser to see them. */
export function markerTokens(tokenizer: Tokenizer, markers: readonly string[]): number[] {
  const preserved: number[] = [];
  const mark = markerFor(tokenizer, preserved);
  for (const m of markers) mark(m);
  return preserved;
}
