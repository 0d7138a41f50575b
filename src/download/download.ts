// Fetching one file into a CacheStore, resumably, and refusing to keep anything unverified.
//
//   1. A complete entry exists: done, without touching the network (offline use).
//   2. A partial download exists: ask for the rest with `Range: bytes=N-` and `If-Range` (the ETag
//      or Last-Modified it was fetched with, kept in `<name>.partial.json`). 206 from N of the same
//      total appends; a server that ignores Range, or whose file changed (200), or that answers
//      from elsewhere starts the partial over from byte 0. A partial with no record starts over too.
//   3. Stream the body into the partial, hashing it, reporting progress.
//   4. Verify: the size against Content-Length / Content-Range's total, the GGUF header's own extent
//      (the data section must fit in what arrived), and the sha256 in x-linked-etag / etag when the
//      server gives one (Hugging Face gives x-linked-etag = the LFS file's sha256).
//   5. commit(): the partial becomes the entry, atomically.
// A failure in 3 (dropped connection, abort, full storage) keeps the partial for the next attempt to
// resume; a failure in 4 deletes it (its bytes are wrong). Neither ever leaves the entry's name.

import { DownloadError, GgufError } from "../errors.js";
import { readGguf, type GgufSource } from "../gguf/source.js";
import { Sha256 } from "./sha256.js";
import { isQuotaError, type CacheStore } from "./store.js";

export interface DownloadProgress {
  /** The cache entry being filled. */
  readonly name: string;
  readonly receivedBytes: number;
  /** undefined while the server has not said. */
  readonly totalBytes: number | undefined;
}

export interface DownloadOptions {
  readonly fetch?: typeof fetch;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: DownloadProgress) => void;
}

/**
 * Downloads in progress in this process, by store and entry: a second load of the same model waits
 * for the first download instead of writing the same partial file at the same time.
 */
const inflight = new Map<string, Promise<void>>();

/** Ensures `name` is complete in `store`, downloading `url` (or the rest of it) when it is not. */
export async function downloadToStore(url: string, name: string, store: CacheStore, options: DownloadOptions = {}): Promise<void> {
  const key = `${store.location}\n${name}`;
  for (let running = inflight.get(key); running !== undefined; running = inflight.get(key)) {
    // Its failure is its caller's; this caller tries again (resuming what it left).
    await running.catch(() => undefined);
  }
  const mine = download(url, name, store, options);
  inflight.set(key, mine);
  try {
    await mine;
  } finally {
    if (inflight.get(key) === mine) inflight.delete(key);
  }
}

async function download(url: string, name: string, store: CacheStore, options: DownloadOptions): Promise<void> {
  if ((await store.size(name)) !== undefined) return;
  const { signal } = options;
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  const aborted = (cause: unknown) => new DownloadError("aborted", url, `downloading ${url} was aborted`, { cause });

  let have = await store.partialSize(name);
  const info = have > 0 ? await store.partialInfo(name) : undefined;
  if (have > 0 && info === undefined) {
    // A partial nobody recorded the origin of cannot be proven to be a prefix of this file.
    await store.discardPartial(name);
    have = 0;
  }
  const resume: Record<string, string> = have > 0 ? { Range: `bytes=${have}-` } : {};
  // If-Range: the server sends the rest only if the file is still the one the partial came from,
  // else the whole (new) file, so two versions are never spliced.
  if (have > 0 && info?.validator !== undefined) resume["If-Range"] = info.validator;
  let res: Response;
  try {
    res = await fetchFn(url, { headers: { ...options.headers, ...resume }, signal });
  } catch (cause) {
    if (signal?.aborted === true) throw aborted(cause);
    throw new DownloadError("offline", url, `cannot reach ${url} and no cached copy exists (${errorText(cause)})`, { cause });
  }

  let total: number | undefined;
  if (res.status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
    if (range === null || Number(range[1]) !== have || (info?.total !== undefined && Number(range[3]) !== info.total)) {
      // Not the continuation asked for: start over rather than splice bytes from elsewhere.
      await res.body?.cancel();
      await store.discardPartial(name);
      return download(url, name, store, options);
    }
    total = Number(range[3]);
  } else if (res.status === 416 && have > 0) {
    // The partial is as long as the file or longer (the file changed): start over.
    await res.body?.cancel();
    await store.discardPartial(name);
    return download(url, name, store, options);
  } else if (res.status === 200) {
    have = 0; // the server ignored Range: the body is the whole file
    const len = res.headers.get("content-length");
    const enc = res.headers.get("content-encoding");
    if (len !== null && /^\d+$/.test(len) && (enc === null || enc === "identity")) total = Number(len);
  } else {
    await res.body?.cancel();
    throw new DownloadError("http", url, `${url}: HTTP ${res.status} ${res.statusText}`, { status: res.status });
  }
  if (res.body === null) throw new DownloadError("network", url, `${url}: the response has no body`);
  const sha = expectedSha256(res.headers);

  const hash = sha === undefined ? undefined : new Sha256();
  if (hash !== undefined && have > 0) await hashPrefix(store, name, have, hash);
  let writer;
  try {
    if (have === 0) await store.setPartialInfo(name, { validator: validatorOf(res.headers), total });
    writer = await store.openPartial(name, have);
  } catch (cause) {
    await res.body.cancel();
    throw storageError(url, store, cause);
  }
  let received = have;
  options.onProgress?.({ name, receivedBytes: received, totalBytes: total });
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await writer.write(value);
      hash?.update(value);
      received += value.length;
      options.onProgress?.({ name, receivedBytes: received, totalBytes: total });
    }
  } catch (cause) {
    await reader.cancel().catch(() => undefined);
    await writer.close().catch(() => undefined);
    if (signal?.aborted === true) throw aborted(cause);
    if (isQuotaError(cause)) throw storageError(url, store, cause);
    throw new DownloadError("network", url, `the download of ${url} broke off after ${received} bytes (${errorText(cause)}); loading it again resumes`, { cause });
  }
  await writer.close();

  // Verify before anything is called by the entry's name; a partial that fails is deleted.
  const fail = async (kind: "size_mismatch" | "checksum" | "not_gguf", message: string, cause?: unknown): Promise<never> => {
    await store.discardPartial(name);
    throw new DownloadError(kind, url, message, { cause });
  };
  const size = await store.partialSize(name);
  if (total !== undefined && size !== total) await fail("size_mismatch", `${url}: received ${size} bytes; the server announced ${total}`);
  await checkGgufExtent(store, name, size, url, fail);
  if (sha !== undefined && hash !== undefined) {
    const got = hash.hex();
    if (got !== sha) await fail("checksum", `${url}: sha256 ${got} does not match the server's ${sha}`);
  }
  await store.commit(name);
}

/** The GGUF header must parse and its tensors must end within the bytes received. */
async function checkGgufExtent(
  store: CacheStore,
  name: string,
  size: number,
  url: string,
  fail: (kind: "size_mismatch" | "not_gguf", message: string, cause?: unknown) => Promise<never>,
): Promise<void> {
  const src = await store.partialSource(name);
  // Read as if the file went on in zeros, so the reader never judges the size itself: a file cut
  // inside its tensor data is then told apart (size_mismatch) from one that is no GGUF (not_gguf).
  const endless: GgufSource = {
    size: undefined,
    async read(offset, length, s) {
      const got = await src.read(offset, length, s);
      if (got.length === length) return got;
      const out = new Uint8Array(length);
      out.set(got);
      return out;
    },
  };
  try {
    const file = await readGguf(endless);
    const extent = file.tensors.reduce((m, t) => Math.max(m, file.dataOffset + t.offset + t.size), file.headerSize);
    if (extent > size) await fail("size_mismatch", `${url}: received ${size} bytes, but its GGUF header places data up to byte ${extent}`);
  } catch (e) {
    if (!(e instanceof GgufError)) throw e;
    await fail("not_gguf", `${url} is not a usable GGUF file: ${e.message}`, e);
  } finally {
    await src.close?.();
  }
}

/** Feeds the first `n` bytes of the partial to `hash`, so a resumed download is hashed whole. */
async function hashPrefix(store: CacheStore, name: string, n: number, hash: Sha256): Promise<void> {
  const src = await store.partialSource(name);
  try {
    for (let at = 0; at < n; ) {
      const chunk = await src.read(at, Math.min(8 << 20, n - at));
      if (chunk.length === 0) break;
      hash.update(chunk);
      at += chunk.length;
    }
  } finally {
    await src.close?.();
  }
}

/** A strong ETag (If-Range refuses weak ones), else Last-Modified. */
function validatorOf(h: Headers): string | undefined {
  const etag = h.get("etag");
  if (etag !== null && !etag.startsWith("W/")) return etag;
  return h.get("last-modified") ?? undefined;
}

/** x-linked-etag (Hugging Face, for LFS files) or etag, when it is a sha256 (64 hex digits). */
function expectedSha256(h: Headers): string | undefined {
  for (const key of ["x-linked-etag", "etag"]) {
    const v = (h.get(key) ?? "").replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
    if (/^[0-9a-f]{64}$/.test(v)) return v;
  }
  return undefined;
}

function storageError(url: string, store: CacheStore, cause: unknown): DownloadError {
  if (isQuotaError(cause)) return new DownloadError("quota", url, `no room left in ${store.location} for ${url}`, { cause });
  return new DownloadError("no_storage", url, `cannot write to ${store.location}: ${errorText(cause)}`, { cause });
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message;
  return String(e);
}
