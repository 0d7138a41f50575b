// Constrained generation through the public API: a model's output under a GBNF grammar, a JSON schema or
// `json: true` is valid by construction (tiny stories260K, greedy and sampled), generation stops when the
// grammar is complete, and bad grammars or option mixes are typed errors that leave the model usable.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrammarError, ParameterError, SchemaError, type JsonValue, type Model } from "../src/index.js";
import { loadModelFile } from "../src/node.js";
import { fixturePath } from "./helpers/fixtures.js";
import { validate } from "./helpers/json-validate.js";

let model: Model;
beforeAll(async () => {
  model = await loadModelFile(fixturePath("models", "stories260K-Q8_0.gguf"), { contextLength: 512, threads: 1 });
});
afterAll(() => model.dispose());

const SCHEMAS: Record<string, JsonValue> = {
  person: {
    type: "object",
    properties: { name: { type: "string", maxLength: 12 }, age: { type: "integer", minimum: 0, maximum: 120 }, pet: { enum: ["cat", "dog"] } },
    required: ["name", "age"],
    additionalProperties: false,
  },
  list: { type: "array", items: { type: "boolean" }, minItems: 1, maxItems: 3 },
  nested: {
    type: "object",
    properties: { tags: { type: "array", items: { $ref: "#/$defs/tag" }, maxItems: 2 } },
    required: ["tags"],
    additionalProperties: false,
    $defs: { tag: { type: "string", pattern: "^[a-z]{1,5}$" } },
  },
};

describe("constrained generation", () => {
  it("a GBNF grammar: the text is one of its sentences, and generation ends with it", async () => {
    for (const seed of [1, 2, 3]) {
      const r = await model.complete("Once upon a time", { grammar: 'root ::= ("yes" | "no") " it is"', temperature: 1, seed, maxTokens: 40 });
      expect(["yes it is", "no it is"]).toContain(r.text);
      expect(r.finishReason).toBe("stop");
    }
  });

  it.each(Object.keys(SCHEMAS))("a JSON schema (%s): JSON.parse succeeds and the value validates, greedy and sampled", async (name) => {
    const schema = SCHEMAS[name];
    for (const options of [{ temperature: 0 }, { temperature: 1.2, seed: 7 }, { temperature: 1.2, seed: 8 }]) {
      const r = await model.complete("Once upon a time", { jsonSchema: schema, maxTokens: 200, ...options });
      expect(r.finishReason, r.text).toBe("stop");
      const value = JSON.parse(r.text) as JsonValue;
      expect(validate(schema, value)).toEqual([]);
    }
  });

  it("json: true gives a JSON object", async () => {
    for (const seed of [1, 2, 3, 4]) {
      const r = await model.complete("The little dog", { json: true, temperature: 0.8, seed, maxTokens: 300 });
      expect(r.finishReason, r.text).toBe("stop");
      const value = JSON.parse(r.text) as unknown;
      expect(value !== null && typeof value === "object" && !Array.isArray(value)).toBe(true);
    }
  });

  it("bad grammars, bad schemas and several constraints at once are typed errors; the model stays usable", async () => {
    await expect(model.complete("x", { grammar: "root ::= (" })).rejects.toBeInstanceOf(GrammarError);
    await expect(model.complete("x", { grammar: "start ::= \"a\"" })).rejects.toThrow(/root/);
    await expect(model.complete("x", { jsonSchema: { type: "string", format: "email" } })).rejects.toBeInstanceOf(SchemaError);
    await expect(model.complete("x", { json: true, grammar: 'root ::= "a"' })).rejects.toBeInstanceOf(ParameterError);
    const r = await model.complete("Once upon a time", { temperature: 0, maxTokens: 4 });
    expect(r.tokens).toHaveLength(4);
  });
});
