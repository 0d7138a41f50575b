// Downloading models into the cache, against a local server that misbehaves on demand: the first
// download with progress, loading again with the server gone, resuming after a dropped connection,
// starting over when Range is ignored, wrong lengths, wrong checksums, aborts, hf: references and
// the quant picked from a listing, split sets through the cache, and `woolly cache ls|rm`.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DownloadError, deleteCachedModel, downloadModel, listCachedModels, loadModel, parseGguf, writeGgufSplit, type Model } from "../src/index.js";
import { Sha256 } from "../src/download/sha256.js";
import { pickQuantFile } from "../src/download/hf.js";
import { fsStore } from "../src/download/store-fs.js";
import type { CacheStore } from "../src/download/store.js";
import { main } from "../src/cli/main.js";
import { loadModelFile } from "../src/node.js";
import { startDownloadServer, type DownloadServer } from "./helpers/download-server.js";
import { fixturePath, tensorsOf } from "./helpers/fixtures.js";

const STORIES = fixturePath("models", "stories260K-Q8_0.gguf");
const bytes = new Uint8Array(readFileSync(STORIES));
const PROMPT = [1, 43, 107, 261, 78];
let want: Float32Array[];

let server: DownloadServer;
let dir: string;
let n = 0;
/** Each test its own file path, so cache entries never carry over between tests. */
let path: string;
const url = () => server.base + path;
const entry = () => `127.0.0.1_${new URL(server.base).port}${path}`;
const final = () => join(dir, "models", entry());

beforeAll(async () => {
  const m = await loadModelFile(STORIES);
  want = await m.logits(PROMPT);
  m.dispose();
});
beforeEach(async () => {
  server = await startDownloadServer();
  dir = mkdtempSync(join(tmpdir(), "woolly-cache-"));
  path = `/models/m${++n}.gguf`;
  server.files.set(path, bytes);
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function logitsOf(m: Model): Promise<Float32Array[]> {
  const l = await m.logits(PROMPT);
  m.dispose();
  return l;
}

async function downloadError(p: Promise<unknown>): Promise<DownloadError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(DownloadError);
  return e as DownloadError;
}

/** Resolves once onDownloadProgress has reported `at` bytes received. */
function progressTo(at: number): { onDownloadProgress: (p: { receivedBytes: number }) => void; reached: Promise<void> } {
  let resolve = (): void => undefined;
  const reached = new Promise<void>((r) => (resolve = r));
  return { onDownloadProgress: (p) => void (p.receivedBytes >= at && resolve()), reached };
}

describe("the model cache", () => {
  it("downloads once with progress, then loads the cached copy with the server gone", async () => {
    const progress: [number, number | undefined][] = [];
    const m = await loadModel(url(), { cache: { dir }, onDownloadProgress: (p) => progress.push([p.receivedBytes, p.totalBytes]) });
    expect(await logitsOf(m)).toEqual(want);
    expect(progress[0]).toEqual([0, bytes.length]);
    expect(progress[progress.length - 1]).toEqual([bytes.length, bytes.length]);
    expect(new Uint8Array(readFileSync(final()))).toEqual(bytes);
    expect(existsSync(final() + ".partial")).toBe(false);
    expect(server.requests.map((r) => r.range)).toEqual([undefined]);

    await server.close();
    const again = await loadModel(url(), { cache: { dir }, onDownloadProgress: () => expect.unreachable("no download") });
    expect(await logitsOf(again)).toEqual(want);
    expect(await listCachedModels({ dir })).toEqual([{ name: entry(), size: bytes.length }]);
  });

  it("resumes after a dropped connection with a Range request, without fetching the first bytes again", async () => {
    const cut = 150_000;
    server.behaviour.set(path, { pauseAt: cut });
    const p = progressTo(cut);
    const first = downloadError(loadModel(url(), { cache: { dir }, onDownloadProgress: p.onDownloadProgress }));
    await server.paused();
    await p.reached;
    server.release("drop");
    const e = await first;
    expect(e.kind).toBe("network");
    expect(existsSync(final())).toBe(false);
    expect(readFileSync(final() + ".partial").length).toBe(cut);

    server.behaviour.delete(path);
    const m = await loadModel(url(), { cache: { dir } });
    expect(await logitsOf(m)).toEqual(want);
    const resumed = server.requests[server.requests.length - 1];
    expect(resumed.range).toBe(`bytes=${cut}-`);
    expect(resumed.sent).toBe(bytes.length - cut);
    expect(new Uint8Array(readFileSync(final()))).toEqual(bytes);
  });

  /** A first attempt that the server cuts after `cut` bytes: a partial of exactly `cut` bytes. */
  async function droppedAt(cut: number): Promise<void> {
    const before = server.behaviour.get(path) ?? {};
    server.behaviour.set(path, { ...before, pauseAt: cut });
    const p = progressTo(cut);
    const first = downloadError(loadModel(url(), { cache: { dir }, onDownloadProgress: p.onDownloadProgress }));
    await server.paused();
    await p.reached;
    server.release("drop");
    expect((await first).kind).toBe("network");
    expect(readFileSync(final() + ".partial").length).toBe(cut);
    server.behaviour.set(path, before);
  }

  it("starts over cleanly when the server ignores Range", async () => {
    await droppedAt(100_000);
    server.behaviour.set(path, { range: false });
    const m = await loadModel(url(), { cache: { dir } });
    expect(await logitsOf(m)).toEqual(want);
    const last = server.requests[server.requests.length - 1];
    expect([last.range, last.sent]).toEqual(["bytes=100000-", bytes.length]);
    expect(new Uint8Array(readFileSync(final()))).toEqual(bytes);
  });

  it("a file that changed on the server since the partial is fetched whole (If-Range), never spliced", async () => {
    server.behaviour.set(path, { etag: '"v1"' });
    await droppedAt(100_000);
    const other = new Uint8Array(readFileSync(fixturePath("models", "stories260K-Q4_0.gguf")));
    server.files.set(path, other);
    server.behaviour.set(path, { etag: '"v2"' });
    (await loadModel(url(), { cache: { dir } })).dispose();
    const last = server.requests[server.requests.length - 1];
    expect([last.range, last.ifRange, last.sent]).toEqual(["bytes=100000-", '"v1"', other.length]);
    expect(new Uint8Array(readFileSync(final()))).toEqual(other);
  });

  it("a partial with no record of where it came from is not trusted: the download starts over", async () => {
    mkdirSync(dirname(final()), { recursive: true });
    writeFileSync(final() + ".partial", new Uint8Array(100_000).fill(7));
    expect(await logitsOf(await loadModel(url(), { cache: { dir } }))).toEqual(want);
    expect(server.requests.map((r) => [r.range, r.sent])).toEqual([[undefined, bytes.length]]);
  });

  it("refuses a file shorter than its GGUF header says, keeping nothing", async () => {
    server.behaviour.set(path, { truncateTo: bytes.length - 5000 });
    const e = await downloadError(loadModel(url(), { cache: { dir } }));
    expect(e.kind).toBe("size_mismatch");
    expect(e.message).toContain(`received ${bytes.length - 5000} bytes`);
    expect(existsSync(final())).toBe(false);
    expect(existsSync(final() + ".partial")).toBe(false);
    expect(await listCachedModels({ dir })).toEqual([]);
  });

  it("checks the sha256 in x-linked-etag: a mismatch keeps nothing, a match is cached", async () => {
    server.behaviour.set(path, { headers: { "x-linked-etag": `"${"ab".repeat(32)}"` } });
    const e = await downloadError(loadModel(url(), { cache: { dir } }));
    expect(e.kind).toBe("checksum");
    expect(existsSync(final())).toBe(false);
    expect(existsSync(final() + ".partial")).toBe(false);

    const sha = createHash("sha256").update(bytes).digest("hex");
    server.behaviour.set(path, { headers: { "x-linked-etag": `"${sha}"` }, pauseAt: 100_000 });
    // Interrupted and resumed: the hash covers the kept prefix too.
    const p = progressTo(100_000);
    const first = downloadError(loadModel(url(), { cache: { dir }, onDownloadProgress: p.onDownloadProgress }));
    await server.paused();
    await p.reached;
    server.release("drop");
    expect((await first).kind).toBe("network");
    server.behaviour.set(path, { headers: { "x-linked-etag": `"${sha}"` } });
    expect(await logitsOf(await loadModel(url(), { cache: { dir } }))).toEqual(want);
  });

  it("an abort mid-download is a typed error and leaves no entry", async () => {
    server.behaviour.set(path, { pauseAt: 50_000 });
    const abort = new AbortController();
    const p = progressTo(50_000);
    const load = downloadError(loadModel(url(), { cache: { dir }, signal: abort.signal, onDownloadProgress: p.onDownloadProgress }));
    await server.paused();
    await p.reached;
    abort.abort();
    const e = await load;
    expect(e.kind).toBe("aborted");
    server.release("drop");
    expect(existsSync(final())).toBe(false);
    expect(await listCachedModels({ dir })).toEqual([]);
  });

  it("full storage is a quota error and leaves no entry", async () => {
    const fs = await fsStore(dir);
    let written = 0;
    // A store whose disk fills up after 64 KiB, failing as Node does (ENOSPC).
    const full: CacheStore = {
      ...fs,
      async openPartial(name, keep) {
        const w = await fs.openPartial(name, keep);
        return {
          async write(chunk) {
            written += chunk.length;
            if (written > 65536) throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
            await w.write(chunk);
          },
          close: () => w.close(),
        };
      },
    };
    const e = await downloadError(loadModel(url(), { cache: { store: full } }));
    expect(e.kind).toBe("quota");
    expect(existsSync(final())).toBe(false);
    expect(await listCachedModels({ dir })).toEqual([]);
  });

  it("with no network and nothing cached: offline", async () => {
    await server.close();
    const e = await downloadError(loadModel(url(), { cache: { dir } }));
    expect(e.kind).toBe("offline");
    expect(e.url).toBe(url());
  });

  it("an HTTP error names the status", async () => {
    const e = await downloadError(loadModel(server.base + "/nope.gguf", { cache: { dir } }));
    expect([e.kind, e.status]).toEqual(["http", 404]);
  });

  it("downloadModel fills the cache without loading; loads at the same time share one download", async () => {
    expect(await downloadModel(url(), { dir })).toEqual([entry()]);
    expect(await downloadModel(url(), { dir })).toEqual([entry()]);
    expect(server.requests.length).toBe(1);
    await deleteCachedModel(entry(), { dir });
    const both = await Promise.all([loadModel(url(), { cache: { dir } }), loadModel(url(), { cache: { dir } })]);
    for (const m of both) expect(await logitsOf(m)).toEqual(want);
    expect(server.requests.length).toBe(2);
  });

  it("lists and deletes entries", async () => {
    (await loadModel(url(), { cache: { dir } })).dispose();
    expect(await listCachedModels({ dir })).toEqual([{ name: entry(), size: bytes.length }]);
    expect(await deleteCachedModel(entry(), { dir })).toBe(true);
    expect(await deleteCachedModel(entry(), { dir })).toBe(false);
    expect(await listCachedModels({ dir })).toEqual([]);
    await expect(deleteCachedModel("../etc/passwd", { dir })).rejects.toMatchObject({ kind: "bad_reference" });
  });

  it("names an entry by host and path, ending in .gguf even when the URL does not", async () => {
    server.files.set("/download/123", bytes);
    (await loadModel(`${server.base}/download/123?token=x`, { cache: { dir } })).dispose();
    const name = `127.0.0.1_${new URL(server.base).port}/download/123.gguf`;
    expect(await listCachedModels({ dir })).toEqual([{ name, size: bytes.length }]);
    expect(existsSync(join(dir, "models", name))).toBe(true);
  });

  it("downloads every part of a split set from its first URL", async () => {
    const g = parseGguf(bytes);
    const parts = writeGgufSplit({ metadata: g.metadata, tensors: tensorsOf(g, bytes) }, { maxTensors: Math.ceil(g.tensors.length / 3), prefix: "s" });
    for (const p of parts) server.files.set(`/split/${p.name}`, p.bytes);
    const m = await loadModel(`${server.base}/split/${parts[0].name}`, { cache: { dir } });
    expect(await logitsOf(m)).toEqual(want);
    const port = new URL(server.base).port;
    expect((await listCachedModels({ dir })).map((c) => c.name)).toEqual(parts.map((p) => `127.0.0.1_${port}/split/${p.name}`));
    await server.close();
    expect(await logitsOf(await loadModel(`${server.base}/split/${parts[0].name}`, { cache: { dir } }))).toEqual(want);
  });
});

describe("hf: references", () => {
  it("hf:owner/repo/file.gguf maps to the resolve URL, with or without the cache", async () => {
    server.files.set("/owner/repo/resolve/main/stories.gguf", bytes);
    expect(await logitsOf(await loadModel("hf:owner/repo/stories.gguf", { hfEndpoint: server.base }))).toEqual(want);
    expect(await logitsOf(await loadModel("hf:owner/repo/stories.gguf", { hfEndpoint: server.base, cache: { dir } }))).toEqual(want);
    expect(server.requests.some((r) => r.path === "/owner/repo/resolve/main/stories.gguf")).toBe(true);
  });

  it("hf:owner/repo:QUANT picks that quant's file from the listing, and offline from the cache", async () => {
    const listing = ["README.md", "stories-Q4_K_M.gguf", "stories-Q8_0.gguf", "mmproj-stories-Q8_0.gguf"];
    server.files.set("/api/models/owner/repo", new TextEncoder().encode(JSON.stringify({ siblings: listing.map((rfilename) => ({ rfilename })) })));
    server.files.set("/owner/repo/resolve/main/stories-Q8_0.gguf", bytes);
    const m = await loadModel("hf:owner/repo:q8_0", { hfEndpoint: server.base, cache: { dir } });
    expect(await logitsOf(m)).toEqual(want);
    expect(server.requests.map((r) => r.path)).toEqual(["/api/models/owner/repo", "/owner/repo/resolve/main/stories-Q8_0.gguf"]);

    const missing = await downloadError(loadModel("hf:owner/repo:Q5_K_S", { hfEndpoint: server.base, cache: { dir } }));
    expect(missing.kind).toBe("not_found");

    await server.close();
    expect(await logitsOf(await loadModel("hf:owner/repo:Q8_0", { hfEndpoint: server.base, cache: { dir } }))).toEqual(want);
  });

  it("picks whole-word quants, first parts of split sets, and Q4_K_M by default", () => {
    const files = ["a-Q4_K_M.gguf", "a-Q4_K.gguf", "big/a-Q8_0-00002-of-00002.gguf", "big/a-Q8_0-00001-of-00002.gguf", "mmproj-a-Q4_K_M.gguf"];
    expect(pickQuantFile(files, "Q4_K")).toBe("a-Q4_K.gguf");
    expect(pickQuantFile(files, "Q8_0")).toBe("big/a-Q8_0-00001-of-00002.gguf");
    expect(pickQuantFile(files, undefined)).toBe("a-Q4_K_M.gguf");
    expect(pickQuantFile(files, "Q2_K")).toBeUndefined();
  });

  it("a malformed reference is a typed error", async () => {
    const e = await downloadError(loadModel("hf:owner", { hfEndpoint: server.base }));
    expect(e.kind).toBe("bad_reference");
  });
});

describe("woolly CLI through the cache", () => {
  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), errIsTTY: false });
    return { code, out, err };
  }
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.WOOLLY_CACHE;
    process.env.WOOLLY_CACHE = dir;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.WOOLLY_CACHE;
    else process.env.WOOLLY_CACHE = saved;
  });

  it("logits URL downloads into WOOLLY_CACHE; cache ls lists it and cache rm deletes it", async () => {
    const r = await cli("logits", url(), "--tokens", PROMPT.join(","));
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(existsSync(final())).toBe(true);
    expect((await cli("cache", "ls")).out).toMatch(new RegExp(`^${entry().replace(/[.]/g, "\\.")}\\s+0\\.\\d MB\\n$`));
    expect(JSON.parse((await cli("cache", "ls", "--json")).out)).toEqual([{ name: entry(), size: bytes.length }]);
    expect(await cli("cache", "rm", entry())).toEqual({ code: 0, out: `deleted ${entry()}\n`, err: "" });
    expect(existsSync(final())).toBe(false);
    const gone = await cli("cache", "rm", entry());
    expect(gone.code).toBe(1);
    expect(gone.err).toContain("no cached model named");
  });

  it("run hf:owner/repo/file.gguf downloads from HF_ENDPOINT into the cache", async () => {
    server.files.set("/owner/repo/resolve/main/stories.gguf", bytes);
    const saved = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = server.base;
    try {
      const r = await cli("run", "hf:owner/repo/stories.gguf", "-p", "Once upon a time", "-n", "4", "--temp", "0");
      expect(r.code).toBe(0);
      expect(r.out.startsWith("Once upon a time")).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = saved;
    }
    const port = new URL(server.base).port;
    expect(JSON.parse((await cli("cache", "ls", "--json")).out)).toEqual([{ name: `127.0.0.1_${port}/owner/repo/resolve/main/stories.gguf`, size: bytes.length }]);
  });
});

describe("sha256", () => {
  it("matches node:crypto over inputs fed in uneven pieces", () => {
    for (const len of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_003]) {
      const data = bytes.subarray(0, len);
      const h = new Sha256();
      for (let i = 0; i < len; i += 37) h.update(data.subarray(i, i + 37));
      expect(h.hex()).toBe(createHash("sha256").update(data).digest("hex"));
    }
  });
});
