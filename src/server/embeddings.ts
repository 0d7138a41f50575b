// POST /v1/embeddings in OpenAI's shape (as llama.cpp's server answers it): `input` a string, an array of
// strings, an array of token ids or an array of such arrays; `encoding_format` float (default) or base64
// (little-endian f32 bytes, what the openai client asks for by default); `model` echoed; usage counts the
// tokens embedded. Vectors are pooled as the model's file says and L2-normalised, as llama.cpp's server
// does (its `embd_normalize`: 2, or -1 for none, is accepted too).
import type { ServerResponse } from "node:http";
import { sendJson, ServerError } from "./http.js";
import { toServerError, type EndpointContext } from "./openai.js";

type Input = string | number[];

/** The inputs of a request, or ServerError('invalid_request') naming `input`. */
export function parseEmbeddingInput(input: unknown): Input[] {
  const bad = (why: string) => new ServerError("invalid_request", `input ${why}`, { param: "input" });
  if (typeof input === "string") {
    if (input === "") throw bad("must not be empty");
    return [input];
  }
  if (!Array.isArray(input)) throw bad("must be a string, an array of strings, an array of token ids, or an array of such arrays");
  if (input.length === 0) throw bad("must not be an empty array");
  const isIds = (a: unknown): a is number[] => Array.isArray(a) && a.every((x) => typeof x === "number" && Number.isInteger(x));
  if (input.every((x) => typeof x === "number")) {
    if (!isIds(input)) throw bad("token ids must be integers");
    return [input];
  }
  return input.map((x: unknown, i) => {
    if (typeof x === "string") {
      if (x === "") throw bad(`[${i}] must not be empty`);
      return x;
    }
    if (isIds(x) && x.length > 0) return x;
    throw bad(`[${i}] must be a non-empty string or a non-empty array of integer token ids`);
  });
}

/** f32 values as base64 of their little-endian bytes (what OpenAI's base64 encoding_format carries). */
export function float32Base64(v: Float32Array): string {
  const bytes = new Uint8Array(v.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < v.length; i++) view.setFloat32(i * 4, v[i], true);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export async function embeddings(ctx: EndpointContext, body: Record<string, unknown>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const inputs = parseEmbeddingInput(body.input);
  const format = body.encoding_format ?? "float";
  if (format !== "float" && format !== "base64") {
    throw new ServerError("invalid_request", `encoding_format must be "float" or "base64"; got ${JSON.stringify(format)}`, { param: "encoding_format" });
  }
  const normalizeParam = body.embd_normalize ?? 2;
  if (normalizeParam !== 2 && normalizeParam !== -1) {
    throw new ServerError("invalid_request", `embd_normalize must be 2 (Euclidean) or -1 (none); got ${JSON.stringify(normalizeParam)}`, { param: "embd_normalize" });
  }
  if (body.model !== undefined && typeof body.model !== "string") throw new ServerError("invalid_request", "model must be a string", { param: "model" });
  const release = await ctx.queue.acquire(signal);
  if (!release) {
    ctx.metrics.abandon();
    return;
  }
  try {
    // Tokenized here (with the model's special tokens, as llama.cpp's server does) to count usage.
    const ids = inputs.map((x) => (typeof x === "string" ? ctx.model.tokenize(x, { addSpecial: true, parseSpecial: true }) : x));
    const vectors = await ctx.model.embed(ids, { normalize: normalizeParam === 2 });
    const tokens = ids.reduce((s, x) => s + x.length, 0);
    const data = vectors.map((v, index) =>
      format === "base64"
        ? { object: "embedding", index, embedding: float32Base64(v), encoding_format: "base64" }
        : { object: "embedding", index, embedding: Array.from(v) },
    );
    sendJson(res, 200, { object: "list", data, model: typeof body.model === "string" ? body.model : ctx.modelId, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  } catch (e) {
    throw toServerError(e, "input");
  } finally {
    release();
  }
}

/**
 * POST /v1/rerank (and /rerank) in llama.cpp's server shape: `query`, `documents` (Jina; or `texts`, TEI),
 * optional `top_n`; answers results [{index, relevance_score}] best first, or TEI's [{index, score, text?}]
 * when the request used `texts`. Only for a model with a rank head (model.canRank).
 */
export async function rerank(ctx: EndpointContext, body: Record<string, unknown>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  if (!ctx.model.canRank) {
    throw new ServerError("invalid_request", "this model has no rank head (cls / cls.output tensors): load a reranker", { param: "model", code: "rerank_not_supported" });
  }
  const tei = body.texts !== undefined;
  if (typeof body.query !== "string") throw new ServerError("invalid_request", '"query" must be a string', { param: "query" });
  const field = tei ? "texts" : "documents";
  const docs = body[field];
  if (!Array.isArray(docs) || docs.length === 0 || !docs.every((d) => typeof d === "string")) {
    throw new ServerError("invalid_request", `"${field}" must be a non-empty array of strings`, { param: field });
  }
  const documents = docs as string[];
  const topN = body.top_n ?? documents.length;
  if (typeof topN !== "number" || !Number.isInteger(topN) || topN < 0) throw new ServerError("invalid_request", "top_n must be a non-negative integer", { param: "top_n" });
  const release = await ctx.queue.acquire(signal);
  if (!release) {
    ctx.metrics.abandon();
    return;
  }
  try {
    const ranks = await ctx.model.rank(body.query, documents);
    const tokens = ranks.reduce((s, r) => s + r.tokens, 0);
    const order = ranks.map((r, index) => ({ index, score: r.score })).sort((a, b) => b.score - a.score).slice(0, topN);
    if (tei) {
      const withText = body.return_text === true;
      sendJson(res, 200, order.map((r) => (withText ? { index: r.index, score: r.score, text: documents[r.index] } : r)));
    } else {
      const results = order.map((r) => ({ index: r.index, relevance_score: r.score }));
      sendJson(res, 200, { model: typeof body.model === "string" ? body.model : ctx.modelId, object: "list", usage: { prompt_tokens: tokens, total_tokens: tokens }, results });
    }
  } catch (e) {
    throw toServerError(e, field);
  } finally {
    release();
  }
}
