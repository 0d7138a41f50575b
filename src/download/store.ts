// Where the model cache keeps its files: a folder (Node, Deno, Bun), the Origin Private File System
// (browsers), or the Cache API (browsers without OPFS). Every store keeps a download in progress
// under `<name>.partial` and only commit() makes `<name>` exist, so nothing half-written is ever
// found under the final name.
//
// Entry names are `host/path/of/file.gguf` (the URL without scheme or query), segments restricted
// to [A-Za-z0-9._-] so a name is also a safe relative path.

import { DownloadError } from "../errors.js";
import type { GgufSource } from "../gguf/source.js";

export interface CachedModel {
  /** The entry's name, as deleteCachedModel and `woolly cache rm` take it. */
  readonly name: string;
  readonly size: number;
}

/** Appends to a partial download. */
export interface PartialWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Makes what was written durable (OPFS commits its swap file here); the partial stays partial. */
  close(): Promise<void>;
}

/** What a partial download was fetched as, so a resume can insist on the same file (If-Range). */
export interface PartialInfo {
  /** A strong ETag or the Last-Modified date of the response the partial came from. */
  readonly validator: string | undefined;
  /** The file's size as that response gave it. */
  readonly total: number | undefined;
}

export interface CacheStore {
  /** Where the entries live, for messages (a folder path, "OPFS", "Cache API"). */
  readonly location: string;
  /** The size of the complete entry, or undefined when there is none. */
  size(name: string): Promise<number | undefined>;
  /** Bytes of the partial download (0 when there is none). */
  partialSize(name: string): Promise<number>;
  /** The partial download cut to its first `keep` bytes (0: a fresh one), open for appending. */
  openPartial(name: string, keep: number): Promise<PartialWriter>;
  /** Reads the partial download (to hash its kept prefix on resume and to check its header). */
  partialSource(name: string): Promise<GgufSource>;
  /** The PartialInfo recorded for the partial download (undefined: none, e.g. left by an older writer). */
  partialInfo(name: string): Promise<PartialInfo | undefined>;
  setPartialInfo(name: string, info: PartialInfo): Promise<void>;
  /** Atomically turns the partial download into the entry (and drops its PartialInfo). */
  commit(name: string): Promise<void>;
  discardPartial(name: string): Promise<void>;
  /** The complete entry as a source; close it when done. */
  source(name: string): Promise<GgufSource>;
  list(): Promise<CachedModel[]>;
  /** Removes the entry and its partial download; false when there was neither. */
  delete(name: string): Promise<boolean>;
}

export const PARTIAL_SUFFIX = ".partial";
export const PARTIAL_INFO_SUFFIX = ".partial.json";

/** PartialInfo from its JSON, or undefined when it is not one. */
export function parsePartialInfo(text: string): PartialInfo | undefined {
  try {
    const v = JSON.parse(text) as { validator?: unknown; total?: unknown };
    return {
      validator: typeof v.validator === "string" ? v.validator : undefined,
      total: typeof v.total === "number" ? v.total : undefined,
    };
  } catch {
    return undefined;
  }
}

/**
 * The entry name for a URL: host and path, each segment made safe, ending in .gguf (what arrives is
 * checked to be GGUF; listing looks for .gguf files, which never match a `.partial`).
 */
export function entryName(url: string): string {
  const u = new URL(url);
  const segments = [u.host, ...decodeURIComponent(u.pathname).split("/")].filter((s) => s !== "");
  const name = segments.map(safeSegment).join("/");
  return name.endsWith(".gguf") ? name : name + ".gguf";
}

function safeSegment(s: string): string {
  const t = s.replace(/[^A-Za-z0-9._-]/g, "_");
  return t === "." || t === ".." ? "_" : t;
}

/** Checks a name given by a caller (deleteCachedModel, `woolly cache rm`): relative, no `..`. */
export function checkEntryName(name: string): string[] {
  const parts = name.split("/");
  if (name === "" || parts.some((p) => p === "" || p === "." || p === ".." || safeSegment(p) !== p)) {
    throw new DownloadError("bad_reference", name, `"${name}" is not a cache entry name (as listCachedModels gives them: host/path/file.gguf)`);
  }
  return parts;
}

/** True for the errors storage throws when it is full, in every runtime. */
export function isQuotaError(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const { name, code } = e as { name?: unknown; code?: unknown };
  return name === "QuotaExceededError" || code === "ENOSPC" || code === "EDQUOT";
}
