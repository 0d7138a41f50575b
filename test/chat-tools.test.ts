// Tool calls in chat: the format read from real chat templates, each family's parser on fixed
// replies, streaming that holds markup back, and forced calls on the tiny fixture model (whose
// weights know nothing of tools) that are always valid against the function's schema.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GgufValueType } from "../src/gguf/index.js";
import { loadModel, ParameterError, type Model } from "../src/index.js";
import { chatPrompt, detectToolFormat, parseToolCalls, streamableContent, type ChatTool, type ToolFormatName } from "../src/chat/index.js";
import type { JsonValue } from "../src/grammar/index.js";
import { FIXTURES, rewriteFixture } from "./helpers/fixtures.js";
import { validate } from "./helpers/json-validate.js";

const template = (name: string): string => readFileSync(join(FIXTURES, "templates", `${name}.jinja`), "utf8");

const WEATHER: ChatTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 12 }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
      required: ["city"],
      additionalProperties: false,
    },
  },
};
const TIME: ChatTool = {
  type: "function",
  function: {
    name: "get_time",
    description: "Get the time in a time zone",
    parameters: { type: "object", properties: { zone: { type: "integer", minimum: -12, maximum: 14 } }, required: ["zone"], additionalProperties: false },
  },
};
const TOOLS = [WEATHER, TIME];

describe("format detection from real templates", () => {
  const expected: [string, ToolFormatName][] = [
    ["NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", "hermes"],
    ["NousResearch-Hermes-3-Llama-3.1-8B-tool_use", "hermes"],
    ["Qwen-Qwen2.5-7B-Instruct", "hermes"],
    ["Qwen-Qwen3-0.6B", "hermes"],
    ["ibm-granite-granite-4.0", "hermes"],
    ["Qwen3-Coder", "qwen3-coder"],
    ["GLM-4.6", "glm"],
    ["GLM-4.7-Flash", "glm"],
    ["poolside-Laguna-XS-2.1", "glm"],
    ["moonshotai-Kimi-K2", "kimi-k2"],
    ["Kimi-K2-Instruct", "kimi-k2"],
    ["meta-llama-Llama-3.1-8B-Instruct", "llama3"],
    ["meta-llama-Llama-3.2-3B-Instruct", "llama3"],
    ["meta-llama-Llama-3.3-70B-Instruct", "llama3"],
    ["meetkai-functionary-medium-v3.1", "functionary-v3.1"],
    ["meetkai-functionary-medium-v3.2", "functionary-v3.2"],
    ["mistralai-Mistral-Nemo-Instruct-2407", "mistral-nemo"],
    ["Mistral-Small-3.2-24B-Instruct-2506", "mistral"],
    ["unsloth-mistral-Devstral-Small-2507", "mistral"],
    ["mistralai-Ministral-3-14B-Reasoning-2512", "mistral"],
    ["deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "deepseek-r1"],
    ["ibm-granite-granite-3.3-2B-Instruct", "granite"],
    ["CohereForAI-c4ai-command-r7b-12-2024-tool_use", "command-r7b"],
    ["fireworks-ai-llama-3-firefunction-v2", "firefunction-v2"],
    ["openai-gpt-oss-120b", "gpt-oss"],
    ["google-gemma-2-2b-it", "generic"],
    ["microsoft-Phi-3.5-mini-instruct", "generic"],
  ];
  it.each(expected)("%s → %s", (name, format) => {
    expect(detectToolFormat(template(name))).toBe(format);
  });
});

/** Calls as [name, parsed arguments], ids checked to be present. */
function calls(format: ToolFormatName, text: string): { content: string; calls: [string, unknown][]; reasoning?: string } {
  const r = parseToolCalls(format, text, { stringParams: (n) => new Set(n === "get_weather" ? ["city", "unit"] : []) });
  for (const c of r.toolCalls) expect(c.id.length).toBeGreaterThan(0);
  return { content: r.content, calls: r.toolCalls.map((c) => [c.name, JSON.parse(c.arguments) as unknown]), ...(r.reasoning !== undefined ? { reasoning: r.reasoning } : {}) };
}

const PARIS: [string, unknown] = ["get_weather", { city: "Paris", unit: "celsius" }];
const ZONE: [string, unknown] = ["get_time", { zone: 2 }];

describe("parsers on fixed replies", () => {
  const cases: [ToolFormatName, string, { content: string; calls: [string, unknown][]; reasoning?: string }][] = [
    ["hermes", 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>', { content: "Let me check.", calls: [PARIS] }],
    ["hermes", '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"zone": 2}}\n</tool_call>', { content: "", calls: [PARIS, ZONE] }],
    ["hermes", "No tools needed: it is <b>sunny</b>.", { content: "No tools needed: it is <b>sunny</b>.", calls: [] }],
    ["hermes", '<think>\nParis weather.\n</think>\n\n<tool_call>\n{"name": "get_time", "arguments": {"zone": 2}}\n</tool_call>', { content: "", calls: [ZONE], reasoning: "Paris weather." }],
    ["qwen3-coder", "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=unit>\ncelsius\n</parameter>\n</function>\n</tool_call>", { content: "", calls: [PARIS] }],
    ["qwen3-coder", '<tool_call>\n<function=get_weather>\n<parameter=city>\n"Paris"\n</parameter>\n<parameter=unit>\ncelsius\n</parameter>\n</function>\n</tool_call>', { content: "", calls: [PARIS] }],
    ["qwen3-coder", "<tool_call>\n<function=get_time>\n<parameter=zone>\n2\n</parameter>\n</function>\n</tool_call>", { content: "", calls: [ZONE] }],
    ["glm", "<think>Weather.</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n<arg_key>unit</arg_key>\n<arg_value>celsius</arg_value>\n</tool_call>", { content: "", calls: [PARIS], reasoning: "Weather." }],
    ["glm", "Sure.<tool_call>get_time<arg_key>zone</arg_key><arg_value>2</arg_value></tool_call>", { content: "Sure.", calls: [ZONE] }],
    ["kimi-k2", 'Checking.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{"city": "Paris", "unit": "celsius"}<|tool_call_end|><|tool_call_begin|>functions.get_time:1<|tool_call_argument_begin|>{"zone": 2}<|tool_call_end|><|tool_calls_section_end|>', { content: "Checking.", calls: [PARIS, ZONE] }],
    ["llama3", '{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}', { content: "", calls: [PARIS] }],
    ["llama3", '{"type": "function", "name": "get_time", "parameters": {"zone": 2}}', { content: "", calls: [ZONE] }],
    ["llama3", '<|python_tag|>{"name": "get_time", "parameters": {"zone": 2}}', { content: "", calls: [ZONE] }],
    ["llama3", '<|python_tag|>brave_search.call(query="weather in Paris")', { content: "", calls: [["brave_search", { query: "weather in Paris" }]] }],
    ["llama3", '{"a": 1} is a JSON object.', { content: '{"a": 1} is a JSON object.', calls: [] }],
    ["functionary-v3.1", 'Checking.<function=get_weather>{"city": "Paris", "unit": "celsius"}</function>', { content: "Checking.", calls: [PARIS] }],
    ["functionary-v3.2", 'all\nChecking both.\n>>>get_weather\n{"city": "Paris", "unit": "celsius"}\n>>>get_time\n{"zone": 2}', { content: "Checking both.", calls: [PARIS, ZONE] }],
    ["functionary-v3.2", "all\nHello there.", { content: "Hello there.", calls: [] }],
    ["mistral-nemo", '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}, "id": "abcDEF123"}]', { content: "", calls: [PARIS] }],
    ["mistral", '[TOOL_CALLS]get_weather[CALL_ID]abcDEF123[ARGS]{"city": "Paris", "unit": "celsius"}[TOOL_CALLS]get_time[ARGS]{"zone": 2}', { content: "", calls: [PARIS, ZONE] }],
    ["mistral", 'Sure.[TOOL_CALLS]get_time[ARGS]{"zone": 2}', { content: "Sure.", calls: [ZONE] }],
    ["deepseek-r1", '<think>\nThe user wants weather.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"city": "Paris", "unit": "celsius"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>', { content: "", calls: [PARIS], reasoning: "The user wants weather." }],
    ["deepseek-r1", "Thinking quietly.\n</think>\n\nIt is sunny.", { content: "It is sunny.", calls: [], reasoning: "Thinking quietly." }],
    ["granite", '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}, {"name": "get_time", "arguments": {"zone": 2}}]', { content: "", calls: [PARIS, ZONE] }],
    ["command-r7b", '<|START_THINKING|>I will look it up.<|END_THINKING|><|START_ACTION|>[\n    {"tool_call_id": "0", "tool_name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}\n]<|END_ACTION|>', { content: "", calls: [PARIS], reasoning: "I will look it up." }],
    ["command-r7b", "<|START_RESPONSE|>Hello!<|END_RESPONSE|>", { content: "Hello!", calls: [] }],
    ["firefunction-v2", ' functools[{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]', { content: "", calls: [PARIS] }],
    ["gpt-oss", '<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris", "unit": "celsius"}', { content: "", calls: [PARIS], reasoning: "Need the weather." }],
    ["gpt-oss", "<|channel|>final<|message|>It is sunny.", { content: "It is sunny.", calls: [] }],
    ["generic", '{"tool_call": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}', { content: "", calls: [PARIS] }],
    ["generic", '{"tool_calls": [{"name": "get_time", "arguments": {"zone": 2}}]}', { content: "", calls: [ZONE] }],
    ["generic", '{"response": "It is sunny."}', { content: "It is sunny.", calls: [] }],
    ["generic", "Plain words.", { content: "Plain words.", calls: [] }],
  ];
  it.each(cases)("%s: %j", (format, text, want) => {
    expect(calls(format, text)).toEqual(want);
  });

  it("a prompt that opened the thinking section: the reply is reasoning until it closes", () => {
    const text = 'Paris weather.\n</think>\n\n<tool_call>\n{"name": "get_time", "arguments": {"zone": 2}}\n</tool_call>';
    const r = parseToolCalls("hermes", text, { thinkingOpened: true });
    expect([r.reasoning, r.content, r.toolCalls.map((c) => c.name)]).toEqual(["Paris weather.", "", ["get_time"]]);
    expect(parseToolCalls("hermes", "It is sunny.", { thinkingOpened: false }).content).toBe("It is sunny.");
    expect(streamableContent("hermes", "Paris weath", true)).toBe("");
    expect(streamableContent("hermes", "Paris.</think>\n\nIt is", true)).toBe("It is");
  });

  it("a Mistral Nemo id and a Mistral [CALL_ID] are kept", () => {
    expect(parseToolCalls("mistral-nemo", '[TOOL_CALLS][{"name": "get_time", "arguments": {"zone": 2}, "id": "abcDEF123"}]').toolCalls[0]!.id).toBe("abcDEF123");
    expect(parseToolCalls("mistral", '[TOOL_CALLS]get_time[CALL_ID]xyz789ABC[ARGS]{"zone": 2}').toolCalls[0]!.id).toBe("xyz789ABC");
  });

  it("streaming holds back markup, including a marker cut in half, and trailing space before it", () => {
    expect(streamableContent("hermes", "Let me check. <tool")).toBe("Let me check.");
    expect(streamableContent("hermes", "Let me check. <tool_call>\n{")).toBe("Let me check.");
    expect(streamableContent("hermes", "It is <b>")).toBe("It is <b>");
    expect(streamableContent("mistral", "Sure.[TOOL_")).toBe("Sure.");
    expect(streamableContent("llama3", '{"name"')).toBe("");
    expect(streamableContent("llama3", "Hello")).toBe("Hello");
    expect(streamableContent("deepseek-r1", "<think>hm")).toBe("");
    expect(streamableContent("deepseek-r1", "<think>hm</think>\n\nIt is")).toBe("It is");
    expect(streamableContent("generic", "{")).toBe("");
    expect(streamableContent("generic", "Plain words")).toBe("Plain words");
  });
});

/** The fixture model with a real chat template: its vocabulary spells any marker byte by byte. */
async function withTemplate(name: string): Promise<Model> {
  const bytes = rewriteFixture("stories260K-Q8_0.gguf", (metadata) => {
    metadata.set("tokenizer.chat_template", { type: GgufValueType.STRING, value: template(name) });
  });
  return loadModel(bytes, { contextLength: 2048 });
}

const conversation = [
  { role: "system" as const, content: "You can call tools." },
  { role: "user" as const, content: "What's the weather in Paris?" },
];

function schemaOf(name: string): JsonValue {
  return TOOLS.find((t) => t.function.name === name)!.function.parameters as JsonValue;
}

describe("forced calls on the fixture model are valid against the schema", () => {
  const families: [string, ToolFormatName][] = [
    ["Qwen-Qwen2.5-7B-Instruct", "hermes"],
    ["Qwen3-Coder", "qwen3-coder"],
    ["GLM-4.6", "glm"],
    ["GLM-4.7-Flash", "glm"],
    ["moonshotai-Kimi-K2", "kimi-k2"],
    ["meta-llama-Llama-3.1-8B-Instruct", "llama3"],
    ["meetkai-functionary-medium-v3.1", "functionary-v3.1"],
    ["meetkai-functionary-medium-v3.2", "functionary-v3.2"],
    ["mistralai-Mistral-Nemo-Instruct-2407", "mistral-nemo"],
    ["Mistral-Small-3.2-24B-Instruct-2506", "mistral"],
    ["deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "deepseek-r1"],
    ["ibm-granite-granite-3.3-2B-Instruct", "granite"],
    // Command R7B's tool preamble is 4k tokens of this vocabulary (half a minute of prefill here): its
    // grammar and parser run under a short template instead.
    ["Qwen-Qwen2.5-7B-Instruct", "command-r7b"],
    ["fireworks-ai-llama-3-firefunction-v2", "firefunction-v2"],
    ["openai-gpt-oss-120b", "gpt-oss"],
    ["microsoft-Phi-3.5-mini-instruct", "generic"],
  ];
  it.each(families)("%s (%s): required and named, several seeds", async (name, format) => {
    const model = await withTemplate(name);
    const toolFormat = detectToolFormat(template(name)) === format ? undefined : format;
    try {
      for (const seed of [1, 2, 3]) {
        for (const toolChoice of ["required", { type: "function", function: { name: "get_time" } }] as const) {
          const reply = model.chat(conversation, { tools: TOOLS, toolChoice, toolFormat, seed, temperature: 1, maxTokens: 400, now: new Date(0) });
          let streamed = "";
          for await (const piece of reply) streamed += piece;
          const r = await reply.result;
          expect(r.toolFormat).toBe(format);
          expect({ seed, toolChoice, finish: r.finishReason, text: r.text }).toMatchObject({ finish: "stop" });
          expect(r.toolCalls.length).toBe(1);
          const c = r.toolCalls[0]!;
          if (typeof toolChoice === "object") expect(c.name).toBe("get_time");
          else expect(["get_weather", "get_time"]).toContain(c.name);
          const args = JSON.parse(c.arguments) as JsonValue;
          expect({ text: r.text, errors: validate(schemaOf(c.name), args) }).toEqual({ text: r.text, errors: [] });
          expect(streamed).toBe(r.content);
        }
      }
    } finally {
      model.dispose();
    }
  });
});

describe("tool options", () => {
  let model: Model;
  beforeAll(async () => {
    model = await withTemplate("Qwen-Qwen2.5-7B-Instruct");
  });
  afterAll(() => model.dispose());

  it("tool_choice none renders without the tools and parses nothing", () => {
    const withTools = model.chat(conversation, { tools: TOOLS, maxTokens: 1, now: new Date(0) });
    const none = model.chat(conversation, { tools: TOOLS, toolChoice: "none", maxTokens: 1, now: new Date(0) });
    const plain = model.chat(conversation, { maxTokens: 1, now: new Date(0) });
    expect(withTools.prompt).toContain("get_weather");
    expect(none.prompt).toBe(plain.prompt);
  });

  it("a tool result goes back through the template", () => {
    const reply = model.chat(
      [
        ...conversation,
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } }] },
        { role: "tool", tool_call_id: "call_1", content: '{"temperature": 21}' },
      ],
      { tools: TOOLS, maxTokens: 1, now: new Date(0) },
    );
    expect(reply.prompt).toContain('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>');
    expect(reply.prompt).toContain('<tool_response>\n{"temperature": 21}\n</tool_response>');
  });

  it("parallelToolCalls: a forced reply may hold several calls, each valid", async () => {
    let most = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const reply = model.chat(conversation, { tools: TOOLS, toolChoice: "required", parallelToolCalls: true, seed, temperature: 1, maxTokens: 600 });
      for await (const _ of reply) {
        // read to the end
      }
      const r = await reply.result;
      // The grammar may end after any call; these weights rarely choose to, so maxTokens may cut a
      // later call short: the complete ones are parsed.
      expect(["stop", "length"]).toContain(r.finishReason);
      expect(r.toolCalls.length).toBeGreaterThanOrEqual(1);
      most = Math.max(most, r.toolCalls.length);
      for (const c of r.toolCalls) expect(validate(schemaOf(c.name), JSON.parse(c.arguments) as JsonValue)).toEqual([]);
    }
    expect(most).toBeGreaterThan(1);
  });

  it("refuses a choice naming a missing function, a forced call with a grammar, and duplicate names", () => {
    const bad: Parameters<Model["chat"]>[1][] = [
      { tools: TOOLS, toolChoice: { type: "function", function: { name: "nope" } } },
      { tools: TOOLS, toolChoice: "required", json: true },
      { tools: [WEATHER, WEATHER] },
      { toolChoice: "required" },
    ];
    for (const options of bad) {
      expect(() => model.chat(conversation, options)).toThrow(ParameterError);
    }
  });
});

describe("tool-call arguments sent as JSON text", () => {
  const conversationWithCall = [
    { role: "user" as const, content: "Weather in Paris?" },
    { role: "assistant" as const, content: null, tool_calls: [{ id: "abcDEF123", type: "function" as const, function: { name: "get_weather", arguments: '{"city": "Paris"}' } }] },
    { role: "tool" as const, tool_call_id: "abcDEF123", name: "get_weather", content: "21 degrees" },
  ];
  // Templates that print arguments with tojson get objects (else they would print a quoted string);
  // Functionary v3.2 concatenates the text, so it keeps the text.
  it.each([
    ["Qwen-Qwen2.5-7B-Instruct", '{"name": "get_weather", "arguments": {"city": "Paris"}}'],
    ["NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", '"city": "Paris"'],
    ["meta-llama-Llama-3.1-8B-Instruct", '{"name": "get_weather", "parameters": {"city": "Paris"}}'],
    ["mistralai-Mistral-Nemo-Instruct-2407", '"arguments": {"city": "Paris"}'],
    ["Mistral-Small-3.2-24B-Instruct-2506", '[TOOL_CALLS]get_weather[CALL_ID]abcDEF123[ARGS]{"city": "Paris"}'],
    ["meetkai-functionary-medium-v3.2", '>>>get_weather\n{"city": "Paris"}'],
  ])("%s", async (name, expected) => {
    const model = await withTemplate(name);
    try {
      const text = chatPrompt(model, conversationWithCall, { tools: TOOLS, now: new Date(0) }).text;
      expect(text).toContain(expected);
      expect(text).not.toContain('\\"city\\"');
    } finally {
      model.dispose();
    }
  });
});

describe("a template whose prompt opens the thinking section (Qwen3.5)", () => {
  it("the reply's reasoning is split off, the call parsed, the stream holds both back", async () => {
    const inner = await withTemplate("Qwen3.5-4B");
    const reply = "The user asks for the time.\n</think>\n\n<tool_call>\n<function=get_time>\n<parameter=zone>\n2\n</parameter>\n</function>\n</tool_call>";
    const model = Object.create(inner) as Model;
    model.generate = (_prompt, options) => {
      const g = inner.generate("x", { ...options, maxTokens: 1 });
      return {
        result: g.result.then((r) => ({ ...r, text: reply })),
        async *[Symbol.asyncIterator]() {
          for await (const _ of g) {
            // the real generation only settles the result
          }
          for (let at = 0; at < reply.length; at += 7) yield reply.slice(at, at + 7);
        },
      };
    };
    try {
      const g = model.chat(conversation, { tools: TOOLS, now: new Date(0) });
      expect(g.prompt.endsWith("<think>\n")).toBe(true);
      let streamed = "";
      for await (const piece of g) streamed += piece;
      const r = await g.result;
      expect([r.toolFormat, r.reasoning, r.content, streamed]).toEqual(["qwen3-coder", "The user asks for the time.", "", ""]);
      expect(r.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([["get_time", { zone: 2 }]]);
    } finally {
      inner.dispose();
    }
  });
});
