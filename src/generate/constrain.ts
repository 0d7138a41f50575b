// Constrained generation for the loop: the GrammarConstraint a call's options ask for (a GBNF grammar,
// a JSON schema, or any JSON), over a token trie built once per tokenizer (a 150k vocabulary takes a
// few seconds to index; every later call reuses it).
import { ParameterError } from "../errors.js";
import {
  compileGrammar,
  compileJsonGrammar,
  Grammar,
  GrammarConstraint,
  tokenResolver,
  tokenTrieFromTokenizer,
  type JsonValue,
  type TokenTrie,
} from "../grammar/index.js";
import type { Tokenizer } from "../tokenizer/index.js";

export interface ConstraintOptions {
  /** A GBNF grammar (llama.cpp's format), as text or compiled: the output is a sentence of it. */
  grammar?: string | Grammar;
  /** A JSON Schema: the output is a JSON value that validates against it. */
  jsonSchema?: JsonValue;
  /** Any JSON object (`response_format: { type: "json_object" }`). */
  json?: boolean;
}

const tries = new WeakMap<Tokenizer, TokenTrie>();

/** The constraint the options ask for, or null; throws GrammarError/SchemaError for a bad grammar or schema. */
export function constraintFor(tokenizer: Tokenizer, o: ConstraintOptions): GrammarConstraint | null {
  const asked = (o.grammar !== undefined ? 1 : 0) + (o.jsonSchema !== undefined ? 1 : 0) + (o.json ? 1 : 0);
  if (asked === 0) return null;
  if (asked > 1) throw new ParameterError("grammar", "only one of grammar, jsonSchema and json", "several of them");
  const grammar =
    o.grammar instanceof Grammar
      ? o.grammar
      : typeof o.grammar === "string"
        ? compileGrammar(o.grammar, { resolveToken: tokenResolver(tokenizer) })
        : compileJsonGrammar(o.jsonSchema !== undefined ? { schema: o.jsonSchema } : { json: true });
  let trie = tries.get(tokenizer);
  if (!trie) {
    trie = tokenTrieFromTokenizer(tokenizer);
    tries.set(tokenizer, trie);
  }
  return new GrammarConstraint(grammar, trie);
}
