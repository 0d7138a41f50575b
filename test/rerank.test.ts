// Reranking: synth-bert re-written with a rank head (cls 256x256 + bias, tanh, cls.output 1x256 + bias,
// random F32, pooling_type 4): model.rank() against the head computed in f64 from the encoder's own [CLS]
// vector (this is Woolly's own reference: no llama.cpp reranker fixture exists), the pair's tokens as
// llama.cpp's server forms them, and POST /v1/rerank in its Jina and TEI shapes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgufValueType, loadModel, ModelError } from "../src/index.js";
import { createServer, loadModelFile, type WoollyServer } from "../src/node.js";
import { rerankIds } from "../src/model/embed.js";
import type { Model } from "../src/model/model.js";
import { GgmlType } from "../src/quant/types.js";
import { fixturePath, rewriteFixture } from "./helpers/fixtures.js";

function randomF32(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

const DIM = 256;
const W = randomF32(DIM * DIM, 1, 0.1);
const B = randomF32(DIM, 2, 0.1);
const WO = randomF32(DIM, 3, 0.5);
const BO = randomF32(1, 4, 0.5);
const bytes = (a: Float32Array) => new Uint8Array(a.buffer.slice(0));

const reranker = rewriteFixture(
  "synth-bert-Q8_0.gguf",
  (metadata, tensors) => {
    metadata.set("bert.pooling_type", { type: GgufValueType.UINT32, value: 4 });
    return [
      ...tensors,
      { name: "cls.weight", type: GgmlType.F32, dims: [DIM, DIM], data: bytes(W) },
      { name: "cls.bias", type: GgmlType.F32, dims: [DIM], data: bytes(B) },
      { name: "cls.output.weight", type: GgmlType.F32, dims: [DIM, 1], data: bytes(WO) },
      { name: "cls.output.bias", type: GgmlType.F32, dims: [1], data: bytes(BO) },
    ];
  },
  "archs/models",
);

/** The head in f64 from a [CLS] vector: cls.output · tanh(cls · h + b) + b_out. */
function head(h: Float32Array): number {
  let out = BO[0];
  for (let r = 0; r < DIM; r++) {
    let s = B[r];
    for (let c = 0; c < DIM; c++) s += W[r * DIM + c] * h[c];
    out += WO[r] * Math.tanh(s);
  }
  return out;
}

const QUERY = "what does the fox do";
const DOCS = ["The quick brown fox jumps over the lazy dog.", "Hello world", "A dog sleeps."];

let model: Model;
let server: WoollyServer;
let base: string;
beforeAll(async () => {
  model = await loadModel(reranker, { threads: 1 });
  server = createServer(model, { modelId: "synth-reranker" });
  base = `http://127.0.0.1:${(await server.listen(0, "127.0.0.1")).port}`;
});
afterAll(async () => {
  await server.close();
  model.dispose();
});

const post = async (path: string, body: unknown) => {
  const r = await fetch(base + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as unknown };
};

describe("model.rank", () => {
  it("pairs are [CLS] query [SEP] document, as llama.cpp's server builds them", () => {
    const q = model.tokenize(QUERY, { addSpecial: false });
    const d = model.tokenize(DOCS[1], { addSpecial: false });
    expect(rerankIds(model.tokenizer, undefined, QUERY, DOCS[1])).toEqual([101, ...q, 102, ...d]);
    expect(rerankIds(model.tokenizer, "{query} [SEP] {document}", "a", "b")).toEqual(model.tokenize("a [SEP] b", { addSpecial: false }));
  });

  it("scores each document with the head over the pair's [CLS] vector", async () => {
    expect(model.canRank).toBe(true);
    expect(model.config.pooling).toBe("rank");
    const ranks = await model.rank(QUERY, DOCS);
    expect(ranks).toHaveLength(3);
    for (let i = 0; i < DOCS.length; i++) {
      const ids = rerankIds(model.tokenizer, undefined, QUERY, DOCS[i]);
      const [cls] = await model.tokenEmbeddings(ids);
      expect(ranks[i].tokens).toBe(ids.length);
      // F32 head weights: only f32 rounding separates Woolly's head from the f64 one.
      expect(Math.abs(ranks[i].score - head(cls))).toBeLessThan(1e-4);
    }
    expect(new Set(ranks.map((r) => r.score)).size).toBe(3);
  });

  it("a model without a head refuses with no_rank_head", async () => {
    const plain = await loadModelFile(fixturePath("archs/models", "synth-bert-Q8_0.gguf"), { threads: 1 });
    try {
      expect(plain.canRank).toBe(false);
      await expect(plain.rank("q", ["d"])).rejects.toThrow(ModelError);
      await expect(plain.rank("q", ["d"])).rejects.toMatchObject({ kind: "no_rank_head" });
    } finally {
      plain.dispose();
    }
  });
});

describe("POST /v1/rerank", () => {
  it("answers results best first with relevance_score, top_n and usage", async () => {
    const ranks = await model.rank(QUERY, DOCS);
    const best = ranks.map((r, index) => ({ index, relevance_score: r.score })).sort((a, b) => b.relevance_score - a.relevance_score);
    const { status, json } = await post("/v1/rerank", { query: QUERY, documents: DOCS, top_n: 2 });
    expect(status).toBe(200);
    const tokens = ranks.reduce((s, r) => s + r.tokens, 0);
    expect(json).toEqual({ model: "synth-reranker", object: "list", usage: { prompt_tokens: tokens, total_tokens: tokens }, results: best.slice(0, 2) });
  });

  it("TEI's shape when the request says texts", async () => {
    const { json } = await post("/rerank", { query: QUERY, texts: DOCS.slice(0, 2), return_text: true });
    const list = json as { index: number; score: number; text: string }[];
    expect(list.map((r) => r.text).sort()).toEqual([DOCS[0], DOCS[1]].sort());
    expect(list[0].score).toBeGreaterThanOrEqual(list[1].score);
  });

  it.each([
    [{ documents: DOCS }, "query"],
    [{ query: "q", documents: [] }, "documents"],
    [{ query: "q", documents: ["a", 1] }, "documents"],
    [{ query: "q", documents: ["a"], top_n: -1 }, "top_n"],
  ])("%j is a 400 naming %s", async (body, param) => {
    const { status, json } = await post("/v1/rerank", body);
    expect(status).toBe(400);
    expect(json).toMatchObject({ error: { param } });
  });
});
