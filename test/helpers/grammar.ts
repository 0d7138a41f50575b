// Helpers for the grammar tests: a byte-level vocabulary (token b = byte b, token 256 = EOG) and
// whole-text matching through a constraint.

import { compileGrammar, Grammar, GrammarConstraint, TokenTrie } from "../../src/grammar/index.js";

export const EOG = 256;
export const BYTE_VOCAB = new TokenTrie(
  [...Array.from({ length: 256 }, (_, b) => Uint8Array.of(b)), new Uint8Array(0)],
  [EOG],
);

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Whether the grammar matches the whole text. */
export function matches(grammar: Grammar | string, text: string): boolean {
  const g = typeof grammar === "string" ? compileGrammar(grammar) : grammar;
  const c = new GrammarConstraint(g, BYTE_VOCAB);
  try {
    c.acceptBytes(utf8(text));
  } catch {
    return false;
  }
  return c.isComplete();
}

/** Whether the text is a prefix of something the grammar matches. */
export function isPrefix(grammar: Grammar | string, text: string): boolean {
  const g = typeof grammar === "string" ? compileGrammar(grammar) : grammar;
  const c = new GrammarConstraint(g, BYTE_VOCAB);
  try {
    c.acceptBytes(utf8(text));
    return true;
  } catch {
    return false;
  }
}

/** Deterministic PRNG (mulberry32) for seeded tests. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
