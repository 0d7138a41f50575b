// The Sampler end to end: the chain against a plain reference implementation, seeds, the empirical
// distribution of draws, and option validation.
import { describe, expect, it } from "vitest";
import { type ResolvedSamplingOptions, Sampler, type SamplingOptions, resolveSamplingOptions } from "../src/sampling/index.js";
import { Xoshiro128 } from "../src/sampling/prng.js";
import { ParameterError } from "../src/errors.js";

/**
 * The chain written the obvious way: arrays of objects, a full sort, Math.exp. It mirrors two choices
 * of the real one: float32 rounding of each logit update (llama.cpp's float arithmetic), and the draw
 * walking the list in its current order, which is ranking order once top-k or top-p has cut it and
 * token-id order otherwise.
 */
function reference(logits: Float32Array, history: readonly number[], o: ResolvedSamplingOptions, rng: Xoshiro128): number {
  const f = Math.fround;
  const window = o.repeatLastN > 0 ? history.slice(-o.repeatLastN) : [];
  const counts = new Map<number, number>();
  for (const t of window) counts.set(t, (counts.get(t) ?? 0) + 1);
  let c = Array.from(logits, (l, id) => ({ id, l }));
  for (const x of c) {
    const n = counts.get(x.id) ?? 0;
    if (n === 0) continue;
    const rep = f(o.repeatPenalty);
    const scaled = f(x.l <= 0 ? x.l * rep : x.l / rep);
    x.l = f(scaled - f(f(n * f(o.frequencyPenalty)) + f(o.presencePenalty)));
  }
  const ranked = [...c].sort((a, b) => b.l - a.l || a.id - b.id);
  if (o.temperature === 0) return ranked[0]!.id;
  if (o.topK > 0 && o.topK < c.length) c = ranked.slice(0, o.topK);
  if (o.topP < 1 && c.length > 1) {
    c = [...c].sort((a, b) => b.l - a.l || a.id - b.id);
    const max = c[0]!.l;
    const total = c.reduce((s, x) => s + Math.exp(x.l - max), 0);
    let cum = 0;
    const end = c.findIndex((x) => (cum += Math.exp(x.l - max)) / total >= o.topP);
    if (end >= 0) c = c.slice(0, end + 1);
  }
  if (o.minP > 0) {
    const max = Math.max(...c.map((x) => x.l));
    c = c.filter((x) => Math.exp(x.l - max) >= o.minP);
  }
  const t = f(o.temperature);
  const scaled = c.map((x) => f(x.l / t));
  const max = Math.max(...scaled);
  const weights = scaled.map((l) => Math.exp(l - max));
  const target = rng.nextFloat() * weights.reduce((s, w) => s + w, 0);
  let cum = 0;
  return c[weights.findIndex((w) => (cum += w) > target)]!.id;
}

function randomLogits(r: Xoshiro128, n: number, scale: number): Float32Array {
  // Sum of three uniforms, centred: bell-shaped like real logits, with a spread set by `scale`.
  return Float32Array.from({ length: n }, () => scale * (r.nextFloat() + r.nextFloat() + r.nextFloat() - 1.5));
}

const pickOf = <T>(r: Xoshiro128, xs: readonly T[]): T => xs[r.nextU32() % xs.length]!;

describe("Sampler chain", () => {
  it("equals the reference implementation on random logits and options for 300 seeds", () => {
    for (let seed = 0; seed < 300; seed++) {
      const r = Xoshiro128.fromSeed(1000 + seed);
      const nVocab = pickOf(r, [2, 7, 100, 1000, 3000]);
      const options: SamplingOptions = {
        seed,
        temperature: pickOf(r, [0, 0.3, 0.8, 1, 1.7]),
        topK: pickOf(r, [0, 1, 5, 40, nVocab + 3]),
        topP: pickOf(r, [1, 0.5, 0.9, 0.95, 0.999]),
        minP: pickOf(r, [0, 0.05, 0.2]),
        repeatPenalty: pickOf(r, [1, 1.1, 1.5, 0.8]),
        repeatLastN: pickOf(r, [0, 4, 64]),
        frequencyPenalty: pickOf(r, [0, 0.3, -0.5]),
        presencePenalty: pickOf(r, [0, 0.6, -1]),
      };
      const s = new Sampler(nVocab, options);
      const refRng = Xoshiro128.fromSeed(seed);
      const history = Array.from({ length: 20 }, () => r.nextU32() % nVocab);
      for (const t of history) s.accept(t);
      for (let step = 0; step < 4; step++) {
        const logits = randomLogits(r, nVocab, pickOf(r, [1, 8, 30]));
        const got = s.sample(logits);
        expect(got, `seed ${seed} step ${step} ${JSON.stringify(options)}`).toBe(reference(logits, history, s.options, refRng));
        s.accept(got);
        history.push(got);
      }
    }
  });

  it("greedy is the argmax of the penalized logits, lowest id on ties", () => {
    const s = new Sampler(4, { temperature: 0, repeatPenalty: 2 });
    expect(s.sample(Float32Array.from([1, 4, 4, 3]))).toBe(1);
    s.accept(1);
    expect(s.sample(Float32Array.from([1, 4, 4, 3]))).toBe(2);
    s.accept(2);
    expect(s.sample(Float32Array.from([1, 4, 4, 3]))).toBe(3);
  });

  it("does not modify the caller's logits", () => {
    const logits = randomLogits(Xoshiro128.fromSeed(2), 5000, 10);
    const copy = logits.slice();
    const s = new Sampler(5000, { seed: 1, repeatPenalty: 1.3, frequencyPenalty: 0.5 });
    for (let i = 0; i < 20; i++) s.accept(i);
    s.sample(logits);
    expect(logits).toEqual(copy);
  });
});

describe("Sampler seeds", () => {
  const run = (s: Sampler, logits: Float32Array, n: number): number[] =>
    Array.from({ length: n }, () => {
      const t = s.sample(logits);
      s.accept(t);
      return t;
    });
  const flat = randomLogits(Xoshiro128.fromSeed(9), 1000, 2);

  it("the same seed gives the same tokens; another seed gives others", () => {
    const a = run(new Sampler(1000, { seed: 42 }), flat, 64);
    expect(run(new Sampler(1000, { seed: 42 }), flat, 64)).toEqual(a);
    expect(run(new Sampler(1000, { seed: 43 }), flat, 64)).not.toEqual(a);
  });
  it("reset() replays the same tokens", () => {
    const s = new Sampler(1000, { seed: 5, repeatPenalty: 1.2 });
    const a = run(s, flat, 32);
    s.reset();
    expect(run(s, flat, 32)).toEqual(a);
  });
  it("without a seed, one is chosen and reported, and reproduces the run", () => {
    const s = new Sampler(1000);
    const seed = s.options.seed;
    expect(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32).toBe(true);
    expect(run(new Sampler(1000, { seed }), flat, 32)).toEqual(run(s, flat, 32));
  });
});

describe("Sampler distribution", () => {
  // Each count c_i of N draws is Binomial(N, p_i): mean N·p_i, σ_i = sqrt(N·p_i·(1 − p_i)). With every
  // N·p_i ≥ 200 the normal approximation holds, so a correct sampler leaves |c_i − N·p_i| > 5σ_i with
  // probability 5.7e-7 per bin, < 1e-5 over all bins by the union bound. At N = 20,000 and p = 0.25 this
  // still detects a bias of 5σ/N = 0.015 in a probability.
  const N = 20_000;
  function expectMatches(counts: Map<number, number>, probs: ReadonlyMap<number, number>): void {
    for (const [id, c] of counts) expect(probs.has(id), `token ${id} should never be drawn`).toBe(true);
    for (const [id, p] of probs) {
      expect(N * p).toBeGreaterThanOrEqual(200);
      const sigma = Math.sqrt(N * p * (1 - p));
      expect(Math.abs((counts.get(id) ?? 0) - N * p), `token ${id}`).toBeLessThanOrEqual(5 * sigma);
    }
  }
  function drawMany(s: Sampler, logits: Float32Array): Map<number, number> {
    const counts = new Map<number, number>();
    for (let i = 0; i < N; i++) {
      const t = s.sample(logits);
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    return counts;
  }
  function softmax(ls: readonly number[], ids: readonly number[]): Map<number, number> {
    const max = Math.max(...ls);
    const w = ls.map((l) => Math.exp(l - max));
    const sum = w.reduce((a, b) => a + b, 0);
    return new Map(ids.map((id, i) => [id, w[i]! / sum]));
  }

  it("at temperature 1 with every filter off, matches softmax(logits)", () => {
    const logits = Float32Array.from([1.5, 0.2, -0.4, 1.1, 0.9, -1.0, 0.0, 0.6]);
    const s = new Sampler(8, { seed: 2024, temperature: 1, topK: 0, topP: 1, minP: 0 });
    expectMatches(drawMany(s, logits), softmax(Array.from(logits), [0, 1, 2, 3, 4, 5, 6, 7]));
  });
  it("with top-k 3 at temperature 0.7, matches softmax(logits / 0.7) over the three kept", () => {
    const logits = Float32Array.from([0.3, 2.0, -1.0, 1.6, 1.2, 0.5]);
    const s = new Sampler(6, { seed: 7, temperature: 0.7, topK: 3, topP: 1, minP: 0 });
    const t = Math.fround(0.7);
    const kept = [1, 3, 4];
    expectMatches(drawMany(s, logits), softmax(kept.map((id) => Math.fround(logits[id]! / t)), kept));
  });
});

describe("option validation", () => {
  const bad: [keyof SamplingOptions, unknown, RegExp][] = [
    ["temperature", -0.1, /\[1e-6, 100\]/],
    ["temperature", 101, /0 \(greedy\)/],
    ["temperature", 1e-7, /got 1e-7/],
    ["temperature", NaN, /got NaN/],
    ["temperature", "0.5", /got "0\.5"/],
    ["topK", -1, /integer ≥ 0/],
    ["topK", 2.5, /got 2\.5/],
    ["topK", Infinity, /got Infinity/],
    ["topP", 0, /\(0, 1\]/],
    ["topP", 1.01, /got 1\.01/],
    ["minP", -0.01, /\[0, 1\]/],
    ["minP", 1.5, /got 1\.5/],
    ["repeatPenalty", 0, /> 0/],
    ["repeatPenalty", Infinity, /finite/],
    ["repeatLastN", -1, /\[0, 1048576\]/],
    ["repeatLastN", 3.5, /got 3\.5/],
    ["repeatLastN", 2 ** 20 + 1, /got 1048577/],
    ["frequencyPenalty", 2.5, /\[-2, 2\]/],
    ["frequencyPenalty", -Infinity, /got -Infinity/],
    ["presencePenalty", -2.01, /\[-2, 2\]/],
    ["presencePenalty", null, /got null/],
    ["seed", -1, /\[0, 4294967295\]/],
    ["seed", 2 ** 32, /got 4294967296/],
    ["seed", 0.5, /got 0\.5/],
    ["seed", "1", /got "1"/],
  ];
  it.each(bad)("%s = %s is refused, naming the parameter, the range and the value", (key, value, message) => {
    const o = { [key]: value } as SamplingOptions;
    let err: unknown;
    try {
      resolveSamplingOptions(o);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParameterError);
    expect((err as ParameterError).parameter).toBe(key);
    expect((err as ParameterError).kind).toBe("invalid_parameter");
    expect((err as ParameterError).message).toMatch(new RegExp(`^${key} must be `));
    expect((err as ParameterError).message).toMatch(message);
  });
  it("accepts the boundaries and fills llama.cpp's defaults", () => {
    const o = resolveSamplingOptions({ temperature: 100, topP: 1, minP: 1, frequencyPenalty: -2, presencePenalty: 2, seed: 2 ** 32 - 1 });
    expect(o).toMatchObject({ temperature: 100, topK: 40, topP: 1, minP: 1, repeatPenalty: 1, repeatLastN: 64, seed: 2 ** 32 - 1 });
    expect(resolveSamplingOptions(undefined)).toMatchObject({ temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 });
  });
  it("refuses a non-object, a bad vocabulary size and a bad token", () => {
    expect(() => resolveSamplingOptions(42 as unknown as SamplingOptions)).toThrow(ParameterError);
    for (const n of [0, 1.5, NaN, 2 ** 23]) expect(() => new Sampler(n)).toThrow(/nVocab/);
    const s = new Sampler(10, { seed: 1 });
    for (const t of [-1, 10, 2.5, NaN]) expect(() => s.accept(t)).toThrow(/token must be an integer in \[0, 9\]/);
    expect(() => s.sample(new Float32Array(9))).toThrow(/logits\.length must be 10 \(nVocab\); got 9/);
  });
});
