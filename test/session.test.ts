// Sessions as bytes: a chat continued after saveSession/loadSession (in another model instance of the same
// file) gives the same greedy text as one never interrupted — for a plain llama, a sliding-window gemma2
// and lfm2 with its convolution state — and bad snapshots are refused with a typed error, leaving the
// model usable.
import { afterAll, describe, expect, it } from "vitest";
import { SessionError, type Model } from "../src/index.js";
import { loadModelFile } from "../src/node.js";
import { fixturePath } from "./helpers/fixtures.js";

const opened: Model[] = [];
async function open(path: string, contextLength = 256): Promise<Model> {
  const m = await loadModelFile(path, { contextLength, threads: 1, batchSize: 4 });
  opened.push(m);
  return m;
}
afterAll(() => opened.forEach((m) => m.dispose()));

const MODELS: [string, string][] = [
  ["stories260K (llama)", fixturePath("models", "stories260K-Q8_0.gguf")],
  ["gemma2 (sliding window, slid by then)", fixturePath("archs/models", "synth-gemma2-Q8_0.gguf")],
  ["lfm2 (conv state)", fixturePath("archs/models", "synth-lfm2-Q8_0.gguf")],
];

describe("saveSession / loadSession", () => {
  it.each(MODELS)("%s: a continuation after save and load equals the uninterrupted one", async (_, path) => {
    const a = await open(path);
    const first = await a.complete("Once upon a time", { temperature: 0, maxTokens: 30, ignoreEos: true });
    const turn2 = [...a.tokenize("Once upon a time"), ...first.tokens, ...a.tokenize(" The end", { addSpecial: false })];
    const saved = await a.saveSession();
    const straight = await a.complete(turn2, { temperature: 0, maxTokens: 12, ignoreEos: true });
    expect(straight.cachedTokens).toBeGreaterThan(0);

    const b = await open(path);
    await b.loadSession(saved);
    const resumed = await b.complete(turn2, { temperature: 0, maxTokens: 12, ignoreEos: true });
    expect(resumed.cachedTokens).toBe(straight.cachedTokens);
    expect(resumed.tokens).toEqual(straight.tokens);
  });

  it("refuses other models, truncated, altered and foreign bytes with a typed error, and stays usable", async () => {
    const stories = await open(fixturePath("models", "stories260K-Q8_0.gguf"));
    const gemma = await open(fixturePath("archs/models", "synth-gemma2-Q8_0.gguf"));
    await gemma.complete("Once upon a time", { temperature: 0, maxTokens: 4 });
    const fromGemma = await gemma.saveSession();
    const before = await stories.complete("The little dog", { temperature: 0, maxTokens: 6 });
    const mine = await stories.saveSession();
    const kinds = async (bytes: Uint8Array) => stories.loadSession(bytes).then(() => "loaded", (e: unknown) => (e instanceof SessionError ? e.kind : String(e)));
    expect(await kinds(fromGemma)).toBe("other_model");
    expect(await kinds(mine.slice(0, mine.length - 9))).toBe("corrupt");
    expect(await kinds(mine.slice(0, 20))).toBe("truncated");
    const flipped = mine.slice();
    flipped[40] ^= 0x10;
    expect(await kinds(flipped)).toBe("corrupt");
    expect(await kinds(new TextEncoder().encode("not a session at all"))).toBe("bad_magic");
    const future = mine.slice();
    future[8] = 3; // versions 1 (no KV type word: f16) and 2 are read
    expect(await kinds(future)).toBe("unsupported_version");
    // A smaller context cannot hold the session's positions.
    const small = await open(fixturePath("models", "stories260K-Q8_0.gguf"), 8);
    expect(await small.loadSession(mine).then(() => "loaded", (e: unknown) => (e as SessionError).kind)).toBe("does_not_fit");
    // Still usable, with the state it had: the same continuation as before the refusals.
    const again = await stories.complete("The little dog", { temperature: 0, maxTokens: 6 });
    expect(again.tokens).toEqual(before.tokens);
    expect(again.cachedTokens).toBeGreaterThan(0);
  });
});
