// Reading GGUF metadata values (scalars, strings, arrays, arrays of arrays) through a Cursor.
//
// Arrays become typed arrays copied out of the file bytes, so a 256k-entry score table is one
// allocation and one copy. Every count passes its named limit and the bytes-left check first.

import { GgufError } from "../errors.js";
import { type Cursor } from "./cursor.js";
import type { GgufLimits } from "./reader.js";
import { GgufValueType, type GgufArray, type GgufValue, type GgufValueTypeId } from "./types.js";

/** Short names of the value types, as ggml's gguf_type_name prints them. */
export const GGUF_TYPE_NAMES: Readonly<Record<GgufValueTypeId, string>> = {
  0: "u8",
  1: "i8",
  2: "u16",
  3: "i16",
  4: "u32",
  5: "i32",
  6: "f32",
  7: "bool",
  8: "str",
  9: "arr",
  10: "u64",
  11: "i64",
  12: "f64",
};

/** The name of a value type id, or `type <id>` for an id GGUF does not define. */
export function ggufTypeName(id: number): string {
  return isValueType(id) ? GGUF_TYPE_NAMES[id] : `type ${id}`;
}

export function isValueType(id: number): id is GgufValueTypeId {
  return Number.isInteger(id) && id >= 0 && id <= 12;
}

/** Bytes per item of the fixed-size types (0 for string and array, whose items vary). */
export const GGUF_TYPE_SIZE: Readonly<Record<GgufValueTypeId, number>> = {
  0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 0, 9: 0, 10: 8, 11: 8, 12: 8,
};

/** Smallest encoding of one array item: strings are at least their u64 length, arrays their type and count. */
function minItemBytes(t: GgufValueTypeId): number {
  if (t === GgufValueType.STRING) return 8;
  if (t === GgufValueType.ARRAY) return 12;
  return GGUF_TYPE_SIZE[t];
}

/** Typed arrays alias the host's byte order; every engine Woolly targets is little-endian, but check. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function readType(cur: Cursor, what: string): GgufValueTypeId {
  const at = cur.pos;
  const t = cur.u32(what);
  if (!isValueType(t)) {
    throw new GgufError("bad_value_type", at, `${what} is ${t}; GGUF value types are 0..12`);
  }
  return t;
}

/** Reads one key's value: its u32 type, then the value. `key` names it in errors. */
export function readKeyValue(cur: Cursor, key: string, limits: GgufLimits): GgufValue {
  const type = readType(cur, `value type of "${key}"`);
  return readValue(cur, type, key, limits, 0);
}

function readValue(cur: Cursor, type: GgufValueTypeId, key: string, limits: GgufLimits, depth: number): GgufValue {
  const what = `value of "${key}"`;
  switch (type) {
    case GgufValueType.UINT8:
      return { type, value: cur.u8(what) };
    case GgufValueType.INT8:
      return { type, value: cur.i8(what) };
    case GgufValueType.UINT16:
      return { type, value: cur.u16(what) };
    case GgufValueType.INT16:
      return { type, value: cur.i16(what) };
    case GgufValueType.UINT32:
      return { type, value: cur.u32(what) };
    case GgufValueType.INT32:
      return { type, value: cur.i32(what) };
    case GgufValueType.FLOAT32:
      return { type, value: cur.f32(what) };
    case GgufValueType.FLOAT64:
      return { type, value: cur.f64(what) };
    case GgufValueType.UINT64:
      return { type, value: cur.u64(what) };
    case GgufValueType.INT64:
      return { type, value: cur.i64(what) };
    // ggml reads a bool as a byte and takes any non-zero byte as true; do the same.
    case GgufValueType.BOOL:
      return { type, value: cur.u8(what) !== 0 };
    case GgufValueType.STRING:
      return { type, value: cur.string(what, limits.maxStringBytes, "maxStringBytes") };
    case GgufValueType.ARRAY:
      return { type, value: readArray(cur, key, limits, depth + 1) };
  }
}

function readArray(cur: Cursor, key: string, limits: GgufLimits, depth: number): GgufArray {
  const at = cur.pos;
  if (depth > limits.maxNesting) {
    throw new GgufError("limit_exceeded", at, `"${key}" nests arrays ${depth} deep, above maxNesting (${limits.maxNesting})`);
  }
  const itemType = readType(cur, `item type of array "${key}"`);
  const n = cur.count(`length of array "${key}"`, limits.maxArrayLength, "maxArrayLength");
  // Checked before allocating: n items take at least n * minItemBytes bytes of the file.
  cur.need(n * minItemBytes(itemType), `${n} items of array "${key}"`);
  const what = `items of array "${key}"`;
  switch (itemType) {
    case GgufValueType.STRING: {
      const items: string[] = [];
      // The fast path allocates nothing but the string; the named read runs only when it declines.
      for (let i = 0; i < n; i++) {
        items.push(cur.stringFast(limits.maxStringBytes) ?? cur.string(`item ${i} of "${key}"`, limits.maxStringBytes, "maxStringBytes"));
      }
      return { itemType, items };
    }
    case GgufValueType.ARRAY: {
      const items: GgufArray[] = [];
      for (let i = 0; i < n; i++) items.push(readArray(cur, key, limits, depth + 1));
      return { itemType, items };
    }
    case GgufValueType.BOOL: {
      const items = copyBytes(cur.take(n, what));
      for (let i = 0; i < n; i++) items[i] = items[i] !== 0 ? 1 : 0;
      return { itemType, items };
    }
    default:
      return { itemType, items: numericItems(cur, itemType, n, what) };
  }
}

/** A copy in a new ArrayBuffer (not slice(): on a Node Buffer, slice() is a view into the pool). */
function copyBytes(src: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(src.length);
  out.set(src);
  return out;
}

type NumericItemType = Exclude<GgufValueTypeId, 7 | 8 | 9>;

/** Copies n fixed-size items into a fresh typed array of the matching kind. */
function numericItems(cur: Cursor, t: NumericItemType, n: number, what: string): GgufArray["items"] {
  const size = GGUF_TYPE_SIZE[t];
  const raw = cur.take(n * size, what);
  if (HOST_LITTLE_ENDIAN) {
    // A copy in a fresh buffer, so the typed array view starts aligned at 0.
    return typedView(t, copyBytes(raw).buffer, n);
  }
  const out = typedView(t, new ArrayBuffer(n * size), n);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < n; i++) setItem(out, t, i, dv, i * size);
  return out;
}

function typedView(t: NumericItemType, buf: ArrayBuffer, n: number): GgufArray["items"] {
  switch (t) {
    case GgufValueType.UINT8: return new Uint8Array(buf, 0, n);
    case GgufValueType.INT8: return new Int8Array(buf, 0, n);
    case GgufValueType.UINT16: return new Uint16Array(buf, 0, n);
    case GgufValueType.INT16: return new Int16Array(buf, 0, n);
    case GgufValueType.UINT32: return new Uint32Array(buf, 0, n);
    case GgufValueType.INT32: return new Int32Array(buf, 0, n);
    case GgufValueType.FLOAT32: return new Float32Array(buf, 0, n);
    case GgufValueType.FLOAT64: return new Float64Array(buf, 0, n);
    case GgufValueType.UINT64: return new BigUint64Array(buf, 0, n);
    case GgufValueType.INT64: return new BigInt64Array(buf, 0, n);
  }
}

/** Big-endian hosts only: decode one little-endian item into `out[i]`. */
function setItem(out: GgufArray["items"], t: NumericItemType, i: number, dv: DataView, at: number): void {
  if (out instanceof BigUint64Array) out[i] = dv.getBigUint64(at, true);
  else if (out instanceof BigInt64Array) out[i] = dv.getBigInt64(at, true);
  else if (out instanceof Float32Array) out[i] = dv.getFloat32(at, true);
  else if (out instanceof Float64Array) out[i] = dv.getFloat64(at, true);
  else if (out instanceof Uint16Array) out[i] = dv.getUint16(at, true);
  else if (out instanceof Int16Array) out[i] = dv.getInt16(at, true);
  else if (out instanceof Uint32Array) out[i] = dv.getUint32(at, true);
  else if (out instanceof Int32Array) out[i] = dv.getInt32(at, true);
  else if (out instanceof Int8Array) out[i] = dv.getInt8(at);
  else if (out instanceof Uint8Array && t === GgufValueType.UINT8) out[i] = dv.getUint8(at);
}
