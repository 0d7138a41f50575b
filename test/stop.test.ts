// StopMatcher: the same result for every way of splitting the text into pieces, minimal hold-back, and
// stop-list validation.
import { describe, expect, it } from "vitest";
import { MAX_STOP_LENGTH, MAX_STOPS, StopMatcher } from "../src/generate/stop.js";
import { ParameterError } from "../src/errors.js";

/** The specification, on the whole text: stop at the first stop string to complete (longest on a tie). */
function expected(stops: readonly string[], text: string): { out: string; stopped: boolean } {
  for (let end = 1; end <= text.length; end++) {
    const hits = stops.filter((s) => text.slice(0, end).endsWith(s));
    if (hits.length > 0) return { out: text.slice(0, end - Math.max(...hits.map((s) => s.length))), stopped: true };
  }
  return { out: text, stopped: false };
}

/** Length of the longest suffix of `text` that is a proper prefix of some stop: what must be held back. */
function mustHold(stops: readonly string[], text: string): number {
  let hold = 0;
  for (const s of stops) for (let k = 1; k < s.length; k++) if (text.endsWith(s.slice(0, k))) hold = Math.max(hold, k);
  return hold;
}

/** Runs the matcher over `pieces`, checking after every push that exactly the safe text was released. */
function run(stops: readonly string[], pieces: readonly string[]): { out: string; stopped: boolean } {
  const m = new StopMatcher(stops);
  let out = "";
  let seen = "";
  for (const p of pieces) {
    seen += p;
    const r = m.push(p);
    out += r.emit;
    if (r.stopped) return { out, stopped: true };
    expect(out, `after ${JSON.stringify(pieces)}`).toBe(seen.slice(0, seen.length - mustHold(stops, seen)));
  }
  return { out: out + m.flush(), stopped: false };
}

/** Every split of `text` into pieces (2^(n−1) of them), or every single split point when that is too many. */
function splits(text: string): string[][] {
  const n = text.length;
  const out: string[][] = [];
  if (n <= 12) {
    for (let mask = 0; mask < 2 ** Math.max(0, n - 1); mask++) {
      const pieces: string[] = [];
      let start = 0;
      for (let i = 1; i < n; i++) if (mask & (1 << (i - 1))) pieces.push(text.slice(start, (start = i)));
      pieces.push(text.slice(start));
      out.push(pieces);
    }
  } else {
    for (let i = 0; i <= n; i++) out.push([text.slice(0, i), text.slice(i)]);
    out.push([...text]);
  }
  return out;
}

function expectSplitInvariant(stops: readonly string[], text: string, want: { out: string; stopped: boolean }): void {
  expect(expected(stops, text)).toEqual(want);
  for (const pieces of splits(text)) expect(run(stops, pieces), JSON.stringify(pieces)).toEqual(want);
}

describe("StopMatcher", () => {
  it("a stop string arriving one character at a time", () => {
    expectSplitInvariant(["</s>"], "Hello</s>world", { out: "Hello", stopped: true });
    expect(run(["</s>"], [..."Hello</s>world"])).toEqual({ out: "Hello", stopped: true });
  });
  it("releases a near-miss prefix as soon as it cannot be a stop", () => {
    const m = new StopMatcher(["STOP"]);
    expect(m.push("a ST")).toEqual({ emit: "a ", stopped: false });
    expect(m.push("O")).toEqual({ emit: "", stopped: false });
    expect(m.push("RE")).toEqual({ emit: "STORE", stopped: false });
    expectSplitInvariant(["STOP"], "STSTOSTOP!", { out: "STSTO", stopped: true });
  });
  it("overlapping stops: the first to complete wins, the longest on the same character", () => {
    expectSplitInvariant(["abcd", "bc"], "xabcdy", { out: "xa", stopped: true });
    expectSplitInvariant(["ab", "xab"], "zxabq", { out: "z", stopped: true });
    expectSplitInvariant(["bcd", "abcde"], "abcdef", { out: "a", stopped: true });
  });
  it("stop strings that overlap themselves", () => {
    expectSplitInvariant(["aab"], "aaab", { out: "a", stopped: true });
    expectSplitInvariant(["ababc"], "abababc!", { out: "ab", stopped: true });
    expectSplitInvariant(["abab"], "abababab", { out: "", stopped: true });
  });
  it("multiple stops, and text that never stops", () => {
    const stops = ["\n\n", "User:", "###"];
    expectSplitInvariant(stops, "Hi.\nUse##\n\nx", { out: "Hi.\nUse##", stopped: true });
    expectSplitInvariant(stops, "a #User\n", { out: "a #User\n", stopped: false });
    expectSplitInvariant([], "anything", { out: "anything", stopped: false });
  });
  it("holds a possible prefix until flush, then releases it", () => {
    const m = new StopMatcher(["</s>"]);
    expect(m.push("abc</")).toEqual({ emit: "abc", stopped: false });
    expect(m.push("")).toEqual({ emit: "", stopped: false });
    expect(m.flush()).toBe("</");
    expect(m.flush()).toBe("");
  });
  it("after a stop, ignores further input", () => {
    const m = new StopMatcher(["x"]);
    expect(m.push("abxcd")).toEqual({ emit: "ab", stopped: true });
    expect(m.push("more")).toEqual({ emit: "", stopped: true });
    expect(m.flush()).toBe("");
  });
  it("never splits a surrogate pair", () => {
    expectSplitInvariant(["😀x"], "a😀😀x", { out: "a😀", stopped: true });
    expect(run(["😀x"], ["a😀", "y"])).toEqual({ out: "a😀y", stopped: false });
  });
});

describe("StopMatcher validation", () => {
  const cases: [unknown, string, RegExp][] = [
    ["</s>", "stop", /array/],
    [Array.from({ length: MAX_STOPS + 1 }, (_, i) => `s${i}`), "stop", /at most 16 strings; got "17 strings"/],
    [["ok", ""], "stop[1]", /non-empty/],
    [["ok", 5], "stop[1]", /got 5/],
    [["x".repeat(MAX_STOP_LENGTH + 1)], "stop[0]", /at most 1000 UTF-16 code units/],
    [["a\uD83D"], "stop[0]", /lone surrogates/],
  ];
  it.each(cases)("refuses %j naming %s", (stops, parameter, message) => {
    let err: unknown;
    try {
      new StopMatcher(stops as readonly string[]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParameterError);
    expect((err as ParameterError).parameter).toBe(parameter);
    expect((err as ParameterError).message).toMatch(message);
  });
  it("accepts the limits", () => {
    expect(() => new StopMatcher(Array.from({ length: MAX_STOPS }, () => "y".repeat(MAX_STOP_LENGTH)))).not.toThrow();
  });
});
