// Python's text conversions as chat templates see them under jinja2: str() and repr() of values,
// json.dumps (transformers' `tojson`), Markup escaping, str.format and datetime.strftime.
import {
  isArr,
  isBool,
  isDict,
  isFloat,
  isFn,
  isInt,
  isMarkup,
  isNamespace,
  isNone,
  isStr,
  isTuple,
  isUndef,
  entriesOf,
  str,
  viewKind,
  type MapValue,
  type Value,
} from "./values.js";

/** An error the template's own Python would raise (TypeError, ValueError …), by its message. */
export class TemplateRuntimeError extends Error {}

/** repr(float): the shortest round-trip digits, fixed for 1e-4 <= |x| < 1e16, else `1e+16` style. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    return `${mantissa}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  const fixed = x.toFixed(Math.max(0, (mantissa.split(".")[1]?.length ?? 0) - exp));
  return fixed.includes(".") ? fixed : fixed + ".0";
}

/** Python's str(x), which is what `{{ x }}`, `~`, `|string` and `|join` write. */
export function pyStr(v: Value): string {
  if (isStr(v)) return v.value;
  if (isUndef(v)) return "";
  return pyRepr(v);
}

/** Python's repr(x): lists and dicts print their items this way (`{'type': 'function', …}`). */
export function pyRepr(v: Value): string {
  if (isStr(v)) return isMarkup(v) ? `Markup(${strRepr(v.value)})` : strRepr(v.value);
  if (isBool(v)) return v.value ? "True" : "False";
  if (isInt(v)) return String(v.value);
  if (isFloat(v)) return floatRepr(v.value);
  if (isNone(v)) return "None";
  if (isUndef(v)) return "Undefined";
  if (isArr(v)) {
    const items = v.value.map(pyRepr);
    const kind = viewKind(v);
    if (kind !== undefined) return `${kind}([${items.join(", ")}])`;
    if (!isTuple(v)) return `[${items.join(", ")}]`;
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
  }
  if (isDict(v)) return dictRepr(v);
  if (isNamespace(v)) return `<Namespace ${dictRepr(v)}>`;
  if (isFn(v)) return "<function>";
  return String(v.value);
}

function dictRepr(d: MapValue): string {
  return `{${entriesOf(d).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(", ")}}`;
}

/** repr(str): single quotes unless the text has ' and no ", escapes for the unprintable. */
function strRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || c === 0xad) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + quote;
}

export interface JsonOptions {
  /** Spaces (a number, 0 meaning newlines only) or the indent text itself; null: one line. */
  readonly indent: number | string | null;
  readonly separators: readonly [string, string] | null;
  readonly sortKeys: boolean;
  readonly ensureAscii: boolean;
}

/** json.dumps(x, …) of a template value (transformers' `tojson`: non-ASCII kept unless asked). */
export function jsonDumps(v: Value, options: JsonOptions): string {
  const indent = typeof options.indent === "number" ? " ".repeat(options.indent) : options.indent;
  const [itemSep, keySep] = options.separators ?? (indent === null ? [", ", ": "] : [",", ": "]);
  const text = (s: string): string => {
    const j = JSON.stringify(s);
    return options.ensureAscii ? j.replace(/[^ -~]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) : j;
  };
  const dump = (x: Value, depth: number): string => {
    if (isStr(x)) return text(x.value);
    if (isBool(x)) return x.value ? "true" : "false";
    if (isInt(x)) return String(x.value);
    if (isFloat(x)) return Number.isFinite(x.value) ? floatRepr(x.value) : Number.isNaN(x.value) ? "NaN" : x.value > 0 ? "Infinity" : "-Infinity";
    if (isNone(x)) return "null";
    let parts: string[];
    let open: string;
    let close: string;
    if (isArr(x)) {
      parts = x.value.map((item) => dump(item, depth + 1));
      [open, close] = ["[", "]"];
    } else if (isDict(x)) {
      let entries = entriesOf(x).map(([k, item]): [string, Value] => [jsonKey(k), item]);
      if (options.sortKeys) entries = entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      parts = entries.map(([k, item]) => text(k) + keySep + dump(item, depth + 1));
      [open, close] = ["{", "}"];
    } else {
      throw new TemplateRuntimeError(`Object of type ${typeName(x)} is not JSON serializable`);
    }
    if (parts.length === 0) return open + close;
    if (indent === null) return open + parts.join(itemSep) + close;
    const inner = "\n" + indent.repeat(depth + 1);
    return open + inner + parts.join(itemSep + inner) + "\n" + indent.repeat(depth) + close;
  };
  return dump(v, 0);
}

/** json.dumps turns int, float, bool and None keys into text. */
function jsonKey(k: Value): string {
  if (isStr(k)) return k.value;
  if (isBool(k)) return k.value ? "true" : "false";
  if (isNone(k)) return "null";
  if (isFloat(k)) return floatRepr(k.value);
  return String(k.value);
}

/** Python's name for a value's type, as its error messages say it. */
export function typeName(v: Value): string {
  if (isStr(v)) return "str";
  if (isBool(v)) return "bool";
  if (isInt(v)) return "int";
  if (isFloat(v)) return "float";
  if (isNone(v)) return "NoneType";
  if (isUndef(v)) return "Undefined";
  if (isArr(v)) return isTuple(v) ? "tuple" : "list";
  if (isDict(v)) return "dict";
  if (isNamespace(v)) return "Namespace";
  return "function";
}

/** markupsafe.escape: what Markup does to a plain string concatenated to it. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>'"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&#39;", '"': "&#34;" })[c] as string);
}

/** str.format with `{}`, `{0}`, `{name}`, `!r`/`!s` and `{{ }}`; format specs are not supported. */
export function strFormat(template: string, args: readonly Value[], kwargs: ReadonlyMap<string, Value>): string {
  let auto = 0;
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (whole, field: string | undefined) => {
    if (whole === "{{") return "{";
    if (whole === "}}") return "}";
    const m = /^([^!:]*)(?:!([rs]))?(?::(.*))?$/.exec(field as string);
    if (!m) throw new TemplateRuntimeError(`unsupported format field {${field}}`);
    const name = m[1];
    const value = name === "" ? args[auto++] : /^\d+$/.test(name) ? args[Number(name)] : kwargs.get(name);
    if (value === undefined) {
      throw new TemplateRuntimeError(/^\d*$/.test(name) ? "Replacement index out of range for positional args tuple" : `'${name}'`);
    }
    if (m[2] !== undefined) return formatSpec(str(m[2] === "r" ? pyRepr(value) : pyStr(value)), m[3] ?? "");
    return formatSpec(value, m[3] ?? "");
  });
}

/** format(value, spec): [[fill]align][sign][0][width][,|_][.precision][type] for str, int and float. */
export function formatSpec(value: Value, spec: string): string {
  if (spec === "") return pyStr(value);
  const m = /^(?:(.)?([<>^=]))?([+\- ])?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/su.exec(spec);
  if (!m) throw new TemplateRuntimeError(`Invalid format specifier '${spec}'`);
  const [, fillChar, alignChar, sign = "-", , zero, widthText, grouping, precisionText, type] = m;
  const precision = precisionText === undefined ? undefined : Number(precisionText);
  const numeric = isInt(value) || isFloat(value) || isBool(value);
  let body: string;
  if (isStr(value)) {
    if (type !== undefined && type !== "s") throw new TemplateRuntimeError(`Unknown format code '${type}' for object of type 'str'`);
    body = precision === undefined ? value.value : [...value.value].slice(0, precision).join("");
  } else if (numeric) {
    const x = Number(value.value);
    const t = type ?? (isFloat(value) ? "" : "d");
    const abs = Math.abs(x);
    switch (t) {
      case "d": case "n": body = String(Math.trunc(abs)); break;
      case "b": body = Math.trunc(abs).toString(2); break;
      case "o": body = Math.trunc(abs).toString(8); break;
      case "x": body = Math.trunc(abs).toString(16); break;
      case "X": body = Math.trunc(abs).toString(16).toUpperCase(); break;
      case "c": body = String.fromCodePoint(x); break;
      case "e": case "E": {
        const [mant, exp] = abs.toExponential(precision ?? 6).split("e");
        body = `${mant}e${exp.startsWith("-") ? "-" : "+"}${exp.replace(/^[+-]/, "").padStart(2, "0")}`;
        if (t === "E") body = body.toUpperCase();
        break;
      }
      case "%": body = fixed(abs * 100, precision ?? 6) + "%"; break;
      case "": body = precision === undefined ? floatRepr(abs) : String(Number(abs.toPrecision(precision))); break;
      default: body = fixed(abs, precision ?? 6); // f F g G (g as f: rare in templates)
    }
    if (grouping !== undefined) {
      const [whole, frac] = body.split(".");
      body = whole.replace(/\B(?=(\d{3})+(?!\d))/g, grouping) + (frac === undefined ? "" : "." + frac);
    }
    body = (x < 0 || Object.is(x, -0) ? "-" : sign === "+" ? "+" : sign === " " ? " " : "") + body;
  } else {
    if (type !== undefined) throw new TemplateRuntimeError(`Unknown format code '${type}' for object of type '${typeName(value)}'`);
    body = pyStr(value);
  }
  const width = widthText === undefined ? 0 : Number(widthText);
  if ([...body].length >= width) return body;
  const fill = fillChar ?? (zero && numeric ? "0" : " ");
  const align = alignChar ?? (zero && numeric ? "=" : numeric ? ">" : "<");
  const pad = width - [...body].length;
  switch (align) {
    case "<": return body + fill.repeat(pad);
    case ">": return fill.repeat(pad) + body;
    case "^": return fill.repeat(Math.floor(pad / 2)) + body + fill.repeat(pad - Math.floor(pad / 2));
    default: {
      const signed = /^[+\- ]/.test(body) ? 1 : 0;
      return body.slice(0, signed) + fill.repeat(pad) + body.slice(signed);
    }
  }
}

/** Python's printf-style `text % args` (and jinja2's `|format`): %s %r %d %i %f %e %x %o %c %%, flags, width, precision. */
export function percentFormat(template: string, args: Value): string {
  const positional = isArr(args) && isTuple(args) ? args.value : [args];
  const mapping = isDict(args) ? args : undefined;
  let next = 0;
  const out = template.replace(/%(?:\((\w+)\))?([#0\- +]*)(\d+)?(?:\.(\d+))?([diouxXeEfFgGcrsa%])/g, (_w, key: string | undefined, flags: string, width: string | undefined, precision: string | undefined, conv: string) => {
    if (conv === "%") return "%";
    let v: Value | undefined;
    if (key !== undefined) {
      if (!mapping) throw new TemplateRuntimeError("format requires a mapping");
      v = mapping.value.get(key);
      if (v === undefined) throw new TemplateRuntimeError(`'${key}'`);
    } else {
      v = positional[next++];
      if (v === undefined) throw new TemplateRuntimeError("not enough arguments for format string");
    }
    const prec = precision === undefined ? undefined : Number(precision);
    const num = (): number => {
      if (isInt(v as Value) || isFloat(v as Value) || isBool(v as Value)) return Number((v as Value).value);
      throw new TemplateRuntimeError(`%${conv} format: a real number is required, not ${typeName(v as Value)}`);
    };
    let body: string;
    switch (conv) {
      case "s": body = pyStr(v); break;
      case "r":
      case "a": body = pyRepr(v); break;
      case "c": body = isStr(v) ? v.value : String.fromCodePoint(num()); break;
      case "d":
      case "i":
      case "u": body = String(Math.trunc(num())); break;
      case "x": body = Math.trunc(num()).toString(16); break;
      case "X": body = Math.trunc(num()).toString(16).toUpperCase(); break;
      case "o": body = Math.trunc(num()).toString(8); break;
      case "e":
      case "E": {
        const [m, e] = num().toExponential(prec ?? 6).split("e");
        body = `${m}e${e.startsWith("-") ? "-" : "+"}${e.replace(/^[+-]/, "").padStart(2, "0")}`;
        if (conv === "E") body = body.toUpperCase();
        break;
      }
      default: body = fixed(num(), prec ?? 6); // f F g G (g as f: rare in templates)
    }
    if (flags.includes("+") && /^[0-9]/.test(body) && conv !== "s" && conv !== "r") body = "+" + body;
    else if (flags.includes(" ") && /^[0-9]/.test(body) && conv !== "s" && conv !== "r") body = " " + body;
    const w = width === undefined ? 0 : Number(width);
    if (body.length >= w) return body;
    if (flags.includes("-")) return body.padEnd(w);
    if (flags.includes("0") && conv !== "s" && conv !== "r") {
      const sign = /^[+\- ]/.test(body) ? body[0] : "";
      return sign + body.slice(sign.length).padStart(w - sign.length, "0");
    }
    return body.padStart(w);
  });
  if (!mapping && next < positional.length) {
    throw new TemplateRuntimeError("not all arguments converted during string formatting");
  }
  return out;
}

/** x with `digits` decimals, an exact tie rounded half to even as Python does (toFixed rounds it up). */
function fixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  if (digits > 75 || Math.abs(x) >= 1e21) return s;
  const longer = x.toFixed(digits + 25);
  if (longer.slice(-25) !== "5" + "0".repeat(24)) return s;
  const down = longer.slice(0, -25).replace(/\.$/, "");
  return Number(down.at(-1)) % 2 === 0 ? down : s;
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** datetime.strftime in the C locale, on the local time of `date` (as Python's datetime.now()). */
export function strftime(date: Date, format: string): string {
  const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
  const hour12 = date.getHours() % 12 === 0 ? 12 : date.getHours() % 12;
  const dayOfYear = Math.round((Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) - Date.UTC(date.getFullYear(), 0, 1)) / 86_400_000) + 1;
  return format.replace(/%([a-zA-Z%])/g, (whole, d: string) => {
    switch (d) {
      case "a": return DAYS[date.getDay()].slice(0, 3);
      case "A": return DAYS[date.getDay()];
      case "b": return MONTHS[date.getMonth()].slice(0, 3);
      case "B": return MONTHS[date.getMonth()];
      case "d": return pad(date.getDate());
      case "e": return String(date.getDate()).padStart(2, " ");
      case "H": return pad(date.getHours());
      case "I": return pad(hour12);
      case "j": return pad(dayOfYear, 3);
      case "m": return pad(date.getMonth() + 1);
      case "M": return pad(date.getMinutes());
      case "p": return date.getHours() < 12 ? "AM" : "PM";
      case "S": return pad(date.getSeconds());
      case "y": return pad(date.getFullYear() % 100);
      case "Y": return String(date.getFullYear());
      case "Z":
      case "z": return ""; // a naive datetime, as datetime.now() is
      case "%": return "%";
      default: return whole;
    }
  });
}
