// The GGUF header parser, shared by the in-memory reader (parseGguf) and the source reader
// (readGguf in source.ts). It treats every byte as hostile.
//
// GGUF layout (versions 2 and 3; all integers little-endian; spec: ggml-org/ggml docs/gguf.md):
//  1. magic: the 4 bytes "GGUF".
//  2. version: u32. 1 used u32 counts and is refused; 2 and 3 share this layout (3 allowed big-endian
//     files, which read here as a version like 0x03000000 and are refused by name).
//  3. tensor_count: u64, then metadata_kv_count: u64.
//  4. metadata_kv_count key/value pairs: key (string), value type (u32), value.
//     A string is a u64 byte length then UTF-8 bytes, no terminator. An array is item type (u32),
//     count (u64), then the items; arrays of arrays nest.
//  5. tensor_count tensor infos: name (string), n_dims (u32), ne[n_dims] (u64 each, fastest-varying
//     first), ggml type (u32), offset (u64) from the start of the data section.
//  6. zero padding up to a multiple of `general.alignment` (u32 metadata key, default 32).
//  7. the data section: each tensor's bytes at its offset, offsets multiples of the alignment.
//
// The parser never reads past the header: tensor data is only located (offset and size), not read.

import { GgufError } from "../errors.js";
import { Cursor, NeedMoreBytes } from "./cursor.js";
import { GgufFile } from "./file.js";
import { checkTensorRanges, readTensorInfos } from "./tensor-infos.js";
import type { GgufValue } from "./types.js";
import { ggufTypeName, readKeyValue } from "./values.js";

/** Bounds on what a header may declare; each exists so that hostile counts fail fast and cheaply. */
export interface GgufLimits {
  /** Tensor infos. The largest real models (MoE with split experts) have a few thousand. */
  readonly maxTensors: number;
  /** Metadata pairs. Real files have tens to a few hundred. */
  readonly maxMetadataKeys: number;
  /**
   * Bytes of one string. The longest real strings are embedded tokenizer JSON and chat templates
   * (a few MB); V8 cannot build strings of ~512 MiB and would throw a RangeError.
   */
  readonly maxStringBytes: number;
  /** Items of one array. Vocabularies reach 262k tokens and merge lists ~500k entries. */
  readonly maxArrayLength: number;
  /** Array nesting depth. ggml refuses nested arrays outright; the spec allows them, so allow a few. Bounds recursion. */
  readonly maxNesting: number;
  /** Bytes of a tensor name: ggml's GGML_MAX_NAME is 64 including the terminating NUL. */
  readonly maxTensorNameBytes: number;
  /**
   * Bytes the async reader may fetch to parse a header. Real headers stay under ~30 MB (a 262k
   * vocabulary with scores and merges, or an embedded tokenizer JSON); this caps what a hostile
   * header in a huge file can make readGguf download and hold.
   */
  readonly maxHeaderBytes: number;
}

export const GGUF_LIMITS: GgufLimits = {
  maxTensors: 1 << 20,
  maxMetadataKeys: 1 << 20,
  maxStringBytes: 64 << 20,
  maxArrayLength: 1 << 26,
  maxNesting: 8,
  maxTensorNameBytes: 63,
  maxHeaderBytes: 256 << 20,
};

/** The bytes "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGUF_ALIGNMENT_KEY = "general.alignment";

export interface ParseOptions {
  /** Override some limits (tests lower them; a tool reading unusual files may raise them). */
  readonly limits?: Partial<GgufLimits>;
}

export interface ParseBytesOptions extends ParseOptions {
  /**
   * Size of the whole file when `bytes` is only a prefix of it (at least the whole header); tensor
   * ranges are checked against it. Default: bytes.length.
   */
  readonly fileSize?: number;
}

/**
 * Parses the header of a GGUF file held in memory: the whole file, or a prefix holding the whole
 * header together with `options.fileSize`.
 */
export function parseGguf(bytes: Uint8Array | ArrayBuffer, options: ParseBytesOptions = {}): GgufFile {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const fileSize = Math.max(u8.length, options.fileSize ?? u8.length);
  try {
    return parseHeader(new Cursor(u8, fileSize), resolveLimits(options));
  } catch (e) {
    if (e instanceof NeedMoreBytes) {
      throw new GgufError("truncated", u8.length, `the header goes on past the ${u8.length} bytes given (needs at least ${e.needed})`);
    }
    throw e;
  }
}

export function resolveLimits(options: ParseOptions): GgufLimits {
  return { ...GGUF_LIMITS, ...options.limits };
}

/**
 * The one parser. With a cursor over a prefix of the file it throws NeedMoreBytes when it runs off
 * the prefix; the caller fetches more and parses again from the start (headers are small).
 */
export function parseHeader(cur: Cursor, limits: GgufLimits): GgufFile {
  // 1. magic
  const magic = cur.u32("magic");
  if (magic !== GGUF_MAGIC) {
    const shown = Array.from(cur.bytes.subarray(0, 4), (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "?")).join("");
    throw new GgufError("bad_magic", 0, `not a GGUF file: starts with "${shown}", expected "GGUF"`);
  }

  // 2. version
  const version = cur.u32("version");
  if ((version & 0xffff) === 0 && version !== 0) {
    throw new GgufError(
      "unsupported_version",
      4,
      `version field reads ${version} (0x${version.toString(16)}): this is a big-endian GGUF file; Woolly reads little-endian files only`,
    );
  }
  if (version === 1) throw new GgufError("unsupported_version", 4, "GGUF version 1 is not supported (it predates 64-bit counts); convert the file to version 3");
  if (version !== 2 && version !== 3) throw new GgufError("unsupported_version", 4, `GGUF version ${version} is not supported; expected 2 or 3`);

  // 3. counts
  const tensorCount = cur.count("tensor count", limits.maxTensors, "maxTensors");
  const kvCount = cur.count("metadata key count", limits.maxMetadataKeys, "maxMetadataKeys");

  // 4. metadata. Each pair is at least key length (8) + type (4) + a 1-byte value.
  cur.need(kvCount * 13, `${kvCount} metadata pairs`);
  const metadata = new Map<string, GgufValue>();
  let alignmentAt = -1;
  for (let i = 0; i < kvCount; i++) {
    const at = cur.pos;
    const key = cur.string(`key of metadata pair ${i}`, limits.maxStringBytes, "maxStringBytes");
    if (key.length === 0) throw new GgufError("bad_value", at, `metadata key ${i} is empty`);
    if (metadata.has(key)) throw new GgufError("duplicate_key", at, `metadata key "${key}" appears twice`);
    if (key === GGUF_ALIGNMENT_KEY) alignmentAt = cur.pos;
    metadata.set(key, readKeyValue(cur, key, limits));
  }

  const alignment = readAlignment(metadata, alignmentAt);

  // 5. tensor infos
  const raw = readTensorInfos(cur, tensorCount, limits);

  // 6. padding, 7. data section
  const dataOffset = alignUp(cur.pos, alignment);
  checkTensorRanges(raw, alignment, dataOffset, cur.fileSize);

  return new GgufFile({
    version,
    alignment,
    dataOffset,
    headerSize: cur.pos,
    fileSize: cur.fileSize,
    metadata,
    tensors: raw.map((r) => r.info),
  });
}

/** `general.alignment` must be a u32 (as ggml requires) and a non-zero power of two. */
function readAlignment(metadata: Map<string, GgufValue>, at: number): number {
  const v = metadata.get(GGUF_ALIGNMENT_KEY);
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (v.type !== 4) {
    throw new GgufError("wrong_type", at, `"${GGUF_ALIGNMENT_KEY}" must be u32, found ${ggufTypeName(v.type)}`);
  }
  const a = v.value;
  if (a === 0 || (a & (a - 1)) !== 0) {
    throw new GgufError("bad_value", at, `"${GGUF_ALIGNMENT_KEY}" is ${a}; it must be a non-zero power of two`);
  }
  return a;
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
