// A model split over several WebAssembly memories (shards) computes exactly what it computes in one:
// with the per-memory budget forced low (InternalLoadOptions.maxMemoryBytes), small fixture models
// split between layers give bit-identical logits and the same greedy text on 1 and 2 threads, and a
// session saved from one layout restores into another. What no memory can hold is refused by name.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { loadModelFile } from "../src/node.js";
import { WasmError } from "../src/errors.js";
import { parseGguf, type GgufFile } from "../src/gguf/index.js";
import { configFromGguf } from "../src/model/config.js";
import { Transformer } from "../src/model/forward.js";
import { planModelMemories, type InternalLoadOptions } from "../src/model/load.js";
import type { Model } from "../src/model/model.js";
import { planShards, type ShardRequest } from "../src/model/shards.js";
import { fixturePath } from "./helpers/fixtures.js";
import { budgetFor as budgetOver } from "./helpers/memories.js";

const CTX = 64;
const BATCH = 4;
const PROMPTS = ["Once upon a time", "The little dog ran to the park and", "Lily and Tom wanted to build a big tower. They"];
const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function header(path: string): GgufFile {
  return parseGguf(new Uint8Array(readFileSync(path)));
}

/** budgetFor (helpers/memories.ts) at this file's context and batch. */
function budgetFor(file: GgufFile, memories: number, threads = 1): number {
  return budgetOver(file, memories, { ctx: CTX, batch: BATCH, threads });
}

const MODELS: [string, string, number][] = [
  ["llama Q4_K_M mix", fixturePath("models", "synth-llama-mix-Q4_K_M.gguf"), 3],
  ["gemma3 Q8_0 (window layers)", fixturePath("archs/models", "synth-gemma3-Q8_0.gguf"), 3],
  ["lfm2 Q8_0 (conv layers, tied output)", fixturePath("archs/models", "synth-lfm2-Q8_0.gguf"), 2],
];

describe.each(MODELS)("%s split over memories", (_, path, memories) => {
  const opened: Model[] = [];
  let whole: Model;
  let split1: Model;
  let split2: Model;
  let budget: number;
  let budget2: number;
  const open = async (options: InternalLoadOptions) => {
    const m = await loadModelFile(path, { contextLength: CTX, batchSize: BATCH, ...options });
    opened.push(m);
    return m;
  };

  beforeAll(async () => {
    budget = budgetFor(header(path), memories);
    budget2 = budgetFor(header(path), memories, 2);
    whole = await open({ threads: 1 });
    split1 = await open({ threads: 1, maxMemoryBytes: budget });
    split2 = await open({ threads: 2, minParallelBytes: 0, maxMemoryBytes: budget2 });
  });
  afterAll(() => opened.forEach((m) => m.dispose()));

  it(`uses ${memories} memories (one without a budget), cut between layers, and the threads asked for`, () => {
    const plan = planModelMemories(header(path), budget, CTX, BATCH);
    expect(new Set(plan.layerShard).size, `layers in memories ${plan.layerShard.join(", ")}`).toBeGreaterThan(1);
    expect(whole.memories).toBe(1);
    expect(split1.memories).toBe(memories);
    expect(split2.memories).toBe(memories);
    expect(split2.threads).toBe(2);
    expect(split2.threadFallback).toBeNull();
  });

  it("gives bit-identical logits at every position, on 1 and 2 threads", async () => {
    for (const prompt of PROMPTS) {
      const ids = whole.tokenize(prompt);
      const want = await whole.logits(ids);
      for (const [label, m] of [["1 thread", split1], ["2 threads", split2]] as const) {
        const got = await m.logits(ids);
        expect(got.length).toBe(want.length);
        for (let t = 0; t < want.length; t++) expect(bytesOf(got[t]), `${label}, "${prompt}", token ${t}`).toEqual(bytesOf(want[t]));
      }
    }
  });

  it("gives the same final hidden states (a decoder's embeddings), from the output's memory", async () => {
    const want = await whole.tokenEmbeddings(PROMPTS[1]);
    for (const m of [split1, split2]) {
      const got = await m.tokenEmbeddings(PROMPTS[1]);
      expect(got.length).toBe(want.length);
      for (let t = 0; t < want.length; t++) expect(bytesOf(got[t])).toEqual(bytesOf(want[t]));
    }
  });

  it("generates the same greedy text, past the 8-token windows", async () => {
    const opts = { maxTokens: 24, temperature: 0, ignoreEos: true } as const;
    const want = await whole.complete(PROMPTS[2], opts);
    for (const m of [split1, split2]) {
      const got = await m.complete(PROMPTS[2], opts);
      expect(got.tokens).toEqual(want.tokens);
    }
  });

  it("restores a session across layouts: saved split, resumed whole, and the reverse", async () => {
    const first = await split2.complete(PROMPTS[0], { temperature: 0, maxTokens: 20, ignoreEos: true });
    const turn2 = [...split2.tokenize(PROMPTS[0]), ...first.tokens, ...split2.tokenize(" The end", { addSpecial: false })];
    const saved = await split2.saveSession();
    const straight = await split2.complete(turn2, { temperature: 0, maxTokens: 10, ignoreEos: true });
    expect(straight.cachedTokens).toBeGreaterThan(0);

    await whole.loadSession(saved);
    const resumed = await whole.complete(turn2, { temperature: 0, maxTokens: 10, ignoreEos: true });
    expect(resumed.cachedTokens).toBe(straight.cachedTokens);
    expect(resumed.tokens).toEqual(straight.tokens);

    await whole.loadSession(saved);
    const back = await whole.saveSession();
    await split1.loadSession(back);
    const again = await split1.complete(turn2, { temperature: 0, maxTokens: 10, ignoreEos: true });
    expect(again.tokens).toEqual(straight.tokens);
  });
});

describe("what no memory can hold", () => {
  it("refuses a tensor larger than one memory's budget, naming it, before allocating", async () => {
    const path = fixturePath("models", "synth-llama-Q8_0.gguf");
    const file = header(path);
    const config = configFromGguf(file);
    const largest = Math.max(...file.tensors.map((t) => t.size));
    const names = file.tensors.filter((t) => t.size === largest).map((t) => t.name.replace(/\./g, "\\."));
    const budget = Transformer.stageBytes(config, CTX, BATCH) + largest - 1;
    const err = await loadModelFile(path, { contextLength: CTX, batchSize: BATCH, threads: 1, maxMemoryBytes: budget } as InternalLoadOptions).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WasmError);
    expect((err as WasmError).kind).toBe("out_of_memory");
    expect((err as WasmError).message).toMatch(new RegExp(`^tensor (${names.join("|")}) needs .* more than the per-memory budget \\(maxMemoryBytes\\)`));
  });

  it("refuses to split an encoder, saying so", async () => {
    const err = await loadModelFile(fixturePath("archs/models", "synth-bert-Q8_0.gguf"), { threads: 1, maxMemoryBytes: 1 << 20 } as InternalLoadOptions).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WasmError);
    expect((err as WasmError).message).toMatch(/bert encoder needs .* an encoder is not split across memories/);
  });

  it("refuses a maxMemoryBytes outside [64 KiB, 4 GiB)", async () => {
    const path = fixturePath("models", "synth-llama-Q8_0.gguf");
    const err = await loadModelFile(path, { maxMemoryBytes: 1000 } as InternalLoadOptions).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/maxMemoryBytes must be an integer/);
  });
});

describe("planShards", () => {
  const MiB = 1 << 20;
  const t = (name: string, mib: number) => ({ name, bytes: mib * MiB });
  const request = (budgetMiB: number, tied = false, embeddingMiB = 10): ShardRequest => ({
    budget: budgetMiB * MiB,
    limitText: "the test budget",
    stageBytes: 1 * MiB,
    logitsBytes: 1 * MiB,
    head: [t("token_embd.weight", embeddingMiB)],
    layers: [0, 1, 2, 3].map((l) => ({ tensors: [t(`blk.${l}.ffn_up.weight`, 6)], kvBytes: 2 * MiB })),
    tail: tied ? [t("output_norm.weight", 0)] : [t("output_norm.weight", 0), t("output.weight", 10)],
    tiedOutput: tied,
    nCtx: 128,
  });

  it("keeps a model that fits in one memory", () => {
    const p = planShards(request(100));
    expect(p.bytes.length).toBe(1);
    expect(p.layerShard).toEqual([0, 0, 0, 0]);
    expect(p.outputShard).toBe(0);
  });

  it("fills memories greedily in layer order, the output after the last layer", () => {
    // 1 MiB buffers + 10 embedding + 8 per layer: [emb, L0, L1] = 27, [L2, L3] = 17 + 11 output = 28
    const p = planShards(request(28));
    expect(p.layerShard).toEqual([0, 0, 1, 1]);
    expect(p.outputShard).toBe(1);
    expect(p.tensorShard.get("output.weight")).toBe(1);
    expect(p.bytes).toEqual([27 * MiB, 28 * MiB]);
    // one MiB less: the output needs a memory of its own
    expect(planShards(request(27)).outputShard).toBe(2);
  });

  it("keeps a tied output with the embedding, in memory 0", () => {
    const p = planShards(request(28, true));
    expect(p.outputShard).toBe(0);
    expect(p.tensorShard.get("output_norm.weight")).toBe(0);
    expect(p.bytes[0]).toBe(28 * MiB);
  });

  it("refuses a layer larger than one memory, with its figures", () => {
    expect(() => planShards(request(8.5, true, 2))).toThrow(/^layer 0 needs 9\.0 MiB \(6\.0 MiB of weights and 2\.0 MiB for its 128-position KV cache/);
    expect(() => planShards(request(8))).toThrow(/^tensor token_embd\.weight needs 11\.0 MiB/);
  });
});

describe("dispose", () => {
  it("releases every memory and worker of a split model", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const path = MODELS[0][1];
    const budget = budgetFor(header(path), 3, 2);
    // In a function of its own: a local of this (suspended) async function would keep the model alive.
    const cycle = async (): Promise<WeakRef<Model>> => {
      const m = await loadModelFile(path, { contextLength: CTX, batchSize: BATCH, threads: 2, maxMemoryBytes: budget } as InternalLoadOptions);
      expect(m.memories).toBe(3);
      await m.complete([1, 2, 3], { maxTokens: 2, temperature: 0 });
      m.dispose();
      return new WeakRef(m);
    };
    const ref = await cycle();
    // Not deref() in the loop: a WeakRef read keeps its target alive until the current job ends.
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(ref.deref()).toBeUndefined();
  });
});
