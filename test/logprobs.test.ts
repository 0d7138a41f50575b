// logprobs: each generated token's log-probability and the top alternatives are log-softmax of the
// logits the sampler saw, checked against model.logits() of the same sequence.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ParameterError, type Model } from "../src/index.js";
import { loadModelFile } from "../src/node.js";
import { fixturePath } from "./helpers/fixtures.js";

let model: Model;
beforeAll(async () => {
  model = await loadModelFile(fixturePath("models", "stories260K-Q8_0.gguf"), { contextLength: 256, threads: 1 });
});
afterAll(() => model.dispose());

/** log-softmax in f64 of one row of logits. */
function logSoftmax(x: Float32Array): number[] {
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  let sum = 0;
  for (const v of x) sum += Math.exp(v - max);
  const z = max + Math.log(sum);
  return Array.from(x, (v) => v - z);
}

describe("logprobs", () => {
  it("greedy: the chosen token's logprob and the top 5 equal log-softmax of model.logits() at each step", async () => {
    const prompt = model.tokenize("Once upon a time");
    const r = await model.complete(prompt, { temperature: 0, maxTokens: 6, logprobs: 5 });
    expect(r.logprobs).toHaveLength(r.tokens.length);
    const all = await model.logits([...prompt, ...r.tokens]);
    r.tokens.forEach((token, i) => {
      const want = logSoftmax(all[prompt.length - 1 + i]);
      const got = r.logprobs![i];
      expect(got.token).toBe(token);
      // f32 logits, f64 arithmetic on both sides: the only difference is summation order (≤ 1e-12 here).
      expect(got.logprob).toBeCloseTo(want[token], 9);
      const order = want.map((lp, id) => [lp, id] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 5);
      expect(got.top.map((t) => t.token)).toEqual(order.map(([, id]) => id));
      got.top.forEach((t, j) => expect(t.logprob).toBeCloseTo(order[j][0], 9));
      // greedy picks the most likely token
      expect(got.top[0].token).toBe(token);
    });
  });

  it("sampled with penalties: values are after the penalties, before truncation (top-k does not remove alternatives)", async () => {
    const r = await model.complete("The little dog", { temperature: 0.9, seed: 5, topK: 2, repeatPenalty: 1.3, maxTokens: 5, logprobs: 8 });
    for (const lp of r.logprobs!) {
      expect(lp.top).toHaveLength(8); // more alternatives than top-k keeps
      const total = lp.top.reduce((s, t) => s + Math.exp(t.logprob), 0);
      expect(total).toBeLessThanOrEqual(1 + 1e-9);
      expect(lp.logprob).toBeLessThanOrEqual(0);
      for (let j = 1; j < lp.top.length; j++) expect(lp.top[j].logprob).toBeLessThanOrEqual(lp.top[j - 1].logprob);
    }
  });

  it("logprobs: 0 reports the chosen token only; out of range is a ParameterError", async () => {
    const r = await model.complete("Once", { temperature: 0, maxTokens: 2, logprobs: 0 });
    expect(r.logprobs!.map((l) => l.top.length)).toEqual([0, 0]);
    const none = await model.complete("Once", { temperature: 0, maxTokens: 2 });
    expect(none.logprobs).toBeUndefined();
    await expect(model.complete("Once", { logprobs: 21 })).rejects.toBeInstanceOf(ParameterError);
  });
});
