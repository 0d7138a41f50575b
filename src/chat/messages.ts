// The shapes of a conversation as chat templates read them (OpenAI's chat format, as Hugging Face
// transformers passes it): messages with tool calls and tool results, and the tools offered.
import { ChatError } from "./errors.js";

export type ChatRole = "system" | "user" | "assistant" | "tool";

/** A call the assistant made; `arguments` is JSON text or the already-parsed object. */
export interface ChatToolCall {
  readonly id?: string;
  readonly type?: "function";
  readonly function: {
    readonly name: string;
    readonly arguments: string | Readonly<Record<string, unknown>>;
  };
}

/**
 * A message's text. `null` only for an assistant message that makes tool calls and says nothing
 * (templates test `message.content is none`).
 */
export type ChatContent = string | null;

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: ChatContent;
  /** assistant: the calls it makes. */
  readonly tool_calls?: readonly ChatToolCall[];
  /** tool: which call this is the result of. */
  readonly tool_call_id?: string;
  /** tool: the function's name (some templates print it); others: the speaker's name. */
  readonly name?: string;
  /** assistant: its reasoning before the answer (templates with thinking sections). */
  readonly reasoning_content?: string;
}

/** A function the model may call, in the JSON-schema form templates print. */
export interface ChatTool {
  readonly type: "function";
  readonly function: {
    readonly name: string;
    readonly description?: string;
    readonly parameters?: Readonly<Record<string, unknown>>;
  };
}

const ROLES: readonly string[] = ["system", "user", "assistant", "tool"];
const FIELDS: ReadonlySet<string> = new Set(["role", "content", "tool_calls", "tool_call_id", "name", "reasoning_content"]);

function bad(message: string): never {
  throw new ChatError("bad_messages", message);
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const describe = (x: unknown): string => (x === null ? "null" : Array.isArray(x) ? "an array" : typeof x);

/** Checks the shape of `messages` (they may come straight from JSON), naming the first fault. */
export function checkMessages(messages: unknown): asserts messages is readonly ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) bad("messages must be a non-empty array of { role, content }");
  messages.forEach((m: unknown, i) => {
    const at = `messages[${i}]`;
    if (!isRecord(m)) bad(`${at} must be an object { role, content }`);
    const unknown = Object.keys(m).find((k) => !FIELDS.has(k));
    if (unknown !== undefined) bad(`${at} has an unknown field ${JSON.stringify(unknown)} (known: ${[...FIELDS].join(", ")})`);
    const { role, content, tool_calls, tool_call_id, name, reasoning_content } = m;
    if (typeof role !== "string" || !ROLES.includes(role)) {
      bad(`${at}.role must be one of ${ROLES.join(", ")}; got ${JSON.stringify(role) ?? "nothing"}`);
    }
    if (tool_calls !== undefined) {
      if (role !== "assistant") bad(`${at}.tool_calls is for assistant messages only`);
      if (!Array.isArray(tool_calls) || tool_calls.length === 0) bad(`${at}.tool_calls must be a non-empty array`);
      tool_calls.forEach((c: unknown, j) => checkToolCall(c, `${at}.tool_calls[${j}]`));
    }
    const mayBeNull = role === "assistant" && tool_calls !== undefined;
    if (typeof content !== "string" && !(mayBeNull && content === null)) {
      bad(`${at}.content must be a string${mayBeNull ? " or null" : ""}; got ${content === undefined ? "nothing" : describe(content)}`);
    }
    if (tool_call_id !== undefined && (role !== "tool" || typeof tool_call_id !== "string")) bad(`${at}.tool_call_id must be a string, on a tool message`);
    if (name !== undefined && typeof name !== "string") bad(`${at}.name must be a string; got ${describe(name)}`);
    if (reasoning_content !== undefined && (role !== "assistant" || typeof reasoning_content !== "string")) {
      bad(`${at}.reasoning_content must be a string, on an assistant message`);
    }
  });
}

function checkToolCall(c: unknown, at: string): void {
  if (!isRecord(c)) bad(`${at} must be an object { type: "function", function: { name, arguments } }`);
  if (c.id !== undefined && typeof c.id !== "string") bad(`${at}.id must be a string`);
  if (c.type !== undefined && c.type !== "function") bad(`${at}.type must be "function"`);
  const f = c.function;
  if (!isRecord(f) || typeof f.name !== "string") bad(`${at}.function must be { name, arguments } with a string name`);
  if (typeof f.arguments !== "string" && !isRecord(f.arguments)) bad(`${at}.function.arguments must be JSON text or an object`);
}

/** Checks the tools offered: `{ type: "function", function: { name, description?, parameters? } }` each. */
export function checkTools(tools: unknown): asserts tools is readonly ChatTool[] {
  if (!Array.isArray(tools)) bad("tools must be an array of { type: \"function\", function: { name, … } }");
  tools.forEach((t: unknown, i) => {
    const at = `tools[${i}]`;
    if (!isRecord(t) || t.type !== "function" || !isRecord(t.function)) bad(`${at} must be { type: "function", function: { name, … } }`);
    const f = t.function;
    if (typeof f.name !== "string") bad(`${at}.function.name must be a string`);
    if (f.description !== undefined && typeof f.description !== "string") bad(`${at}.function.description must be a string`);
    if (f.parameters !== undefined && !isRecord(f.parameters)) bad(`${at}.function.parameters must be a JSON schema object`);
  });
}
