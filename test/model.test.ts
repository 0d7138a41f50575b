// The public model API: loading from every kind of source, refusing what cannot run (with names and
// figures), generation (streaming, stop conditions, cancellation, cache reuse) and its errors.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  GgmlType,
  GgufError,
  GgufValueType,
  LoadError,
  ModelError,
  ParameterError,
  WasmError,
  loadModel,
  parseGguf,
  writeGguf,
  type GgufValue,
} from "../src/index.js";
import { loadModelFile } from "../src/node.js";
import { fixturePath, rewriteFixture } from "./helpers/fixtures.js";

const STORIES = fixturePath("models", "stories260K-Q8_0.gguf");
const storiesBytes = () => new Uint8Array(readFileSync(STORIES));
const ref = JSON.parse(readFileSync(fixturePath("models", "../reference/stories260K-Q8_0.p1.json"), "utf8")) as {
  prompt: number[];
  greedy: number[];
};

/** The stories model re-written with some metadata changed and some tensors dropped or retyped. */
function rewrite(edit: {
  metadata?: [string, GgufValue | undefined][];
  drop?: string;
  retype?: [string, number];
}): Uint8Array {
  return rewriteFixture("stories260K-Q8_0.gguf", (metadata, tensors) => {
    for (const [k, v] of edit.metadata ?? []) {
      if (v === undefined) metadata.delete(k);
      else metadata.set(k, v);
    }
    return tensors
      .filter((t) => t.name !== edit.drop)
      .map((t) => {
        if (!edit.retype || t.name !== edit.retype[0]) return t;
        // IQ2_XXS has 256-element blocks of 66 bytes: give it the right number of bytes
        const n = t.dims.reduce((a, b) => a * b, 1);
        return { name: t.name, type: edit.retype[1], dims: [256, n / 256], data: new Uint8Array((n / 256) * 66) };
      });
  });
}

describe("loading", () => {
  it("loads from a path, bytes, an ArrayBuffer and a Blob, reporting progress", async () => {
    const bytes = storiesBytes();
    const progress: number[] = [];
    const sources = [
      await loadModelFile(STORIES),
      await loadModel(bytes),
      await loadModel(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)),
      await loadModel(new Blob([bytes]), { onProgress: (p) => progress.push(p.loadedBytes / p.totalBytes) }),
    ];
    const first = (await sources[0].logits(ref.prompt))[ref.prompt.length - 1];
    for (const m of sources) {
      expect(m.config.arch).toBe("llama");
      expect(m.config.nLayers).toBe(5);
      expect((await m.logits(ref.prompt))[ref.prompt.length - 1]).toEqual(first);
      m.dispose();
    }
    expect(progress.length).toBeGreaterThan(1);
    expect(progress[progress.length - 1]).toBe(1);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  });

  it("loads from a URL with Range requests", async () => {
    const bytes = storiesBytes();
    const server = createServer((req, res) => {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? "");
      if (!m) {
        res.writeHead(200, { "content-length": bytes.length }).end(bytes);
        return;
      }
      const a = Number(m[1]);
      const b = Math.min(Number(m[2]), bytes.length - 1);
      res.writeHead(206, { "content-range": `bytes ${a}-${b}/${bytes.length}`, "content-length": b - a + 1 });
      res.end(bytes.subarray(a, b + 1));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as AddressInfo;
      const m = await loadModel(`http://127.0.0.1:${port}/stories.gguf`);
      const r = await m.complete(ref.prompt, { temperature: 0, maxTokens: 8, ignoreEos: true });
      expect(r.tokens).toEqual(ref.greedy.slice(0, 8));
      m.dispose();
    } finally {
      server.close();
    }
  });

  it("refuses an unknown architecture by name", async () => {
    const bytes = rewrite({ metadata: [["general.architecture", { type: GgufValueType.STRING, value: "mamba" }]] });
    await expect(loadModel(bytes)).rejects.toThrow(LoadError);
    await expect(loadModel(bytes)).rejects.toThrow(/architecture "mamba" is not supported/);
  });

  it("refuses a tensor type it cannot compute, naming tensor and type", async () => {
    const bytes = rewrite({ retype: ["blk.0.attn_q.weight", 16] });
    const err = await loadModel(bytes).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoadError);
    expect((err as LoadError).kind).toBe("unsupported_tensor_type");
    expect((err as LoadError).message).toMatch(/blk\.0\.attn_q\.weight is IQ2_XXS, which Woolly does not support/);
  });

  it("refuses a missing tensor and a wrong shape", async () => {
    await expect(loadModel(rewrite({ drop: "blk.3.ffn_up.weight" }))).rejects.toThrow(/blk\.3\.ffn_up\.weight is missing/);
    const bytes = rewrite({ metadata: [["llama.feed_forward_length", { type: GgufValueType.UINT32, value: 200 }]] });
    await expect(loadModel(bytes)).rejects.toThrow(/blk\.0\.ffn_gate\.weight has shape \[64, 172\].*needs \[64, 200\]/);
  });

  it("uses the token embedding as the output projection when the model ties them", async () => {
    const tied = await loadModelFile(fixturePath("models", "synth-llama-tied-Q8_0.gguf"));
    expect(tied.file.tensor("output.weight")).toBeUndefined();
    const r = await tied.complete("Once upon a time", { temperature: 0, maxTokens: 4, ignoreEos: true });
    expect(r.tokens).toHaveLength(4);
    tied.dispose();
  });

  it("refuses a model that cannot fit 4 GiB before allocating, with the figures", async () => {
    // One layer of dim 1024 with 16 KV heads: a 2^20-position f16 KV cache alone takes 4 GiB.
    const f = parseGguf(storiesBytes());
    const metadata = new Map(f.metadata);
    const u32 = (value: number): GgufValue => ({ type: GgufValueType.UINT32, value });
    metadata.set("llama.embedding_length", u32(1024));
    metadata.set("llama.block_count", u32(1));
    metadata.set("llama.attention.head_count", u32(16));
    metadata.set("llama.attention.head_count_kv", u32(16));
    metadata.set("llama.feed_forward_length", u32(256));
    metadata.set("llama.rope.dimension_count", u32(64));
    metadata.set("llama.context_length", u32(1 << 20));
    const t = (name: string, dims: number[]) => {
      const type = dims.length === 1 ? GgmlType.F32 : GgmlType.Q4_0;
      const n = dims.reduce((a, b) => a * b, 1);
      return { name, type, dims, data: new Uint8Array(type === GgmlType.F32 ? n * 4 : (n / 32) * 18) };
    };
    const tensors = [
      t("token_embd.weight", [1024, 512]), t("output_norm.weight", [1024]), t("output.weight", [1024, 512]),
      t("blk.0.attn_norm.weight", [1024]), t("blk.0.attn_q.weight", [1024, 1024]), t("blk.0.attn_k.weight", [1024, 1024]),
      t("blk.0.attn_v.weight", [1024, 1024]), t("blk.0.attn_output.weight", [1024, 1024]), t("blk.0.ffn_norm.weight", [1024]),
      t("blk.0.ffn_gate.weight", [1024, 256]), t("blk.0.ffn_up.weight", [1024, 256]), t("blk.0.ffn_down.weight", [256, 1024]),
    ];
    const bytes = writeGguf({ metadata, tensors });
    const err = await loadModel(bytes, { contextLength: 1 << 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WasmError);
    expect((err as WasmError).kind).toBe("out_of_memory");
    expect((err as WasmError).message).toMatch(/1048576-position KV cache.*more than the 4 GiB/);
    // the same file with a modest context loads
    const m = await loadModel(bytes, { contextLength: 256 });
    expect(m.contextLength).toBe(256);
    m.dispose();
  });

  it("rejects a truncated file with a GgufError and invalid options with a ParameterError", async () => {
    const bytes = storiesBytes();
    await expect(loadModel(bytes.subarray(0, 1000))).rejects.toThrow(GgufError);
    await expect(loadModel(bytes.subarray(0, bytes.length - 100))).rejects.toThrow(GgufError);
    await expect(loadModel(bytes, { contextLength: 0 })).rejects.toThrow(ParameterError);
    await expect(loadModel(bytes, { batchSize: 1.5 })).rejects.toThrow(/batchSize must be an integer in \[1, 4096\]; got 1\.5/);
  });

  it("stops loading when aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(loadModel(storiesBytes(), { signal: ac.signal })).rejects.toThrow();
  });
});

describe("RoPE scaling", () => {
  // synth-llama-F32 re-written two ways that must rotate identically: linear scaling by 2
  // (freq_scale 1/2) and Llama-3-style frequency factors of 2 (rope_freqs.weight, θ_i / 2).
  const synth = (edit: Parameters<typeof rewriteFixture>[1]) => rewriteFixture("synth-llama-F32.gguf", edit);
  it("linear scaling and frequency factors of the same size give the same logits, unlike no scaling", async () => {
    const linear = synth((m) => {
      m.set("llama.rope.scaling.type", { type: GgufValueType.STRING, value: "linear" });
      m.set("llama.rope.scaling.factor", { type: GgufValueType.FLOAT32, value: 2 });
    });
    const factors = synth((_m, t) => {
      t.push({ name: "rope_freqs.weight", type: GgmlType.F32, dims: [16], data: new Uint8Array(new Float32Array(16).fill(2).buffer) });
    });
    const plain = synth(() => undefined);
    const ids = [1, 400, 401, 402, 403, 404, 405];
    const [a, b, c] = await Promise.all([linear, factors, plain].map(async (bytes) => {
      const m = await loadModel(bytes);
      const l = await m.logits(ids);
      m.dispose();
      return l[ids.length - 1];
    }));
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });
  it("refuses a scaling type it does not implement, by name", async () => {
    const yarn = synth((m) => {
      m.set("llama.rope.scaling.type", { type: GgufValueType.STRING, value: "yarn" });
    });
    await expect(loadModel(yarn)).rejects.toThrow(/rope\.scaling\.type "yarn" is not supported/);
  });
});

describe("generation", () => {
  it("streams the same text that complete() returns, and reports timings", async () => {
    const m = await loadModel(storiesBytes());
    let streamed = "";
    const g = m.generate("Once upon a time", { temperature: 0, maxTokens: 20 });
    for await (const piece of g) streamed += piece;
    const r = await g.result;
    expect(streamed).toBe(r.text);
    expect(r.tokens).toEqual(ref.greedy.slice(0, r.tokens.length));
    expect(r.promptTokens).toBe(ref.prompt.length);
    expect(r.finishReason).toBe("length");
    expect(r.tokens).toHaveLength(20);
    expect(r.timings.decodeTokens).toBe(19);
    expect(r.timings.prefillTokensPerSecond).toBeGreaterThan(0);
    m.dispose();
  });

  it("reuses the KV cache for a prompt that extends the previous one", async () => {
    const m = await loadModel(storiesBytes());
    const first = await m.complete(ref.prompt, { temperature: 0, maxTokens: 4, ignoreEos: true });
    const second = await m.complete([...ref.prompt, ...first.tokens], { temperature: 0, maxTokens: 4, ignoreEos: true });
    expect(second.cachedTokens).toBe(ref.prompt.length + first.tokens.length - 1);
    expect([...first.tokens, ...second.tokens]).toEqual(ref.greedy.slice(0, 8));
    // A different prompt afterwards is computed from where it diverges, and still right.
    const again = await m.complete(ref.prompt, { temperature: 0, maxTokens: 8, ignoreEos: true });
    expect(again.tokens).toEqual(ref.greedy.slice(0, 8));
    m.dispose();
  });

  it("ends on a stop string without returning it", async () => {
    const m = await loadModel(storiesBytes());
    const full = await m.complete(ref.prompt, { temperature: 0, maxTokens: 32, ignoreEos: true });
    const cut = full.text.indexOf(" ", 5);
    const stop = full.text.slice(cut, cut + 3);
    const r = await m.complete(ref.prompt, { temperature: 0, maxTokens: 32, stop: [stop] });
    expect(r.finishReason).toBe("stop");
    expect(r.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
    m.dispose();
  });

  it("ends with context_full when the context has no room, and stays usable", async () => {
    const m = await loadModel(storiesBytes(), { contextLength: ref.prompt.length + 3 });
    const r = await m.complete(ref.prompt, { temperature: 0, ignoreEos: true });
    expect(r.finishReason).toBe("context_full");
    expect(r.tokens).toEqual(ref.greedy.slice(0, 4));
    const again = await m.complete(ref.prompt, { temperature: 0, maxTokens: 2, ignoreEos: true });
    expect(again.tokens).toEqual(ref.greedy.slice(0, 2));
    await expect(m.complete(new Array(ref.prompt.length + 3).fill(5))).rejects.toThrow(ModelError);
    m.dispose();
  });

  it("stops when aborted and leaves the model ready for the next call", async () => {
    const m = await loadModel(storiesBytes());
    const ac = new AbortController();
    const g = m.generate(ref.prompt, { temperature: 0, maxTokens: 30, ignoreEos: true, signal: ac.signal });
    let pieces = 0;
    for await (const _ of g) if (++pieces === 3) ac.abort();
    const r = await g.result;
    expect(r.finishReason).toBe("aborted");
    expect(r.tokens.length).toBeLessThan(30);
    const next = await m.complete(ref.prompt, { temperature: 0, maxTokens: 6, ignoreEos: true });
    expect(next.tokens).toEqual(ref.greedy.slice(0, 6));
    m.dispose();
  });

  it("serializes concurrent calls", async () => {
    const m = await loadModel(storiesBytes());
    const [a, b] = await Promise.all([
      m.complete(ref.prompt, { temperature: 0, maxTokens: 6, ignoreEos: true }),
      m.complete(ref.prompt, { temperature: 0, maxTokens: 6, ignoreEos: true }),
    ]);
    expect(a.tokens).toEqual(ref.greedy.slice(0, 6));
    expect(b.tokens).toEqual(a.tokens);
    m.dispose();
  });

  it("gives the same text for the same seed", async () => {
    const m = await loadModel(storiesBytes());
    const opts = { temperature: 1, topK: 0, topP: 1, minP: 0, seed: 1234, maxTokens: 24, ignoreEos: true };
    const a = await m.complete("Once upon a time", opts);
    const b = await m.complete("Once upon a time", opts);
    const c = await m.complete("Once upon a time", { ...opts, seed: 99 });
    expect(b.text).toBe(a.text);
    expect(c.text).not.toBe(a.text);
    m.dispose();
  });

  it("refuses bad parameters, bad tokens and calls after dispose, by name", async () => {
    const m = await loadModel(storiesBytes());
    await expect(m.complete("x", { maxTokens: 0 })).rejects.toThrow(/maxTokens must be an integer ≥ 1; got 0/);
    await expect(m.complete("x", { topP: 2 })).rejects.toThrow(ParameterError);
    await expect(m.complete([1, 99999])).rejects.toThrow(/token 1 is 99999, not an id in \[0, 512\)/);
    await expect(m.logits([1, -1])).rejects.toThrow(ModelError);
    await expect(m.complete([])).rejects.toThrow(/prompt is empty/);
    m.dispose();
    await expect(m.complete("x")).rejects.toThrow(/disposed/);
  });

  it("tokenizes and detokenizes with the model's own vocabulary", async () => {
    const m = await loadModel(storiesBytes());
    expect(m.tokenize("Once upon a time")).toEqual(ref.prompt);
    expect(m.detokenize(ref.prompt.slice(1))).toBe("Once upon a time");
    expect(GgmlType.Q8_0).toBe(m.file.tensor("blk.0.attn_q.weight")?.type);
    m.dispose();
  });
});
