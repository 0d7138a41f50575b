// Tool calls, structured output and logprobs on the server, through the official `openai` client and
// raw HTTP: forced calls on the fixture model (ChatML, so llama.cpp's generic JSON format), an
// `auto` call parsed from a stand-in generator's fixed Hermes text, streamed deltas, response_format
// with parse(), logprobs against model.logits(), and the 400s naming their field.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { GgufValueType } from "../src/gguf/index.js";
import { loadModel, type Model } from "../src/index.js";
import { CHATML_TEMPLATE, chatPrompt } from "../src/chat/index.js";
import type { GenerationResult } from "../src/generate/options.js";
import type { JsonValue } from "../src/grammar/index.js";
import { createServer, type WoollyServer } from "../src/node.js";
import { FIXTURES, rewriteFixture } from "./helpers/fixtures.js";
import { validate } from "./helpers/json-validate.js";

function withTemplate(template: string): Uint8Array {
  return rewriteFixture("stories260K-Q8_0.gguf", (metadata) => {
    metadata.set("tokenizer.chat_template", { type: GgufValueType.STRING, value: template });
  });
}

const MODEL_ID = "stories260K-chat";
const WEATHER_SCHEMA = {
  type: "object",
  properties: { city: { type: "string", maxLength: 12 }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
  required: ["city"],
  additionalProperties: false,
};
const TIME_SCHEMA = { type: "object", properties: { zone: { type: "integer", minimum: -12, maximum: 14 } }, required: ["zone"], additionalProperties: false };
const tools: OpenAI.ChatCompletionTool[] = [
  { type: "function", function: { name: "get_weather", description: "Weather in a city", parameters: WEATHER_SCHEMA } },
  { type: "function", function: { name: "get_time", description: "Time in a zone", parameters: TIME_SCHEMA } },
];
const schemaOf = (name: string): JsonValue => (name === "get_weather" ? WEATHER_SCHEMA : TIME_SCHEMA) as JsonValue;
const messages: OpenAI.ChatCompletionMessageParam[] = [
  { role: "system", content: "You can call tools." },
  { role: "user", content: "What's the weather in Paris?" },
];

/** A server on loopback for `model`; closed by the returned function. */
async function serve(model: Model): Promise<{ client: OpenAI; base: string; close: () => Promise<void> }> {
  const server: WoollyServer = createServer(model, { modelId: MODEL_ID });
  const { port } = await server.listen(0, "127.0.0.1");
  const base = `http://127.0.0.1:${port}`;
  return { client: new OpenAI({ baseURL: `${base}/v1`, apiKey: "none", maxRetries: 0 }), base, close: () => server.close() };
}

let model: Model;
let client: OpenAI;
let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  model = await loadModel(withTemplate(CHATML_TEMPLATE), { contextLength: 1024 });
  ({ client, base, close } = await serve(model));
});
afterAll(async () => {
  await close();
  model.dispose();
});

/** Tool-call deltas of a stream, reassembled by index as a client does. */
async function reassemble(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<{ content: string; finish: string | null; calls: { id: string; name: string; arguments: string }[] }> {
  let content = "";
  let finish: string | null = null;
  const calls: { id: string; name: string; arguments: string }[] = [];
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      content += c.delta.content ?? "";
      finish = c.finish_reason ?? finish;
      for (const d of c.delta.tool_calls ?? []) {
        if (d.id !== undefined) {
          // The first delta of a call carries its id, type and name.
          expect(d.type).toBe("function");
          expect(typeof d.function?.name).toBe("string");
          calls[d.index] = { id: d.id, name: d.function!.name!, arguments: d.function?.arguments ?? "" };
        } else {
          calls[d.index]!.arguments += d.function?.arguments ?? "";
        }
      }
    }
  }
  return { content, finish, calls };
}

describe("forced calls on the fixture model", () => {
  it("required and named: one call, arguments valid against the schema, whole and streamed alike (several seeds)", async () => {
    for (const seed of [1, 2, 3, 4]) {
      for (const tool_choice of ["required", { type: "function", function: { name: "get_time" } }] as const) {
        const request = { model: MODEL_ID, messages, tools, tool_choice, seed, temperature: 1, max_tokens: 300 };
        const whole = await client.chat.completions.create(request);
        const choice = whole.choices[0]!;
        expect(choice.finish_reason).toBe("tool_calls");
        const calls = choice.message.tool_calls ?? [];
        expect(calls.length).toBe(1);
        const call = calls[0]!;
        if (call.type !== "function") throw new Error("not a function call");
        expect(call.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
        if (typeof tool_choice === "object") expect(call.function.name).toBe("get_time");
        const args = JSON.parse(call.function.arguments) as JsonValue;
        expect({ seed, errors: validate(schemaOf(call.function.name), args) }).toEqual({ seed, errors: [] });

        const streamed = await reassemble(await client.chat.completions.create({ ...request, stream: true }));
        expect(streamed.finish).toBe("tool_calls");
        expect(streamed.calls.map((c) => [c.name, c.arguments])).toEqual([[call.function.name, call.function.arguments]]);
      }
    }
  });
});

/** The model, answering every request with `text` in small pieces (the way a real model streams). */
function standIn(inner: Model, text: string): Model {
  const m = Object.create(inner) as Model;
  m.generate = () => {
    let done!: (r: GenerationResult) => void;
    const result = new Promise<GenerationResult>((resolve) => (done = resolve));
    const timings = { prefillTokens: 1, prefillMs: 1, prefillTokensPerSecond: 1, decodeTokens: 1, decodeMs: 1, decodeTokensPerSecond: 1 };
    return {
      result,
      async *[Symbol.asyncIterator]() {
        for (let at = 0; at < text.length; at += 5) yield text.slice(at, at + 5);
        done({ text, tokens: [1, 2, 3], finishReason: "eos", promptTokens: 10, cachedTokens: 0, timings });
      },
    };
  };
  return m;
}

describe("an auto call from fixed model output (Hermes/Qwen format)", () => {
  const reply = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>';
  let hermes: Model;
  let s: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    hermes = await loadModel(withTemplate(readFileSync(join(FIXTURES, "templates", "Qwen-Qwen2.5-7B-Instruct.jinja"), "utf8")), { contextLength: 1024 });
    s = await serve(standIn(hermes, reply));
  });
  afterAll(async () => {
    await s.close();
    hermes.dispose();
  });

  it("whole: content without the markup, tool_calls, finish_reason tool_calls", async () => {
    const r = await s.client.chat.completions.create({ model: MODEL_ID, messages, tools });
    const choice = r.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBe("Let me check.");
    const call = choice.message.tool_calls![0]!;
    expect(call.type === "function" && [call.function.name, JSON.parse(call.function.arguments)]).toEqual(["get_weather", { city: "Paris", unit: "celsius" }]);
  });

  it("streamed: content deltas hold the markup back, the deltas reassemble to the same call", async () => {
    const streamed = await reassemble(await s.client.chat.completions.create({ model: MODEL_ID, messages, tools, stream: true }));
    expect(streamed.content).toBe("Let me check.");
    expect(streamed.finish).toBe("tool_calls");
    expect(streamed.calls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([["get_weather", { city: "Paris", unit: "celsius" }]]);
  });

  it("tool_choice none: the text is the content, nothing parsed", async () => {
    const r = await s.client.chat.completions.create({ model: MODEL_ID, messages, tools, tool_choice: "none" });
    expect(r.choices[0]!.message.content).toBe(reply);
    expect(r.choices[0]!.message.tool_calls).toBeUndefined();
    expect(r.choices[0]!.finish_reason).toBe("stop");
  });

  it("a conversation with the call and its result renders through the template", async () => {
    const r = await s.client.chat.completions.create({
      model: MODEL_ID,
      tools,
      messages: [
        ...messages,
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } }] },
        { role: "tool", tool_call_id: "call_1", content: '{"temperature": 21}' },
      ],
    });
    expect(r.choices[0]!.finish_reason).toBe("tool_calls");
    const prompt = chatPrompt(hermes, [
      { role: "user", content: "x" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } }] },
      { role: "tool", tool_call_id: "call_1", content: '{"temperature": 21}' },
    ]);
    expect(prompt.text).toContain('{"name": "get_weather", "arguments": {"city": "Paris"}}');
  });
});

describe("an auto call with reasoning from fixed model output (DeepSeek R1 format)", () => {
  const reply =
    "The user wants the weather.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{\"zone\": 2}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
  it("whole and streamed: reasoning_content apart, the call parsed", async () => {
    const r1 = await loadModel(withTemplate(readFileSync(join(FIXTURES, "templates", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"), "utf8")), { contextLength: 1024 });
    const s = await serve(standIn(r1, reply));
    try {
      const r = await s.client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "Time?" }], tools });
      const message = r.choices[0]!.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
      expect(message.reasoning_content).toBe("The user wants the weather.");
      expect(message.content).toBeNull();
      const call = message.tool_calls![0]!;
      expect(call.type === "function" && [call.function.name, JSON.parse(call.function.arguments)]).toEqual(["get_time", { zone: 2 }]);

      let reasoning = "";
      const stream = await s.client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "Time?" }], tools, stream: true });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const chunk of stream) {
        chunks.push(chunk);
        reasoning += (chunk.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? "";
      }
      expect(reasoning).toBe("The user wants the weather.");
      async function* replay(): AsyncGenerator<OpenAI.ChatCompletionChunk> {
        yield* chunks;
      }
      const streamed = await reassemble(replay());
      expect(streamed.content).toBe("");
      expect(streamed.calls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([["get_time", { zone: 2 }]]);
    } finally {
      await s.close();
      r1.dispose();
    }
  });
});

describe("structured output", () => {
  const PERSON = {
    type: "object",
    properties: { name: { type: "string", maxLength: 10 }, age: { type: "integer", minimum: 0, maximum: 120 }, pet: { enum: ["cat", "dog"] } },
    required: ["name", "age", "pet"],
    additionalProperties: false,
  };

  it("response_format json_schema end to end with the client's parse()", async () => {
    for (const seed of [1, 2, 3]) {
      const r = await client.chat.completions.parse({
        model: MODEL_ID,
        messages: [{ role: "user", content: "Describe a person." }],
        response_format: { type: "json_schema", json_schema: { name: "person", schema: PERSON, strict: true } },
        seed,
        temperature: 1,
        max_tokens: 200,
      });
      const parsed = r.choices[0]!.message.parsed as JsonValue;
      expect(r.choices[0]!.finish_reason).toBe("stop");
      expect({ seed, errors: validate(PERSON as JsonValue, parsed) }).toEqual({ seed, errors: [] });
    }
  });

  it("response_format json_object: the content is a JSON object", async () => {
    const r = await client.chat.completions.create({ model: MODEL_ID, messages, response_format: { type: "json_object" }, seed: 5, temperature: 1, max_tokens: 300 });
    const value: unknown = JSON.parse(r.choices[0]!.message.content!);
    expect(typeof value === "object" && value !== null && !Array.isArray(value)).toBe(true);
  });

  it("grammar (the extension) on completions and chat", async () => {
    const grammar = 'root ::= "yes" | "no" | "maybe"';
    for (const seed of [1, 2, 3]) {
      const c = await client.completions.create({ model: MODEL_ID, prompt: "Is it?", seed, temperature: 1, max_tokens: 10, grammar } as OpenAI.CompletionCreateParamsNonStreaming);
      expect(["yes", "no", "maybe"]).toContain(c.choices[0]!.text);
      const r = await client.chat.completions.create({ model: MODEL_ID, messages, seed, temperature: 1, grammar } as OpenAI.ChatCompletionCreateParamsNonStreaming);
      expect(["yes", "no", "maybe"]).toContain(r.choices[0]!.message.content);
    }
  });
});

/** log-softmax of one row of logits. */
function logSoftmax(l: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of l) max = Math.max(max, v);
  let sum = 0;
  for (const v of l) sum += Math.exp(v - max);
  const z = max + Math.log(sum);
  return Float64Array.from(l, (v) => v - z);
}

describe("logprobs", () => {
  it("chat: greedy tokens' logprobs and top alternatives equal log-softmax of model.logits(), streamed alike", async () => {
    const request = { model: MODEL_ID, messages, temperature: 0, max_tokens: 8, logprobs: true, top_logprobs: 3 };
    const r = await client.chat.completions.create(request);
    const content = r.choices[0]!.logprobs!.content!;
    expect(content.length).toBe(r.usage!.completion_tokens);
    const g = model.chat(messages as Parameters<Model["chat"]>[0], { temperature: 0, maxTokens: 8 });
    for await (const _ of g) {
      // the result resolves once the stream is read
    }
    const direct = await g.result;
    const prompt = chatPrompt(model, messages as Parameters<Model["chat"]>[0]).tokens;
    const rows = await model.logits([...prompt, ...direct.tokens]);
    const tk = model.tokenizer;
    content.forEach((entry, i) => {
      const lp = logSoftmax(rows[prompt.length - 1 + i]!);
      const id = direct.tokens[i]!;
      expect(entry.token).toBe(new TextDecoder().decode(tk.tokenBytes(id)));
      expect(entry.bytes).toEqual(Array.from(tk.tokenBytes(id)));
      expect(entry.logprob).toBeCloseTo(lp[id]!, 3);
      // Greedy: the chosen token is the most likely one.
      expect(entry.top_logprobs.length).toBe(3);
      expect(entry.top_logprobs[0]!.token).toBe(entry.token);
      const sorted = Array.from(lp.keys()).sort((a, b) => lp[b]! - lp[a]!);
      entry.top_logprobs.forEach((t, k) => expect(t.logprob).toBeCloseTo(lp[sorted[k]!]!, 3));
    });
    expect(content.map((e) => e.token).join("")).toBe(r.choices[0]!.message.content);

    const stream = await client.chat.completions.create({ ...request, stream: true });
    const streamed: OpenAI.ChatCompletionTokenLogprob[] = [];
    let carriers = 0;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        streamed.push(...(c.logprobs?.content ?? []));
        // Each chunk's logprobs are those of the tokens whose text it carries.
        if (c.logprobs?.content?.length) {
          carriers++;
          expect(c.logprobs.content.map((e) => e.token).join("")).toBe(c.delta.content);
        }
      }
    }
    expect(streamed).toEqual(content);
    expect(carriers).toBeGreaterThan(1);
  });

  it("completions: the legacy shape (tokens, token_logprobs, top_logprobs, text_offset), streamed alike", async () => {
    const prompt = "Once upon a time";
    const r = await client.completions.create({ model: MODEL_ID, prompt, temperature: 0, max_tokens: 6, logprobs: 2 });
    const lp = r.choices[0]!.logprobs!;
    expect(lp.tokens!.join("")).toBe(r.choices[0]!.text);
    expect(lp.text_offset![0]).toBe(0);
    for (let i = 1; i < lp.tokens!.length; i++) expect(lp.text_offset![i]).toBe(lp.text_offset![i - 1]! + lp.tokens![i - 1]!.length);
    const direct = await model.complete(prompt, { temperature: 0, maxTokens: 6 });
    const ids = model.tokenizer.tokenize(prompt, { addSpecial: true });
    const rows = await model.logits([...ids, ...direct.tokens]);
    lp.token_logprobs!.forEach((v, i) => {
      const row = logSoftmax(rows[ids.length - 1 + i]!);
      expect(v).toBeCloseTo(row[direct.tokens[i]!]!, 3);
      const top = lp.top_logprobs![i]!;
      expect(Object.keys(top).length).toBeGreaterThanOrEqual(1);
      expect(top[lp.tokens![i]!]).toBeCloseTo(v, 5);
    });
    const stream = await client.completions.create({ model: MODEL_ID, prompt, temperature: 0, max_tokens: 6, logprobs: 2, stream: true });
    const tokens: string[] = [];
    const offsets: number[] = [];
    for await (const chunk of stream) {
      tokens.push(...(chunk.choices[0]?.logprobs?.tokens ?? []));
      offsets.push(...(chunk.choices[0]?.logprobs?.text_offset ?? []));
    }
    expect(tokens).toEqual(lp.tokens);
    expect(offsets).toEqual(lp.text_offset);
  });
});

describe("errors name their field", () => {
  async function post(path: string, body: unknown): Promise<{ status: number; param: string | null; message: string }> {
    const r = await fetch(base + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const json = (await r.json()) as { error: { param: string | null; message: string } };
    return { status: r.status, param: json.error.param, message: json.error.message };
  }

  it.each([
    ["/v1/chat/completions", { messages, tools: "x" }, "tools"],
    ["/v1/chat/completions", { messages, tools: [{ type: "function" }] }, "tools[0].function"],
    ["/v1/chat/completions", { messages, tools: [{ type: "function", function: { name: "bad name!" } }] }, "tools[0].function.name"],
    ["/v1/chat/completions", { messages, tools: [{ type: "function", function: { name: "f", parameters: [] } }] }, "tools[0].function.parameters"],
    ["/v1/chat/completions", { messages, tools, tool_choice: { type: "function", function: { name: "missing" } } }, "tool_choice"],
    ["/v1/chat/completions", { messages, tools, tool_choice: "always" }, "tool_choice"],
    ["/v1/chat/completions", { messages, tool_choice: "required" }, "tool_choice"],
    ["/v1/chat/completions", { messages, tools: [{ type: "function", function: { name: "f", parameters: { type: "string", format: "no-such-format" } } }], tool_choice: "required" }, "tools"],
    ["/v1/chat/completions", { messages, tools, tool_choice: "required", response_format: { type: "json_object" } }, "tool_choice"],
    ["/v1/chat/completions", { messages, response_format: { type: "xml" } }, "response_format.type"],
    ["/v1/chat/completions", { messages, response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "string", format: "no-such-format" } } } }, "response_format.json_schema.schema"],
    ["/v1/chat/completions", { messages, response_format: { type: "json_schema", json_schema: { schema: {} } } }, "response_format.json_schema.name"],
    ["/v1/chat/completions", { messages, grammar: "root ::= missing" }, "grammar"],
    ["/v1/chat/completions", { messages, logprobs: true, top_logprobs: 21 }, "top_logprobs"],
    ["/v1/chat/completions", { messages, top_logprobs: 2 }, "top_logprobs"],
    ["/v1/chat/completions", { messages: [{ role: "assistant", content: null, tool_calls: [{ function: { name: "f" } }] }] }, "messages[0].tool_calls[0]"],
    ["/v1/completions", { prompt: "x", logprobs: 21 }, "logprobs"],
    ["/v1/completions", { prompt: "x", grammar: "root ::= (" }, "grammar"],
    ["/v1/completions", { prompt: "x", response_format: { type: "json_object" } }, "response_format"],
  ])("%s %j → 400 %s", async (path, body, param) => {
    const r = await post(path, body);
    expect({ status: r.status, param: r.param }).toEqual({ status: 400, param });
    expect(r.message.length).toBeGreaterThan(0);
  });
});
