// Structured output on the server: OpenAI's `response_format` (json_object, json_schema) on chat
// completions and llama.cpp's `grammar` extension (GBNF text) on both endpoints. Grammars and schemas
// are compiled before the request queues, so a bad one is a 400 naming its field, not a failed stream.
import { compileGrammar, compileJsonGrammar, GrammarError, SchemaError, tokenResolver, type Grammar, type JsonValue } from "../grammar/index.js";
import type { Tokenizer } from "../tokenizer/index.js";
import { ServerError } from "./http.js";

type Body = Record<string, unknown>;

const bad = (param: string, message: string, cause?: unknown): ServerError => new ServerError("invalid_request", message, { param, cause });
const isRecord = (x: unknown): x is Body => typeof x === "object" && x !== null && !Array.isArray(x);

/** The compiled constraint of a request, or nothing (free text). */
export interface ResponseConstraint {
  readonly grammar?: Grammar;
}

function compileSchema(schema: JsonValue | undefined, param: string): Grammar {
  try {
    return compileJsonGrammar(schema === undefined ? { json: true } : { schema });
  } catch (e) {
    if (e instanceof SchemaError) throw bad(param, `${param} cannot be enforced: ${e.message}`, e);
    throw e;
  }
}

/**
 * `response_format` (chat only: `allowResponseFormat`) and `grammar`; at most one of them constrains.
 * `{ "type": "text" }` is free text; `json_object` any JSON object; `json_schema` an instance of
 * `json_schema.schema` (with or without `strict`: the grammar always enforces the whole schema).
 */
export function parseResponseConstraint(body: Body, tokenizer: Tokenizer, allowResponseFormat: boolean): ResponseConstraint {
  const format = body.response_format ?? undefined;
  const grammarText = body.grammar ?? undefined;
  let grammar: Grammar | undefined;
  if (format !== undefined) {
    if (!allowResponseFormat) throw bad("response_format", "response_format is for /v1/chat/completions; use grammar here");
    if (!isRecord(format) || typeof format.type !== "string") throw bad("response_format", 'response_format must be { "type": "text" | "json_object" | "json_schema", … }');
    switch (format.type) {
      case "text":
        break;
      case "json_object":
        grammar = compileSchema(undefined, "response_format");
        break;
      case "json_schema": {
        const js = format.json_schema;
        if (!isRecord(js)) throw bad("response_format.json_schema", 'response_format.json_schema must be { "name", "schema", "strict" }');
        if (typeof js.name !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(js.name)) {
          throw bad("response_format.json_schema.name", "response_format.json_schema.name must be 1 to 64 letters, digits, _ or -");
        }
        if (js.strict !== undefined && js.strict !== null && typeof js.strict !== "boolean") throw bad("response_format.json_schema.strict", "response_format.json_schema.strict must be true or false");
        if (js.schema !== undefined && !isRecord(js.schema)) throw bad("response_format.json_schema.schema", "response_format.json_schema.schema must be a JSON schema object");
        grammar = compileSchema((js.schema as JsonValue | undefined) ?? { type: "object" }, "response_format.json_schema.schema");
        break;
      }
      default:
        throw bad("response_format.type", `response_format.type must be "text", "json_object" or "json_schema"; got ${JSON.stringify(format.type)}`);
    }
  }
  if (grammarText !== undefined) {
    if (typeof grammarText !== "string") throw bad("grammar", "grammar must be GBNF text");
    if (grammar !== undefined) throw bad("grammar", "give either grammar or a JSON response_format, not both");
    try {
      grammar = compileGrammar(grammarText, { resolveToken: tokenResolver(tokenizer) });
    } catch (e) {
      if (e instanceof GrammarError) throw bad("grammar", `grammar: ${e.message}`, e);
      throw e;
    }
  }
  return grammar !== undefined ? { grammar } : {};
}
