// A fixed-seed slice of the GGUF fuzzer (`npm run fuzz` runs 100k cases with a time and memory cap per
// case): mutated real files through the reader and the loader. Every case must end in success or a typed
// error; the kinds seen are asserted so the slice provably reaches deep into both.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { fixturePath } from "./helpers/fixtures.js";
import { fuzzCase, loadOracle, parseOracle } from "./helpers/fuzz.js";

const seeds = [
  readFileSync(fixturePath("models", "stories260K-Q8_0.gguf")),
  readFileSync(fixturePath("models", "stories260K-Q4_0.gguf")),
  readFileSync(fixturePath("archs/models", "synth-lfm2-Q8_0.gguf")),
].map((b) => new Uint8Array(b));

describe("fuzzing, fixed seed", () => {
  it("600 mutated files through the reader: success or a GgufError, never anything else", () => {
    const kinds = new Map<string, number>();
    for (let i = 0; i < 600; i++) {
      const k = parseOracle(fuzzCase(1, i, seeds));
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    }
    // The slice reaches both outcomes and several distinct refusals.
    expect(kinds.get("ok") ?? 0).toBeGreaterThan(50);
    expect([...kinds.keys()].filter((k) => k !== "ok").length).toBeGreaterThanOrEqual(5);
  });

  it("60 mutated files through the loader: a model that runs, or a typed error", async () => {
    const kinds = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const k = await loadOracle(fuzzCase(2, i, seeds));
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    }
    expect(kinds.get("ok") ?? 0).toBeGreaterThan(0);
    expect([...kinds.keys()].filter((k) => k !== "ok").length).toBeGreaterThanOrEqual(3);
  });
});

describe("findings of the long run, kept as tests", () => {
  it("seed 1 case 53325: a block_count of 4194306 (one flipped bit) is refused by name, not a stack overflow", async () => {
    const { loadModel, LoadError, GgufValueType } = await import("../src/index.js");
    const { rewriteFixture } = await import("./helpers/fixtures.js");
    const bytes = rewriteFixture("stories260K-Q8_0.gguf", (m) => void m.set("llama.block_count", { type: GgufValueType.UINT32, value: 4194306 }));
    const err = await loadModel(bytes, { threads: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoadError);
    expect((err as Error).message).toMatch(/llama\.block_count is 4194306; Woolly reads at most 1024 layers/);
  });
});
