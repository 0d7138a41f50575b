// Where GGUF bytes come from, and the async reader over any of them.
//
// A GgufSource reads byte ranges: from memory, a Blob/File (Blob.slice), or a URL (HTTP Range
// requests). The file-path source lives in node-source.ts (node:fs). readGguf parses a header by
// fetching a growing prefix (256 KiB, doubling), so a multi-GB file is never read whole for its
// header; readRange / readRangeInto stream a tensor's bytes in chunks for the model loader.

import { GgufError } from "../errors.js";
import { Cursor, NeedMoreBytes } from "./cursor.js";
import { type GgufFile } from "./file.js";
import { parseHeader, resolveLimits, type ParseOptions } from "./reader.js";

export interface GgufSource {
  /** Total bytes, when known (a URL source learns it from its first response). */
  readonly size: number | undefined;
  /**
   * Bytes [offset, offset + length). Returns exactly `length` bytes unless the file ends first, in
   * which case it returns the bytes up to the end (possibly none).
   */
  read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * Optional: read into `target` (e.g. a view of WebAssembly memory) without an intermediate copy.
   * Returns the bytes read, fewer than target.length only at the end of the file.
   */
  readInto?(offset: number, target: Uint8Array, signal?: AbortSignal): Promise<number>;
  /** Optional: release what the source holds (file handle, open HTTP stream). */
  close?(): Promise<void>;
  /**
   * Optional: a source that is a view over several files (a split GGUF set, see split.ts) parses
   * their headers itself and returns the merged one; readGguf defers to it.
   */
  readHeader?(options: ReadGgufOptions): Promise<GgufFile>;
}

export interface ReadGgufOptions extends ParseOptions {
  /** First prefix to fetch (default 256 KiB); it doubles until the header fits. */
  readonly initialBytes?: number;
  readonly signal?: AbortSignal;
}

const DEFAULT_INITIAL_BYTES = 256 << 10;
/** Chunk size of readRange: large enough that per-read overhead vanishes, small enough to stream. */
export const DEFAULT_CHUNK_BYTES = 8 << 20;

/** Parses the header of a GGUF file from any source, fetching only a prefix of the file. */
export async function readGguf(source: GgufSource, options: ReadGgufOptions = {}): Promise<GgufFile> {
  if (source.readHeader !== undefined) return source.readHeader(options);
  const limits = resolveLimits(options);
  const { signal } = options;
  let want = Math.max(64, options.initialBytes ?? DEFAULT_INITIAL_BYTES);
  if (source.size !== undefined) want = Math.min(want, source.size);
  let prefix = await readOrIoError(source, 0, want, signal);
  // A short read means the file ended; otherwise the source may have learned its size meanwhile.
  let fileSize = prefix.length < want ? prefix.length : source.size;
  for (;;) {
    signal?.throwIfAborted();
    try {
      return parseHeader(new Cursor(prefix, fileSize), limits);
    } catch (e) {
      if (!(e instanceof NeedMoreBytes)) throw e;
      if (e.needed > limits.maxHeaderBytes) {
        throw new GgufError(
          "limit_exceeded",
          prefix.length,
          `the header needs more than ${limits.maxHeaderBytes} bytes (maxHeaderBytes)`,
        );
      }
      let next = Math.min(Math.max(e.needed, prefix.length * 2), limits.maxHeaderBytes);
      if (fileSize !== undefined) next = Math.min(next, fileSize);
      const more = await readOrIoError(source, prefix.length, next - prefix.length, signal);
      const grown = new Uint8Array(prefix.length + more.length);
      grown.set(prefix);
      grown.set(more, prefix.length);
      if (more.length < next - prefix.length) fileSize = grown.length;
      else fileSize ??= source.size;
      prefix = grown;
    }
  }
}

async function readOrIoError(source: GgufSource, offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
  try {
    return await source.read(offset, length, signal);
  } catch (cause) {
    // An abort stays what it is (the caller asked for it); anything else is an I/O failure.
    if (cause instanceof GgufError || signal?.aborted === true) throw cause;
    throw new GgufError("io", offset, `reading ${length} bytes failed: ${errorText(cause)}`, { cause });
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Streams bytes [offset, offset + length) in chunks of at most `chunkBytes`, calling onChunk(chunk,
 * at) where `at` is the chunk's position within the range (0 for the first). The chunk may be reused
 * or be a view: copy it before the returned promise of onChunk settles. Throws GgufError('truncated')
 * if the file ends before the range does.
 */
export async function readRange(
  source: GgufSource,
  offset: number,
  length: number,
  onChunk: (chunk: Uint8Array, at: number) => void | Promise<void>,
  signal?: AbortSignal,
  chunkBytes: number = DEFAULT_CHUNK_BYTES,
): Promise<void> {
  for (let at = 0; at < length; ) {
    signal?.throwIfAborted();
    const n = Math.min(chunkBytes, length - at);
    const chunk = await readOrIoError(source, offset + at, n, signal);
    if (chunk.length < n) {
      throw new GgufError("truncated", offset + at + chunk.length, `file ends inside the range ${offset}..${offset + length}`);
    }
    await onChunk(chunk, at);
    at += n;
  }
}

/**
 * Fills `target` with the bytes at `offset` (target.length of them), using the source's readInto
 * when it has one (no intermediate copy), else readRange.
 */
export async function readRangeInto(source: GgufSource, offset: number, target: Uint8Array, signal?: AbortSignal): Promise<void> {
  const readInto = source.readInto?.bind(source);
  if (readInto === undefined) {
    await readRange(source, offset, target.length, (chunk, at) => target.set(chunk, at), signal);
    return;
  }
  for (let at = 0; at < target.length; ) {
    signal?.throwIfAborted();
    const part = target.subarray(at, Math.min(target.length, at + DEFAULT_CHUNK_BYTES));
    const n = await readInto(offset + at, part, signal);
    if (n < part.length) throw new GgufError("truncated", offset + at + n, `file ends inside the range ${offset}..${offset + target.length}`);
    at += n;
  }
}

/** Bytes already in memory. read() returns views into them (no copy). */
export function bytesSource(bytes: Uint8Array | ArrayBuffer): GgufSource {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const clamp = (offset: number, length: number): [number, number] => {
    const start = Math.min(Math.max(0, offset), u8.length);
    return [start, Math.min(u8.length, start + Math.max(0, length))];
  };
  return {
    size: u8.length,
    read(offset, length) {
      const [a, b] = clamp(offset, length);
      return Promise.resolve(u8.subarray(a, b));
    },
    readInto(offset, target) {
      const [a, b] = clamp(offset, target.length);
      target.set(u8.subarray(a, b));
      return Promise.resolve(b - a);
    },
  };
}

/** A Blob or File (browser file input, Response.blob(), node:buffer Blob). */
export function blobSource(blob: Blob): GgufSource {
  return {
    size: blob.size,
    async read(offset, length, signal) {
      signal?.throwIfAborted();
      const buf = await blob.slice(offset, offset + length).arrayBuffer();
      signal?.throwIfAborted();
      return new Uint8Array(buf);
    },
  };
}

export { urlSource, type UrlSourceOptions } from "./url-source.js";
