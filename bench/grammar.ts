// Grammar mask micro-benchmark: the cost of GrammarConstraint.mask() per generated token over the
// qwen2 vocabulary (151k tokens) for a JSON schema grammar, at several grammar states (median of
// several runs, after a warm-up run that fills the transition caches). Not part of bench/main.ts.
//
// Run (from the project root): npx esbuild bench/grammar.ts --bundle --platform=node --format=esm --outfile=/tmp/bench-grammar.mjs && node /tmp/bench-grammar.mjs [path/to/vocab.gguf]

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseGguf } from "../src/gguf/index.js";
import { compileJsonGrammar, GrammarConstraint, tokenTrieFromTokenizer } from "../src/grammar/index.js";
import { Tokenizer } from "../src/tokenizer/index.js";

// default: the shared fixture beside the project root (run from the project root)
const vocabPath = process.argv[2] ?? resolve("../shared/fixtures/tokenizer/ggml-vocab-qwen2.gguf");
const SAMPLES = 15;

const schema = {
  type: "object",
  properties: {
    name: { type: "string" },
    age: { type: "integer", minimum: 0, maximum: 150 },
    email: { type: "string", pattern: "^[a-z0-9.]+@[a-z0-9]+\\.[a-z]{2,3}$" },
    tags: { type: "array", items: { type: "string" }, maxItems: 5 },
    address: { type: "object", properties: { city: { type: "string" }, zip: { type: "string", pattern: "^\\d{5}$" } }, required: ["city"] },
    born: { type: "string", format: "date" },
  },
  required: ["name", "age"],
};

/** Grammar states to measure at: the text generated so far. */
const STATES: [string, string][] = [
  ["start", ""],
  ["after {", "{"],
  ['in a key ({")', '{"'],
  ["in a string value", '{"name": "Ada Lovel'],
  ["in an integer", '{"name": "Ada", "age": 4'],
  ["in a pattern string", '{"name": "Ada", "age": 36, "email": "ada.l'],
  ["between properties", '{"name": "Ada", "age": 36, '],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const t0 = performance.now();
const tokenizer = Tokenizer.fromGguf(parseGguf(new Uint8Array(readFileSync(vocabPath))));
const t1 = performance.now();
const trie = tokenTrieFromTokenizer(tokenizer);
const t2 = performance.now();
const grammar = compileJsonGrammar({ schema });
process.stdout.write(`vocab ${trie.nVocab} tokens, ${trie.nodeCount} trie nodes; tokenizer load ${(t1 - t0).toFixed(0)} ms, trie build ${(t2 - t1).toFixed(0)} ms\n`);

const logits = new Float32Array(trie.nVocab);
for (const [label, text] of STATES) {
  const c = new GrammarConstraint(grammar, trie);
  c.acceptBytes(new TextEncoder().encode(text));
  const cold0 = performance.now();
  c.mask(logits.fill(0));
  const cold = performance.now() - cold0;
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    logits.fill(0);
    const a = performance.now();
    c.mask(logits);
    times.push(performance.now() - a);
  }
  let allowed = 0;
  for (const x of logits) if (x === 0) allowed++;
  process.stdout.write(`${label.padEnd(22)} mask ${median(times).toFixed(2).padStart(7)} ms (first ${cold.toFixed(1)} ms)  allowed ${allowed}\n`);
}

// A whole generation: fresh constraint (cold caches), mask + accept per token along a fixed output.
const output = '{"name": "Ada Lovelace", "age": 36, "email": "ada@math.org", "tags": ["math", "poetry"], "address": {"city": "London", "zip": "12345"}, "born": "1815-12-10"}';
const ids = tokenizer.tokenize(output, { addSpecial: false });
for (let run = 0; run < 3; run++) {
  const c = new GrammarConstraint(grammar, trie);
  const per: number[] = [];
  for (const id of ids) {
    const a = performance.now();
    c.mask(logits.fill(0));
    per.push(performance.now() - a);
    if (logits[id] !== 0) throw new Error(`token ${id} masked out`);
    c.accept(id);
  }
  const total = per.reduce((s, x) => s + x, 0);
  process.stdout.write(`generation run ${run + 1} (fresh constraint): ${ids.length} tokens, mask median ${median(per).toFixed(2)} ms, mean ${(total / ids.length).toFixed(2)} ms\n`);
}
