// Tool calling on /v1/chat/completions: the request's messages (tool calls and tool results
// included), `tools`, `tool_choice` and `parallel_tool_calls` checked with the field at fault named,
// and the reply's calls in OpenAI's shapes, whole and as streamed deltas.
import type { ChatMessage, ChatTool, ChatToolCall, ParsedToolCall, ToolChoice } from "../chat/index.js";
import { ServerError } from "./http.js";

type Body = Record<string, unknown>;

const bad = (param: string, message: string): ServerError => new ServerError("invalid_request", message, { param });
const isRecord = (x: unknown): x is Body => typeof x === "object" && x !== null && !Array.isArray(x);
const shown = (v: unknown): string => (v === undefined ? "nothing" : Array.isArray(v) ? "an array" : v === null ? "null" : typeof v === "string" ? JSON.stringify(v.slice(0, 40)) : typeof v);

export interface ToolRequest {
  readonly tools?: readonly ChatTool[];
  readonly toolChoice?: ToolChoice;
  readonly parallelToolCalls?: boolean;
}

/** `tools`, `tool_choice` and `parallel_tool_calls` of a chat request. */
export function parseToolRequest(body: Body): ToolRequest {
  const raw = body.tools ?? undefined;
  const choiceRaw = body.tool_choice ?? undefined;
  const parallel = body.parallel_tool_calls ?? undefined;
  if (parallel !== undefined && typeof parallel !== "boolean") throw bad("parallel_tool_calls", `parallel_tool_calls must be true or false; got ${shown(parallel)}`);
  let tools: ChatTool[] | undefined;
  if (raw !== undefined) {
    if (!Array.isArray(raw)) throw bad("tools", `tools must be an array of { "type": "function", "function": { "name", … } }; got ${shown(raw)}`);
    const names = new Set<string>();
    tools = raw.map((t: unknown, i): ChatTool => {
      const at = `tools[${i}]`;
      if (!isRecord(t) || t.type !== "function") throw bad(`${at}.type`, `${at} must be { "type": "function", "function": { … } }`);
      const f = t.function;
      if (!isRecord(f)) throw bad(`${at}.function`, `${at}.function must be an object { "name", "description", "parameters" }`);
      if (typeof f.name !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(f.name)) {
        throw bad(`${at}.function.name`, `${at}.function.name must be 1 to 64 letters, digits, _ . or -; got ${shown(f.name)}`);
      }
      if (names.has(f.name)) throw bad(`${at}.function.name`, `${at}.function.name ${JSON.stringify(f.name)} is given twice`);
      names.add(f.name);
      if (f.description !== undefined && typeof f.description !== "string") throw bad(`${at}.function.description`, `${at}.function.description must be a string`);
      if (f.parameters !== undefined && !isRecord(f.parameters)) throw bad(`${at}.function.parameters`, `${at}.function.parameters must be a JSON schema object`);
      if (f.strict !== undefined && typeof f.strict !== "boolean") throw bad(`${at}.function.strict`, `${at}.function.strict must be true or false`);
      return {
        type: "function",
        function: {
          name: f.name,
          ...(f.description !== undefined ? { description: f.description } : {}),
          ...(f.parameters !== undefined ? { parameters: f.parameters } : {}),
        },
      };
    });
  }
  let toolChoice: ToolChoice | undefined;
  if (choiceRaw !== undefined) {
    if (choiceRaw === "auto" || choiceRaw === "none" || choiceRaw === "required") toolChoice = choiceRaw;
    else if (isRecord(choiceRaw) && choiceRaw.type === "function" && isRecord(choiceRaw.function) && typeof choiceRaw.function.name === "string") {
      const name = choiceRaw.function.name;
      if (!tools?.some((t) => t.function.name === name)) {
        throw bad("tool_choice", `tool_choice names the function ${JSON.stringify(name)}, which is not among the tools`);
      }
      toolChoice = { type: "function", function: { name } };
    } else {
      throw bad("tool_choice", `tool_choice must be "auto", "none", "required" or { "type": "function", "function": { "name" } }; got ${shown(choiceRaw)}`);
    }
    if (toolChoice === "required" && (tools === undefined || tools.length === 0)) throw bad("tool_choice", 'tool_choice "required" needs tools');
  }
  return {
    ...(tools !== undefined && tools.length > 0 ? { tools } : {}),
    ...(toolChoice !== undefined ? { toolChoice } : {}),
    ...(parallel !== undefined ? { parallelToolCalls: parallel } : {}),
  };
}

/** Message text: a string, or OpenAI's array of text parts. */
function messageText(content: unknown, at: string, nullable: boolean): string | null {
  if (typeof content === "string") return content;
  if (content === null || content === undefined) return nullable ? null : "";
  if (Array.isArray(content)) {
    return content
      .map((part: unknown, j) => {
        if (!isRecord(part) || part.type !== "text" || typeof part.text !== "string") {
          throw bad(`${at}[${j}]`, `${at}[${j}] must be a text part { "type": "text", "text": "…" }; other kinds are not supported`);
        }
        return part.text;
      })
      .join("");
  }
  throw bad(at, `${at} must be a string or an array of text parts; got ${shown(content)}`);
}

/** The `messages` of a chat request: system/developer, user, assistant (with tool_calls) and tool messages. */
export function parseMessages(raw: unknown): ChatMessage[] {
  if (!Array.isArray(raw) || raw.length === 0) throw bad("messages", "messages must be a non-empty array of { role, content }");
  return raw.map((m: unknown, i): ChatMessage => {
    const at = `messages[${i}]`;
    if (!isRecord(m)) throw bad(at, `${at} must be an object { role, content }`);
    // OpenAI's newer name for the system role.
    const role = m.role === "developer" ? "system" : m.role;
    const name = typeof m.name === "string" ? { name: m.name } : {};
    switch (role) {
      case "system":
      case "user":
        return { role, content: messageText(m.content, `${at}.content`, false) ?? "", ...name };
      case "assistant": {
        const calls = m.tool_calls ?? undefined;
        if (calls === undefined || (Array.isArray(calls) && calls.length === 0)) return { role, content: messageText(m.content, `${at}.content`, false) ?? "", ...name };
        if (!Array.isArray(calls)) throw bad(`${at}.tool_calls`, `${at}.tool_calls must be an array`);
        const toolCalls = calls.map((c: unknown, j): ChatToolCall => {
          const cat = `${at}.tool_calls[${j}]`;
          if (!isRecord(c) || !isRecord(c.function) || typeof c.function.name !== "string" || typeof c.function.arguments !== "string") {
            throw bad(cat, `${cat} must be { "id", "type": "function", "function": { "name", "arguments": "JSON text" } }`);
          }
          return { ...(typeof c.id === "string" ? { id: c.id } : {}), type: "function", function: { name: c.function.name, arguments: c.function.arguments } };
        });
        return { role, content: messageText(m.content, `${at}.content`, true), tool_calls: toolCalls, ...name };
      }
      case "tool": {
        if (typeof m.tool_call_id !== "string") throw bad(`${at}.tool_call_id`, `${at}.tool_call_id must be the id of the call this is the result of`);
        return { role, content: messageText(m.content, `${at}.content`, false) ?? "", tool_call_id: m.tool_call_id, ...name };
      }
      default:
        throw bad(`${at}.role`, `${at}.role must be "system", "developer", "user", "assistant" or "tool"; got ${shown(m.role)}`);
    }
  });
}

/** A call as OpenAI's message.tool_calls entry. */
export function toolCallJson(c: ParsedToolCall): { id: string; type: "function"; function: { name: string; arguments: string } } {
  return { id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } };
}

/** Pieces of arguments text per streamed delta: OpenAI streams arguments in small pieces. */
const ARGUMENT_PIECE = 32;

/**
 * The streamed deltas of the calls, as OpenAI sends them: per call, one delta with its index, id,
 * type and name (arguments ""), then the arguments text in pieces.
 */
export function toolCallDeltas(calls: readonly ParsedToolCall[]): Body[] {
  const deltas: Body[] = [];
  calls.forEach((c, index) => {
    deltas.push({ tool_calls: [{ index, id: c.id, type: "function", function: { name: c.name, arguments: "" } }] });
    for (let at = 0; at < c.arguments.length; at += ARGUMENT_PIECE) {
      deltas.push({ tool_calls: [{ index, function: { arguments: c.arguments.slice(at, at + ARGUMENT_PIECE) } }] });
    }
  });
  return deltas;
}
