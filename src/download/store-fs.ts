// The cache as a folder (Node, Deno, Bun): `WOOLLY_CACHE`, else `$XDG_CACHE_HOME/woolly`, else
// `~/.cache/woolly`, with the entries in its `models/` folder (other tools keep other things in
// ~/.cache/woolly: npm run bench:native builds llama.cpp there, .gguf vocabularies included). node:fs is reached through dynamic import() of a computed specifier, as in
// src/wasm/pool.ts, so the main bundle stays Web-API-only for browsers (which use OPFS instead).
// commit() is rename(2): atomic, so `<name>` either does not exist or is complete.

import type { FileHandle } from "node:fs/promises";
import type { GgufSource } from "../gguf/source.js";
import {
  checkEntryName,
  parsePartialInfo,
  PARTIAL_INFO_SUFFIX,
  PARTIAL_SUFFIX,
  type CachedModel,
  type CacheStore,
  type PartialWriter,
} from "./store.js";

type Fs = typeof import("node:fs/promises");
type Path = typeof import("node:path");

async function nodeModule<T>(specifier: string): Promise<T> {
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as T;
}

interface Env {
  readonly env?: Record<string, string | undefined>;
}

/** The default cache folder for this process. */
export async function defaultCacheDir(): Promise<string> {
  const env = (globalThis as { process?: Env }).process?.env ?? {};
  const path = await nodeModule<Path>("node:path");
  if (env.WOOLLY_CACHE) return env.WOOLLY_CACHE;
  if (env.XDG_CACHE_HOME) return path.join(env.XDG_CACHE_HOME, "woolly");
  const os = await nodeModule<typeof import("node:os")>("node:os");
  return path.join(os.homedir(), ".cache", "woolly");
}

/** True where a folder cache can work (a runtime with node:fs). */
export function hasNodeFs(): boolean {
  const g = globalThis as { process?: { versions?: { node?: string } }; Deno?: unknown; Bun?: unknown };
  return g.process?.versions?.node !== undefined || g.Deno !== undefined || g.Bun !== undefined;
}

export async function fsStore(dir?: string): Promise<CacheStore> {
  const fs = await nodeModule<Fs>("node:fs/promises");
  const path = await nodeModule<Path>("node:path");
  const root = path.join(dir ?? (await defaultCacheDir()), "models");
  const full = (name: string) => path.join(root, ...checkEntryName(name));
  const sizeOf = async (p: string): Promise<number | undefined> => {
    try {
      const st = await fs.stat(p);
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  };

  return {
    location: root,
    size: (name) => sizeOf(full(name)),
    partialSize: async (name) => (await sizeOf(full(name) + PARTIAL_SUFFIX)) ?? 0,
    async openPartial(name, keep): Promise<PartialWriter> {
      const p = full(name) + PARTIAL_SUFFIX;
      await fs.mkdir(path.dirname(p), { recursive: true });
      const h = await fs.open(p, keep > 0 ? "r+" : "w");
      await h.truncate(keep);
      let pos = keep;
      return {
        async write(chunk) {
          for (let at = 0; at < chunk.length; ) {
            const { bytesWritten } = await h.write(chunk, at, chunk.length - at, pos);
            at += bytesWritten;
            pos += bytesWritten;
          }
        },
        close: () => h.close(),
      };
    },
    partialSource: async (name) => handleSource(await fs.open(full(name) + PARTIAL_SUFFIX, "r")),
    async partialInfo(name) {
      try {
        return parsePartialInfo(await fs.readFile(full(name) + PARTIAL_INFO_SUFFIX, "utf8"));
      } catch {
        return undefined;
      }
    },
    async setPartialInfo(name, info) {
      await fs.mkdir(path.dirname(full(name)), { recursive: true });
      await fs.writeFile(full(name) + PARTIAL_INFO_SUFFIX, JSON.stringify(info));
    },
    async commit(name) {
      await fs.rename(full(name) + PARTIAL_SUFFIX, full(name));
      await fs.rm(full(name) + PARTIAL_INFO_SUFFIX, { force: true });
    },
    async discardPartial(name) {
      await fs.rm(full(name) + PARTIAL_SUFFIX, { force: true });
      await fs.rm(full(name) + PARTIAL_INFO_SUFFIX, { force: true });
    },
    source: async (name) => handleSource(await fs.open(full(name), "r")),
    async list(): Promise<CachedModel[]> {
      const out: CachedModel[] = [];
      const walk = async (d: string, prefix: string): Promise<void> => {
        let entries;
        try {
          entries = await fs.readdir(d, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) await walk(p, prefix + e.name + "/");
          else if (e.isFile() && e.name.endsWith(".gguf")) out.push({ name: prefix + e.name, size: (await sizeOf(p)) ?? 0 });
        }
      };
      await walk(root, "");
      return out;
    },
    async delete(name) {
      const p = full(name);
      const had = (await sizeOf(p)) !== undefined || (await sizeOf(p + PARTIAL_SUFFIX)) !== undefined;
      await fs.rm(p, { force: true });
      await fs.rm(p + PARTIAL_SUFFIX, { force: true });
      await fs.rm(p + PARTIAL_INFO_SUFFIX, { force: true });
      return had;
    },
  };
}

/** A GgufSource over an open file handle (src/gguf/node-source.ts imports node:fs statically). */
async function handleSource(h: FileHandle): Promise<GgufSource> {
  const size = (await h.stat()).size;
  const readInto = async (offset: number, target: Uint8Array): Promise<number> => {
    let filled = 0;
    while (filled < target.length) {
      const n = Math.min(target.length - filled, 1 << 30);
      const { bytesRead } = await h.read(target, filled, n, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled;
  };
  return {
    size,
    readInto,
    async read(offset, length) {
      const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      const n = await readInto(offset, buf);
      return buf.subarray(0, n);
    },
    close: () => h.close(),
  };
}
