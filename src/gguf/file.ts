// GgufFile: a parsed GGUF header (metadata and tensor table) with typed metadata accessors.
//
// Accessors are methods. Each has two forms:
//   file.getU32("llama.block_count")          -> number; GgufError('missing_key') if absent
//   file.getU32("llama.rope.freq_base", 0)     -> number | typeof fallback when absent
// A value of another type throws GgufError('wrong_type') naming the key, the type expected and the
// type found. Integer accessors take any integer width whose value fits (files store u32 keys as
// i32 or u64 often enough); a value that does not fit is also 'wrong_type'.
//   getU32 getI32 getU64 (bigint) getI64 (bigint) getF32 (f32 or f64) getBool getString
//   getArray getStringArray getF32Array (f32, or f64 narrowed) getI32Array (any integer items that fit)
// Typed arrays returned for arrays stored in exactly that type are the parsed arrays themselves
// (no copy): treat them as read-only.

import { GgufError } from "../errors.js";
import { GgufValueType, type GgufArray, type GgufTensorInfo, type GgufValue } from "./types.js";
import { ggufTypeName } from "./values.js";

export interface GgufFileInit {
  readonly version: number;
  readonly alignment: number;
  readonly dataOffset: number;
  readonly headerSize: number;
  readonly fileSize: number | undefined;
  readonly metadata: Map<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
}

const I32_MIN = -(2n ** 31n);
const I32_MAX = 2n ** 31n - 1n;
const U32_MAX = 2n ** 32n - 1n;
const U64_MAX = 2n ** 64n - 1n;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

export class GgufFile {
  /** GGUF version (2 or 3). */
  readonly version: number;
  /** Alignment of tensor data (`general.alignment`, default 32). */
  readonly alignment: number;
  /** Absolute byte offset of the data section; tensor offsets are relative to it. */
  readonly dataOffset: number;
  /** Bytes of the header proper (before the padding that leads to dataOffset). */
  readonly headerSize: number;
  /** Size of the whole file, when the reader knew it. */
  readonly fileSize: number | undefined;
  /** Metadata in file order. */
  readonly metadata: Map<string, GgufValue>;
  /** Tensor infos in file order. */
  readonly tensors: readonly GgufTensorInfo[];
  private readonly byName: Map<string, GgufTensorInfo>;

  constructor(init: GgufFileInit) {
    this.version = init.version;
    this.alignment = init.alignment;
    this.dataOffset = init.dataOffset;
    this.headerSize = init.headerSize;
    this.fileSize = init.fileSize;
    this.metadata = init.metadata;
    this.tensors = init.tensors;
    this.byName = new Map(init.tensors.map((t) => [t.name, t]));
  }

  /** The tensor named `name`, or undefined. */
  tensor(name: string): GgufTensorInfo | undefined {
    return this.byName.get(name);
  }

  /** Absolute file offset of a tensor's first byte. */
  tensorStart(t: GgufTensorInfo): number {
    return this.dataOffset + t.offset;
  }

  has(key: string): boolean {
    return this.metadata.has(key);
  }

  /** The raw value of a key, or undefined. */
  get(key: string): GgufValue | undefined {
    return this.metadata.get(key);
  }

  getU32(key: string): number;
  getU32<F>(key: string, fallback: F): number | F;
  getU32(key: string, ...fallback: unknown[]): unknown {
    const v = this.lookup(key, fallback.length > 0);
    return v === undefined ? fallback[0] : Number(intInRange(key, v, "u32", 0n, U32_MAX));
  }

  getI32(key: string): number;
  getI32<F>(key: string, fallback: F): number | F;
  getI32(key: string, ...fallback: unknown[]): unknown {
    const v = this.lookup(key, fallback.length > 0);
    return v === undefined ? fallback[0] : Number(intInRange(key, v, "i32", I32_MIN, I32_MAX));
  }

  getU64(key: string): bigint;
  getU64<F>(key: string, fallback: F): bigint | F;
  getU64(key: string, ...fallback: unknown[]): unknown {
    const v = this.lookup(key, fallback.length > 0);
    return v === undefined ? fallback[0] : intInRange(key, v, "u64", 0n, U64_MAX);
  }

  getI64(key: string): bigint;
  getI64<F>(key: string, fallback: F): bigint | F;
  getI64(key: string, ...fallback: unknown[]): unknown {
    const v = this.lookup(key, fallback.length > 0);
    return v === undefined ? fallback[0] : intInRange(key, v, "i64", I64_MIN, I64_MAX);
  }

  /** A float: f32, or f64 (returned unrounded). */
  getF32(key: string): number;
  getF32<F>(key: string, fallback: F): number | F;
  getF32(key: string, ...fallback: unknown[]): unknown {
    const v = this.lookup(key, fallback.length > 0);
    if (v === undefined) return fallback[0];
    if (v.type === GgufValueType.FLOAT32 || v.type === GgufValueType.FLOAT64) return v.value;
    throw wrongType(key, "f32", v);
  }

  getBool(key: string): boolean;
  getBool<F>(key: string, fallback: F): boolean | F;
  getBool(key: string, ...fallback: unknown[]): unknown {
    const v = this.lookup(key, fallback.length > 0);
    if (v === undefined) return fallback[0];
    if (v.type === GgufValueType.BOOL) return v.value;
    throw wrongType(key, "bool", v);
  }

  getString(key: string): string;
  getString<F>(key: string, fallback: F): string | F;
  getString(key: string, ...fallback: unknown[]): unknown {
    const v = this.lookup(key, fallback.length > 0);
    if (v === undefined) return fallback[0];
    if (v.type === GgufValueType.STRING) return v.value;
    throw wrongType(key, "str", v);
  }

  getArray(key: string): GgufArray;
  getArray<F>(key: string, fallback: F): GgufArray | F;
  getArray(key: string, ...fallback: unknown[]): unknown {
    const v = this.lookup(key, fallback.length > 0);
    if (v === undefined) return fallback[0];
    if (v.type === GgufValueType.ARRAY) return v.value;
    throw wrongType(key, "arr", v);
  }

  getStringArray(key: string): string[];
  getStringArray<F>(key: string, fallback: F): string[] | F;
  getStringArray(key: string, ...fallback: unknown[]): unknown {
    const v = this.lookup(key, fallback.length > 0);
    if (v === undefined) return fallback[0];
    if (v.type === GgufValueType.ARRAY && v.value.itemType === GgufValueType.STRING && Array.isArray(v.value.items)) {
      return v.value.items;
    }
    throw wrongType(key, "arr[str]", v);
  }

  getF32Array(key: string): Float32Array;
  getF32Array<F>(key: string, fallback: F): Float32Array | F;
  getF32Array(key: string, ...fallback: unknown[]): unknown {
    const v = this.lookup(key, fallback.length > 0);
    if (v === undefined) return fallback[0];
    if (v.type === GgufValueType.ARRAY) {
      const items = v.value.items;
      if (items instanceof Float32Array) return items;
      if (items instanceof Float64Array) return Float32Array.from(items);
    }
    throw wrongType(key, "arr[f32]", v);
  }

  getI32Array(key: string): Int32Array;
  getI32Array<F>(key: string, fallback: F): Int32Array | F;
  getI32Array(key: string, ...fallback: unknown[]): unknown {
    const v = this.lookup(key, fallback.length > 0);
    if (v === undefined) return fallback[0];
    if (v.type !== GgufValueType.ARRAY) throw wrongType(key, "arr[i32]", v);
    const items = v.value.items;
    if (items instanceof Int32Array) return items;
    if (items instanceof BigInt64Array || items instanceof BigUint64Array) {
      const out = new Int32Array(items.length);
      for (let i = 0; i < items.length; i++) {
        const x = items[i];
        if (x < I32_MIN || x > I32_MAX) throw doesNotFit(key, `item ${i} (${x})`, "i32");
        out[i] = Number(x);
      }
      return out;
    }
    if (
      items instanceof Uint8Array || items instanceof Int8Array || items instanceof Uint16Array ||
      items instanceof Int16Array || items instanceof Uint32Array
    ) {
      if (v.value.itemType === GgufValueType.BOOL) throw wrongType(key, "arr[i32]", v);
      const out = new Int32Array(items.length);
      for (let i = 0; i < items.length; i++) {
        if (items[i] > 0x7fffffff) throw doesNotFit(key, `item ${i} (${items[i]})`, "i32");
        out[i] = items[i];
      }
      return out;
    }
    throw wrongType(key, "arr[i32]", v);
  }

  private lookup(key: string, hasFallback: boolean): GgufValue | undefined {
    const v = this.metadata.get(key);
    if (v === undefined && !hasFallback) {
      throw new GgufError("missing_key", -1, `metadata key "${key}" is missing`);
    }
    return v;
  }
}

/** The type of a value as written in messages: `u32`, `arr[f32]`, `arr[arr]`. */
export function describeType(v: GgufValue): string {
  return v.type === GgufValueType.ARRAY ? `arr[${ggufTypeName(v.value.itemType)}]` : ggufTypeName(v.type);
}

function wrongType(key: string, expected: string, found: GgufValue): GgufError {
  return new GgufError("wrong_type", -1, `metadata key "${key}" should be ${expected}, found ${describeType(found)}`);
}

function doesNotFit(key: string, what: string, expected: string): GgufError {
  return new GgufError("wrong_type", -1, `metadata key "${key}": ${what} does not fit in ${expected}`);
}

/** An integer value of any width, checked to lie in [min, max]. */
function intInRange(key: string, v: GgufValue, expected: string, min: bigint, max: bigint): bigint {
  let x: bigint;
  switch (v.type) {
    case GgufValueType.UINT8:
    case GgufValueType.INT8:
    case GgufValueType.UINT16:
    case GgufValueType.INT16:
    case GgufValueType.UINT32:
    case GgufValueType.INT32:
      x = BigInt(v.value);
      break;
    case GgufValueType.UINT64:
    case GgufValueType.INT64:
      x = v.value;
      break;
    default:
      throw wrongType(key, expected, v);
  }
  if (x < min || x > max) throw doesNotFit(key, `value ${x} (${describeType(v)})`, expected);
  return x;
}
