// JSON schema → GBNF, following llama.cpp's json-schema-to-grammar (common/json-schema.cpp and
// common/json-schema-to-grammar.cpp): the same rule names, primitives, whitespace rule, property
// order (required properties first, then optional ones in schema order) and integer ranges.
//
// Where llama.cpp silently ignores what it cannot enforce (an unknown format, number bounds, a
// pattern it cannot convert, uniqueItems, …), Woolly refuses the schema with a SchemaError naming
// the keyword's path, so that every instance the grammar accepts is valid against the schema.

import { SchemaError } from "./errors.js";
import { compileGrammar, type Grammar } from "./grammar.js";
import { intRangeGbnf } from "./json-schema-int.js";
import { patternToGbnf, repetition } from "./json-schema-pattern.js";
import { ANNOTATIONS, KEYWORD_TYPE, PRIMITIVES, RESERVED, SPACE_RULE } from "./json-schema-rules.js";

/** A JSON value (what JSON.parse returns). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
type Obj = { [key: string]: JsonValue };

/** JSON literal as GBNF (llama.cpp's format_literal). */
function literal(text: string): string {
  return '"' + text.replace(/[\r\n"\\]/g, (c) => ({ "\r": "\\r", "\n": "\\n", '"': '\\"', "\\": "\\\\" })[c] as string) + '"';
}

const isObj = (v: JsonValue | undefined): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

class Converter {
  private readonly rules = new Map<string, string>([["space", SPACE_RULE]]);
  private readonly resolving = new Set<string>();

  constructor(private readonly root: JsonValue) {}

  addRule(name: string, body: string): string {
    const esc = name.replace(/[^a-zA-Z0-9-]+/g, "-");
    const existing = this.rules.get(esc);
    if (existing === undefined || existing === body) {
      this.rules.set(esc, body);
      return esc;
    }
    let i = 0;
    while (this.rules.has(esc + i) && this.rules.get(esc + i) !== body) i++;
    this.rules.set(esc + i, body);
    return esc + i;
  }

  private primitive(name: string, type: string): string {
    const p = PRIMITIVES[type];
    const n = this.addRule(name, p.content);
    for (const dep of p.deps) if (!this.rules.has(dep)) this.primitive(dep, dep);
    return n;
  }

  format(): string {
    return [...this.rules.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((k) => `${k} ::= ${this.rules.get(k)}\n`).join("");
  }

  /**
   * Refuses keywords outside `allowed` (and the annotations), naming the first one's path. For a
   * schema of one type, keywords that only apply to other types are ignored, as JSON schema does
   * (they arise from expanding "type": [...] too).
   */
  private only(schema: Obj, path: string, allowed: readonly string[], what: string, type?: string): void {
    for (const k of Object.keys(schema)) {
      if (ANNOTATIONS.has(k) || allowed.includes(k)) continue;
      const owner = KEYWORD_TYPE.get(k);
      if (type !== undefined && owner !== undefined && owner !== type && !(owner === "number" && type === "integer")) continue;
      const v = schema[k];
      const shown = k === "format" && typeof v === "string" ? `format ${JSON.stringify(v)}` : `keyword "${k}"`;
      throw new SchemaError("unsupported_schema", `${path}/${k}`, `${shown} is not supported${what ? ` for ${what}` : ""}`);
    }
  }

  private count(schema: Obj, key: string, path: string, def: number): number {
    const v = schema[key];
    if (v === undefined) return def;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new SchemaError("invalid_schema", `${path}/${key}`, `${key} must be a non-negative integer`);
    if (v > 2000) throw new SchemaError("unsupported_schema", `${path}/${key}`, `${key} above 2000 is not supported (llama.cpp's repetition limit)`);
    return v;
  }

  private resolve(ref: string, path: string): JsonValue {
    if (!ref.startsWith("#")) throw new SchemaError("unsupported_schema", `${path}/$ref`, `$ref ${JSON.stringify(ref)}: only references into the same document are supported`);
    let target: JsonValue = this.root;
    const frag = ref.slice(1);
    if (frag !== "" && !frag.startsWith("/")) throw new SchemaError("unsupported_schema", `${path}/$ref`, `$ref ${JSON.stringify(ref)}: only JSON pointers are supported`);
    for (const raw of frag === "" ? [] : frag.slice(1).split("/")) {
      const sel = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
      if (Array.isArray(target) && /^\d+$/.test(sel) && Number(sel) < target.length) target = target[Number(sel)];
      else if (isObj(target) && Object.hasOwn(target, sel)) target = target[sel];
      else throw new SchemaError("invalid_schema", `${path}/$ref`, `cannot resolve $ref ${JSON.stringify(ref)}: ${JSON.stringify(sel)} not found`);
    }
    return target;
  }

  private refRule(ref: string, path: string): string {
    const frag = ref.slice(ref.indexOf("#") + 1);
    let name = "ref" + frag.replace(/[^a-zA-Z0-9-]+/g, "-");
    if (!this.rules.has(name) && !this.resolving.has(ref)) {
      const target = this.resolve(ref, path);
      this.resolving.add(ref);
      name = this.visit(target, name, ref);
      this.resolving.delete(ref);
    }
    return name;
  }

  visit(schema: JsonValue, name: string, path: string): string {
    const ruleName = RESERVED.has(name) ? name + "-" : name === "" ? "root" : name;
    const subName = name === "" ? "" : name + "-";
    if (schema === true) return this.addRule(ruleName, this.primitive("value", "value"));
    if (!isObj(schema)) {
      if (schema === false) throw new SchemaError("unsupported_schema", path, "the schema false accepts nothing");
      throw new SchemaError("invalid_schema", path, "a schema must be an object or a boolean");
    }
    if (schema.$ref !== undefined) {
      if (typeof schema.$ref !== "string") throw new SchemaError("invalid_schema", `${path}/$ref`, "$ref must be a string");
      this.only(schema, path, ["$ref"], "a $ref");
      return this.addRule(ruleName, this.refRule(schema.$ref, path));
    }
    for (const key of ["oneOf", "anyOf"] as const) {
      const alts = schema[key];
      if (alts === undefined) continue;
      if (!Array.isArray(alts) || alts.length === 0) throw new SchemaError("invalid_schema", `${path}/${key}`, `${key} must be a non-empty array of schemas`);
      this.only(schema, path, [key, "type"], key);
      const rules = alts.map((alt, i) => this.visit(this.withType(alt, schema.type, `${path}/${key}/${i}`), `${name}${name === "" ? "alternative-" : "-"}${i}`, `${path}/${key}/${i}`));
      return this.addRule(ruleName, rules.join(" | "));
    }
    const type = schema.type;
    if (Array.isArray(type)) {
      if (type.length === 0) throw new SchemaError("invalid_schema", `${path}/type`, "type must not be empty");
      const rules = type.map((t, i) => this.visit({ ...schema, type: t }, `${name}${name === "" ? "alternative-" : "-"}${i}`, `${path}/type/${i}`));
      return this.addRule(ruleName, rules.join(" | "));
    }
    if (schema.const !== undefined) {
      this.only(schema, path, ["const", "type"], "const");
      return this.addRule(ruleName, literal(JSON.stringify(schema.const)));
    }
    if (schema.enum !== undefined) {
      const values = schema.enum;
      if (!Array.isArray(values) || values.length === 0) throw new SchemaError("invalid_schema", `${path}/enum`, "enum must be a non-empty array");
      this.only(schema, path, ["enum", "type"], "enum");
      return this.addRule(ruleName, `(${values.map((v) => literal(JSON.stringify(v))).join(" | ")})`);
    }
    if (type !== undefined && typeof type !== "string") throw new SchemaError("invalid_schema", `${path}/type`, "type must be a string or an array of strings");
    const hasProps = schema.properties !== undefined || (schema.additionalProperties !== undefined && schema.additionalProperties !== true);
    const stringish = ["pattern", "minLength", "maxLength", "format"].some((k) => schema[k] !== undefined);
    switch (type) {
      case undefined:
        if (hasProps) return this.object(schema, name, ruleName, path);
        if (schema.allOf !== undefined) return this.allOf(schema, name, ruleName, path);
        if (schema.items !== undefined || schema.prefixItems !== undefined) return this.array(schema, subName, ruleName, path);
        if (stringish) return this.string(schema, ruleName, path);
        this.only(schema, path, [], "");
        return this.addRule(ruleName, this.primitive("value", "value"));
      case "object":
        if (!hasProps && schema.allOf !== undefined) return this.allOf(schema, name, ruleName, path);
        return this.object(schema, name, ruleName, path);
      case "string":
        return this.string(schema, ruleName, path);
      case "array":
        return this.array(schema, subName, ruleName, path);
      case "integer":
        return this.integer(schema, ruleName, path);
      case "number":
      case "boolean":
      case "null":
        this.only(schema, path, ["type"], `type "${type}"`, type);
        return this.primitive(ruleName === "root" ? "root" : type, type);
      default:
        throw new SchemaError("invalid_schema", `${path}/type`, `unrecognized type ${JSON.stringify(type)}`);
    }
  }

  /**
   * An anyOf/oneOf alternative with the parent's "type" applied (llama.cpp ignores it): added where
   * the alternative has none, checked where it (or its $ref target) has one.
   */
  private withType(alt: JsonValue, type: JsonValue | undefined, path: string): JsonValue {
    if (type === undefined) return alt;
    if (typeof type !== "string") throw new SchemaError("unsupported_schema", path, "a type list beside anyOf/oneOf is not supported");
    let target = alt;
    let at = path;
    while (isObj(target) && typeof target.$ref === "string") {
      at = target.$ref;
      target = this.resolve(target.$ref, path);
    }
    if (!isObj(target)) throw new SchemaError("unsupported_schema", path, `an alternative under "type": ${JSON.stringify(type)} must be a schema object`);
    const own = target.type;
    if (own === undefined && target !== alt) {
      // a $ref target without a type: fine when its keywords already make it one of that type
      const implied: Record<string, string[]> = { object: ["properties", "additionalProperties"], array: ["items", "prefixItems"], string: ["pattern", "format", "minLength", "maxLength"] };
      if ((implied[type] ?? []).some((k) => (target as Obj)[k] !== undefined)) return alt;
    }
    if (own === undefined) {
      if (target !== alt) throw new SchemaError("unsupported_schema", at, `the $ref target has no type to check against the parent's ${JSON.stringify(type)}`);
      return { ...target, type };
    }
    if (own === type || (type === "number" && own === "integer")) return alt;
    throw new SchemaError("unsupported_schema", `${at}/type`, `type ${JSON.stringify(own)} conflicts with the parent's ${JSON.stringify(type)}`);
  }

  private string(schema: Obj, ruleName: string, path: string): string {
    this.only(schema, path, ["type", "pattern", "format", "minLength", "maxLength"], "a string", schema.type === "string" ? "string" : undefined);
    const { pattern, format } = schema;
    const hasLength = schema.minLength !== undefined || schema.maxLength !== undefined;
    if (pattern !== undefined) {
      if (typeof pattern !== "string") throw new SchemaError("invalid_schema", `${path}/pattern`, "pattern must be a string");
      if (format !== undefined || hasLength) throw new SchemaError("unsupported_schema", `${path}/pattern`, "pattern together with format, minLength or maxLength is not supported");
      return this.addRule(ruleName, patternToGbnf(pattern, ruleName, path, (n, b) => this.addRule(n, b)));
    }
    if (format !== undefined) {
      if (typeof format !== "string") throw new SchemaError("invalid_schema", `${path}/format`, "format must be a string");
      if (hasLength) throw new SchemaError("unsupported_schema", `${path}/format`, "format together with minLength or maxLength is not supported");
      if (format === "uuid" || /^uuid[1-5]$/.test(format)) return this.primitive(ruleName === "root" ? "root" : "uuid", "uuid");
      if (format === "date" || format === "time" || format === "date-time") {
        return this.addRule(ruleName, this.primitive(`${format}-string`, `${format}-string`));
      }
      throw new SchemaError("unsupported_schema", `${path}/format`, `format ${JSON.stringify(format)} is not supported (supported: date, time, date-time, uuid)`);
    }
    const min = this.count(schema, "minLength", path, 0);
    const max = this.count(schema, "maxLength", path, -1);
    if (min > 0 || max >= 0) {
      const char = this.primitive("char", "char");
      return this.addRule(ruleName, `"\\"" ${repetition(char, min, max < 0 ? Infinity : max)} "\\""`);
    }
    return this.primitive(ruleName === "root" ? "root" : "string", "string");
  }

  private integer(schema: Obj, ruleName: string, path: string): string {
    this.only(schema, path, ["type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"], "an integer", "integer");
    const bound = (key: string): number | undefined => {
      const v = schema[key];
      if (v === undefined) return undefined;
      if (typeof v !== "number" || !Number.isFinite(v)) throw new SchemaError("invalid_schema", `${path}/${key}`, `${key} must be a number`);
      if (!Number.isSafeInteger(Math.trunc(v))) throw new SchemaError("unsupported_schema", `${path}/${key}`, `${key} beyond ±2^53 is not supported`);
      return v;
    };
    // fractional bounds round inwards; with both inclusive and exclusive bounds the tighter wins
    let min = -Infinity;
    let max = Infinity;
    const lo = bound("minimum");
    const xlo = bound("exclusiveMinimum");
    const hi = bound("maximum");
    const xhi = bound("exclusiveMaximum");
    if (lo !== undefined) min = Math.ceil(lo);
    if (xlo !== undefined) min = Math.max(min, Math.floor(xlo) + 1);
    if (hi !== undefined) max = Math.floor(hi);
    if (xhi !== undefined) max = Math.min(max, Math.ceil(xhi) - 1);
    if (min > max) throw new SchemaError("unsupported_schema", path, `no integer lies between the bounds (${min} > ${max})`);
    if (min === -Infinity && max === Infinity) return this.primitive(ruleName === "root" ? "root" : "integer", "integer");
    return this.addRule(ruleName, `(${intRangeGbnf(min, max)})`);
  }

  private array(schema: Obj, subName: string, ruleName: string, path: string): string {
    if (schema.prefixItems !== undefined && schema.items === false) {
      // a closed tuple (2020-12 style): the tuple rule is exact already
      const { items: _closed, ...rest } = schema;
      return this.array(rest, subName, ruleName, path);
    }
    if (schema.items !== undefined && schema.prefixItems !== undefined) {
      throw new SchemaError("unsupported_schema", `${path}/prefixItems`, "prefixItems together with items is not supported");
    }
    const key = schema.items !== undefined ? "items" : "prefixItems";
    const items = schema[key];
    if (Array.isArray(items)) {
      // a tuple: exactly these items, as llama.cpp
      this.only(schema, path, ["type", key], "a tuple", schema.type === "array" ? "array" : undefined);
      const parts = items.map((it, i) => this.visit(it, `${subName}tuple-${i}`, `${path}/${key}/${i}`));
      return this.addRule(ruleName, `"[" space ${parts.join(' "," space ')} space "]"`);
    }
    this.only(schema, path, ["type", "items", "prefixItems", "minItems", "maxItems"], "an array", schema.type === "array" ? "array" : undefined);
    const min = this.count(schema, "minItems", path, 0);
    const max = this.count(schema, "maxItems", path, -1);
    if (max >= 0 && max < min) throw new SchemaError("unsupported_schema", path, `maxItems ${max} is below minItems ${min}`);
    const itemSchema = items === undefined ? true : items;
    if ((itemSchema === true || (isObj(itemSchema) && Object.keys(itemSchema).every((k) => ANNOTATIONS.has(k)))) && min === 0 && max < 0) {
      return this.primitive(ruleName === "root" ? "root" : "array", "array");
    }
    const item = this.visit(itemSchema, `${subName}item`, `${path}/${key}`);
    return this.addRule(ruleName, `"[" space ${repetition(item, min, max < 0 ? Infinity : max, '"," space')} space "]"`);
  }

  private object(schema: Obj, name: string, ruleName: string, path: string): string {
    this.only(schema, path, ["type", "properties", "required", "additionalProperties"], "an object", schema.type === "object" ? "object" : undefined);
    const props = schema.properties ?? {};
    if (!isObj(props)) throw new SchemaError("invalid_schema", `${path}/properties`, "properties must be an object");
    const required = this.requiredOf(schema, path, props);
    let additional: JsonValue | undefined;
    if (schema.additionalProperties !== undefined) {
      const a = schema.additionalProperties;
      if (a === true) additional = true;
      else if (isObj(a)) additional = a;
      else if (a !== false) throw new SchemaError("invalid_schema", `${path}/additionalProperties`, "additionalProperties must be a boolean or a schema");
    } else if (schema.properties === undefined) additional = true; // {"type": "object"} alone: any object
    const isAny = (s: JsonValue | undefined): boolean => s === true || (isObj(s) && Object.keys(s).every((k) => ANNOTATIONS.has(k)));
    if (Object.keys(props).length === 0 && additional !== undefined && isAny(additional)) {
      return this.addRule(ruleName, this.primitive("object", "object"));
    }
    const entries = Object.entries(props).map(([k, v]) => ({ name: k, schema: v, path: `${path}/properties/${k}` }));
    return this.addRule(ruleName, this.objectRule(entries, required, name, additional, `${path}/additionalProperties`));
  }

  private requiredOf(schema: Obj, path: string, props: Obj): Set<string> {
    const r = schema.required;
    if (r === undefined) return new Set();
    if (!Array.isArray(r) || !r.every((x): x is string => typeof x === "string")) throw new SchemaError("invalid_schema", `${path}/required`, "required must be an array of strings");
    for (const k of r) {
      if (!Object.hasOwn(props, k)) throw new SchemaError("unsupported_schema", `${path}/required`, `required property ${JSON.stringify(k)} is not declared in properties`);
    }
    return new Set(r);
  }

  private allOf(schema: Obj, name: string, ruleName: string, path: string): string {
    this.only(schema, path, ["type", "allOf"], "allOf");
    const parts = schema.allOf;
    if (!Array.isArray(parts) || parts.length === 0) throw new SchemaError("invalid_schema", `${path}/allOf`, "allOf must be a non-empty array of schemas");
    // llama.cpp merges object schemas (their properties and required lists) and intersects enums.
    const entries: { name: string; schema: JsonValue; path: string }[] = [];
    const required = new Set<string>();
    const enums: JsonValue[][] = [];
    parts.forEach((raw, i) => {
      let part: JsonValue = raw;
      let p = `${path}/allOf/${i}`;
      while (isObj(part) && typeof part.$ref === "string") {
        const ref: string = part.$ref;
        part = this.resolve(ref, p);
        p = ref;
      }
      if (!isObj(part)) throw new SchemaError("unsupported_schema", p, "allOf members must be object or enum schemas");
      if (part.enum !== undefined) {
        if (!Array.isArray(part.enum)) throw new SchemaError("invalid_schema", `${p}/enum`, "enum must be an array");
        this.only(part, p, ["enum", "type"], "an allOf member");
        enums.push(part.enum);
        return;
      }
      if (part.type !== undefined && part.type !== "object") throw new SchemaError("unsupported_schema", `${p}/type`, "allOf members must be object or enum schemas");
      this.only(part, p, ["type", "properties", "required"], "an allOf member");
      const props = part.properties ?? {};
      if (!isObj(props)) throw new SchemaError("invalid_schema", `${p}/properties`, "properties must be an object");
      for (const k of this.requiredOf(part, p, props)) required.add(k);
      for (const [k, v] of Object.entries(props)) {
        if (entries.some((e) => e.name === k)) throw new SchemaError("unsupported_schema", `${p}/properties/${k}`, `property ${JSON.stringify(k)} is declared by more than one allOf member`);
        entries.push({ name: k, schema: v, path: `${p}/properties/${k}` });
      }
    });
    if (enums.length > 0) {
      if (enums.length !== parts.length) throw new SchemaError("unsupported_schema", `${path}/allOf`, "allOf mixing enums with other schemas is not supported");
      const keys = enums.map((vals) => new Set(vals.map((v) => JSON.stringify(v))));
      const common = [...keys[0]].filter((k) => keys.every((s) => s.has(k))).sort();
      if (common.length === 0) throw new SchemaError("unsupported_schema", `${path}/allOf`, "the enums have no value in common");
      return this.addRule(ruleName, `(${common.map(literal).join(" | ")})`);
    }
    return this.addRule(ruleName, this.objectRule(entries, required, name, undefined, ""));
  }

  /** llama.cpp's _build_object_rule. */
  private objectRule(
    props: { name: string; schema: JsonValue; path: string }[],
    required: Set<string>,
    name: string,
    additional: JsonValue | undefined,
    additionalPath: string,
  ): string {
    const req: string[] = [];
    const opt: string[] = [];
    const kv = new Map<string, string>();
    const pre = name === "" ? "" : name + "-";
    for (const p of props) {
      const valueRule = this.visit(p.schema, pre + p.name, p.path);
      kv.set(p.name, this.addRule(`${pre}${p.name}-kv`, `${literal(JSON.stringify(p.name))} space ":" space ${valueRule}`));
      (required.has(p.name) ? req : opt).push(p.name);
    }
    if (additional !== undefined) {
      const sub = `${pre}additional`;
      const anyValue = additional === true || (isObj(additional) && Object.keys(additional).every((k) => ANNOTATIONS.has(k)));
      const valueRule = anyValue ? this.primitive("value", "value") : this.visit(additional, `${sub}-value`, additionalPath);
      const keyRule = props.length === 0 ? this.primitive("string", "string") : this.addRule(`${sub}-k`, this.notStrings(props.map((p) => p.name)));
      kv.set("*", this.addRule(`${sub}-kv`, `${keyRule} ":" space ${valueRule}`));
      opt.push("*");
    }
    if (req.length === 0 && opt.length === 0) return '"{" space "}"';
    let rule = '"{" space ' + req.map((k) => kv.get(k)).join(' "," space ');
    if (opt.length > 0) {
      rule += " (";
      if (req.length > 0) rule += ' "," space ( ';
      const chain = (ks: string[], firstOptional: boolean): string => {
        if (ks.length === 0) return "";
        const k = ks[0];
        const kvRule = kv.get(k) as string;
        const comma = `( "," space ${kvRule} )`;
        let res = firstOptional ? comma + (k === "*" ? "*" : "?") : kvRule + (k === "*" ? ` ${comma}*` : "");
        if (ks.length > 1) res += " " + this.addRule(`${pre}${k}-rest`, chain(ks.slice(1), true));
        return res;
      };
      rule += opt.map((_, i) => chain(opt.slice(i), false)).join(" | ");
      if (req.length > 0) rule += " )";
      rule += " )?";
    }
    return rule + ' space "}"';
  }

  /** A JSON string that is none of `strings` (llama.cpp's _not_strings, over a trie of code points). */
  private notStrings(strings: string[]): string {
    type Node = { children: Map<number, Node>; end: boolean };
    const root: Node = { children: new Map(), end: false };
    for (const s of strings) {
      let n = root;
      for (const ch of s) {
        const cp = ch.codePointAt(0) as number;
        let next = n.children.get(cp);
        if (!next) n.children.set(cp, (next = { children: new Map(), end: false }));
        n = next;
      }
      n.end = true;
    }
    const char = this.primitive("char", "char");
    const cls = (cp: number): string => (cp === 0x22 || cp === 0x5c || cp === 0x5d || cp === 0x5b || cp === 0x2d || cp === 0x5e ? "\\" : "") + String.fromCodePoint(cp);
    const out: string[] = ['["] ( '];
    const visit = (node: Node): void => {
      const keys = [...node.children.keys()].sort((a, b) => a - b);
      keys.forEach((cp, i) => {
        const child = node.children.get(cp) as Node;
        if (i > 0) out.push(" | ");
        out.push(`[${cls(cp)}]`);
        if (child.children.size > 0) {
          out.push(" (");
          visit(child);
          out.push(")");
        } else out.push(` ${char}+`);
      });
      // (llama.cpp's [^"…] here also lets a raw backslash or control character start a key: broken JSON)
      if (keys.length > 0) out.push(` | [^"\\\\\\x7F\\x00-\\x1F${keys.map(cls).join("")}] ${char}*`);
    };
    visit(root);
    out.push(" )");
    if (!root.end) out.push("?");
    out.push(' ["]');
    return out.join("");
  }
}

/** The GBNF text for a JSON schema. Throws SchemaError naming the path of anything it cannot enforce. */
export function jsonSchemaToGbnf(schema: JsonValue): string {
  const c = new Converter(schema);
  c.visit(schema, "", "#");
  return c.format();
}

/** What generation should produce: any JSON object, or an instance of a schema. */
export type JsonFormat = { readonly json: true } | { readonly schema: JsonValue };

/** The compiled grammar for a JSON format: `{ json: true }` is any JSON object (as OpenAI's json_object mode). */
export function compileJsonGrammar(format: JsonFormat): Grammar {
  return compileGrammar(jsonSchemaToGbnf("schema" in format ? format.schema : { type: "object" }));
}
