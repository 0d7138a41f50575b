// Writing GGUF v3 files (tests and benchmarks synthesize models; tools re-write files).
//
// Layout as in reader.ts: header, metadata, tensor infos, zero padding to the alignment, then each
// tensor's data at an aligned offset, in the order given, each padded with zeros to the alignment.
// Vocab-only files (no tensors) exist both with and without the padding after the header, so that
// padding is an option (`padEmptyData`); with it, every fixture re-written from what the reader
// found is byte-for-byte identical to the original.
//
// Three ways to use it:
//   writeGguf(spec)            -> the whole file in one Uint8Array (small models, tests)
//   ggufChunks(spec)           -> header, then each tensor's data and padding, one chunk at a time;
//                                 tensor data may be a function producing it on demand
//   ggufLayout(spec)           -> header bytes and every tensor's offset and size, for writers that
//                                 place the data themselves (a 600 MB benchmark model never needs to
//                                 exist twice in memory)

import { GgufError } from "../errors.js";
import { ggmlType } from "../quant/types.js";
import { GGML_MAX_DIMS } from "./tensor-infos.js";
import { GGUF_ALIGNMENT_KEY, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_LIMITS, alignUp } from "./reader.js";
import { GgufValueType, type GgufArray, type GgufTensorInfo, type GgufValue, type GgufValueTypeId } from "./types.js";
import { GGUF_TYPE_SIZE, HOST_LITTLE_ENDIAN, ggufTypeName, isValueType } from "./values.js";

export interface GgufTensorDesc {
  readonly name: string;
  /** ggml type id (src/quant/types.ts). */
  readonly type: number;
  /** Dimensions, fastest-varying first (ggml's ne). */
  readonly dims: readonly number[];
}

export interface GgufTensorInput extends GgufTensorDesc {
  /** The tensor's bytes (exactly its size), or a function producing them when they are written. */
  readonly data: Uint8Array | (() => Uint8Array);
}

export interface GgufWriteSpec<T extends GgufTensorDesc = GgufTensorInput> {
  /** GGUF version written in the header (default 3; 2 has the same layout). */
  readonly version?: 2 | 3;
  /**
   * Alignment of tensor data. Default: `general.alignment` from the metadata, else 32. A value other
   * than 32 with no `general.alignment` in the metadata appends that key (as ggml does) so readers
   * find it.
   */
  readonly alignment?: number;
  readonly metadata: Map<string, GgufValue> | Iterable<readonly [string, GgufValue]>;
  readonly tensors: readonly T[];
  /**
   * With no tensors, still pad the header to the alignment (default true, as ggml writes; some
   * gguf-py vocab-only files end right after the header). Files with tensors are always padded.
   */
  readonly padEmptyData?: boolean;
}

export interface GgufLayout {
  /** Header bytes: everything before the data section, including the padding to dataOffset. */
  readonly header: Uint8Array;
  readonly alignment: number;
  readonly dataOffset: number;
  /** Each tensor with its offset (from dataOffset) and size, as the reader will report them. */
  readonly tensors: readonly GgufTensorInfo[];
  /** Total bytes of the file. */
  readonly fileSize: number;
}

/** The whole file in memory. */
export function writeGguf(spec: GgufWriteSpec<GgufTensorInput>): Uint8Array {
  const layout = ggufLayout(spec);
  const out = new Uint8Array(layout.fileSize);
  let pos = 0;
  for (const chunk of chunksOf(layout, spec.tensors)) {
    out.set(chunk, pos);
    pos += chunk.length;
  }
  return out;
}

/** The file as a sequence of chunks: header, then each tensor's data followed by its padding. */
export function* ggufChunks(spec: GgufWriteSpec<GgufTensorInput>): Generator<Uint8Array, void, undefined> {
  yield* chunksOf(ggufLayout(spec), spec.tensors);
}

function* chunksOf(layout: GgufLayout, tensors: readonly GgufTensorInput[]): Generator<Uint8Array, void, undefined> {
  yield layout.header;
  let pos = layout.dataOffset;
  for (let i = 0; i < tensors.length; i++) {
    const info = layout.tensors[i];
    const src = tensors[i].data;
    const data = typeof src === "function" ? src() : src;
    if (data.length !== info.size) {
      throw new GgufError("bad_tensor", -1, `tensor "${info.name}" has ${data.length} bytes of data; its type and dims take ${info.size}`);
    }
    yield data;
    pos += data.length;
    const end = layout.dataOffset + alignUp(info.offset + info.size, layout.alignment);
    if (end > pos) yield new Uint8Array(end - pos);
    pos = end;
  }
}

/** Validates the spec and encodes everything but the tensor data. */
export function ggufLayout(spec: GgufWriteSpec<GgufTensorDesc>): GgufLayout {
  const version = spec.version ?? 3;
  if (version !== 2 && version !== 3) throw new GgufError("unsupported_version", -1, `cannot write GGUF version ${String(version)}`);
  const metadata = collectMetadata(spec.metadata);
  const alignment = resolveAlignment(metadata, spec.alignment);

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  let dataSize = 0;
  for (const t of spec.tensors) {
    if (names.has(t.name)) throw new GgufError("duplicate_tensor", -1, `tensor "${t.name}" appears twice`);
    names.add(t.name);
    const size = tensorSize(t);
    tensors.push({ name: t.name, type: t.type, dims: [...t.dims], offset: dataSize, size });
    dataSize += alignUp(size, alignment);
  }

  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(version);
  w.u64(BigInt(tensors.length));
  w.u64(BigInt(metadata.size));
  for (const [key, value] of metadata) {
    if (key.length === 0) throw new GgufError("bad_value", -1, "metadata keys must not be empty");
    w.string(key);
    w.u32(value.type);
    writeValue(w, value.type, value.value, key);
  }
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(BigInt(d));
    w.u32(t.type);
    w.u64(BigInt(t.offset));
  }
  const dataOffset = alignUp(w.length, alignment);
  if (tensors.length > 0 || spec.padEmptyData !== false) w.zeros(dataOffset - w.length);
  const header = w.bytes();
  return { header, alignment, dataOffset, tensors, fileSize: tensors.length > 0 ? dataOffset + dataSize : header.length };
}

function collectMetadata(src: GgufWriteSpec["metadata"]): Map<string, GgufValue> {
  if (src instanceof Map) return new Map(src);
  const out = new Map<string, GgufValue>();
  for (const [k, v] of src) {
    if (out.has(k)) throw new GgufError("duplicate_key", -1, `metadata key "${k}" appears twice`);
    out.set(k, v);
  }
  return out;
}

function resolveAlignment(metadata: Map<string, GgufValue>, requested: number | undefined): number {
  const v = metadata.get(GGUF_ALIGNMENT_KEY);
  if (v !== undefined && v.type !== GgufValueType.UINT32) {
    throw new GgufError("wrong_type", -1, `"${GGUF_ALIGNMENT_KEY}" must be u32, found ${ggufTypeName(v.type)}`);
  }
  const fromMeta = v?.value;
  const a = requested ?? fromMeta ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(a) || a <= 0 || a > 0xffffffff || (a & (a - 1)) !== 0) {
    throw new GgufError("bad_value", -1, `alignment ${a} is not a power of two`);
  }
  if (fromMeta !== undefined && fromMeta !== a) {
    throw new GgufError("bad_value", -1, `alignment ${a} contradicts "${GGUF_ALIGNMENT_KEY}" = ${fromMeta} in the metadata`);
  }
  if (fromMeta === undefined && a !== GGUF_DEFAULT_ALIGNMENT) metadata.set(GGUF_ALIGNMENT_KEY, { type: GgufValueType.UINT32, value: a });
  return a;
}

/** Checks a tensor's name, type and dims the way the reader will, and returns its byte size. */
function tensorSize(t: GgufTensorDesc): number {
  const nameBytes = new TextEncoder().encode(t.name).length;
  if (nameBytes > GGUF_LIMITS.maxTensorNameBytes) {
    throw new GgufError("limit_exceeded", -1, `tensor name "${t.name}" has ${nameBytes} bytes; ggml allows ${GGUF_LIMITS.maxTensorNameBytes}`);
  }
  const info = ggmlType(t.type);
  if (info === undefined) throw new GgufError("bad_tensor", -1, `tensor "${t.name}" has unknown ggml type id ${t.type}`);
  if (t.dims.length < 1 || t.dims.length > GGML_MAX_DIMS) {
    throw new GgufError("bad_tensor", -1, `tensor "${t.name}" has ${t.dims.length} dimensions; expected 1 to ${GGML_MAX_DIMS}`);
  }
  let elements = 1;
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new GgufError("bad_tensor", -1, `tensor "${t.name}" has dimension ${d}`);
    elements *= d;
  }
  if (!Number.isSafeInteger(elements)) throw new GgufError("bad_tensor", -1, `tensor "${t.name}" has too many elements`);
  if (t.dims[0] % info.blockElements !== 0) {
    throw new GgufError("bad_tensor", -1, `tensor "${t.name}" of type ${info.name}: rows of ${t.dims[0]} are not whole blocks of ${info.blockElements}`);
  }
  return (elements / info.blockElements) * info.blockBytes;
}

const INT_RANGE: Partial<Record<GgufValueTypeId, readonly [number, number]>> = {
  0: [0, 0xff], 1: [-0x80, 0x7f], 2: [0, 0xffff], 3: [-0x8000, 0x7fff], 4: [0, 0xffffffff], 5: [-0x80000000, 0x7fffffff],
};
const BIG_RANGE: Partial<Record<GgufValueTypeId, readonly [bigint, bigint]>> = {
  10: [0n, 2n ** 64n - 1n], 11: [-(2n ** 63n), 2n ** 63n - 1n],
};

function badValue(key: string, type: GgufValueTypeId, v: unknown): GgufError {
  const shown = typeof v === "bigint" ? `${v}n` : typeof v === "string" ? JSON.stringify(v).slice(0, 40) : String(v);
  return new GgufError("bad_value", -1, `metadata "${key}": ${shown} is not a valid ${ggufTypeName(type)}`);
}

function writeValue(w: ByteWriter, type: GgufValueTypeId, v: unknown, key: string): void {
  const ir = INT_RANGE[type];
  if (ir !== undefined) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < ir[0] || v > ir[1]) throw badValue(key, type, v);
    w.scalar(type, v);
    return;
  }
  const br = BIG_RANGE[type];
  if (br !== undefined) {
    if (typeof v !== "bigint" || v < br[0] || v > br[1]) throw badValue(key, type, v);
    w.big(type, v);
    return;
  }
  switch (type) {
    case GgufValueType.FLOAT32:
    case GgufValueType.FLOAT64:
      if (typeof v !== "number") throw badValue(key, type, v);
      w.scalar(type, v);
      return;
    case GgufValueType.BOOL:
      if (typeof v !== "boolean") throw badValue(key, type, v);
      w.u8(v ? 1 : 0);
      return;
    case GgufValueType.STRING:
      if (typeof v !== "string") throw badValue(key, type, v);
      w.string(v);
      return;
    case GgufValueType.ARRAY:
      if (!isGgufArray(v)) throw badValue(key, type, v);
      writeArray(w, v, key);
      return;
  }
  throw new GgufError("bad_value_type", -1, `metadata "${key}" has value type ${String(type)}; GGUF value types are 0..12`);
}

function isGgufArray(v: unknown): v is GgufArray {
  if (typeof v !== "object" || v === null || !("itemType" in v) || !("items" in v)) return false;
  return typeof v.itemType === "number" && (Array.isArray(v.items) || ArrayBuffer.isView(v.items));
}

function writeArray(w: ByteWriter, arr: GgufArray, key: string): void {
  const t = arr.itemType;
  if (!isValueType(t)) throw new GgufError("bad_value_type", -1, `array "${key}" has item type ${String(t)}; GGUF value types are 0..12`);
  w.u32(t);
  w.u64(BigInt(arr.items.length));
  const items = arr.items;
  // Fast path: a typed array of exactly the item type goes out as its bytes.
  if (HOST_LITTLE_ENDIAN && ArrayBuffer.isView(items) && items.BYTES_PER_ELEMENT === GGUF_TYPE_SIZE[t] && matchesType(items, t)) {
    w.raw(new Uint8Array(items.buffer, items.byteOffset, items.byteLength));
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    writeValue(w, t, t === GgufValueType.BOOL && typeof item === "number" ? item !== 0 : item, `${key}[${i}]`);
  }
}

function matchesType(items: ArrayBufferView, t: GgufValueTypeId): boolean {
  switch (t) {
    case GgufValueType.UINT8: return items instanceof Uint8Array;
    case GgufValueType.INT8: return items instanceof Int8Array;
    case GgufValueType.UINT16: return items instanceof Uint16Array;
    case GgufValueType.INT16: return items instanceof Int16Array;
    case GgufValueType.UINT32: return items instanceof Uint32Array;
    case GgufValueType.INT32: return items instanceof Int32Array;
    case GgufValueType.FLOAT32: return items instanceof Float32Array;
    case GgufValueType.FLOAT64: return items instanceof Float64Array;
    case GgufValueType.UINT64: return items instanceof BigUint64Array;
    case GgufValueType.INT64: return items instanceof BigInt64Array;
    default: return false;
  }
}

const utf8 = new TextEncoder();

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  u64(v: bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, v, true);
    this.length += 8;
  }
  scalar(type: GgufValueTypeId, v: number): void {
    const n = GGUF_TYPE_SIZE[type];
    this.reserve(n);
    const at = this.length;
    switch (type) {
      case GgufValueType.UINT8: this.view.setUint8(at, v); break;
      case GgufValueType.INT8: this.view.setInt8(at, v); break;
      case GgufValueType.UINT16: this.view.setUint16(at, v, true); break;
      case GgufValueType.INT16: this.view.setInt16(at, v, true); break;
      case GgufValueType.UINT32: this.view.setUint32(at, v, true); break;
      case GgufValueType.INT32: this.view.setInt32(at, v, true); break;
      case GgufValueType.FLOAT32: this.view.setFloat32(at, v, true); break;
      case GgufValueType.FLOAT64: this.view.setFloat64(at, v, true); break;
    }
    this.length += n;
  }
  big(type: GgufValueTypeId, v: bigint): void {
    this.reserve(8);
    if (type === GgufValueType.INT64) this.view.setBigInt64(this.length, v, true);
    else this.view.setBigUint64(this.length, v, true);
    this.length += 8;
  }
  string(s: string): void {
    const b = utf8.encode(s);
    this.u64(BigInt(b.length));
    this.raw(b);
  }
  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  zeros(n: number): void {
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
