// The OpenAI-compatible server, driven by the official `openai` client and by raw HTTP, on loopback
// with an ephemeral port and a fixture model re-written with a ChatML chat template.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "node:http";
import OpenAI from "openai";
import { loadModel, type Model } from "../src/index.js";
import { CHATML_TEMPLATE } from "../src/chat/index.js";
import { createServer, type MetricsSnapshot, type WoollyServer } from "../src/node.js";
import { heldModel, requestLog, until, withTemplate } from "./helpers/server.js";

const MODEL_ID = "stories260K-chat";
let model: Model;
let server: WoollyServer;
let base: string;
let client: OpenAI;

beforeAll(async () => {
  model = await loadModel(withTemplate("stories260K-Q8_0.gguf", CHATML_TEMPLATE), { contextLength: 256 });
  server = createServer(model, { modelId: MODEL_ID, maxBodyBytes: 64 * 1024 });
  const { port } = await server.listen(0, "127.0.0.1");
  base = `http://127.0.0.1:${port}`;
  client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "none", maxRetries: 0 });
});
afterAll(async () => {
  await server.close();
  model.dispose();
});

const messages = [
  { role: "system" as const, content: "You tell stories." },
  { role: "user" as const, content: "Once upon a time" },
];

describe("with the openai client", () => {
  it("chat, whole and streamed: the deltas add up to the same text (temperature 0)", async () => {
    const whole = await client.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 24, temperature: 0 });
    expect(whole.object).toBe("chat.completion");
    expect(whole.model).toBe(MODEL_ID);
    expect(whole.id).toMatch(/^chatcmpl-/);
    const choice = whole.choices[0];
    expect(choice.message.role).toBe("assistant");
    expect(choice.message.content?.length).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(choice.finish_reason);
    expect(whole.usage?.completion_tokens).toBeGreaterThan(0);
    expect(whole.usage?.total_tokens).toBe((whole.usage?.prompt_tokens ?? 0) + (whole.usage?.completion_tokens ?? 0));

    const stream = await client.chat.completions.create({
      model: MODEL_ID,
      messages,
      max_tokens: 24,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      expect(chunk.object).toBe("chat.completion.chunk");
      for (const c of chunk.choices) {
        text += c.delta.content ?? "";
        finish = c.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text).toBe(choice.message.content);
    expect(finish).toBe(choice.finish_reason);
    expect(usage).toEqual(whole.usage);
  });

  it("completions: whole, streamed, and equal to model.complete (temperature 0)", async () => {
    const prompt = "The little dog";
    const whole = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 20, temperature: 0 });
    expect(whole.object).toBe("text_completion");
    const stream = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 20, temperature: 0, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    expect(text).toBe(whole.choices[0].text);
    const direct = await model.complete(prompt, { maxTokens: 20, temperature: 0 });
    expect(whole.choices[0].text).toBe(direct.text);
    expect(whole.usage?.completion_tokens).toBe(direct.tokens.length);
    expect(whole.choices[0].finish_reason).toBe(direct.finishReason === "length" ? "length" : "stop");
  });

  it("completions default to OpenAI's 16 tokens", async () => {
    const r = await client.completions.create({ model: MODEL_ID, prompt: "Lily", temperature: 0, stop: null });
    expect(r.usage?.completion_tokens).toBeLessThanOrEqual(16);
  });

  it("stop strings end the text before the stop", async () => {
    const free = await client.completions.create({ model: MODEL_ID, prompt: "Once upon a time", max_tokens: 30, temperature: 0 });
    const words = free.choices[0].text.trim().split(" ");
    const stopWord = words[Math.min(2, words.length - 1)];
    const r = await client.completions.create({ model: MODEL_ID, prompt: "Once upon a time", max_tokens: 30, temperature: 0, stop: [stopWord] });
    expect(r.choices[0].finish_reason).toBe("stop");
    expect(free.choices[0].text.startsWith(r.choices[0].text)).toBe(true);
    expect(r.choices[0].text).not.toContain(stopWord);
  });

  it("lists the model", async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual([MODEL_ID]);
    expect((await client.models.retrieve(MODEL_ID)).id).toBe(MODEL_ID);
  });

  it("a 400 is the client's BadRequestError with the message and param", async () => {
    let err: unknown;
    try {
      await client.chat.completions.create({ model: MODEL_ID, messages, temperature: -1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const bad = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(bad.status).toBe(400);
    expect(bad.message).toMatch(/temperature must be/);
    expect(bad.param).toBe("temperature");
    expect(bad.type).toBe("invalid_request_error");
  });

  it("a prompt longer than the context is a 400 that says so", async () => {
    const long = "the cat sat on the mat. ".repeat(200);
    await expect(client.completions.create({ model: MODEL_ID, prompt: long, max_tokens: 4 })).rejects.toThrow(/does not fit the model's context/);
    await expect(client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: long }] })).rejects.toMatchObject({
      status: 400,
      code: "context_length_exceeded",
    });
  });
});

/** One raw HTTP exchange on loopback. */
async function raw(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const r = await fetch(base + path, { method, body, headers: { "Content-Type": "application/json", ...headers } });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, json, text, headers: r.headers };
}

async function metrics(): Promise<MetricsSnapshot> {
  return (await raw("GET", "/metrics")).json as MetricsSnapshot;
}

describe("raw HTTP", () => {
  it("/health and /metrics", async () => {
    expect((await raw("GET", "/health")).json).toEqual({ status: "ok" });
    const m = await metrics();
    expect(m.requests_served).toBeGreaterThan(0);
    expect(m.tokens_generated_total).toBeGreaterThan(0);
    expect(m.decode_tokens_per_second.last).toBeGreaterThan(0);
    expect(m.prefill_tokens_per_second.avg).toBeGreaterThan(0);
    expect(m.queue_depth).toBe(0);
    expect(m.processing).toBe(0);
  });

  it("errors have OpenAI's shape and status", async () => {
    const cases: [string, string, string | undefined, number, string | null][] = [
      ["POST", "/v1/chat/completions", "{not json", 400, null],
      ["POST", "/v1/chat/completions", "[1,2]", 400, null],
      ["POST", "/v1/chat/completions", JSON.stringify({ messages: "hi" }), 400, "messages"],
      ["POST", "/v1/chat/completions", JSON.stringify({ messages: [{ role: "robot", content: "x" }] }), 400, "messages[0].role"],
      ["POST", "/v1/chat/completions", JSON.stringify({ messages: [{ role: "tool", content: "x" }] }), 400, "messages[0].tool_call_id"],
      ["POST", "/v1/chat/completions", JSON.stringify({ messages, temperature: "hot" }), 400, "temperature"],
      ["POST", "/v1/chat/completions", JSON.stringify({ messages, max_tokens: 0 }), 400, "max_tokens"],
      ["POST", "/v1/chat/completions", JSON.stringify({ messages, max_completion_tokens: 2.5 }), 400, "max_completion_tokens"],
      ["POST", "/v1/chat/completions", JSON.stringify({ messages, top_p: 2 }), 400, "top_p"],
      ["POST", "/v1/chat/completions", JSON.stringify({ messages, seed: -1 }), 400, "seed"],
      ["POST", "/v1/chat/completions", JSON.stringify({ messages, stop: [1] }), 400, "stop"],
      ["POST", "/v1/chat/completions", JSON.stringify({ messages, n: 2 }), 400, "n"],
      ["POST", "/v1/chat/completions", JSON.stringify({ messages, stream: "yes" }), 400, "stream"],
      ["POST", "/v1/completions", JSON.stringify({ prompt: 42 }), 400, "prompt"],
      ["POST", "/v1/completions", JSON.stringify({ prompt: [] }), 400, "prompt"],
      ["POST", "/v1/completions", JSON.stringify({ prompt: [999999] }), 400, "prompt"],
      ["POST", "/v1/completions", JSON.stringify({ prompt: "x", presence_penalty: 3 }), 400, "presence_penalty"],
      ["GET", "/v1/chat/completions", undefined, 405, null],
      ["POST", "/v1/models", "{}", 405, null],
      ["GET", "/v2/nothing", undefined, 404, null],
      ["GET", "/v1/models/other", undefined, 404, "model"],
    ];
    for (const [method, path, body, status, param] of cases) {
      const r = await raw(method, path, body);
      expect({ path, body, status: r.status }).toEqual({ path, body, status });
      const error = (r.json as { error: { message: string; type: string; param: string | null; code: string | null } }).error;
      expect(error.message.length).toBeGreaterThan(0);
      expect(error.type).toBe("invalid_request_error");
      expect({ body, param: error.param }).toEqual({ body, param });
    }
  });

  it("a body over the limit is 413", async () => {
    const r = await raw("POST", "/v1/completions", JSON.stringify({ prompt: "x".repeat(100 * 1024) }));
    expect(r.status).toBe(413);
    expect((r.json as { error: { message: string } }).error.message).toMatch(/limit of 65536 bytes/);
  });

  it("a client that leaves halfway through its body does not leave a handler waiting", async () => {
    const log = requestLog();
    const slowServer = createServer(model, { modelId: MODEL_ID, onLog: log.onLog });
    const { port } = await slowServer.listen(0, "127.0.0.1");
    await new Promise<void>((resolve) => {
      // "100 Continue" is written as the server hands the request to its handler: from then on
      // the handler is reading the body, and the client sends half of it and leaves.
      const req = request(`http://127.0.0.1:${port}/v1/completions`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Content-Length": "1000", Expect: "100-continue" },
      });
      req.on("continue", () => req.write('{"prompt": "Once up', () => req.destroy()));
      req.on("error", () => resolve());
      req.on("close", () => resolve());
      req.flushHeaders();
    });
    // The handler ends on its own (it is logged when it does), not only when close() aborts it.
    expect(await log.lines(1)).toEqual([expect.stringMatching(/^POST \/v1\/completions \d+ \d+ ms \(client left\)$/)]);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    await slowServer.close();
  });

  it("survives a burst of malformed requests, then serves a valid one", async () => {
    const junk = ["", "null", "{", '{"messages":[{}]}', '{"messages":[{"role":"user","content":{"a":1}}]}', '"str"', "\u0000\u0001", '{"prompt":"x","max_tokens":-5}'];
    const burst = [];
    for (let i = 0; i < 40; i++) {
      const path = i % 2 === 0 ? "/v1/chat/completions" : "/v1/completions";
      burst.push(raw("POST", path, junk[i % junk.length]));
    }
    const results = await Promise.all(burst);
    for (const r of results) expect(r.status).toBe(400);
    const ok = await raw("POST", "/v1/chat/completions", JSON.stringify({ messages, max_tokens: 4, temperature: 0 }));
    expect(ok.status).toBe(200);
  });

  it("a client that disconnects mid-stream frees the model; the next request succeeds", async () => {
    // The fixture decodes thousands of tokens a second, faster than a socket's close is noticed; a
    // model that pauses after the first piece until its client is gone makes the disconnect land
    // mid-generation every time.
    const held = heldModel(model);
    const log = requestLog();
    const slowServer = createServer(held.model, { modelId: MODEL_ID, onLog: log.onLog });
    const { port } = await slowServer.listen(0, "127.0.0.1");
    const slowBase = `http://127.0.0.1:${port}`;
    const get = async (): Promise<MetricsSnapshot> => (await (await fetch(`${slowBase}/metrics`)).json()) as MetricsSnapshot;
    try {
      const leave = (path: string, body: unknown): Promise<void> =>
        new Promise<void>((resolve, reject) => {
          const req = request(`${slowBase}${path}`, { method: "POST", headers: { "Content-Type": "application/json" } }, (res) => {
            expect(res.statusCode).toBe(200);
            res.once("data", () => {
              // The first event arrived: the generation is running. Leave.
              req.destroy();
              resolve();
            });
          });
          req.on("error", (e: NodeJS.ErrnoException) => {
            if (e.code !== "ECONNRESET") reject(e);
          });
          req.end(JSON.stringify(body));
        });
      await leave("/v1/completions", { prompt: "Once upon a time", max_tokens: 200, temperature: 0, stream: true });
      await leave("/v1/chat/completions", { messages, max_tokens: 200, temperature: 0, stream: true });
      // Both handlers have finished once both are logged; the metrics are final by then.
      expect(await log.lines(2)).toEqual([expect.stringContaining("(client left)"), expect.stringContaining("(client left)")]);
      const m = await get();
      expect(m).toMatchObject({ processing: 0, queue_depth: 0, requests_aborted: 2, requests_served: 0 });
      // The aborted generations stopped where their clients left, a piece or so in, not at 2 × 200.
      expect(m.tokens_generated_total).toBeGreaterThanOrEqual(2);
      expect(m.tokens_generated_total).toBeLessThan(10);
      held.release();
      const next = await new OpenAI({ baseURL: `${slowBase}/v1`, apiKey: "none", maxRetries: 0 }).completions.create({
        model: MODEL_ID,
        prompt: "Lily",
        max_tokens: 5,
        temperature: 0,
      });
      expect(next.choices[0].text.length).toBeGreaterThan(0);
      expect((await get()).requests_served).toBe(1);
    } finally {
      await slowServer.close();
    }
  });

  it("a client that leaves while queued gives up its turn", async () => {
    const held = heldModel(model);
    const log = requestLog();
    const slowServer = createServer(held.model, { modelId: MODEL_ID, onLog: log.onLog });
    const { port } = await slowServer.listen(0, "127.0.0.1");
    try {
      const url = `http://127.0.0.1:${port}/v1/completions`;
      const body = (n: number): string => JSON.stringify({ prompt: "Once upon a time", max_tokens: n, temperature: 0, ignore_eos: true });
      // The first request holds the model (paused after its first piece) until released below.
      const holding = held.holding();
      const first = fetch(url, { method: "POST", body: body(10) });
      await holding;
      const ac = new AbortController();
      const second = fetch(url, { method: "POST", body: body(10), signal: ac.signal }).catch((e: unknown) => e);
      await until(() => slowServer.metrics().queue_depth === 1);
      expect(slowServer.metrics()).toMatchObject({ queue_depth: 1, processing: 1 });
      ac.abort();
      expect(await second).toBeInstanceOf(Error);
      // The server sees the client go when the socket closes; the queue forgets it then.
      await until(() => slowServer.metrics().queue_depth === 0);
      expect(slowServer.metrics()).toMatchObject({ queue_depth: 0, processing: 1, requests_served: 0 });
      held.release();
      const answer = await first;
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(10);
      await log.lines(2);
      const m = slowServer.metrics();
      expect(m).toMatchObject({ queue_depth: 0, processing: 0, requests_served: 1, requests_aborted: 1 });
    } finally {
      await slowServer.close();
    }
  });

  it("requests queue in order: concurrent ones all complete and the queue drains", async () => {
    const all = await Promise.all(
      [0, 1, 2, 3].map((i) => client.completions.create({ model: MODEL_ID, prompt: `Tom ${i}`, max_tokens: 8, temperature: 0 })),
    );
    for (const r of all) expect(r.choices[0].text.length).toBeGreaterThan(0);
    const m = await metrics();
    expect(m.queue_depth).toBe(0);
    expect(m.processing).toBe(0);
  });

  it("answers CORS preflight", async () => {
    const r = await raw("OPTIONS", "/v1/chat/completions");
    expect(r.status).toBe(204);
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
  });
});
