// Constrained generation: GBNF grammars (llama.cpp's format), JSON schemas compiled to GBNF, and the
// vocabulary mask a grammar implies at each step of generation.

export { compileGrammar, Grammar, type GrammarOptions } from "./grammar.js";
export { GrammarConstraint } from "./constraint.js";
export { TokenTrie } from "./trie.js";
export { tokenTrieFromTokenizer, tokenResolver, type TokenTrieOptions } from "./vocab.js";
export type { TokenResolver } from "./parser.js";
export { GrammarError, SchemaError, type GrammarErrorKind, type SchemaErrorKind } from "./errors.js";
export { jsonSchemaToGbnf, compileJsonGrammar, type JsonFormat, type JsonValue } from "./json-schema.js";
