// The wave-2 architectures beyond logits parity (test/parity.test.ts): what each file's config says per
// layer, what a broken variant is refused with, and that the sequence state (sliding-window caches,
// lfm2's convolution state) is reused across calls only where it is exact.
import { describe, expect, it } from "vitest";
import { GgufValueType, LoadError, loadModel, type GgufValue } from "../src/index.js";
import { loadModelFile } from "../src/node.js";
import { KvCache } from "../src/model/kv-cache.js";
import { createEngine } from "../src/wasm/engine.js";
import type { ModelConfig } from "../src/model/config.js";
import type { AttentionArgs } from "../src/model/exec.js";
import { PassThrough } from "node:stream";
import { main } from "../src/cli/main.js";
import { chatCommand } from "../src/cli/chat.js";
import { fixturePath, rewriteFixture } from "./helpers/fixtures.js";

const archModel = (arch: string, quant = "Q8_0") => fixturePath("archs/models", `synth-${arch}-${quant}.gguf`);

/** A wave-2 fixture re-written with metadata set (undefined deletes) and tensors dropped. */
function variant(arch: string, edit: { metadata?: [string, GgufValue | undefined][]; drop?: string }): Uint8Array {
  return rewriteFixture(
    `synth-${arch}-Q8_0.gguf`,
    (metadata, tensors) => {
      for (const [k, v] of edit.metadata ?? []) {
        if (v === undefined) metadata.delete(k);
        else metadata.set(k, v);
      }
      return tensors.filter((t) => t.name !== edit.drop);
    },
    "archs/models",
  );
}

describe("per-layer configuration read from each file", () => {
  it.each([
    // [arch, layer kinds, windows, rope variant per layer (-1: none), neox]
    ["qwen3", ["attention", "attention"], [0, 0], [0, 0], true],
    ["gemma2", ["attention", "attention"], [8, 0], [0, 0], true],
    ["gemma3", ["attention", "attention", "attention"], [8, 8, 0], [1, 1, 0], true],
    ["phi3", ["attention", "attention"], [0, 0], [0, 0], true],
    ["smollm3", ["attention", "attention", "attention", "attention"], [0, 0, 0, 0], [0, 0, 0, -1], false],
    ["olmo2", ["attention", "attention"], [0, 0], [0, 0], true],
    ["lfm2", ["shortconv", "attention", "shortconv", "attention"], [0, 0, 0, 0], [0, 0, 0, 0], true],
  ] as const)("%s", async (arch, kinds, windows, ropes, neox) => {
    const m = await loadModelFile(archModel(arch), { contextLength: 64, threads: 1 });
    try {
      const c = m.config;
      expect(c.arch).toBe(arch);
      expect(c.layers.map((l) => l.kind)).toEqual(kinds);
      expect(c.layers.map((l) => l.window)).toEqual(windows);
      expect(c.layers.map((l) => l.rope)).toEqual(ropes);
      expect(c.ropeNeox).toBe(neox);
    } finally {
      m.dispose();
    }
  });

  it("reads each architecture's own constants", async () => {
    const read = async (arch: string) => {
      const m = await loadModelFile(archModel(arch), { contextLength: 64, threads: 1 });
      m.dispose();
      return m.config;
    };
    const g2 = await read("gemma2");
    expect([g2.attnSoftcap, g2.finalSoftcap, g2.embeddingScale, g2.activation, g2.postNorms]).toEqual([50, 30, 16, "gelu", true]);
    expect(g2.queryScale).toBe(Math.fround(1 / 8));
    const g3 = await read("gemma3");
    expect(g3.ropes.map((r) => [r.base, r.freqScale])).toEqual([[1e6, 0.125], [1e4, 1]]);
    expect([g3.qkNorm, g3.attnSoftcap, g3.finalSoftcap]).toEqual(["head", 0, 0]);
    const q3 = await read("qwen3");
    expect([q3.headDim, q3.qDim, q3.dim]).toEqual([64, 512, 256]);
    const o2 = await read("olmo2");
    expect([o2.preNorms, o2.postNorms, o2.qkNorm]).toEqual([false, true, "full"]);
    const p3 = await read("phi3");
    expect([p3.ropeFactors, p3.nCtxOrig, p3.ropes[0].attnFactor]).toEqual(["longrope", 512, Math.fround(1.201850414276123)]);
    const lf = await read("lfm2");
    expect([lf.shortConvKernel, lf.outputNorm, lf.layers.map((l) => l.nKvHeads)]).toEqual([3, "token_embd_norm", [0, 2, 0, 2]]);
  });
});

describe("variants a model file can get wrong are refused by name", () => {
  const u32 = (value: number): GgufValue => ({ type: GgufValueType.UINT32, value });
  it.each([
    ["qwen3", { drop: "blk.1.attn_k_norm.weight" }, /tensor blk\.1\.attn_k_norm\.weight is missing from this qwen3 model/],
    ["phi3", { drop: "blk.0.attn_qkv.weight" }, /tensor blk\.0\.attn_q\.weight is missing from this phi3 model/],
    ["gemma2", { drop: "blk.0.post_ffw_norm.weight" }, /tensor blk\.0\.post_ffw_norm\.weight is missing/],
    ["lfm2", { drop: "blk.2.shortconv.conv.weight" }, /tensor blk\.2\.shortconv\.conv\.weight is missing/],
    ["lfm2", { metadata: [["lfm2.shortconv.l_cache", u32(1)]] }, /lfm2\.shortconv\.l_cache is 1/],
    ["lfm2", { metadata: [["lfm2.attention.head_count_kv", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT32, items: new Int32Array([0, 2]) } }]] }, /lfm2\.attention\.head_count_kv has 2 entries; the model has 4 layers/],
    ["gemma3", { metadata: [["gemma3.attention.sliding_window_pattern", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.BOOL, items: new Uint8Array([1, 0]) } }]] }, /gemma3\.attention\.sliding_window_pattern has 2 entries; the model has 3 layers/],
    ["qwen3", { metadata: [["qwen3.attention.value_length", u32(32)]] }, /qwen3\.attention\.value_length 32 differs from qwen3\.attention\.key_length 64/],
    ["qwen3", { metadata: [["qwen3.attention.head_count_kv", u32(3)]] }, /head_count 8 is not a multiple of qwen3\.attention\.head_count_kv 3/],
  ] as const)("%s %o", async (arch, edit, message) => {
    const err = await loadModel(variant(arch, edit as Parameters<typeof variant>[1]), { threads: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoadError);
    expect((err as Error).message).toMatch(message);
  });

  it("the memory check counts a window layer's cache at the window's size, not the context's", async () => {
    const full = KvCache.capacity(0, 4096, 64);
    const window = KvCache.capacity(8, 4096, 64);
    expect([full, window]).toEqual([4096, 8 - 1 + 64]);
    expect(KvCache.capacity(512, 4096, 64)).toBe(511 + 256);
    expect(KvCache.capacity(512, 300, 64)).toBe(300);
  });
});

describe("the KV cache of a sliding window", () => {
  it("keeps exactly the rows each position sees while positions pass the capacity", () => {
    const engine = createEngine({ simd: "simd" });
    const headDim = 8;
    const config = {
      nHeads: 1, dim: 8, shortConvKernel: 0, nLayers: 2,
      layers: [
        { kind: "attention", nKvHeads: 1, kvDim: headDim, rope: 0, window: 5 },
        { kind: "attention", nKvHeads: 1, kvDim: headDim, rope: 0, window: 0 },
      ],
    } as unknown as ModelConfig;
    const batch = 3;
    const cache = new KvCache(engine, config, 64, batch);
    // window 5, batch 3: 4 + max(3, min(256, 5)) = 9 rows for layer 0, all 64 for layer 1
    expect(KvCache.capacity(5, 64, batch)).toBe(9);
    const row = engine.alloc(headDim * 4, "row");
    const f32 = () => engine.f32();
    const a = { kCache: 0, vCache: 0, nPos: 0 } as AttentionArgs;
    cache.reset();
    for (let pos0 = 0; pos0 < 40; pos0 += batch) {
      const T = Math.min(batch, 40 - pos0);
      cache.makeRoom(pos0, T);
      for (let t = 0; t < T; t++) {
        // K row of position p holds p + 1 in every element (exact in f16), V row holds -(p + 1).
        f32().fill(pos0 + t + 1, row >> 2, (row >> 2) + headDim);
        const v = engine.alloc(headDim * 4, "v");
        f32().fill(-(pos0 + t + 1), v >> 2, (v >> 2) + headDim);
        cache.store(0, pos0 + t, row, v);
        cache.store(1, pos0 + t, row, v);
      }
      for (let t = 0; t < T; t++) {
        const pos = pos0 + t;
        for (const [layer, first] of [[0, Math.max(0, pos - 4)], [1, 0]] as const) {
          cache.span(layer, pos, a);
          expect(a.nPos).toBe(pos - first + 1);
          const u16 = new Uint16Array(engine.memory.buffer);
          for (let i = 0; i < a.nPos; i++) {
            const kBits = u16[(a.kCache >> 1) + i * headDim];
            const vBits = u16[(a.vCache >> 1) + i * headDim];
            expect(halfToNumber(kBits), `layer ${layer} position ${pos}, row ${i}`).toBe(first + i + 1);
            expect(halfToNumber(vBits)).toBe(-(first + i + 1));
          }
        }
      }
    }
    // After 40 positions the window layer has slid: a call sharing 20 tokens cannot reuse them, 37 can.
    expect(cache.reusable(20, 40)).toBe(0);
    expect(cache.reusable(37, 40)).toBe(37);
    expect(cache.reusable(40, 40)).toBe(40);
  });
});

/** An f16 bit pattern's value (normal numbers; enough for small integers). */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  return sign * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}

describe("sequence state reused across calls only where exact", () => {
  const prompt = [1, 403, 407, 263, 31];
  it.each(["lfm2", "gemma2"])("%s: a continuation equals a fresh computation, with the cache reused or recomputed", async (arch) => {
    const a = await loadModelFile(archModel(arch), { contextLength: 128, threads: 1, batchSize: 4 });
    const b = await loadModelFile(archModel(arch), { contextLength: 128, threads: 1, batchSize: 4 });
    try {
      const first = await a.complete(prompt, { temperature: 0, maxTokens: 40, ignoreEos: true });
      expect(first.tokens).toHaveLength(40);
      // Continue the same sequence: every cached position is reused (the conv state is the last one's).
      const cont = [...prompt, ...first.tokens.slice(0, 39)];
      const next = await a.complete([...cont, first.tokens[39]], { temperature: 0, maxTokens: 8, ignoreEos: true });
      expect(next.cachedTokens).toBe(cont.length);
      const fresh = await b.complete([...cont, first.tokens[39]], { temperature: 0, maxTokens: 8, ignoreEos: true });
      expect(fresh.cachedTokens).toBe(0);
      expect(next.tokens).toEqual(fresh.tokens);
      // A prompt that parts from the cache early: lfm2's conv state and gemma2's slid window (capacity
      // 7 + 8 rows, 53 positions in) hold nothing for position 3, so everything is recomputed.
      const other = [...prompt.slice(0, 3), 500, 501, 502];
      const again = await a.complete(other, { temperature: 0, maxTokens: 8, ignoreEos: true });
      expect(again.cachedTokens).toBe(0);
      const alone = await b.complete(other, { temperature: 0, maxTokens: 8, ignoreEos: true });
      expect(again.tokens).toEqual(alone.tokens);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe("woolly run and woolly chat on every wave-2 architecture", () => {
  it.each(["qwen3", "gemma2", "gemma3", "phi3", "smollm3", "olmo2", "lfm2"])("%s", async (arch) => {
    const path = archModel(arch);
    let out = "";
    let err = "";
    const code = await main(["run", path, "-p", "Once upon a time", "-n", "8", "--temp", "0", "--ctx", "64", "--threads", "1"], {
      out: (t) => (out += t),
      err: (t) => (err += t),
      errIsTTY: false,
    });
    expect(code, err).toBe(0);
    const m = await loadModelFile(path, { contextLength: 64, threads: 1 });
    const expected = await m.complete("Once upon a time", { temperature: 0, maxTokens: 8 });
    m.dispose();
    expect(out).toBe("Once upon a time" + expected.text + "\n");

    const input = new PassThrough();
    const output = new PassThrough();
    output.resume();
    let said = "";
    const done = chatCommand([path, "--temp", "0", "-n", "6", "--ctx", "128", "--threads", "1"], { out: (t) => (said += t), err: () => undefined, errIsTTY: false, input, output });
    input.end("Hello there.\n");
    expect(await done).toBe(0);
    // One reply, ended by a newline (the model's random weights choose the words).
    expect(said.endsWith("\n")).toBe(true);
  });
});
