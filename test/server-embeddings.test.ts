// POST /v1/embeddings on the synth-bert fixture, driven by the official `openai` client (float and base64,
// which it asks for by default and decodes) and by raw HTTP for the error shapes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { loadModelFile } from "../src/node.js";
import { createServer, type WoollyServer } from "../src/node.js";
import type { Model } from "../src/model/model.js";
import { float32Base64, parseEmbeddingInput } from "../src/server/embeddings.js";
import { fixturePath } from "./helpers/fixtures.js";

let model: Model;
let server: WoollyServer;
let base: string;
let client: OpenAI;
let hello: number[];
let fox: number[];

beforeAll(async () => {
  model = await loadModelFile(fixturePath("archs/models", "synth-bert-Q8_0.gguf"), { threads: 1 });
  const [a, b] = await model.embed(["Hello world", "The quick brown fox"]);
  [hello, fox] = [Array.from(a), Array.from(b)];
  server = createServer(model, { modelId: "synth-bert" });
  const { port } = await server.listen(0, "127.0.0.1");
  base = `http://127.0.0.1:${port}`;
  client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "none", maxRetries: 0 });
});
afterAll(async () => {
  await server.close();
  model.dispose();
});

const post = async (path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
  const r = await fetch(base + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
};

describe("with the openai client", () => {
  it("float: one normalised vector per input, in order, with usage", async () => {
    const r = await client.embeddings.create({ model: "synth-bert", input: ["Hello world", "The quick brown fox"], encoding_format: "float" });
    expect(r.object).toBe("list");
    expect(r.model).toBe("synth-bert");
    expect(r.data.map((d) => [d.object, d.index])).toEqual([["embedding", 0], ["embedding", 1]]);
    expect(r.data[0].embedding).toEqual(hello);
    expect(r.data[1].embedding).toEqual(fox);
    // [CLS] hello world [SEP] + [CLS] the quick brown fox [SEP]
    expect(r.usage).toEqual({ prompt_tokens: 10, total_tokens: 10 });
  });

  it("base64 (the client's default) decodes to the same f32 values", async () => {
    const r = await client.embeddings.create({ model: "synth-bert", input: "Hello world" });
    expect(r.data).toHaveLength(1);
    expect(r.data[0].embedding).toEqual(hello);
  });

  it("token ids embed like their text", async () => {
    const ids = model.tokenize("Hello world");
    const r = await client.embeddings.create({ model: "synth-bert", input: [ids], encoding_format: "float" });
    expect(r.data[0].embedding).toEqual(hello);
    expect(r.usage.prompt_tokens).toBe(ids.length);
  });

  it("a bad input is a BadRequestError naming the parameter", async () => {
    const err = await client.embeddings.create({ model: "synth-bert", input: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("input");
  });
});

describe("raw HTTP", () => {
  it("base64 carries little-endian f32 bytes and says so", async () => {
    const { status, json } = await post("/v1/embeddings", { input: "Hello world", encoding_format: "base64" });
    expect(status).toBe(200);
    const item = (json.data as { embedding: string; encoding_format: string }[])[0];
    expect(item.encoding_format).toBe("base64");
    expect(item.embedding).toBe(float32Base64(Float32Array.from(hello)));
    const bytes = Uint8Array.from(atob(item.embedding), (c) => c.charCodeAt(0));
    expect(Array.from(new Float32Array(bytes.buffer))).toEqual(hello);
  });

  it("embd_normalize -1 gives the unnormalised vector", async () => {
    const [raw] = await model.embed("Hello world", { normalize: false });
    const { json } = await post("/v1/embeddings", { input: "Hello world", embd_normalize: -1 });
    expect((json.data as { embedding: number[] }[])[0].embedding).toEqual(Array.from(raw));
  });

  it.each([
    [{}, "input"],
    [{ input: "" }, "input"],
    [{ input: 42 }, "input"],
    [{ input: ["ok", ""] }, "input"],
    [{ input: [[1.5]] }, "input"],
    [{ input: [[101, 99999999]] }, "input"],
    [{ input: "x", encoding_format: "int8" }, "encoding_format"],
    [{ input: "x", embd_normalize: 0 }, "embd_normalize"],
    [{ input: "x", model: 7 }, "model"],
  ])("%j is a 400 naming %s", async (body, param) => {
    const { status, json } = await post("/v1/embeddings", body);
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ type: "invalid_request_error", param });
  });

  it("a text too long for one pass is context_length_exceeded", async () => {
    const { status, json } = await post("/v1/embeddings", { input: [new Array<number>(600).fill(1000)] });
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ param: "input", code: "context_length_exceeded" });
  });

  it("/v1/rerank refuses a model without a rank head", async () => {
    const { status, json } = await post("/v1/rerank", { query: "q", documents: ["d"] });
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ param: "model", code: "rerank_not_supported" });
  });

  it("the generation endpoints refuse an encoder with a 400", async () => {
    const { status, json } = await post("/v1/completions", { prompt: "Hello" });
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: "model_not_generative" });
  });
});

describe("parseEmbeddingInput", () => {
  it("takes each of OpenAI's input shapes", () => {
    expect(parseEmbeddingInput("a")).toEqual(["a"]);
    expect(parseEmbeddingInput(["a", "b"])).toEqual(["a", "b"]);
    expect(parseEmbeddingInput([1, 2])).toEqual([[1, 2]]);
    expect(parseEmbeddingInput([[1], [2, 3]])).toEqual([[1], [2, 3]]);
    expect(parseEmbeddingInput(["a", [2]])).toEqual(["a", [2]]);
  });
});
