// JSON schema → GBNF: the output matches llama.cpp's converter where both enforce the same thing,
// every feature accepts valid instances and rejects invalid ones, and what cannot be enforced is
// refused with the schema path.

import { describe, expect, it } from "vitest";
import { compileGrammar, compileJsonGrammar, jsonSchemaToGbnf, SchemaError, type JsonValue, type SchemaErrorKind } from "../src/grammar/index.js";
import { matches } from "./helpers/grammar.js";

const grammarOf = (schema: JsonValue) => compileGrammar(jsonSchemaToGbnf(schema));

function check(schema: JsonValue, valid: string[], invalid: string[]): void {
  const g = grammarOf(schema);
  for (const v of valid) expect(matches(g, v), `valid: ${v}`).toBe(true);
  for (const v of invalid) expect(matches(g, v), `invalid: ${v}`).toBe(false);
}

function refused(schema: JsonValue, kind: SchemaErrorKind, path: string, fragment: string): void {
  let err: unknown;
  try {
    jsonSchemaToGbnf(schema);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SchemaError);
  expect((err as SchemaError).kind).toBe(kind);
  expect((err as SchemaError).path).toBe(path);
  expect((err as SchemaError).message).toContain(fragment);
}

describe("the GBNF is llama.cpp's", () => {
  it("required properties in schema order, the shared primitives and space rule", () => {
    const gbnf = jsonSchemaToGbnf({ type: "object", properties: { b: { type: "string" }, c: { type: "string" }, a: { type: "string" } }, required: ["a", "b", "c"], additionalProperties: false, definitions: {} });
    expect(gbnf).toBe(
      [
        'a-kv ::= "\\"a\\"" space ":" space string',
        'b-kv ::= "\\"b\\"" space ":" space string',
        'c-kv ::= "\\"c\\"" space ":" space string',
        'char ::= [^"\\\\\\x7F\\x00-\\x1F] | [\\\\] (["\\\\bfnrt] | "u" [0-9a-fA-F]{4})',
        'root ::= "{" space b-kv "," space c-kv "," space a-kv space "}"',
        'space ::= | " " | "\\n"{1,2} [ \\t]{0,20}',
        'string ::= "\\"" char* "\\""',
        "",
      ].join("\n"),
    );
  });

  it("integer ranges", () => {
    expect(jsonSchemaToGbnf({ type: "integer", minimum: -123, maximum: 42 })).toContain(
      'root ::= ("-" ([0-9] | ([1-8] [0-9] | [9] [0-9]) | "1" ([0-1] [0-9] | [2] [0-3])) | [0-9] | ([1-3] [0-9] | [4] [0-2]))',
    );
  });

  it("optional properties chain in order", () => {
    const gbnf = jsonSchemaToGbnf({ properties: { a: { type: "string" }, b: { type: "string" }, c: { type: "string" } } });
    expect(gbnf).toContain('root ::= "{" space  (a-kv a-rest | b-kv b-rest | c-kv )? space "}"');
    expect(gbnf).toContain('a-rest ::= ( "," space b-kv )? b-rest');
    expect(gbnf).toContain('b-rest ::= ( "," space c-kv )?');
  });
});

describe("each feature accepts valid instances and rejects invalid ones", () => {
  it("objects: required, optional (in order), additionalProperties false / schema / implicit any", () => {
    const s = { type: "object", properties: { id: { type: "integer" }, name: { type: "string" }, ok: { type: "boolean" } }, required: ["id"] };
    check(s, ['{"id": 1}', '{"id":1,"name":"x","ok":true}', '{ "id": -5, "ok": false }', '{\n  "id": 0,\n  "name": "é\\n"\n}'], ['{}', '{"name": "x"}', '{"id": 1, "zz": 2}', '{"id": 1.5}', '{"id": 1, "ok": true, "name": "x"}']);
    check({ properties: { a: { type: "null" } }, additionalProperties: { type: "number" } }, ['{"a": null, "x": 1.5, "y": -2e3}', '{"q": 1}', "{}"], ['{"x": "s"}', '{"a": 1}']);
    check({ type: "object" }, ['{"any": [1, {"b": null}], "c": "d"}', "{}"], ["[]", '"s"']);
    // extra keys are strings other than the declared names (as llama.cpp: nor their prefixes), and
    // never start with a raw backslash (llama.cpp's bug)
    check({ properties: { ab: { type: "integer" } }, additionalProperties: true }, ['{"ab": 1, "abc": 3, "b\\n": 4}'], ['{"ab": 1, "ab": 2}', '{"a": 1}', '{"\\q": 1}', '{"a\u0001": 1}']);
  });

  it("enum and const (any JSON values)", () => {
    check({ enum: ["red", 1, null, { a: [true] }] }, ['"red"', "1", "null", '{"a":[true]}'], ['"blue"', "2", '{"a": [true]}']);
    check({ const: "fixed" }, ['"fixed"'], ['"other"']);
  });

  it("arrays: items, minItems, maxItems, tuples", () => {
    check({ type: "array", items: { type: "integer" }, minItems: 1, maxItems: 3 }, ["[1]", "[1, 2, 3]", "[ 4,5 ]"], ["[]", "[1,2,3,4]", '["1"]', "[4 , 5]"]);
    check({ type: "array", prefixItems: [{ type: "string" }, { type: "number" }] }, ['["a", 1.5]'], ['["a"]', '["a", 1, 2]', '[1, "a"]']);
    check({ type: "array", prefixItems: [{ type: "boolean" }], items: false }, ["[true]"], ["[]", "[true, false]"]);
    check({ type: "array" }, ['[1, "x", null, [], {}]', "[]"], ["{}"]);
  });

  it("strings: minLength, maxLength, formats, patterns", () => {
    check({ type: "string", minLength: 2, maxLength: 3 }, ['"ab"', '"a\\nb"', '"éé"'], ['"a"', '"abcd"', '"a\nb"']);
    check({ type: "string", format: "date" }, ['"2024-02-29"'], ['"2024-13-01"', '"24-01-01"']);
    check({ type: "string", format: "time" }, ['"23:59:59Z"', '"01:02:03.456+05:30"'], ['"24:00:00Z"', '"12:00:00"']);
    check({ type: "string", format: "date-time" }, ['"2024-01-31T12:00:00Z"'], ['"2024-01-31 12:00:00Z"']);
    check({ type: "string", format: "uuid" }, ['"123e4567-e89b-12d3-a456-426614174000"'], ['"123e4567e89b12d3a456426614174000"']);
    check({ type: "string", pattern: "^[A-Z]{2}-\\d{3}(x|yz)?$" }, ['"AB-123"', '"QQ-000yz"'], ['"A-123"', '"AB-12"', '"AB-123y"']);
    check({ type: "string", pattern: '^a"b\\\\c.$' }, ['"a\\"b\\\\cz"'], ['"a"b\\\\cz"', '"a\\"b\\\\c\\""']);
    check({ type: "string", pattern: "^[^a]$" }, ['"b"'], ['"a"', '"""', '"\\"']);
  });

  it("integers with bounds (every value from -1200 to 1200 checked) and numbers", () => {
    const ranges: [number | undefined, number | undefined][] = [[-123, 42], [0, 23], [15, 300], [5, 30], [-10, 10], [0, undefined], [3, undefined], [25, undefined], [-5, undefined], [-123, undefined], [undefined, 30], [undefined, -5], [undefined, 1], [undefined, 100], [1000, 1000], [-1000, -999]];
    for (const [min, max] of ranges) {
      const g = grammarOf({ type: "integer", ...(min !== undefined ? { minimum: min } : {}), ...(max !== undefined ? { maximum: max } : {}) });
      for (let v = -1200; v <= 1200; v++) {
        const inRange = (min === undefined || v >= min) && (max === undefined || v <= max);
        if (matches(g, String(v)) !== inRange) expect.fail(`[${min}, ${max}] and ${v}`);
      }
      expect(matches(g, "007")).toBe(false);
    }
    check({ type: "integer", exclusiveMinimum: 1.5, exclusiveMaximum: 4 }, ["2", "3"], ["1", "4"]);
    check({ type: "number" }, ["0", "-1.25", "3e10", "1E-2"], ["01", "1.", ".5", "+1"]);
  });

  it("anyOf / oneOf, type arrays, allOf merging, boolean, null, nested $ref with recursion", () => {
    check({ anyOf: [{ type: "integer" }, { type: "string", maxLength: 1 }] }, ["12", '"x"'], ['"xy"', "1.5"]);
    check({ type: ["string", "null"], maxLength: 2 }, ['"ab"', "null"], ['"abc"']);
    // a "type" beside anyOf applies to every alternative (llama.cpp drops it)
    check({ type: "object", anyOf: [{ properties: { a: { type: "integer" } }, required: ["a"] }, { $ref: "#/$defs/b" }], $defs: { b: { properties: { b: { const: 1 } }, required: ["b"] } } }, ['{"a": 1}', '{"b": 1}'], ["{}", "1"]);
    check({ allOf: [{ properties: { a: { type: "integer" } }, required: ["a"] }, { $ref: "#/$defs/b" }], $defs: { b: { type: "object", properties: { b: { type: "boolean" } } } } }, ['{"a": 1}', '{"a": 1, "b": true}'], ['{"b": true}']);
    check({ allOf: [{ enum: [1, 2, 3] }, { enum: [2, 3, 4] }] }, ["2", "3"], ["1", "4"]);
    const tree = { $ref: "#/$defs/node", $defs: { node: { type: "object", properties: { v: { type: "integer" }, kids: { type: "array", items: { $ref: "#/$defs/node" } } }, required: ["v"] } } };
    check(tree, ['{"v": 1, "kids": [{"v": 2}, {"v": 3, "kids": [{"v": 4, "kids": []}]}]}'], ['{"v": 1, "kids": [{}]}']);
    check({ type: "boolean" }, ["true", "false"], ["1"]);
  });

  it("{ json: true } is any JSON object", () => {
    const g = compileJsonGrammar({ json: true });
    expect(matches(g, '{"a": [1, 2, {"b": "c"}]}')).toBe(true);
    expect(matches(g, "[1]")).toBe(false);
    expect(matches(compileJsonGrammar({ schema: { type: "integer" } }), "12")).toBe(true);
  });
});

describe("what cannot be enforced is refused by path", () => {
  it("formats, keywords and patterns", () => {
    refused({ properties: { foo: { type: "string", format: "email" } } }, "unsupported_schema", "#/properties/foo/format", 'format "email" is not supported');
    refused({ type: "number", minimum: 0 }, "unsupported_schema", "#/minimum", 'keyword "minimum" is not supported for type "number"');
    refused({ type: "array", items: { type: "string" }, uniqueItems: true }, "unsupported_schema", "#/uniqueItems", "uniqueItems");
    refused({ type: "integer", multipleOf: 2 }, "unsupported_schema", "#/multipleOf", "multipleOf");
    refused({ type: "object", properties: { a: { type: "string" } }, minProperties: 1 }, "unsupported_schema", "#/minProperties", "minProperties");
    refused({ type: "string", pattern: "[0-9]+" }, "unsupported_schema", "#/pattern", "anchored");
    refused({ type: "string", pattern: "^(?=a)a$" }, "unsupported_schema", "#/pattern", "lookarounds");
    refused({ type: "string", pattern: "^\\p{L}$" }, "unsupported_schema", "#/pattern", "escape \\p");
    refused({ type: "string", pattern: "^a$b$" }, "unsupported_schema", "#/pattern", "anchor inside");
    refused({ type: "string", pattern: "^(a$" }, "invalid_schema", "#/pattern", "unbalanced parentheses");
    refused({ type: "string", maxLength: 5000 }, "unsupported_schema", "#/maxLength", "2000");
    refused({ not: { type: "string" } }, "unsupported_schema", "#/not", 'keyword "not"');
    refused({ anyOf: [{ type: "string" }, { if: { type: "string" } }] }, "unsupported_schema", "#/anyOf/1/if", 'keyword "if"');
    refused(false, "unsupported_schema", "#", "accepts nothing");
    refused({ type: "string", anyOf: [{ type: "integer" }] }, "unsupported_schema", "#/anyOf/0/type", 'type "integer" conflicts');
  });

  it("references and object shapes it cannot honour", () => {
    refused({ $ref: "https://example.com/s.json" }, "unsupported_schema", "#/$ref", "same document");
    refused({ $ref: "#/$defs/missing", $defs: {} }, "invalid_schema", "#/$ref", '"missing" not found');
    refused({ properties: { a: {} }, required: ["b"] }, "unsupported_schema", "#/required", 'required property "b"');
    refused({ allOf: [{ properties: { a: {} } }, { properties: { a: {} } }] }, "unsupported_schema", "#/allOf/1/properties/a", "more than one allOf member");
    refused({ type: "integer", minimum: 5, maximum: 4 }, "unsupported_schema", "#", "no integer");
    refused({ type: "frog" }, "invalid_schema", "#/type", "unrecognized type");
    refused({ type: "array", minItems: -1 }, "invalid_schema", "#/minItems", "non-negative integer");
  });
});
