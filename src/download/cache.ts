// The model cache's public face: loadModel(url, { cache: true }) comes through openRemoteModel, and
// listCachedModels / deleteCachedModel manage what is stored. Where it stores: a folder in Node,
// Deno and Bun (store-fs.ts), the Origin Private File System in browsers, the Cache API where OPFS
// is missing (store-web.ts).

import { DownloadError } from "../errors.js";
import { urlSource, type GgufSource } from "../gguf/source.js";
import { parseSplitName, splitPartName, SplitSource, splitUrlSource, type SplitPart } from "../gguf/split.js";
import { downloadToStore, type DownloadOptions, type DownloadProgress } from "./download.js";
import { hfEndpoint, hfFileUrl, hfListing, isHfReference, parseHfReference, pickQuantFile } from "./hf.js";
import { entryName, type CachedModel, type CacheStore } from "./store.js";
import { fsStore, hasNodeFs } from "./store-fs.js";
import { cacheApiStore, opfsStore } from "./store-web.js";

export interface CacheOptions {
  /** The cache folder (Node, Deno, Bun). Default: WOOLLY_CACHE, else $XDG_CACHE_HOME/woolly, else ~/.cache/woolly. */
  readonly dir?: string;
  /** Any other storage. */
  readonly store?: CacheStore;
}

export interface RemoteModelOptions {
  /**
   * Download a URL or `hf:` model once into a local cache and load it from there (later loads need
   * no network). true: the default cache; an object chooses where.
   */
  cache?: boolean | CacheOptions;
  /** Hugging Face endpoint for `hf:` references (default: HF_ENDPOINT, else https://huggingface.co). */
  hfEndpoint?: string;
  /** fetch for downloads and listings (default: the global one). */
  fetch?: typeof fetch;
  /** Extra request headers (e.g. authorization for a gated repo). */
  headers?: Record<string, string>;
  /** Called as download bytes arrive, per file (each part of a split set in turn). */
  onDownloadProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

/** The cache storage this runtime offers. */
export async function openCacheStore(options: CacheOptions = {}): Promise<CacheStore> {
  if (options.store !== undefined) return options.store;
  if (options.dir !== undefined || hasNodeFs()) return fsStore(options.dir);
  const opfs = await opfsStore();
  if (opfs !== undefined) return opfs;
  const api = await cacheApiStore();
  if (api !== undefined) return api;
  throw new DownloadError("no_storage", "", "this runtime has no storage for a model cache (no file system, OPFS or Cache API)");
}

/**
 * The source of a model named by a URL or `hf:` reference: through the cache when `options.cache`
 * is set (a split set's parts each downloaded as they are needed), else read remotely with Range
 * requests. Close it when done.
 */
export async function openRemoteModel(ref: string, options: RemoteModelOptions = {}): Promise<GgufSource> {
  const cache = options.cache === undefined || options.cache === false ? undefined : options.cache === true ? {} : options.cache;
  const store = cache === undefined ? undefined : await openCacheStore(cache);
  const url = await resolveModelUrl(ref, { ...options, store });
  const read = (u: string) => urlSource(u, { fetch: options.fetch, headers: options.headers });
  if (store === undefined) return splitUrlSource(url, read) ?? read(url);

  const download = (u: string): SplitPart => ({
    name: u,
    async open() {
      const name = entryName(u);
      await downloadToStore(u, name, store, downloadOptions(options));
      return store.source(name);
    },
  });
  const split = splitUrlSource(url, read);
  // A split set: every part through the cache, the given one first (SplitSource reads it first and
  // fetches the others only if it really is part of a set).
  if (split !== undefined) return new SplitSource(split.parts.map((p) => download(p.name)), { ordered: true, given: givenPart(url) });
  return download(url).open();
}

// Only these: LoadOptions (which extends RemoteModelOptions) has an onProgress of its own.
function downloadOptions(o: RemoteModelOptions): DownloadOptions {
  return { fetch: o.fetch, headers: o.headers, signal: o.signal, onProgress: o.onDownloadProgress };
}

function givenPart(url: string): number {
  const u = new URL(url);
  return parseSplitName(u.pathname.slice(u.pathname.lastIndexOf("/") + 1))?.no ?? 0;
}

/**
 * A URL as is; `hf:owner/repo/file.gguf` as its download URL; `hf:owner/repo:QUANT` as the URL of the
 * file picked from the repo's listing — or, offline, from the cache's entries for that repo.
 */
export async function resolveModelUrl(ref: string, options: RemoteModelOptions & { store?: CacheStore } = {}): Promise<string> {
  if (!isHfReference(ref)) return ref;
  const endpoint = hfEndpoint(options.hfEndpoint);
  const hf = parseHfReference(ref);
  if (hf.file !== undefined) return hfFileUrl(endpoint, hf.repo, hf.file);
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  const listing = await hfListing(endpoint, hf.repo, fetchFn, options.signal);
  if (listing !== undefined) {
    const file = pickQuantFile(listing, hf.quant);
    if (file === undefined) {
      throw new DownloadError("not_found", ref, `${hf.repo} has no .gguf file${hf.quant === undefined ? "" : ` of quantization ${hf.quant}`} (${listing.length} files listed)`);
    }
    return hfFileUrl(endpoint, hf.repo, file);
  }
  // Offline: what the cache holds for this repo, named as its download URLs name entries.
  const prefix = entryName(hfFileUrl(endpoint, hf.repo, "x.gguf")).slice(0, -"x.gguf".length);
  const cached = options.store === undefined ? [] : (await options.store.list()).filter((m) => m.name.startsWith(prefix));
  const file = pickQuantFile(
    cached.map((m) => m.name.slice(prefix.length)),
    hf.quant,
  );
  if (file === undefined) throw new DownloadError("offline", ref, `cannot fetch the file listing of ${hf.repo} and no cached copy matches ${ref}`);
  return hfFileUrl(endpoint, hf.repo, file);
}

/** Downloads a model (every part of a split set) into the cache without loading it; returns the entry names. */
export async function downloadModel(ref: string, options: RemoteModelOptions & CacheOptions = {}): Promise<string[]> {
  const store = await openCacheStore(options);
  const url = await resolveModelUrl(ref, { ...options, store });
  const u = new URL(url);
  const split = parseSplitName(u.pathname.slice(u.pathname.lastIndexOf("/") + 1));
  const urls: string[] = [];
  if (split === undefined || split.count === 1) urls.push(url);
  else {
    for (let no = 0; no < split.count; no++) {
      const v = new URL(u);
      v.pathname = u.pathname.slice(0, u.pathname.lastIndexOf("/") + 1) + splitPartName(split.prefix, no, split.count);
      urls.push(v.href);
    }
  }
  for (const p of urls) await downloadToStore(p, entryName(p), store, downloadOptions(options));
  return urls.map(entryName);
}

/** The complete entries of the cache. */
export async function listCachedModels(options: CacheOptions = {}): Promise<CachedModel[]> {
  return (await openCacheStore(options)).list();
}

/** Removes an entry (and its partial download); false when there was none. */
export async function deleteCachedModel(name: string, options: CacheOptions = {}): Promise<boolean> {
  return (await openCacheStore(options)).delete(name);
}
