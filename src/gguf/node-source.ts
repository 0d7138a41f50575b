// A GgufSource over a local file (node:fs/promises FileHandle), for Node, Deno and Bun. Imported
// only by src/node.ts so that the browser build never sees node:fs.
//
// readInto reads straight into the caller's buffer, e.g. a view of WebAssembly memory, so weights
// go from the file to the arena with no intermediate copy.

import { open, type FileHandle } from "node:fs/promises";
import { GgufError } from "../errors.js";
import { basename, dirname, join } from "node:path";
import type { GgufFile } from "./file.js";
import { readGguf, type GgufSource, type ReadGgufOptions } from "./source.js";
import { parseSplitName, splitPartName, SplitSource } from "./split.js";

/** Largest single fs read (Node refuses lengths above 2^31 - 1). */
const MAX_READ_BYTES = 1 << 30;

export class FileSource implements GgufSource {
  readonly path: string;
  readonly size: number;
  private handle: FileHandle | undefined;

  private constructor(path: string, handle: FileHandle, size: number) {
    this.path = path;
    this.handle = handle;
    this.size = size;
  }

  /** Opens `path` for reading; call close() when done. */
  static async open(path: string): Promise<FileSource> {
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (cause) {
      throw new GgufError("io", -1, `cannot open ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new GgufError("io", -1, `${path} is not a regular file`);
      return new FileSource(path, handle, st.size);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    const n = Math.max(0, Math.min(length, this.size - offset));
    const buf = new Uint8Array(n);
    const got = await this.readInto(offset, buf, signal);
    return got === n ? buf : buf.subarray(0, got);
  }

  async readInto(offset: number, target: Uint8Array, signal?: AbortSignal): Promise<number> {
    const h = this.handle;
    if (h === undefined) throw new GgufError("io", offset, `${this.path} is closed`);
    let filled = 0;
    // fs may return fewer bytes than asked for, and refuses a single read above 2 GiB - 1: loop.
    while (filled < target.length) {
      signal?.throwIfAborted();
      const n = Math.min(target.length - filled, MAX_READ_BYTES);
      const { bytesRead } = await h.read(target, filled, n, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled;
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }
}

/** A GgufSource over the file at `path` (open; close it when done). */
export function fileSource(path: string): Promise<FileSource> {
  return FileSource.open(path);
}

/** Parses the header of the GGUF file at `path`, reading only a prefix of it. */
export async function readGgufFile(path: string, options?: ReadGgufOptions): Promise<GgufFile> {
  const src = await FileSource.open(path);
  try {
    return await readGguf(src, options);
  } finally {
    await src.close();
  }
}

/**
 * The GGUF at `path` as a source: a part of a split set (`name-00001-of-00003.gguf`, any part) is
 * the whole set, its siblings found beside it by name; any other path is that file.
 */
export async function openGgufPath(path: string): Promise<GgufSource> {
  const parsed = parseSplitName(basename(path));
  if (parsed === undefined || parsed.count === 1) return FileSource.open(path);
  const dir = dirname(path);
  const parts = Array.from({ length: parsed.count }, (_, no) => {
    const p = no === parsed.no ? path : join(dir, splitPartName(parsed.prefix, no, parsed.count));
    return { name: p, open: () => FileSource.open(p) };
  });
  return new SplitSource(parts, { ordered: true, given: parsed.no });
}
