// A small JSON schema validator for the test schemas' subset (type, properties, required,
// additionalProperties, enum, const, items, prefixItems, minItems, maxItems, minLength, maxLength,
// pattern, format, minimum, maximum, exclusive bounds, anyOf, oneOf, $ref into $defs).

import type { JsonValue } from "../../src/grammar/index.js";

type Obj = { [k: string]: JsonValue };
const isObj = (v: JsonValue | undefined): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

const FORMATS: Record<string, RegExp> = {
  date: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/,
  time: /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{3})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/,
  "date-time": /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{3})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/,
  uuid: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
};

function typeOf(v: JsonValue): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

/** The errors of `value` against `schema` (empty: valid). */
export function validate(schema: JsonValue, value: JsonValue, root: JsonValue = schema, path = "$"): string[] {
  if (schema === true) return [];
  if (!isObj(schema)) return [`${path}: bad schema`];
  const errs: string[] = [];
  if (typeof schema.$ref === "string") {
    const target = schema.$ref.slice(2).split("/").reduce<JsonValue>((o, k) => (isObj(o) ? o[k] : null), root);
    return validate(target, value, root, path);
  }
  const alts = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alts)) {
    const ok = alts.filter((a) => validate(a, value, root, path).length === 0).length;
    if (schema.oneOf ? ok !== 1 : ok === 0) errs.push(`${path}: ${ok} alternatives match`);
    return errs;
  }
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value)) errs.push(`${path}: not the const`);
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) errs.push(`${path}: not in enum`);
  const t = typeOf(value);
  if (typeof schema.type === "string" && schema.type !== t && !(schema.type === "number" && t === "integer")) return [`${path}: ${t} is not ${schema.type}`];
  if (typeof value === "string") {
    const n = [...value].length;
    if (typeof schema.minLength === "number" && n < schema.minLength) errs.push(`${path}: too short`);
    if (typeof schema.maxLength === "number" && n > schema.maxLength) errs.push(`${path}: too long`);
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value)) errs.push(`${path}: pattern`);
    if (typeof schema.format === "string" && !FORMATS[schema.format.startsWith("uuid") ? "uuid" : schema.format].test(value)) errs.push(`${path}: format`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) errs.push(`${path}: below minimum`);
    if (typeof schema.maximum === "number" && value > schema.maximum) errs.push(`${path}: above maximum`);
    if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) errs.push(`${path}: not above exclusiveMinimum`);
    if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum) errs.push(`${path}: not below exclusiveMaximum`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems) errs.push(`${path}: too few items`);
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) errs.push(`${path}: too many items`);
    const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : Array.isArray(schema.items) ? schema.items : undefined;
    if (prefix) {
      if (value.length !== prefix.length) errs.push(`${path}: tuple length`);
      prefix.forEach((s, i) => errs.push(...validate(s, value[i] ?? null, root, `${path}[${i}]`)));
    } else if (schema.items !== undefined) value.forEach((v, i) => errs.push(...validate(schema.items as JsonValue, v, root, `${path}[${i}]`)));
  }
  if (isObj(value)) {
    const props = isObj(schema.properties) ? schema.properties : {};
    for (const k of Array.isArray(schema.required) ? schema.required : []) if (typeof k === "string" && !(k in value)) errs.push(`${path}: missing ${k}`);
    for (const [k, v] of Object.entries(value)) {
      if (k in props) errs.push(...validate(props[k], v, root, `${path}.${k}`));
      else if (schema.additionalProperties === false) errs.push(`${path}: extra ${k}`);
      else if (isObj(schema.additionalProperties)) errs.push(...validate(schema.additionalProperties, v, root, `${path}.${k}`));
    }
  }
  return errs;
}
