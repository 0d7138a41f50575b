// Browser cache stores.
//
// OPFS (navigator.storage.getDirectory): entries as files in nested folders, the partial download
// beside them. A FileSystemWritableFileStream writes to a swap file that replaces the real one only
// at close(), so the partial is durable after each download attempt, and commit() is move() where
// the browser has it (Chromium, Safari), else a copy whose own close() is the atomic step.
//
// Cache API (where OPFS is missing): no partial files to resume from; a download is held in memory
// and put() as one Response at commit(), so an entry is complete or absent.

import type { GgufSource } from "../gguf/source.js";
import { blobSource } from "../gguf/source.js";
import {
  checkEntryName,
  parsePartialInfo,
  PARTIAL_INFO_SUFFIX,
  PARTIAL_SUFFIX,
  type CachedModel,
  type CacheStore,
  type PartialInfo,
  type PartialWriter,
} from "./store.js";

type Dir = FileSystemDirectoryHandle;
const ROOT_DIR = "woolly-cache";

export async function opfsStore(): Promise<CacheStore | undefined> {
  const storage = (globalThis as { navigator?: { storage?: Partial<StorageManager> } }).navigator?.storage;
  if (typeof storage?.getDirectory !== "function") return undefined;
  let root: Dir;
  try {
    root = await (await storage.getDirectory()).getDirectoryHandle(ROOT_DIR, { create: true });
  } catch {
    return undefined;
  }
  const dirOf = async (name: string, create: boolean): Promise<[Dir, string] | undefined> => {
    const parts = checkEntryName(name);
    let d = root;
    try {
      for (const p of parts.slice(0, -1)) d = await d.getDirectoryHandle(p, { create });
    } catch {
      return undefined;
    }
    return [d, parts[parts.length - 1]];
  };
  const fileOf = async (name: string, suffix = "", create = false): Promise<FileSystemFileHandle | undefined> => {
    const at = await dirOf(name, create);
    if (at === undefined) return undefined;
    try {
      return await at[0].getFileHandle(at[1] + suffix, { create });
    } catch {
      return undefined;
    }
  };
  const sizeOf = async (h: FileSystemFileHandle | undefined) => (h === undefined ? undefined : (await h.getFile()).size);
  const remove = async (name: string, suffix: string): Promise<boolean> => {
    const at = await dirOf(name, false);
    if (at === undefined) return false;
    try {
      await at[0].removeEntry(at[1] + suffix);
      return true;
    } catch {
      return false;
    }
  };

  return {
    location: "OPFS",
    size: async (name) => sizeOf(await fileOf(name)),
    partialSize: async (name) => (await sizeOf(await fileOf(name, PARTIAL_SUFFIX))) ?? 0,
    async openPartial(name, keep): Promise<PartialWriter> {
      const h = (await fileOf(name, PARTIAL_SUFFIX, true)) as FileSystemFileHandle;
      const w = await h.createWritable({ keepExistingData: keep > 0 });
      await w.truncate(keep);
      await w.seek(keep);
      return { write: (chunk) => w.write(chunk as Uint8Array<ArrayBuffer>), close: () => w.close() };
    },
    partialSource: async (name) => blobSource(await ((await fileOf(name, PARTIAL_SUFFIX)) as FileSystemFileHandle).getFile()),
    async partialInfo(name) {
      const h = await fileOf(name, PARTIAL_INFO_SUFFIX);
      return h === undefined ? undefined : parsePartialInfo(await (await h.getFile()).text());
    },
    async setPartialInfo(name, info) {
      const w = await ((await fileOf(name, PARTIAL_INFO_SUFFIX, true)) as FileSystemFileHandle).createWritable();
      await w.write(JSON.stringify(info));
      await w.close();
    },
    async commit(name) {
      await remove(name, PARTIAL_INFO_SUFFIX);
      const partial = (await fileOf(name, PARTIAL_SUFFIX)) as FileSystemFileHandle & { move?: (to: string) => Promise<void> };
      const at = (await dirOf(name, true)) as [Dir, string];
      if (typeof partial.move === "function") {
        await partial.move(at[1]);
        return;
      }
      const target = await at[0].getFileHandle(at[1], { create: true });
      const w = await target.createWritable();
      await (await partial.getFile()).stream().pipeTo(w);
      await remove(name, PARTIAL_SUFFIX);
    },
    async discardPartial(name) {
      await remove(name, PARTIAL_SUFFIX);
      await remove(name, PARTIAL_INFO_SUFFIX);
    },
    source: async (name) => blobSource(await ((await fileOf(name)) as FileSystemFileHandle).getFile()),
    async list(): Promise<CachedModel[]> {
      const out: CachedModel[] = [];
      const walk = async (d: Dir, prefix: string): Promise<void> => {
        const entries: [string, FileSystemHandle][] = [];
        for await (const e of (d as Dir & { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) entries.push(e);
        for (const [n, h] of entries.sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
          if (h.kind === "directory") await walk(h as Dir, prefix + n + "/");
          else if (n.endsWith(".gguf")) out.push({ name: prefix + n, size: (await (h as FileSystemFileHandle).getFile()).size });
        }
      };
      await walk(root, "");
      return out;
    },
    async delete(name) {
      const a = await remove(name, "");
      const b = await remove(name, PARTIAL_SUFFIX);
      await remove(name, PARTIAL_INFO_SUFFIX);
      return a || b;
    },
  };
}

/** Entries keyed by a made-up URL per name, so any name is a valid key. */
const keyOf = (name: string) => `https://woolly.cache/${name}`;

export async function cacheApiStore(): Promise<CacheStore | undefined> {
  const caches = (globalThis as { caches?: CacheStorage }).caches;
  if (caches === undefined) return undefined;
  const cache = await caches.open(ROOT_DIR);
  const held = new Map<string, Uint8Array<ArrayBuffer>[]>();
  const blobOf = (name: string) => new Blob(held.get(name) ?? []);
  const get = async (name: string) => cache.match(keyOf(checkEntryName(name).join("/")));
  const size = async (name: string): Promise<number | undefined> => {
    const r = await get(name);
    return r === undefined ? undefined : Number(r.headers.get("content-length") ?? (await r.blob()).size);
  };
  return {
    location: "Cache API",
    size,
    partialSize: (name) => Promise.resolve(blobOf(name).size),
    openPartial(name, keep): Promise<PartialWriter> {
      // Nothing survives between attempts here, so a resume always starts over (keep is 0).
      if (keep === 0) held.set(name, []);
      const chunks = held.get(name) ?? [];
      return Promise.resolve({
        write: (c) => {
          chunks.push(c.slice());
          return Promise.resolve();
        },
        close: () => Promise.resolve(),
      });
    },
    partialSource: (name) => Promise.resolve(blobSource(blobOf(name))),
    // Nothing to resume from here (openPartial always starts over), so nothing to remember.
    partialInfo: (): Promise<PartialInfo | undefined> => Promise.resolve(undefined),
    setPartialInfo: () => Promise.resolve(),
    async commit(name) {
      const blob = blobOf(name);
      await cache.put(keyOf(name), new Response(blob, { headers: { "content-length": String(blob.size) } }));
      held.delete(name);
    },
    discardPartial: (name) => Promise.resolve(void held.delete(name)),
    async source(name): Promise<GgufSource> {
      const r = await get(name);
      return blobSource(r === undefined ? new Blob([]) : await r.blob());
    },
    async list() {
      const out: CachedModel[] = [];
      for (const req of await cache.keys()) {
        const name = new URL(req.url).pathname.slice(1);
        out.push({ name, size: (await size(name)) ?? 0 });
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : 1));
    },
    delete: (name) => cache.delete(keyOf(checkEntryName(name).join("/"))),
  };
}
