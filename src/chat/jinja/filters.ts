// jinja2's filters with Python's semantics, for the filters chat templates use. A filter not listed
// here falls back to the library's own.
import { escapeHtml, jsonDumps, percentFormat, pyStr, TemplateRuntimeError, typeName } from "./python.js";
import { NEGATED_TEST_FILTER, TEST_FILTER } from "./tokens.js";
import { arg, getItem, iterate, pyCompare, pyLen, runTest, splitlines, strip } from "./semantics.js";
import {
  arr,
  bool,
  float,
  int,
  isArr,
  isBool,
  isDict,
  isFloat,
  isInt,
  isMarkup,
  isNone,
  isStr,
  isUndef,
  entriesOf,
  markup,
  obj,
  str,
  tuple,
  undef,
  type Value,
} from "./values.js";

export type Filter = (operand: Value, args: Value[], kwargs: Map<string, Value>, apply: ApplyFilter) => Value;
/** Applies a filter by name (for `map('lower')`). */
export type ApplyFilter = (name: string, operand: Value, args: Value[], kwargs: Map<string, Value>) => Value;

const truthy = (v: Value): boolean => v.__bool__().value;

/** jinja2's attribute getter for filters: `"a.b"` walks attributes, digits index lists. */
function attribute(item: Value, path: Value): Value {
  if (isInt(path)) return getItem(item, path);
  let v = item;
  for (const part of pyStr(path).split(".")) {
    if (isUndef(v)) return v;
    v = /^\d+$/.test(part) && isArr(v) ? getItem(v, int(Number(part))) : getItem(v, str(part));
  }
  return v;
}

function optionalText(v: Value, name: string): string | null {
  if (isNone(v)) return null;
  if (isStr(v)) return v.value;
  throw new TemplateRuntimeError(`${name} must be a string, not ${typeName(v)}`);
}

function tojson(operand: Value, args: Value[], kwargs: Map<string, Value>): Value {
  // transformers' signature: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  const indent = arg(args, kwargs, 1, "indent", undef());
  const separators = arg(args, kwargs, 2, "separators", undef());
  let seps: [string, string] | null = null;
  if (isArr(separators)) {
    const [a, b] = separators.value;
    if (separators.value.length !== 2 || !isStr(a) || !isStr(b)) throw new TemplateRuntimeError("separators must be a pair of strings");
    seps = [a.value, b.value];
  }
  return str(
    jsonDumps(operand, {
      ensureAscii: truthy(arg(args, kwargs, 0, "ensure_ascii", bool(false))),
      indent: isInt(indent) ? indent.value : isStr(indent) ? indent.value : null,
      separators: seps,
      sortKeys: truthy(arg(args, kwargs, 3, "sort_keys", bool(false))),
    }),
  );
}

/** The key select/sort/unique compare by: lower-cased strings unless case-sensitive. */
function sortKey(v: Value, caseSensitive: boolean): Value {
  return !caseSensitive && isStr(v) ? str(v.value.toLowerCase()) : v;
}

function selectOrReject(select: boolean, byAttribute: boolean): Filter {
  return (operand, args) => {
    // jinja2's select_or_reject does nothing for a falsy sequence (`none|selectattr(…)` is empty).
    if (!truthy(operand)) return arr([]);
    const [attr, testName, ...testArgs] = byAttribute ? args : [undef(), ...args];
    const pass = (item: Value): boolean => {
      const v = byAttribute ? attribute(item, attr) : item;
      if (testName === undefined) return truthy(v);
      const result = runTest(pyStr(testName), v, testArgs);
      if (result === undefined) throw new TemplateRuntimeError(`No test named '${pyStr(testName)}'.`);
      return result;
    };
    return arr(iterate(operand).filter((item) => pass(item) === select));
  };
}

function indent(operand: Value, args: Value[], kwargs: Map<string, Value>): Value {
  const width = arg(args, kwargs, 0, "width", int(4));
  const indention = isStr(width) ? width.value : " ".repeat(Number(width.value));
  const first = truthy(arg(args, kwargs, 1, "first", bool(false)));
  const blank = truthy(arg(args, kwargs, 2, "blank", bool(false)));
  // As jinja2's do_indent: a newline is appended before splitting, so a trailing one survives.
  const lines = splitlines(pyStr(operand) + "\n");
  let out: string;
  if (blank) out = lines.join("\n" + indention);
  else {
    out = lines[0] ?? "";
    const rest = lines.slice(1);
    if (rest.length > 0) out += "\n" + rest.map((line) => (line ? indention + line : line)).join("\n");
  }
  return str(first ? indention + out : out);
}

function toInt(operand: Value, args: Value[], kwargs: Map<string, Value>): Value {
  const fallback = arg(args, kwargs, 0, "default", int(0));
  if (isInt(operand)) return operand;
  if (isBool(operand)) return int(operand.value ? 1 : 0);
  if (isFloat(operand)) return int(Math.trunc(operand.value));
  if (isStr(operand)) {
    const t = operand.value.trim().replace(/_/g, "");
    if (/^[+-]?\d+$/.test(t)) return int(Number(t));
    const f = Number(t);
    if (t !== "" && Number.isFinite(f)) return int(Math.trunc(f));
  }
  return fallback;
}

function toFloat(operand: Value, args: Value[], kwargs: Map<string, Value>): Value {
  const fallback = arg(args, kwargs, 0, "default", float(0));
  if (isInt(operand) || isFloat(operand)) return float(operand.value);
  if (isBool(operand)) return float(operand.value ? 1 : 0);
  if (isStr(operand)) {
    const t = operand.value.trim().toLowerCase();
    if (/^[+-]?(inf|infinity)$/.test(t)) return float(t.startsWith("-") ? -Infinity : Infinity);
    const f = Number(t);
    if (t !== "" && !Number.isNaN(f)) return float(f);
  }
  return fallback;
}

function sorted(items: Value[], reverse: boolean, caseSensitive: boolean, by: (v: Value) => Value): Value[] {
  const out = items.slice().sort((a, b) => pyCompare(sortKey(by(a), caseSensitive), sortKey(by(b), caseSensitive)));
  return reverse ? out.reverse() : out;
}

function minMax(sign: number): Filter {
  return (operand, args, kwargs) => {
    const items = iterate(operand);
    if (items.length === 0) return undef();
    const caseSensitive = truthy(arg(args, kwargs, 0, "case_sensitive", bool(false)));
    const attr = arg(args, kwargs, 1, "attribute", undef());
    const by = (v: Value): Value => sortKey(isUndef(attr) ? v : attribute(v, attr), caseSensitive);
    return items.reduce((best, x) => (pyCompare(by(x), by(best)) * sign < 0 ? x : best));
  };
}

const text = (f: (s: string) => string): Filter => (operand) => str(f(pyStr(operand)));

export const FILTERS: ReadonlyMap<string, Filter> = new Map<string, Filter>([
  ["tojson", tojson],
  ["string", (v) => (isStr(v) ? v : str(pyStr(v)))],
  ["safe", (v) => markup(pyStr(v))],
  ["escape", (v) => (isMarkup(v) ? v : markup(escapeHtml(pyStr(v))))],
  ["e", (v) => (isMarkup(v) ? v : markup(escapeHtml(pyStr(v))))],
  ["length", (v) => int(pyLen(v))],
  ["count", (v) => int(pyLen(v))],
  ["trim", (v, args, kwargs) => str(strip(pyStr(v), arg(args, kwargs, 0, "chars", undef()), true, true))],
  ["upper", text((s) => s.toUpperCase())],
  ["lower", text((s) => s.toLowerCase())],
  ["capitalize", text((s) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase())],
  [
    "join",
    (v, args, kwargs) => {
      const sep = optionalText(arg(args, kwargs, 0, "d", str("")), "separator") ?? "";
      const attr = arg(args, kwargs, 1, "attribute", undef());
      return str(iterate(v).map((x) => pyStr(isUndef(attr) ? x : attribute(x, attr))).join(sep));
    },
  ],
  ["list", (v) => arr(iterate(v).slice())],
  ["first", (v) => iterate(v)[0] ?? undef()],
  ["last", (v) => iterate(v).at(-1) ?? undef()],
  ["reverse", (v) => (isStr(v) ? str([...v.value].reverse().join("")) : arr(iterate(v).slice().reverse()))],
  ["items", (v) => (isUndef(v) ? arr([]) : isDict(v) ? arr(entriesOf(v).map((e) => tuple(e))) : badItems(v))],
  [
    "dictsort",
    (v, args, kwargs) => {
      if (!isDict(v)) throw new TemplateRuntimeError("You can only sort by either 'key' or 'value'");
      const caseSensitive = truthy(arg(args, kwargs, 0, "case_sensitive", bool(false)));
      const by = pyStr(arg(args, kwargs, 1, "by", str("key")));
      if (by !== "key" && by !== "value") throw new TemplateRuntimeError("You can only sort by either 'key' or 'value'");
      const pairs = entriesOf(v).map((e) => tuple(e));
      const part = by === "key" ? 0 : 1;
      return arr(sorted(pairs, truthy(arg(args, kwargs, 2, "reverse", bool(false))), caseSensitive, (p) => (isArr(p) ? p.value[part] : p)));
    },
  ],
  [
    "sort",
    (v, args, kwargs) => {
      const attr = arg(args, kwargs, 2, "attribute", undef());
      const by = (x: Value): Value => (isUndef(attr) ? x : attribute(x, attr));
      return arr(sorted(iterate(v), truthy(arg(args, kwargs, 0, "reverse", bool(false))), truthy(arg(args, kwargs, 1, "case_sensitive", bool(false))), by));
    },
  ],
  [
    "unique",
    (v, args, kwargs) => {
      const caseSensitive = truthy(arg(args, kwargs, 0, "case_sensitive", bool(false)));
      const attr = arg(args, kwargs, 1, "attribute", undef());
      const seen: Value[] = [];
      const out: Value[] = [];
      for (const x of iterate(v)) {
        const key = sortKey(isUndef(attr) ? x : attribute(x, attr), caseSensitive);
        if (seen.some((s) => runTest("==", s, [key]))) continue;
        seen.push(key);
        out.push(x);
      }
      return arr(out);
    },
  ],
  ["min", minMax(1)],
  ["max", minMax(-1)],
  [
    "default",
    (v, args, kwargs) => {
      const fallback = arg(args, kwargs, 0, "default_value", str(""));
      const boolean = truthy(arg(args, kwargs, 1, "boolean", bool(false)));
      return isUndef(v) || (boolean && !truthy(v)) ? fallback : v;
    },
  ],
  ["selectattr", selectOrReject(true, true)],
  ["rejectattr", selectOrReject(false, true)],
  ["select", selectOrReject(true, false)],
  ["reject", selectOrReject(false, false)],
  [
    "map",
    (v, args, kwargs, apply) => {
      if (!truthy(v)) return arr([]);
      const attr = kwargs.get("attribute");
      if (attr !== undefined) {
        const fallback = kwargs.get("default");
        return arr(iterate(v).map((x) => {
          const got = attribute(x, attr);
          return isUndef(got) && fallback !== undefined ? fallback : got;
        }));
      }
      const [name, ...rest] = args;
      if (name === undefined) return arr(iterate(v).slice());
      return arr(iterate(v).map((x) => apply(pyStr(name), x, rest, kwargs)));
    },
  ],
  [
    "replace",
    (v, args, kwargs) => {
      const [from, to] = [pyStr(args[0] ?? str("")), pyStr(args[1] ?? str(""))];
      const count = arg(args, kwargs, 2, "count", undef());
      let n = isInt(count) ? count.value : -1;
      const s = pyStr(v);
      if (from === "") return str(s); // rare enough: Python inserts `to` between characters
      return str(s.split(from).reduce((acc, part, i) => (i === 0 ? part : acc + (n-- !== 0 ? to : from) + part), ""));
    },
  ],
  ["indent", indent],
  [TEST_FILTER, (v, args) => bool(test(v, args))],
  [NEGATED_TEST_FILTER, (v, args) => bool(!test(v, args))],
  [
    "format",
    (v, args, kwargs) => {
      if (args.length > 0 && kwargs.size > 0) throw new TemplateRuntimeError("can't handle positional and keyword arguments at the same time");
      return str(percentFormat(pyStr(v), kwargs.size > 0 ? obj(new Map(kwargs)) : tuple(args)));
    },
  ],
  [
    "sum",
    (v, args, kwargs) => {
      const attr = arg(args, kwargs, 0, "attribute", undef());
      let total = arg(args, kwargs, 1, "start", int(0));
      for (const x of iterate(v)) {
        const item = isUndef(attr) ? x : attribute(x, attr);
        if (!(isInt(item) || isFloat(item) || isBool(item)) || !(isInt(total) || isFloat(total))) {
          throw new TemplateRuntimeError(`unsupported operand type(s) for +: '${typeName(total)}' and '${typeName(item)}'`);
        }
        const n = Number(total.value) + Number(item.value);
        total = isFloat(total) || isFloat(item) ? float(n) : int(n);
      }
      return total;
    },
  ],
  ["int", toInt],
  ["float", toFloat],
  ["bool", (v) => bool(truthy(v))],
  ["abs", (v) => (isInt(v) ? int(Math.abs(v.value)) : isFloat(v) ? float(Math.abs(v.value)) : badNumber("abs", v))],
]);

/** A test with arguments, which ./tokens.ts turned into a filter call: `(name, ...args)`. */
function test(v: Value, [name, ...args]: Value[]): boolean {
  const result = runTest(pyStr(name ?? str("")), v, args);
  if (result === undefined) throw new TemplateRuntimeError(`No test named '${pyStr(name ?? str(""))}'.`);
  return result;
}

function badItems(v: Value): never {
  throw new TemplateRuntimeError(`Can only get item pairs from a mapping, not ${typeName(v)}`);
}

function badNumber(name: string, v: Value): never {
  throw new TemplateRuntimeError(`bad operand type for ${name}(): '${typeName(v)}'`);
}
