// Python's meaning of the operations templates use most: equality, ordering, attribute and item
// lookup (jinja2's getattr/getitem), len(), iteration, the `is` tests and str methods.
import { escapeHtml, pyStr, strFormat, TemplateRuntimeError, typeName } from "./python.js";
import {
  arr,
  bool,
  fn,
  int,
  isArr,
  isBool,
  isDict,
  isFn,
  isInt,
  isMarkup,
  isNamespace,
  isNone,
  isNum,
  isStr,
  isUndef,
  entriesOf,
  keysOf,
  keyText,
  none,
  str,
  tuple,
  undef,
  view,
  type MapValue,
  type StrValue,
  type Value,
} from "./values.js";

/** Python ==: numbers (and bools) by value, containers item by item, never JavaScript's loose ==. */
export function pyEquals(a: Value, b: Value): boolean {
  if ((isNum(a) || isBool(a)) && (isNum(b) || isBool(b))) return Number(a.value) === Number(b.value);
  if (isStr(a) && isStr(b)) return a.value === b.value;
  if (isNone(a) || isNone(b)) return isNone(a) && isNone(b);
  if (isUndef(a) || isUndef(b)) return isUndef(a) && isUndef(b);
  if (isArr(a) && isArr(b)) return a.value.length === b.value.length && a.value.every((x, i) => pyEquals(x, b.value[i]));
  if (isDict(a) && isDict(b)) {
    if (a.value.size !== b.value.size) return false;
    for (const [k, v] of a.value) {
      const w = b.value.get(k);
      if (w === undefined || !pyEquals(v, w)) return false;
    }
    return true;
  }
  return a === b;
}

/** Python's <, >, … as a sign: numbers with numbers, strings by code point, lists item by item. */
export function pyCompare(a: Value, b: Value, op = "<"): number {
  if ((isNum(a) || isBool(a)) && (isNum(b) || isBool(b))) return Math.sign(Number(a.value) - Number(b.value));
  if (isStr(a) && isStr(b)) return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  if (isArr(a) && isArr(b)) {
    for (let i = 0; i < Math.min(a.value.length, b.value.length); i++) {
      const c = pyCompare(a.value[i], b.value[i], op);
      if (c !== 0) return c;
    }
    return Math.sign(a.value.length - b.value.length);
  }
  throw new TemplateRuntimeError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

/** len(x); Python counts code points, not UTF-16 units. Undefined has length 0 in jinja2. */
export function pyLen(v: Value): number {
  if (isStr(v)) return codePoints(v.value);
  if (isArr(v)) return v.value.length;
  if (isDict(v)) return v.value.size;
  if (isUndef(v)) return 0;
  throw new TemplateRuntimeError(`object of type '${typeName(v)}' has no len()`);
}

/** len(str): UTF-16 units less one per surrogate pair, without splitting the text. */
export function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** The items `for x in v` visits: list items, dict keys, characters; nothing for Undefined. */
export function iterate(v: Value): Value[] {
  if (isArr(v)) return v.value;
  if (isDict(v)) return keysOf(v);
  if (isStr(v)) return [...v.value].map(str);
  if (isUndef(v)) return [];
  throw new TemplateRuntimeError(`'${typeName(v)}' object is not iterable`);
}

/** `x in y`. */
export function pyContains(container: Value, item: Value): boolean {
  if (isDict(container)) {
    try {
      return container.value.has(keyText(item));
    } catch {
      return false;
    }
  }
  if (isStr(container)) {
    if (!isStr(item)) throw new TemplateRuntimeError(`'in <string>' requires string as left operand, not ${typeName(item)}`);
    return container.value.includes(item.value);
  }
  return iterate(container).some((x) => pyEquals(x, item));
}

/** An item by key or index (`x[k]`), or undefined when there is none. */
function itemOf(v: Value, key: Value): Value | undefined {
  if (isDict(v)) {
    try {
      return v.value.get(keyText(key));
    } catch {
      return undefined;
    }
  }
  if (isNamespace(v)) return isStr(key) ? v.value.get(key.value) : undefined;
  if ((isArr(v) || isStr(v)) && isInt(key)) {
    const n = Number(key.value);
    const items = isArr(v) ? v.value : [...(v as StrValue).value];
    const i = n < 0 ? items.length + n : n;
    const item = items[i];
    return item === undefined ? undefined : typeof item === "string" ? str(item) : item;
  }
  return undefined;
}

/** jinja2's `x.name`: the attribute (a method) first, then the item; Undefined when neither. */
export function getAttr(v: Value, name: string): Value {
  if (isUndef(v)) throw new TemplateRuntimeError(`cannot read '${name}' of an undefined value`);
  return methodOf(v, name) ?? itemOf(v, str(name)) ?? undef();
}

/** jinja2's `x[key]`: the item first, then (for a string key) the attribute. */
export function getItem(v: Value, key: Value): Value {
  if (isUndef(v)) throw new TemplateRuntimeError(`cannot read [${pyStr(key)}] of an undefined value`);
  return itemOf(v, key) ?? (isStr(key) ? methodOf(v, key.value) : undefined) ?? undef();
}

/** Positional argument `i` or keyword `name`, else `fallback`. */
export function arg(args: readonly Value[], kwargs: ReadonlyMap<string, Value>, i: number, name: string, fallback: Value): Value {
  return args[i] ?? kwargs.get(name) ?? fallback;
}

/** Splits a call's trailing keyword arguments off its positional ones. */
function splitKwargs(args: Value[]): [Value[], Map<string, Value>] {
  const last = args[args.length - 1];
  if (last !== undefined && isDict(last) && last.type === "KeywordArgumentsValue") return [args.slice(0, -1), new Map(last.value)];
  return [args, new Map()];
}

function method(body: (args: Value[], kwargs: Map<string, Value>) => Value): Value {
  return fn((all) => body(...splitKwargs(all)));
}

/** Python's str.isspace() for one UTF-16 unit (JavaScript's \\s differs: \\x1c-\\x1f, \\x85, \\ufeff). */
function isPySpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c === 0x85 || c === 0xa0 || c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000
  );
}

/** Python's str.strip family: whitespace, or the given characters. */
export function strip(s: string, chars: Value, left: boolean, right: boolean): string {
  if (isStr(chars) && /[\ud800-\udfff]/.test(chars.value)) {
    // Characters beyond the BMP: by code point (rare, and slower).
    const set = new Set(chars.value);
    const cs = [...s];
    let i = 0;
    let j = cs.length;
    if (left) while (i < j && set.has(cs[i])) i++;
    if (right) while (j > i && set.has(cs[j - 1])) j--;
    return cs.slice(i, j).join("");
  }
  const strippable = isStr(chars) ? (c: number): boolean => chars.value.includes(String.fromCharCode(c)) : isPySpace;
  let i = 0;
  let j = s.length;
  if (left) while (i < j && strippable(s.charCodeAt(i))) i++;
  if (right) while (j > i && strippable(s.charCodeAt(j - 1))) j--;
  return s.slice(i, j);
}

/** str.splitlines(): every Python line boundary, ends dropped. */
export function splitlines(s: string): string[] {
  const lines = s.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

function methodOf(v: Value, name: string): Value | undefined {
  if (isStr(v)) return stringMethod(v, name);
  if (isDict(v)) return dictMethod(v, name);
  return undefined;
}

function dictMethod(d: MapValue, name: string): Value | undefined {
  switch (name) {
    case "get":
      return method((args, kwargs) => itemOf(d, args[0] ?? none()) ?? arg(args, kwargs, 1, "default", none()));
    case "items":
      return method(() => view("dict_items", entriesOf(d).map((e) => tuple(e))));
    case "keys":
      return method(() => view("dict_keys", keysOf(d)));
    case "values":
      return method(() => view("dict_values", [...d.value.values()]));
    default:
      return undefined;
  }
}

/** The str methods, Python's way (the library's own builtins back the ones it has right). */
function stringMethod(s: StrValue, name: string): Value | undefined {
  const text = s.value;
  const own = (): Value | undefined => s.builtins.get(name);
  const text1 = (args: Value[], kwargs: Map<string, Value>, i: number, key: string): string => {
    const a = arg(args, kwargs, i, key, undef());
    if (!isStr(a)) throw new TemplateRuntimeError(`${name}() argument must be str, not ${typeName(a)}`);
    return a.value;
  };
  switch (name) {
    case "strip":
    case "lstrip":
    case "rstrip":
      return method((args) => str(strip(text, args[0] ?? none(), name !== "rstrip", name !== "lstrip")));
    case "upper":
    case "lower":
    case "startswith":
    case "endswith":
    case "split":
    case "replace":
    case "title":
      return own();
    case "rsplit":
      return method((args, kwargs) => {
        const sep = arg(args, kwargs, 0, "sep", none());
        const max = arg(args, kwargs, 1, "maxsplit", int(-1));
        const parts = isStr(sep) ? text.split(sep.value) : text.trim().split(/\s+/).filter((p) => p !== "");
        const n = isInt(max) ? max.value : -1;
        if (n < 0 || parts.length - 1 <= n) return arr(parts.map(str));
        // The leftmost parts stay joined: by the separator, or by the whitespace between them.
        const head = isStr(sep) ? parts.slice(0, parts.length - n).join(sep.value) : rsplitHead(text, n);
        return arr([head, ...parts.slice(parts.length - n)].map(str));
      });
    case "capitalize":
      return method(() => str(text.charAt(0).toUpperCase() + text.slice(1).toLowerCase()));
    case "format":
      return method((args, kwargs) => str(strFormat(text, args, kwargs)));
    case "join":
      return method((args) => str(iterate(args[0] ?? undef()).map((x) => (isStr(x) ? x.value : badJoin(x))).join(text)));
    case "count":
      return method((args, kwargs) => {
        const sub = text1(args, kwargs, 0, "sub");
        return int(sub === "" ? codePoints(text) + 1 : text.split(sub).length - 1);
      });
    case "find":
    case "rfind":
      return method((args, kwargs) => {
        const sub = text1(args, kwargs, 0, "sub");
        const at = name === "find" ? text.indexOf(sub) : text.lastIndexOf(sub);
        return int(at < 0 ? -1 : codePoints(text.slice(0, at)));
      });
    case "removeprefix":
      return method((args, kwargs) => {
        const p = text1(args, kwargs, 0, "prefix");
        return str(p !== "" && text.startsWith(p) ? text.slice(p.length) : text);
      });
    case "removesuffix":
      return method((args, kwargs) => {
        const p = text1(args, kwargs, 0, "suffix");
        return str(p !== "" && text.endsWith(p) ? text.slice(0, -p.length) : text);
      });
    case "splitlines":
      return method(() => arr(splitlines(text).map(str)));
    case "isdigit":
      return method(() => bool(/^\p{Nd}+$/u.test(text)));
    case "isalpha":
      return method(() => bool(/^\p{L}+$/u.test(text)));
    case "isalnum":
      return method(() => bool(/^[\p{L}\p{N}]+$/u.test(text)));
    case "isspace":
      return method(() => bool(/^\s+$/u.test(text)));
    case "islower":
      return method(() => bool(text !== text.toUpperCase() && text === text.toLowerCase()));
    case "isupper":
      return method(() => bool(text !== text.toLowerCase() && text === text.toUpperCase()));
    default:
      return undefined;
  }
}

/** What rsplit(None, n) leaves unsplit at the left: the text before the last n words, right-trimmed. */
function rsplitHead(text: string, n: number): string {
  let rest = text.trimEnd();
  for (let i = 0; i < n; i++) rest = rest.replace(/\S+$/, "").trimEnd();
  return rest;
}

function badJoin(x: Value): never {
  throw new TemplateRuntimeError(`sequence item: expected str instance, ${typeName(x)} found`);
}

/** jinja2's tests (`x is defined`, selectattr's "equalto", …); undefined when there is no such test. */
export function runTest(name: string, v: Value, args: readonly Value[]): boolean | undefined {
  switch (name) {
    case "defined":
      return !isUndef(v);
    case "undefined":
      return isUndef(v);
    case "none":
      return isNone(v);
    case "string":
      return isStr(v);
    case "number":
      return isNum(v) || isBool(v); // bool is a numbers.Number in Python
    case "integer":
      return isInt(v);
    case "float":
      return isNum(v) && !isInt(v);
    case "boolean":
      return isBool(v);
    case "true":
      return isBool(v) && v.value;
    case "false":
      return isBool(v) && !v.value;
    case "mapping":
      return isDict(v);
    case "iterable":
      return isStr(v) || isArr(v) || isDict(v) || isUndef(v);
    case "sequence":
      return isStr(v) || isArr(v) || isDict(v) || isUndef(v);
    case "callable":
      return isFn(v);
    case "escaped":
      return isMarkup(v);
    case "odd":
    case "even":
      if (!isInt(v)) throw new TemplateRuntimeError(`unsupported operand type(s) for %: '${typeName(v)}' and 'int'`);
      return (Math.abs(v.value) % 2 === 1) === (name === "odd");
    case "divisibleby": {
      const n = args[0] ?? undef();
      if (!isNum(v) || !isNum(n)) throw new TemplateRuntimeError(`unsupported operand type(s) for %: '${typeName(v)}' and '${typeName(n)}'`);
      if (n.value === 0) throw new TemplateRuntimeError("integer modulo by zero");
      return v.value % n.value === 0;
    }
    case "lower":
      return runTest("string", v, args) && pyStr(v) === pyStr(v).toLowerCase();
    case "upper":
      return runTest("string", v, args) && pyStr(v) === pyStr(v).toUpperCase();
    case "eq":
    case "equalto":
    case "==":
      return pyEquals(v, args[0] ?? undef());
    case "ne":
    case "!=":
      return !pyEquals(v, args[0] ?? undef());
    case "in":
      return pyContains(args[0] ?? undef(), v);
    case "sameas": {
      // Python's `is`: identity; None, the bools and small ints (-5 to 256) are single objects in CPython.
      const a = args[0] ?? undef();
      if (isNone(v) || isNone(a)) return isNone(v) && isNone(a);
      if (isBool(v) || isBool(a)) return isBool(v) && isBool(a) && v.value === a.value;
      if (isInt(v) && isInt(a)) return v.value === a.value && v.value >= -5 && v.value <= 256;
      return v === a;
    }
    case "gt":
    case ">":
      return pyCompare(v, args[0] ?? undef(), ">") > 0;
    case "ge":
    case ">=":
      return pyCompare(v, args[0] ?? undef(), ">=") >= 0;
    case "lt":
    case "<":
      return pyCompare(v, args[0] ?? undef()) < 0;
    case "le":
    case "<=":
      return pyCompare(v, args[0] ?? undef(), "<=") <= 0;
    default:
      return undefined;
  }
}

/** Markup's `+`: the plain side is escaped, the result is Markup. */
export function markupConcat(a: StrValue, b: StrValue): string {
  return (isMarkup(a) ? a.value : escapeHtml(a.value)) + (isMarkup(b) ? b.value : escapeHtml(b.value));
}
