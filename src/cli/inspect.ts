// `woolly inspect MODEL.gguf [--json] [--full]`: what a GGUF file holds, like llama.cpp's gguf dump.
// Reads only the header (the tensor data is never touched), through the node file source.
//
// Text output: version, alignment, data offset, each metadata key with its type and value (long
// arrays summarized as type, length and first items; long strings shortened), then the tensor table.
// --json: one JSON object (64-bit integers as decimal strings; arrays as item type, length and the
// first 8 items, or every item with --full).

import { GgufError } from "../errors.js";
import { describeType, type GgufFile } from "../gguf/file.js";
import { readGgufFile } from "../gguf/node-source.js";
import { GgufValueType, type GgufArray, type GgufValue } from "../gguf/types.js";
import { ggufTypeName } from "../gguf/values.js";
import { ggmlType } from "../quant/types.js";
import { usageLine, type CommandSpec } from "./args.js";

export const INSPECT_COMMAND: CommandSpec = {
  name: "inspect",
  operands: "MODEL.gguf",
  summary: "what a GGUF file holds: metadata and the tensor table (the tensor data is never read)",
  options: [
    { name: "json", flag: true, description: "one JSON object (64-bit integers as decimal strings; arrays as their first 8 items)" },
    { name: "full", flag: true, description: "with --json, every item of every array" },
  ],
};
const USAGE = `usage: ${usageLine(INSPECT_COMMAND, Infinity)}`;
/** Array items shown in text output, and in JSON without --full (as the reference headers do). */
const TEXT_ITEMS = 5;
const JSON_ITEMS = 8;
const MAX_STRING_CHARS = 80;

export async function inspectCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const flags = new Set(argv.filter((a) => a.startsWith("--")));
  const paths = argv.filter((a) => !a.startsWith("--"));
  const unknown = [...flags].filter((f) => !INSPECT_COMMAND.options.some((o) => `--${o.name}` === f));
  if (paths.length !== 1 || unknown.length > 0 || flags.has("--help")) {
    out(unknown.length > 0 ? `unknown option ${unknown[0]}; ${USAGE}` : USAGE);
    return 2;
  }
  let file: GgufFile;
  try {
    file = await readGgufFile(paths[0]);
  } catch (e) {
    if (e instanceof GgufError) {
      out(`error: ${paths[0]}: ${e.message} [${e.kind}]`);
      return 1;
    }
    throw e;
  }
  if (flags.has("--json")) out(JSON.stringify(toJson(paths[0], file, flags.has("--full")), null, 2));
  else printText(paths[0], file, out);
  return 0;
}

function printText(path: string, f: GgufFile, out: (line: string) => void): void {
  out(`file: ${path}`);
  out(`version: ${f.version}`);
  out(`alignment: ${f.alignment}`);
  out(`data offset: ${f.dataOffset}`);
  if (f.fileSize !== undefined) out(`file size: ${f.fileSize}`);
  out(`metadata: ${f.metadata.size} keys`);
  const keyWidth = Math.max(0, ...[...f.metadata.keys()].map((k) => k.length));
  let i = 0;
  for (const [key, v] of f.metadata) {
    i++;
    out(`${String(i).padStart(5)}  ${key.padEnd(keyWidth)}  ${typeLabel(v).padEnd(14)} = ${textValue(v)}`);
  }
  out(`tensors: ${f.tensors.length}`);
  if (f.tensors.length === 0) return;
  const rows = f.tensors.map((t, j) => [
    String(j + 1),
    t.name,
    ggmlType(t.type)?.name ?? `type ${t.type}`,
    t.dims.join(" x "),
    String(t.offset),
    String(t.size),
  ]);
  const head = ["#", "name", "type", "dims", "offset", "size"];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const right = [true, false, false, false, true, true];
  const fmt = (r: string[]): string =>
    r.map((cell, c) => (right[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join("  ").trimEnd();
  out(fmt(head));
  for (const r of rows) out(fmt(r));
}

/** `u32`, or `arr[str; 512]` for arrays. */
function typeLabel(v: GgufValue): string {
  return v.type === GgufValueType.ARRAY ? `arr[${ggufTypeName(v.value.itemType)}; ${v.value.items.length}]` : describeType(v);
}

function textValue(v: GgufValue): string {
  switch (v.type) {
    case GgufValueType.STRING:
      return shortString(v.value);
    case GgufValueType.ARRAY:
      return textArray(v.value);
    case GgufValueType.FLOAT32:
      return f32Text(v.value);
    default:
      return String(v.value);
  }
}

function textArray(a: GgufArray): string {
  const n = a.items.length;
  const shown: string[] = [];
  for (let i = 0; i < Math.min(n, TEXT_ITEMS); i++) shown.push(textItem(a, i));
  return `[${shown.join(", ")}${n > TEXT_ITEMS ? `, ... (${n - TEXT_ITEMS} more)` : ""}]`;
}

function textItem(a: GgufArray, i: number): string {
  const item = a.items[i];
  if (typeof item === "string") return shortString(item);
  if (typeof item === "object") return `arr[${ggufTypeName(item.itemType)}; ${item.items.length}]`;
  if (a.itemType === GgufValueType.BOOL) return String(item !== 0);
  if (a.itemType === GgufValueType.FLOAT32 && typeof item === "number") return f32Text(item);
  return String(item);
}

function shortString(s: string): string {
  const q = JSON.stringify(s);
  return q.length <= MAX_STRING_CHARS ? q : `${q.slice(0, MAX_STRING_CHARS - 4)}..." (${s.length} chars)`;
}

/** The shortest decimal that reads back as the same float32 (what gguf-py's numpy would print). */
function f32Text(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  for (let p = 1; p <= 9; p++) {
    const s = Number(x.toPrecision(p));
    if (Math.fround(s) === x) return String(s);
  }
  return String(x);
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function toJson(path: string, f: GgufFile, full: boolean): Json {
  const metadata: { [k: string]: Json } = {};
  for (const [key, v] of f.metadata) metadata[key] = jsonValue(v, full);
  return {
    file: path,
    version: f.version,
    alignment: f.alignment,
    dataOffset: f.dataOffset,
    fileSize: f.fileSize ?? null,
    metadata,
    tensors: f.tensors.map((t) => ({
      name: t.name,
      type: ggmlType(t.type)?.name ?? `type ${t.type}`,
      typeId: t.type,
      dims: [...t.dims],
      offset: t.offset,
      size: t.size,
    })),
  };
}

function jsonValue(v: GgufValue, full: boolean): Json {
  if (v.type === GgufValueType.ARRAY) return { type: "arr", ...jsonArray(v.value, full) };
  return { type: ggufTypeName(v.type), value: jsonScalar(v.type, v.value) };
}

function jsonArray(a: GgufArray, full: boolean): { [k: string]: Json } {
  const n = full ? a.items.length : Math.min(a.items.length, JSON_ITEMS);
  const items: Json[] = [];
  for (let i = 0; i < n; i++) {
    const item = a.items[i];
    if (typeof item === "object") items.push(jsonArray(item, full));
    else items.push(jsonScalar(a.itemType, a.itemType === GgufValueType.BOOL ? item !== 0 : item));
  }
  return { itemType: ggufTypeName(a.itemType), length: a.items.length, [full ? "items" : "first"]: items };
}

/** bigint as a decimal string; f32 as its shortest round-trip decimal; non-finite floats as strings. */
function jsonScalar(type: number, x: number | bigint | boolean | string): Json {
  if (typeof x === "bigint") return x.toString();
  if (typeof x === "number") {
    if (!Number.isFinite(x)) return String(x);
    return type === GgufValueType.FLOAT32 ? Number(f32Text(x)) : x;
  }
  return x;
}
