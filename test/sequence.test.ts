// SequenceState: which token ids the KV cache holds, how many of a new prompt's positions can be
// reused, and cutting back to a prefix.
import { describe, expect, it } from "vitest";
import { SequenceState } from "../src/generate/sequence.js";

describe("SequenceState", () => {
  it("records computed tokens in order", () => {
    const s = new SequenceState();
    s.append([5, 6, 7]);
    s.push(8);
    expect(s.tokens).toEqual([5, 6, 7, 8]);
    expect(s.length).toBe(4);
  });

  it("reuses the common prefix, at most `limit` positions", () => {
    const s = new SequenceState();
    s.append([1, 2, 3, 4]);
    expect(s.reusable([1, 2, 9, 4], 10)).toBe(2);
    expect(s.reusable([1, 2, 3, 4, 5], 10)).toBe(4);
    // The same prompt again: its last token is kept back to compute its logits.
    expect(s.reusable([1, 2, 3, 4], 3)).toBe(3);
    expect(s.reusable([1, 2], 10)).toBe(2);
    expect(s.reusable([7], 10)).toBe(0);
    expect(new SequenceState().reusable([1, 2], 10)).toBe(0);
  });

  it("truncates to n positions and never grows", () => {
    const s = new SequenceState();
    s.append([1, 2, 3, 4]);
    s.truncate(6);
    expect(s.tokens).toEqual([1, 2, 3, 4]);
    s.truncate(2);
    expect(s.tokens).toEqual([1, 2]);
    s.push(9);
    expect(s.tokens).toEqual([1, 2, 9]);
    s.truncate(0);
    expect(s.length).toBe(0);
  });
});
