// The matcher and the constraint: whole-string acceptance, masks over a small vocabulary, tokens that
// end inside a character, token elements, EOG handling, accept errors, clone and reset.

import { describe, expect, it } from "vitest";
import { compileGrammar, GrammarConstraint, GrammarError, TokenTrie } from "../src/grammar/index.js";
import { BYTE_VOCAB, EOG, isPrefix, matches, utf8 } from "./helpers/grammar.js";

const allowedIds = (c: GrammarConstraint): number[] => {
  const a = c.allowed();
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i]) out.push(i);
  return out;
};

describe("matching whole strings", () => {
  it("classes, negation, ranges, any", () => {
    const g = compileGrammar('root ::= [a-cx] [^0-9a] . "z"');
    expect(matches(g, "xbéz")).toBe(true);
    expect(matches(g, "a😀😀z")).toBe(true);
    expect(matches(g, "d b z")).toBe(false);
    expect(matches(g, "a1bz")).toBe(false);
    expect(matches(g, "aaaz")).toBe(false);
    expect(matches(g, "abz")).toBe(false);
  });

  it("bounded repetition counts exactly", () => {
    const g = compileGrammar('root ::= "a"{2,4} "b"{3} ("c" "d"?){0,2}');
    expect(["aabbb", "aaaabbbcdc", "aaabbbcc"].map((s) => matches(g, s))).toEqual([true, true, true]);
    expect(["abbb", "aaaaabbb", "aabb", "aabbbb", "aabbbccc", "aabbbd"].map((s) => matches(g, s))).toEqual([false, false, false, false, false, false]);
  });

  it("empty alternatives, nested groups, recursion", () => {
    const g = compileGrammar('root ::= "(" inner ")"\ninner ::= | "x" inner | root inner');
    expect(["()", "(x)", "(xx(x)(())x)"].map((s) => matches(g, s))).toEqual([true, true, true]);
    expect(["(", "(x))", "((x)"].map((s) => matches(g, s))).toEqual([false, false, false]);
    expect(isPrefix(g, "((x")).toBe(true);
  });

  it("code points above the BMP and escapes", () => {
    const g = compileGrammar('root ::= [\\U0001F600-\\U0001F64F]+ "\\u00e9"');
    expect(matches(g, "😀🙏é")).toBe(true);
    expect(matches(g, "😀🚀é")).toBe(false);
  });
});

describe("masks over a byte vocabulary (tokens ending inside a character)", () => {
  it("only lead bytes that can start an allowed character", () => {
    const g = compileGrammar("root ::= [一-鿿]+"); // U+4E00–U+9FFF: lead bytes E4–E9
    const c = new GrammarConstraint(g, BYTE_VOCAB);
    expect(allowedIds(c)).toEqual([0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9]);
    c.accept(0xe4);
    expect(allowedIds(c)).toEqual(Array.from({ length: 0x40 }, (_, i) => 0xb8 + i).filter((b) => b <= 0xbf)); // U+4E00 starts at E4 B8
    c.accept(0xb8);
    expect(allowedIds(c)).toEqual(Array.from({ length: 0x40 }, (_, i) => 0x80 + i));
    expect(c.isComplete()).toBe(false);
    c.accept(0x80); // 一
    expect(c.isComplete()).toBe(true);
    expect(allowedIds(c)).toEqual([0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, EOG]);
  });

  it("a negated class allows every valid lead byte but the excluded character's", () => {
    const c = new GrammarConstraint(compileGrammar("root ::= [^a]"), BYTE_VOCAB);
    const ids = allowedIds(c);
    expect(ids).not.toContain(0x61);
    expect(ids).not.toContain(0x00); // NUL never: llama.cpp cannot represent it either
    expect(ids).not.toContain(0x80); // a stray continuation byte
    expect(ids).not.toContain(0xc0); // overlong forms
        expect(ids).toContain(0xc2);
    expect(ids).toContain(0xf4);
    expect(ids).not.toContain(0xf5); // would start a code point above U+10FFFF
    expect(ids.length).toBe(0x7f - 1 + (0xf5 - 0xc2)); // 01–7F but 'a', and the leads C2–F4
  });

  it("multi-byte tokens that end mid-character", () => {
    const e9 = utf8("é"); // C3 A9
    const pieces = [utf8("a"), Uint8Array.of(0x61, 0xc3), Uint8Array.of(0xa9), Uint8Array.of(0xa9, 0x62), utf8("b"), Uint8Array.of(0xc3), new Uint8Array(0)];
    const v = new TokenTrie(pieces, [6]);
    const c = new GrammarConstraint(compileGrammar('root ::= "a" "é"+ "b"'), v);
    expect(allowedIds(c)).toEqual([0, 1]);
    c.accept(1); // "a" + first byte of é
    expect(allowedIds(c)).toEqual([2, 3]);
    c.accept(2);
    expect(allowedIds(c)).toEqual([4, 5]);
    expect(e9[0]).toBe(0xc3);
    c.accept(5);
    c.accept(3); // A9 then "b"
    expect(c.isComplete()).toBe(true);
    expect(c.canContinue()).toBe(false);
    expect(allowedIds(c)).toEqual([6]);
  });
});

describe("the constraint API", () => {
  const vocab = new TokenTrie(["{", "}", '"', "a", "ab", "b", "1", "12", "<eos>", ""].map((s) => (s === "<eos>" ? new Uint8Array(0) : utf8(s))), [8]);

  it("mask sets -Infinity exactly where allowed() is 0, EOG only when complete, padding rows too", () => {
    const c = new GrammarConstraint(compileGrammar('root ::= "{" [ab]* "}"'), vocab);
    const logits = new Float32Array(12).fill(1);
    c.mask(logits);
    expect(Array.from(logits)).toEqual([1, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity]);
    c.accept(0);
    c.accept(4);
    logits.fill(1);
    c.mask(logits);
    expect(Array.from(logits.subarray(0, 10))).toEqual([-Infinity, 1, -Infinity, 1, 1, 1, -Infinity, -Infinity, -Infinity, -Infinity]);
    c.accept(1);
    expect(c.isComplete()).toBe(true);
    logits.fill(1);
    c.mask(logits);
    expect(Array.from(logits.subarray(0, 10))).toEqual([-Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, 1, -Infinity]);
    c.accept(8);
    expect(c.isComplete()).toBe(false);
    expect(allowedIds(c)).toEqual([]);
  });

  it("accept refuses a disallowed token with a typed error and keeps the state", () => {
    const c = new GrammarConstraint(compileGrammar('root ::= "{" [ab]* "}"'), vocab);
    c.accept(0);
    let err: unknown;
    try {
      c.accept(6);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GrammarError);
    expect((err as GrammarError).kind).toBe("token_rejected");
    expect((err as GrammarError).message).toContain('token 6 ("1")');
    expect(() => c.accept(8)).toThrow(GrammarError); // EOG before the grammar is complete
    expect(() => c.accept(9)).toThrow(GrammarError); // an empty piece is never allowed
    expect(() => c.accept(-1)).toThrow(GrammarError);
    c.accept(3);
    expect(allowedIds(c)).toEqual([1, 3, 4, 5]);
  });

  it("clone is independent; reset starts over", () => {
    const c = new GrammarConstraint(compileGrammar('root ::= "{" [0-9]+ "}" | "ab"'), vocab);
    c.accept(0);
    const d = c.clone();
    d.accept(7);
    expect(allowedIds(c)).toEqual([6, 7]);
    expect(allowedIds(d)).toEqual([1, 6, 7]);
    d.reset();
    expect(allowedIds(d)).toEqual([0, 3, 4]);
  });

  it("isComplete and canContinue together say when generation can stop", () => {
    const c = new GrammarConstraint(compileGrammar('root ::= "a" "b"?'), vocab);
    expect([c.isComplete(), c.canContinue()]).toEqual([false, true]);
    c.accept(3);
    expect([c.isComplete(), c.canContinue()]).toEqual([true, true]);
    c.accept(5);
    expect([c.isComplete(), c.canContinue()]).toEqual([true, false]);
  });

  it("llama.cpp's 'simple grammar with tokens' case", () => {
    // ids 0–9 are letters, 10–15 special tokens with text (as llama.cpp's grammar sees them)
    const pieces = [..."abcdefghij"].map((c) => utf8(c));
    for (let id = 10; id <= 15; id++) pieces.push(utf8(`<t${id}>`));
    const v = new TokenTrie(pieces, []);
    const g = compileGrammar("root ::= <[10]> content <[11]>\ncontent ::= (!<[11]>)*");
    const run = (ids: number[]): boolean => {
      const c = new GrammarConstraint(g, v);
      for (const id of ids) {
        if (!c.allowed()[id]) return false;
        c.accept(id);
      }
      return c.isComplete();
    };
    expect([[10, 7, 8, 11], [10, 0, 12, 1, 13, 11], [10, 11], [10, 12, 13, 14, 15, 11]].map(run)).toEqual([true, true, true, true]);
    expect([[10, 0, 1], [10], [0, 11], [10, 11, 11], [11, 0, 10]].map(run)).toEqual([false, false, false, false, false]);
  });

  it("token elements match by id, their negation any other usable token", () => {
    const g = compileGrammar("root ::= <[0]> think <[1]> [ab]\nthink ::= !<[1]>*");
    const c = new GrammarConstraint(g, vocab);
    expect(allowedIds(c)).toEqual([0]);
    c.accept(0);
    expect(allowedIds(c)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    c.accept(6);
    c.accept(2);
    c.accept(1);
    expect(allowedIds(c)).toEqual([3, 5]); // "ab" would leave a "b" past the end
    expect(() => c.accept(1)).toThrow(GrammarError);
    c.accept(5);
    expect(c.isComplete()).toBe(true);
  });
});
