// The fixed parts of llama.cpp's JSON schema converter: the whitespace rule, the primitive rules
// (same names and bodies, so grammars match llama.cpp's), and Woolly's keyword tables.

export const SPACE_RULE = '| " " | "\\n"{1,2} [ \\t]{0,20}';

export const PRIMITIVES: Record<string, { content: string; deps: string[] }> = {
  boolean: { content: '("true" | "false")', deps: [] },
  "decimal-part": { content: "[0-9]{1,16}", deps: [] },
  "integral-part": { content: "[0] | [1-9] [0-9]{0,15}", deps: [] },
  number: { content: '("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)?', deps: ["integral-part", "decimal-part"] },
  integer: { content: '("-"? integral-part)', deps: ["integral-part"] },
  value: { content: "object | array | string | number | boolean | null", deps: ["object", "array", "string", "number", "boolean", "null"] },
  object: { content: '"{" space ( string ":" space value ("," space string ":" space value)* )? space "}"', deps: ["string", "value"] },
  array: { content: '"[" space ( value ("," space value)* )? space "]"', deps: ["value"] },
  uuid: { content: '"\\"" [0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12} "\\""', deps: [] },
  char: { content: '[^"\\\\\\x7F\\x00-\\x1F] | [\\\\] (["\\\\bfnrt] | "u" [0-9a-fA-F]{4})', deps: [] },
  string: { content: '"\\"" char* "\\""', deps: ["char"] },
  null: { content: '"null"', deps: [] },
  date: { content: '[0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" [0-1] )', deps: [] },
  time: { content: '([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{3} )? ( "Z" | ( "+" | "-" ) ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )', deps: [] },
  "date-time": { content: 'date "T" time', deps: ["date", "time"] },
  "date-string": { content: '"\\"" date "\\""', deps: ["date"] },
  "time-string": { content: '"\\"" time "\\""', deps: ["time"] },
  "date-time-string": { content: '"\\"" date-time "\\""', deps: ["date-time"] },
};
export const RESERVED = new Set(["root", ...Object.keys(PRIMITIVES)]);

/** Keywords that never constrain an instance: allowed (and ignored) anywhere. */
export const ANNOTATIONS = new Set(["title", "description", "$schema", "$id", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly", "$defs", "definitions"]);

/** Keywords that only constrain instances of one type. */
export const KEYWORD_TYPE = new Map<string, string>([
  ...["pattern", "format", "minLength", "maxLength", "contentEncoding", "contentMediaType"].map((k): [string, string] => [k, "string"]),
  ...["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"].map((k): [string, string] => [k, "number"]),
  ...["items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains", "minContains", "maxContains", "additionalItems", "unevaluatedItems"].map((k): [string, string] => [k, "array"]),
  ...["properties", "required", "additionalProperties", "patternProperties", "propertyNames", "minProperties", "maxProperties", "dependentRequired", "dependentSchemas", "dependencies", "unevaluatedProperties"].map((k): [string, string] => [k, "object"]),
]);

