// Each sampling transform on hand-made logits with exact expected results, plus the PRNG and exp.
import { describe, expect, it } from "vitest";
import { type Candidates, createCandidates, expNeg, fillCandidates, selectTop } from "../src/sampling/candidates.js";
import { PenaltyWindow, penalize } from "../src/sampling/penalties.js";
import { Xoshiro128 } from "../src/sampling/prng.js";
import { draw, greedy, minP, temperature, topK, topP } from "../src/sampling/transforms.js";
import { ParameterError } from "../src/errors.js";

function cands(logits: readonly number[]): Candidates {
  const c = createCandidates(logits.length);
  fillCandidates(c, Float32Array.from(logits));
  return c;
}
const live = (c: Candidates): number[] => Array.from(c.ids.subarray(0, c.size));
const liveLogits = (c: Candidates): number[] => Array.from(c.logits.subarray(0, c.size));

describe("xoshiro128**", () => {
  it("matches the reference implementation's outputs from state {1, 2, 3, 4}", () => {
    // Published with Rust's rand_xoshiro, produced by Vigna's xoshiro128starstar.c.
    const r = new Xoshiro128(1, 2, 3, 4);
    const got = Array.from({ length: 10 }, () => r.nextU32());
    expect(got).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]);
  });
  it("is reproducible from a seed, and reseed restarts the stream", () => {
    const a = Xoshiro128.fromSeed(7);
    const first = Array.from({ length: 5 }, () => a.nextU32());
    a.reseed(7);
    expect(Array.from({ length: 5 }, () => a.nextU32())).toEqual(first);
    const b = Xoshiro128.fromSeed(8);
    expect(Array.from({ length: 5 }, () => b.nextU32())).not.toEqual(first);
  });
  it("gives floats in [0, 1)", () => {
    const r = Xoshiro128.fromSeed(0);
    for (let i = 0; i < 10_000; i++) {
      const u = r.nextFloat();
      expect(u >= 0 && u < 1).toBe(true);
    }
  });
});

describe("expNeg", () => {
  it("agrees with Math.exp to 3e-13 relative over [-103.9, 0] (Taylor truncation bound 2.2e-13)", () => {
    for (let x = 0; x > -103.9; x -= 0.0137) {
      expect(Math.abs(expNeg(x) / Math.exp(x) - 1)).toBeLessThan(3e-13);
    }
  });
  it("is exactly 1 at 0 and 0 below float32's underflow and at -Infinity", () => {
    expect(expNeg(0)).toBe(1);
    expect(expNeg(-104.5)).toBe(0);
    expect(expNeg(-Infinity)).toBe(0);
  });
});

describe("fillCandidates", () => {
  it("loads token i at position i and accepts -Infinity as a mask", () => {
    const c = cands([0.5, -Infinity, 2]);
    expect(live(c)).toEqual([0, 1, 2]);
    expect(liveLogits(c)).toEqual([0.5, -Infinity, 2]);
  });
  it("refuses NaN, +Infinity, a wrong length and an all-masked vector", () => {
    const c = createCandidates(3);
    expect(() => fillCandidates(c, Float32Array.from([0, NaN, 1]))).toThrow(/logits\[1\].*NaN/);
    expect(() => fillCandidates(c, Float32Array.from([0, 1, Infinity]))).toThrow(/logits\[2\]/);
    expect(() => fillCandidates(c, new Float32Array(4))).toThrow(ParameterError);
    expect(() => fillCandidates(c, new Float32Array(3).fill(-Infinity))).toThrow(/max\(logits\)/);
  });
});

describe("top-k", () => {
  it("keeps exactly the k best, sorted, lower id first on ties", () => {
    const c = cands([1, 5, 3, 5, 2, 4]);
    topK(c, 3);
    expect(live(c)).toEqual([1, 3, 5]);
    expect(liveLogits(c)).toEqual([5, 5, 4]);
    expect(c.sorted).toBe(true);
  });
  it("k = 0 and k ≥ size keep everything", () => {
    for (const k of [0, 6, 100]) {
      const c = cands([1, 5, 3, 5, 2, 4]);
      topK(c, k);
      expect(live(c)).toEqual([0, 1, 2, 3, 4, 5]);
    }
  });
  it("selection equals a full sort on many-tie inputs, for every k", () => {
    const r = Xoshiro128.fromSeed(3);
    const logits = Array.from({ length: 300 }, () => (r.nextU32() % 10) - 5);
    const order = logits.map((l, id) => ({ l, id })).sort((a, b) => b.l - a.l || a.id - b.id).map((x) => x.id);
    for (let k = 1; k <= 300; k += 7) {
      const c = cands(logits);
      selectTop(c, k);
      expect(live(c)).toEqual(order.slice(0, k));
    }
  });
});

describe("top-p", () => {
  // Four equal logits: every token has probability exactly 1/4, so the boundaries are exact.
  it("keeps the smallest prefix whose probability is ≥ p, inclusive at the boundary", () => {
    const cases: [number, number][] = [[0.25, 1], [0.2500001, 2], [0.5, 2], [0.75, 3], [0.7500001, 4], [0.99, 4]];
    for (const [p, n] of cases) {
      const c = cands([0, 0, 0, 0]);
      topP(c, p);
      expect(live(c), `p=${p}`).toEqual([0, 1, 2, 3].slice(0, n));
    }
  });
  it("ranks before accumulating and keeps at least one token", () => {
    const logs = [0.1, 0.4, 0.2, 0.3].map(Math.log); // probabilities 0.1, 0.4, 0.2, 0.3
    const keep = (p: number): number[] => {
      const c = cands(logs);
      topP(c, p);
      return live(c);
    };
    expect(keep(1e-6)).toEqual([1]);
    expect(keep(0.69)).toEqual([1, 3]);
    expect(keep(0.71)).toEqual([1, 3, 2]);
    expect(keep(0.91)).toEqual([1, 3, 2, 0]);
  });
  it("p = 1 is off: nothing removed, nothing sorted", () => {
    const c = cands([3, 1, 2]);
    topP(c, 1);
    expect(live(c)).toEqual([0, 1, 2]);
    expect(c.sorted).toBe(false);
  });
  it("the bucket pre-filter over a large vocabulary gives the same nucleus as sorting everything", () => {
    const r = Xoshiro128.fromSeed(11);
    for (const [n, scale] of [[5000, 1], [20_000, 3], [40_000, 0.2]] as const) {
      // Sum of three uniforms: a bell shape with a few standouts, as real logits have.
      const logits = Array.from({ length: n }, () => scale * 4 * (r.nextFloat() + r.nextFloat() + r.nextFloat()));
      for (const p of [0.5, 0.9, 0.95, 0.999]) {
        const fast = cands(logits);
        topP(fast, p);
        const slow = cands(logits);
        selectTop(slow, n);
        topP(slow, p);
        expect(live(fast), `n=${n} p=${p}`).toEqual(live(slow));
      }
    }
  });
});

describe("min-p", () => {
  it("keeps tokens with probability ≥ minP × the top probability, in place", () => {
    const logs = [1, 0.5, 0.04, 0.06, 0.05001].map(Math.log);
    const c = cands(logs);
    minP(c, 0.05);
    expect(live(c)).toEqual([0, 1, 3, 4]);
  });
  it("minP = 1 keeps only the tied maxima; 0 is off", () => {
    const c = cands([2, 1, 2, 0]);
    minP(c, 1);
    expect(live(c)).toEqual([0, 2]);
    const d = cands([2, 1, 2, 0]);
    minP(d, 0);
    expect(live(d)).toEqual([0, 1, 2, 3]);
  });
});

describe("penalties", () => {
  it("divides positive and multiplies non-positive logits, then subtracts count·freq + presence", () => {
    const w = new PenaltyWindow(6, 64);
    for (const t of [2, 2, 5, 3]) w.push(t);
    const c = cands([1, 2, -1, 0, 3, 4]);
    penalize(c, w, { repeat: 2, frequency: 0.5, presence: 0.25 });
    // token 2 (twice): -1·2 − (2·0.5 + 0.25); token 3 (once): 0·2 − 0.75; token 5 (once): 4/2 − 0.75
    expect(liveLogits(c)).toEqual([1, 2, -3.25, -0.75, 3, 1.25]);
  });
  it("finds the tokens wherever they are once the list has been reordered", () => {
    const w = new PenaltyWindow(6, 64);
    for (const t of [2, 2, 5, 3]) w.push(t);
    const c = cands([1, 2, -1, 0, 3, 4]);
    selectTop(c, 6); // ids now 5, 4, 1, 0, 3, 2
    penalize(c, w, { repeat: 2, frequency: 0.5, presence: 0.25 });
    expect(live(c)).toEqual([5, 4, 1, 0, 3, 2]);
    expect(liveLogits(c)).toEqual([1.25, 3, 2, 1, -0.75, -3.25]);
  });
  it("lists each distinct token of the window once", () => {
    const w = new PenaltyWindow(10, 5);
    for (const t of [4, 1, 4, 4, 9, 1, 7]) w.push(t); // window: 4, 4, 9, 1, 7
    const n = w.distinct();
    expect(Array.from(w.unique.subarray(0, n)).sort()).toEqual([1, 4, 7, 9]);
    expect(Array.from(w.counts)).toEqual([0, 1, 0, 0, 2, 0, 0, 1, 0, 1]);
  });
  it("rounds each step to float32 as llama.cpp does", () => {
    const w = new PenaltyWindow(2, 8);
    w.push(0);
    w.push(1);
    const c = cands([1, -1]);
    const rep = Math.fround(1.1);
    penalize(c, w, { repeat: rep, frequency: 0, presence: 0 });
    expect(liveLogits(c)).toEqual([Math.fround(1 / rep), Math.fround(-rep)]);
  });
  it("counts only the last N accepted tokens", () => {
    const w = new PenaltyWindow(5, 2);
    for (const t of [1, 2, 3]) w.push(t);
    expect(Array.from(w.counts)).toEqual([0, 0, 1, 1, 0]);
    w.push(3);
    expect(Array.from(w.counts)).toEqual([0, 0, 0, 2, 0]);
    w.clear();
    expect(Array.from(w.counts)).toEqual([0, 0, 0, 0, 0]);
    expect(w.size).toBe(0);
  });
  it("a window of length 0 records nothing", () => {
    const w = new PenaltyWindow(3, 0);
    w.push(1);
    expect(w.size).toBe(0);
    expect(Array.from(w.counts)).toEqual([0, 0, 0]);
  });
});

describe("temperature, greedy and the draw", () => {
  it("temperature divides every logit (float32 division)", () => {
    const c = cands([1, 2, -3]);
    temperature(c, 0.5);
    expect(liveLogits(c)).toEqual([2, 4, -6]);
    const d = cands([1, 2]);
    temperature(d, Math.fround(3));
    expect(liveLogits(d)).toEqual([Math.fround(1 / 3), Math.fround(2 / 3)]);
  });
  it("greedy takes the highest logit, the lowest id on ties, never a masked token", () => {
    expect(greedy(cands([1, 3, 2, 3]))).toBe(1);
    expect(greedy(cands([-Infinity, -5, -Infinity]))).toBe(1);
  });
  it("the draw never picks a masked token and returns a lone candidate", () => {
    const r = Xoshiro128.fromSeed(5);
    for (let i = 0; i < 200; i++) expect(draw(cands([-Infinity, 0, -Infinity, 0]), r) % 2).toBe(1);
    expect(draw(cands([7]), r)).toBe(0);
  });
});
