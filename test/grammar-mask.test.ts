// Masking on a real vocabulary (qwen2, 151,936 tokens): the trie walk's mask equals brute force —
// every token checked on its own by the constraint, and a sample (plus every disagreement) by an
// independent naive matcher — at several grammar states, including one in the middle of a
// character. Then "valid by construction": seeded random sampling under JSON schema constraints
// always ends in a parseable instance of the schema.

import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { parseGguf } from "../src/gguf/index.js";
import { compileGrammar, compileJsonGrammar, GrammarConstraint, jsonSchemaToGbnf, tokenResolver, tokenTrieFromTokenizer, type Grammar, type JsonValue, type TokenTrie } from "../src/grammar/index.js";
import { Tokenizer } from "../src/tokenizer/index.js";
import { fixturePath } from "./helpers/fixtures.js";
import { rng, utf8 } from "./helpers/grammar.js";
import { ReferenceMatcher } from "./helpers/grammar-reference.js";
import { validate } from "./helpers/json-validate.js";

let tokenizer: Tokenizer;
let trie: TokenTrie;

beforeAll(() => {
  tokenizer = Tokenizer.fromGguf(parseGguf(new Uint8Array(readFileSync(fixturePath("tokenizer", "ggml-vocab-qwen2.gguf")))));
  trie = tokenTrieFromTokenizer(tokenizer);
});

const PERSON = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 12 },
    age: { type: "integer", minimum: 0, maximum: 150 },
    email: { type: "string", pattern: "^[a-z0-9.]{1,8}@[a-z]{1,6}\\.(com|org)$" },
    tags: { type: "array", items: { enum: ["a", "b", "c"] }, maxItems: 3 },
    born: { type: "string", format: "date" },
    note: { type: "string" },
  },
  required: ["name", "age"],
} as const;

/** Compares the trie mask with per-token checks at the state reached after `prefix` bytes. */
function compareAt(grammar: Grammar, prefix: Uint8Array, referenceText?: string): { allowed: number } {
  const c = new GrammarConstraint(grammar, trie);
  c.acceptBytes(prefix);
  const mask = c.allowed().slice();
  let allowed = 0;
  const mismatches: number[] = [];
  for (let id = 0; id < trie.nVocab; id++) {
    if (mask[id]) allowed++;
    if ((mask[id] === 1) !== c.allows(id)) mismatches.push(id);
  }
  expect(mismatches.slice(0, 10)).toEqual([]);
  if (referenceText !== undefined) {
    const ref = new ReferenceMatcher(grammar);
    ref.acceptText(referenceText);
    const bad: number[] = [];
    for (let id = 0; id < trie.nVocab; id++) {
      // every token the mask allows, and a stride of the rest
      if (!mask[id] && id % 13 !== 0) continue;
      const expected = trie.eog[id] ? c.isComplete() : ref.allows(trie.piece(id));
      if ((mask[id] === 1) !== expected) bad.push(id);
    }
    expect(bad.slice(0, 10).map((id) => [id, tokenizer.tokenText(id)])).toEqual([]);
  }
  return { allowed };
}

describe("the trie mask equals brute force on the qwen2 vocabulary", () => {
  it("has every token; control tokens have no bytes unless asked", () => {
    expect(trie.nVocab).toBe(151936);
    const imEnd = tokenizer.tokenId("<|im_end|>") as number;
    const imStart = tokenizer.tokenId("<|im_start|>") as number;
    expect(trie.eog[imEnd]).toBe(1);
    expect(trie.usable[imStart]).toBe(0);
    const withText = tokenTrieFromTokenizer(tokenizer, { unparseSpecial: true });
    expect(new TextDecoder().decode(withText.piece(imStart))).toBe("<|im_start|>");
    expect(withText.usable[imStart]).toBe(1);
  });

  it("<name> tokens resolve through the tokenizer", () => {
    const g = compileGrammar('root ::= <|im_start|> "x" !<|im_end|>', { resolveToken: tokenResolver(tokenizer) });
    const imStart = tokenizer.tokenId("<|im_start|>") as number;
    const imEnd = tokenizer.tokenId("<|im_end|>") as number;
    expect(g.toString()).toBe(`root ::= <[${imStart}]> [x] !<[${imEnd}]>\n`);
    expect(() => compileGrammar('root ::= <not a token>', { resolveToken: tokenResolver(tokenizer) })).toThrow(expect.objectContaining({ kind: "unknown_token" }));
  });

  it("a JSON schema grammar at several states", () => {
    const g = compileJsonGrammar({ schema: PERSON as unknown as JsonValue });
    const states = ["", "{", '{"', '{"name": "Ad', '{"name": "Ada", "age": 4', '{"name": "Ada", "age": 36, "email": "ada.l', '{"name": "Ada", "age": 36, ', '{"name": "Ada", "age": 36, "note": "日本'];
    const counts = states.map((s) => compareAt(g, utf8(s), s).allowed);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[3]).toBeGreaterThan(1000); // inside a free string nearly everything goes
    expect(counts[4]).toBeLessThan(50);
  });

  it("in the middle of a character (after a byte token)", () => {
    const g = compileGrammar("root ::= [一-鿿]+ \"。\"");
    const first = utf8("语"); // E8 AF AD
    const r = compareAt(g, first.subarray(0, 1));
    expect(r.allowed).toBeGreaterThan(0);
    compareAt(g, first.subarray(0, 2));
    compareAt(g, first, "语");
  });

  it("negated classes and alternatives with non-ASCII members", () => {
    const g = compileGrammar('root ::= ([^a-zé"] | "é" [x-z])* "\\n"');
    compareAt(g, utf8(""), "");
    compareAt(g, utf8("Q"), "Q");
    compareAt(g, utf8("é"), "é");
  });
});

describe("an SPM vocabulary (llama, 32k tokens with byte-fallback tokens <0xNN>)", () => {
  it("the trie mask equals per-token checks, inside and between characters", () => {
    const spm = Tokenizer.fromGguf(parseGguf(new Uint8Array(readFileSync(fixturePath("tokenizer", "ggml-vocab-llama-spm.gguf")))));
    const v = tokenTrieFromTokenizer(spm);
    const byte = spm.tokenId("<0xE8>") as number;
    expect(Array.from(v.piece(byte))).toEqual([0xe8]);
    expect(new TextDecoder().decode(v.piece(spm.tokenId("\u2581the") as number))).toBe(" the");
    const g = compileGrammar('root ::= "「" [^」]* "」"');
    for (const prefix of [utf8(""), utf8("「"), utf8("「语言 the"), utf8("「语").subarray(0, 4)]) {
      const c = new GrammarConstraint(g, v);
      c.acceptBytes(prefix);
      const mask = c.allowed().slice();
      let allowed = 0;
      for (let id = 0; id < v.nVocab; id++) {
        if (mask[id]) allowed++;
        if ((mask[id] === 1) !== c.allows(id)) expect.fail(`token ${id} ${spm.tokenText(id)} after ${prefix.length} bytes`);
      }
      expect(allowed).toBeGreaterThan(0);
    }
  });
});

/** Samples under the constraint until EOG: random logits, with a coin flip that favours tokens ending structures so outputs stay short. */
function sample(grammar: Grammar, seed: number, maxTokens = 400): string {
  const rand = rng(seed);
  const c = new GrammarConstraint(grammar, trie);
  const logits = new Float32Array(trie.nVocab);
  const ids: number[] = [];
  for (let step = 0; step < maxTokens; step++) {
    const closing = rand() < 0.35;
    for (let i = 0; i < logits.length; i++) logits[i] = rand();
    if (closing) for (const id of CLOSERS) logits[id] += 10;
    c.mask(logits);
    let best = -1;
    for (let i = 0; i < logits.length; i++) if (logits[i] !== -Infinity && (best < 0 || logits[i] > logits[best])) best = i;
    expect(best).toBeGreaterThanOrEqual(0);
    if (trie.eog[best]) {
      expect(c.isComplete()).toBe(true);
      return new TextDecoder().decode(tokenizer.detokenizeBytes(ids));
    }
    c.accept(best);
    ids.push(best);
  }
  throw new Error(`no end after ${maxTokens} tokens: ${new TextDecoder().decode(tokenizer.detokenizeBytes(ids))}`);
}

let CLOSERS: number[] = [];

describe("valid by construction: random sampling under a schema gives valid instances", () => {
  const schemas: [string, JsonValue][] = [
    ["person", PERSON as unknown as JsonValue],
    ["nested arrays and enums", { type: "object", properties: { rows: { type: "array", items: { type: "array", items: { type: "integer", minimum: -5, maximum: 5 }, minItems: 1, maxItems: 3 }, maxItems: 3 }, kind: { enum: ["x", "y", null] } }, required: ["rows", "kind"], additionalProperties: false }],
    ["anyOf and refs", { $defs: { pt: { type: "object", properties: { x: { type: "number" }, y: { type: "number" } }, required: ["x", "y"] } }, type: "array", items: { anyOf: [{ $ref: "#/$defs/pt" }, { type: "string", maxLength: 4 }, { type: "boolean" }, { type: "null" }] }, minItems: 2, maxItems: 4 }],
    ["additional properties", { type: "object", properties: { id: { type: "string", format: "uuid" } }, required: ["id"], additionalProperties: { type: "integer", exclusiveMinimum: 0 } }],
    ["times and tuples", { type: "array", prefixItems: [{ type: "string", format: "date-time" }, { type: "string", format: "time" }, { const: 42 }] }],
  ];

  beforeAll(() => {
    // tokens that end strings, arrays and objects, or separate items
    CLOSERS = [];
    for (let id = 0; id < trie.nVocab; id++) {
      const p = trie.piece(id);
      if (p.length > 0 && p.length <= 2 && (p.includes(0x22) || p.includes(0x7d) || p.includes(0x5d) || p.includes(0x2c))) CLOSERS.push(id);
    }
    for (const id of [tokenizer.eos, tokenizer.eot]) if (id !== undefined) CLOSERS.push(id);
  });

  for (const [name, schema] of schemas) {
    it(name, () => {
      const g = compileGrammar(jsonSchemaToGbnf(schema));
      for (let seed = 1; seed <= 10; seed++) {
        const text = sample(g, seed * 7919 + name.length);
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (e) {
          expect.fail(`seed ${seed}: not JSON: ${text} (${String(e)})`);
        }
        const errors = validate(schema, value as JsonValue);
        expect(errors, `seed ${seed}: ${text}`).toEqual([]);
      }
    });
  }
});
