// PATCH LAYER over @huggingface/jinja (see ./README.md). The library exports its Interpreter and
// Environment but not its runtime value classes (StringValue, ObjectValue, …), which our Python
// semantics must create and recognise. They are taken here from values the exported API makes —
// nothing of the library is copied, and nothing of it is modified globally.
import { Environment, Interpreter, parse, tokenize } from "@huggingface/jinja";

/** Every runtime value of the interpreter (the library's own union type, read off a public field). */
export type Value = Environment["variables"] extends Map<string, infer V> ? V : never;
export type StrValue = Extract<Value, { value: string }>;
export type NumValue = Extract<Value, { value: number }>;
export type BoolValue = Extract<Value, { value: boolean }>;
export type ArrValue = Extract<Value, { value: Value[] }>;
export type MapValue = Extract<Value, { value: Map<string, Value> }>;
export type FnValue = Extract<Value, { type: string; value: (args: Value[], scope: Environment) => Value }>;

/** A node of the parsed template (the library's own AST, read off the exported `evaluate`). */
export type Node = NonNullable<Parameters<Interpreter["evaluate"]>[0]>;

type Ctor<A extends unknown[], V> = new (...args: A) => V;

function ctorOf<A extends unknown[], V>(v: Value): Ctor<A, V> {
  return v.constructor as Ctor<A, V>;
}

const probe = new Environment();
const Str = ctorOf<[string], StrValue>(probe.set("s", ""));
const Int = ctorOf<[number], NumValue>(probe.set("i", 1));
const Float = ctorOf<[number], NumValue>(probe.set("f", 0.5));
const Bool = ctorOf<[boolean], BoolValue>(probe.set("b", true));
const Arr = ctorOf<[Value[]], ArrValue>(probe.set("a", []));
const Obj = ctorOf<[Map<string, Value>], MapValue>(probe.set("o", {}));
const Null = ctorOf<[], Value>(probe.set("n", null));
const Undef = ctorOf<[], Value>(probe.set("u", undefined));
const Fn = ctorOf<[(args: Value[], scope: Environment) => Value], FnValue>(probe.set("fn", () => null));
const Namespace = ctorOf<[Map<string, Value>], MapValue>((probe.variables.get("namespace") as FnValue).value([], probe));
// Keyword arguments are a subclass of ObjectValue that only a call with `k=v` makes.
let kwargsSample: Value | undefined;
probe.setVariable("capture", new Fn((args) => ((kwargsSample = args[args.length - 1]), new Null())));
new Interpreter(probe).run(parse(tokenize("{{ capture(k=1) }}")));
const Kwargs = ctorOf<[Map<string, Value>], MapValue>(kwargsSample as Value);

export const str = (s: string): StrValue => new Str(s);
export const int = (n: number): NumValue => new Int(n);
export const float = (n: number): NumValue => new Float(n);
export const bool = (b: boolean): BoolValue => new Bool(b);
export const arr = (items: Value[]): ArrValue => new Arr(items);
export const obj = (entries: Map<string, Value>): MapValue => new Obj(entries);
export const none = (): Value => new Null();
export const undef = (): Value => new Undef();
export const fn = (f: (args: Value[], scope: Environment) => Value): FnValue => new Fn(f);

export const isStr = (v: Value): v is StrValue => v instanceof Str;
/** Python int (never a bool). */
export const isInt = (v: Value): v is NumValue => v instanceof Int;
export const isFloat = (v: Value): v is NumValue => v instanceof Float;
export const isNum = (v: Value): v is NumValue => v instanceof Int || v instanceof Float;
export const isBool = (v: Value): v is BoolValue => v instanceof Bool;
/** list or tuple (the library's TupleValue subclasses ArrayValue). */
export const isArr = (v: Value): v is ArrValue => v instanceof Arr;
/** dict, including keyword arguments (not a namespace: that has no mapping methods). */
export const isDict = (v: Value): v is MapValue => v instanceof Obj;
export const isNamespace = (v: Value): v is MapValue => v instanceof Namespace;
export const isKwargs = (v: Value): v is MapValue => v instanceof Kwargs;
export const isNone = (v: Value): boolean => v instanceof Null;
export const isUndef = (v: Value): boolean => v instanceof Undef;
export const isFn = (v: Value): v is FnValue => v instanceof Fn;

// Python facts the library's values cannot carry, kept beside them (weakly: values die with a render).
/** Tuples: `(a, b)` literals. Made as lists, because the library's loop unpacking refuses its TupleValue. */
const tuples = new WeakSet<Value>();
/** Markup: `x|safe`. Python's Markup escapes the plain strings it is concatenated with. */
const markups = new WeakSet<Value>();
/** The original keys of dicts whose keys are not all strings (`{0: 0, 512: 128}`), by their text. */
const dictKeys = new WeakMap<Value, Map<string, Value>>();

/** dict.items()/keys()/values() results, which print as `dict_items([…])` etc. */
const views = new WeakMap<Value, string>();

export function view(kind: "dict_items" | "dict_keys" | "dict_values", items: Value[]): ArrValue {
  const v = arr(items);
  views.set(v, kind);
  return v;
}
export const viewKind = (v: Value): string | undefined => views.get(v);

export function tuple(items: Value[]): ArrValue {
  const t = arr(items);
  tuples.add(t);
  return t;
}
export const isTuple = (v: Value): boolean => tuples.has(v);

export function markup(s: string): StrValue {
  const m = str(s);
  markups.add(m);
  return m;
}
export const isMarkup = (v: Value): boolean => markups.has(v);

/** The text a dict key is stored under (the library's dicts are keyed by strings). */
export function keyText(key: Value): string {
  if (isStr(key)) return key.value;
  if (isNum(key) || isBool(key) || isNone(key)) return `\u0000${key.type}:${String(key.value)}`;
  throw new Error(`unhashable type: '${key.type}'`);
}

/** A dict from Python-like entries whose keys may be ints, bools or None as well as strings. */
export function dict(entries: readonly (readonly [Value, Value])[]): MapValue {
  const map = new Map<string, Value>();
  let originals: Map<string, Value> | undefined;
  for (const [k, v] of entries) {
    const text = keyText(k);
    if (!isStr(k)) (originals ??= new Map()).set(text, k);
    map.set(text, v);
  }
  const d = obj(map);
  if (originals) dictKeys.set(d, originals);
  return d;
}

/** The keys of a dict (or namespace) as values: strings, or the ints etc. they were made with. */
export function keysOf(d: MapValue): Value[] {
  const originals = dictKeys.get(d);
  return [...d.value.keys()].map((k) => originals?.get(k) ?? str(k));
}

/** The (key, value) pairs of a dict, keys as keysOf gives them. */
export function entriesOf(d: MapValue): [Value, Value][] {
  const values = [...d.value.values()];
  return keysOf(d).map((k, i) => [k, values[i]]);
}

/** Converts plain JSON-like data (messages, tools, variables) into runtime values. */
export function toValue(x: unknown): Value {
  if (x === null) return none();
  if (x === undefined) return undef();
  if (typeof x === "string") return str(x);
  if (typeof x === "boolean") return bool(x);
  if (typeof x === "number") return Number.isInteger(x) ? int(x) : float(x);
  if (Array.isArray(x)) return arr(x.map(toValue));
  // A property set to undefined is absent, as it would be in JSON (`'k' in d` is false).
  if (typeof x === "object") return obj(new Map(Object.entries(x).flatMap(([k, v]) => (v === undefined ? [] : [[k, toValue(v)] as const]))));
  throw new TypeError(`a template variable cannot be a ${typeof x}`);
}
