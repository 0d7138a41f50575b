// A decoder as an embedder (synth-qwen3-Q8_0): embed() pools the final-normed hidden states, the vector
// llama.cpp's output projection reads (its t_embd). There is no llama.cpp embedding fixture for a decoder,
// so the reference is Woolly's own: the output projection applied to the last-token vector in f64, with
// the file's dequantized Q8_0 weights, must give llama.cpp's logits for that position (the p1 fixture) to
// within the 8-bit activation noise llama.cpp's own Q8_0 matmul adds; and the vector must be the one
// model.logits() projects (same bits through the same path).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGguf } from "../src/index.js";
import { loadModelFile } from "../src/node.js";
import { poolRows } from "../src/model/embed.js";
import type { Model } from "../src/model/model.js";
import { fixturePath, FIXTURES } from "./helpers/fixtures.js";

const FILE = fixturePath("archs/models", "synth-qwen3-Q8_0.gguf");
const ref = JSON.parse(readFileSync(`${FIXTURES}/archs/reference/synth-qwen3-Q8_0.p1.json`, "utf8")) as { prompt: number[]; logits: number[][]; greedy: number[] };

/** output.weight dequantized from its Q8_0 blocks (34 bytes: f16 scale, 32 int8). */
function outputWeights(): { w: Float64Array; rows: number; cols: number } {
  const bytes = new Uint8Array(readFileSync(FILE));
  const g = parseGguf(bytes);
  const t = g.tensor("output.weight");
  if (!t) throw new Error("no output.weight");
  const [cols, rows] = t.dims;
  const data = bytes.subarray(g.tensorStart(t), g.tensorStart(t) + t.size);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const w = new Float64Array(rows * cols);
  const half = (h: number) => {
    const e = (h >> 10) & 31, m = h & 1023, s = h >> 15 ? -1 : 1;
    return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
  };
  for (let b = 0; b < (rows * cols) / 32; b++) {
    const d = half(view.getUint16(b * 34, true));
    for (let i = 0; i < 32; i++) w[b * 32 + i] = d * view.getInt8(b * 34 + 2 + i);
  }
  return { w, rows, cols };
}

let model: Model;
beforeAll(async () => {
  model = await loadModelFile(FILE, { threads: 1, contextLength: 64, batchSize: 2 });
});
afterAll(() => model.dispose());

describe("decoder embeddings (qwen3)", () => {
  it("pools the last token by default; its vector projects to llama.cpp's logits", async () => {
    expect(model.config.pooling).toBe("none");
    const [h] = await model.embed(ref.prompt, { normalize: false });
    expect(h).toHaveLength(256);
    const { w, rows, cols } = outputWeights();
    const want = ref.logits[ref.prompt.length - 1];
    let err = 0, mean = 0, varSum = 0;
    for (const x of want) mean += x / rows;
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += w[r * cols + c] * h[c];
      err += (s - want[r]) ** 2;
      varSum += (want[r] - mean) ** 2;
    }
    // Relative RMS: 8-bit activations in llama.cpp's matmul (absent from the f64 product) measured 5.7e-3; a wrong
    // vector lands far off (the first position's vector: 1.07).
    expect(Math.sqrt(err / varSum)).toBeLessThan(1.5e-2);
  });

  it("runs past one batch (batchSize 2 here) and cls/last/mean pool the same hidden states", async () => {
    const rows = await model.tokenEmbeddings(ref.prompt);
    const h = new Float32Array(rows.length * 256);
    rows.forEach((r, t) => h.set(r, t * 256));
    const [last] = await model.embed(ref.prompt, { normalize: false });
    const [first] = await model.embed(ref.prompt, { normalize: false, pooling: "cls" });
    const [mean] = await model.embed(ref.prompt, { normalize: false, pooling: "mean" });
    expect(Array.from(last)).toEqual(Array.from(rows[rows.length - 1]));
    expect(Array.from(first)).toEqual(Array.from(rows[0]));
    expect(Array.from(mean)).toEqual(Array.from(poolRows(h, rows.length, 256, "mean")));
    // Causal: the first token's vector does not depend on what follows it.
    const [alone] = await model.embed([ref.prompt[0]], { normalize: false });
    expect(Array.from(alone)).toEqual(Array.from(first));
  });

  it("generation after embed() starts from a clean cache: llama.cpp's greedy tokens", async () => {
    await model.embed("something else entirely");
    const r = await model.complete(ref.prompt, { maxTokens: 4, temperature: 0 });
    expect(r.tokens).toEqual(ref.greedy.slice(0, 4));
  });
});
