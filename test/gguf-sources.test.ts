// Sources: memory, Blob, file path (node), URL over a local HTTP server with and without Range;
// readGguf reads only a prefix; readRange / readRangeInto stream tensor bytes.

import { readFileSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgufError } from "../src/errors.js";
import {
  blobSource,
  bytesSource,
  ggufLayout,
  parseGguf,
  readGguf,
  readRange,
  readRangeInto,
  urlSource,
  type GgufFile,
  type GgufSource,
} from "../src/gguf/index.js";
import { FileSource, readGgufFile } from "../src/gguf/node-source.js";
import { fixturePath } from "./helpers/fixtures.js";
import { serveFile, type TestServer } from "./helpers/http-server.js";

// The largest model fixture (7 MB, a 13 KB header) and the largest vocab-only file (its header is
// the whole file, so there nothing can be skipped).
const MODEL = fixturePath("models", "synth-qwen2-F32.gguf");
const VOCAB = fixturePath("tokenizer", "ggml-vocab-llama-bpe.gguf");
const modelBytes = new Uint8Array(readFileSync(MODEL));

/** Wraps a source to count the bytes it hands out. */
function counting(src: GgufSource): GgufSource & { bytes: number; reads: number } {
  const c = {
    bytes: 0,
    reads: 0,
    get size() {
      return src.size;
    },
    async read(offset: number, length: number, signal?: AbortSignal) {
      const b = await src.read(offset, length, signal);
      c.bytes += b.length;
      c.reads++;
      return b;
    },
  };
  return c;
}

/** Byte equality without vitest's element-by-element deep equal (seconds on megabytes). */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.compare(actual, expected)).toBe(0);
}

/** Same parse: compared through the writer's encoding, which is exact and fast on large vocabularies. */
function sameHeader(a: GgufFile, b: GgufFile): void {
  expect(a.version).toBe(b.version);
  expect(a.dataOffset).toBe(b.dataOffset);
  expect(a.tensors).toEqual(b.tensors);
  const encode = (g: GgufFile): Uint8Array => ggufLayout({ metadata: g.metadata, tensors: g.tensors }).header;
  expectBytes(encode(a), encode(b));
}

describe("in-memory and Blob sources", () => {
  it("bytesSource: readGguf equals parseGguf and reads only the first 256 KiB", async () => {
    const src = counting(bytesSource(modelBytes));
    sameHeader(await readGguf(src), parseGguf(modelBytes));
    expect(src.bytes).toBe(256 << 10);
  });

  it("grows the prefix by doubling when the header is larger", async () => {
    const vocab = new Uint8Array(readFileSync(VOCAB));
    const src = counting(bytesSource(vocab));
    const g = await readGguf(src, { initialBytes: 4096 });
    sameHeader(g, parseGguf(vocab));
    // Each byte is fetched once: the prefix grows by reading only what it lacks.
    expect(src.bytes).toBe(vocab.length);
    expect(src.reads).toBeLessThan(20);
  });

  it("blobSource", async () => {
    const src = counting(blobSource(new Blob([modelBytes])));
    sameHeader(await readGguf(src, { initialBytes: 1024 }), parseGguf(modelBytes));
    expect(src.bytes).toBeLessThan(32 << 10);
  });

  it("a source that hides its size still works (EOF from a short read)", async () => {
    const inner = bytesSource(modelBytes.subarray(0, 5000));
    const src: GgufSource = { size: undefined, read: (o, l) => inner.read(o, l) };
    const e = await readGguf(src).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GgufError);
    expect((e as GgufError).kind).toBe("truncated");
  });

  it("maxHeaderBytes caps what readGguf fetches", async () => {
    const vocab = new Uint8Array(readFileSync(VOCAB));
    const e = await readGguf(bytesSource(vocab), { limits: { maxHeaderBytes: 1 << 20 } }).catch((x: unknown) => x);
    expect((e as GgufError).kind).toBe("limit_exceeded");
  });

  it("errors from a source become GgufError('io')", async () => {
    const src: GgufSource = { size: 100, read: () => Promise.reject(new Error("disk on fire")) };
    const e = await readGguf(src).catch((x: unknown) => x);
    expect((e as GgufError).kind).toBe("io");
    expect((e as GgufError).message).toMatch(/disk on fire/);
  });
});

describe("readRange / readRangeInto", () => {
  const g = parseGguf(modelBytes);
  const t = g.tensors.reduce((a, b) => (b.size > a.size ? b : a));
  const start = g.dataOffset + t.offset;
  const expected = modelBytes.subarray(start, start + t.size);

  it("streams a tensor in chunks, positions relative to the range", async () => {
    const out = new Uint8Array(t.size);
    const seen: number[] = [];
    await readRange(bytesSource(modelBytes), start, t.size, (chunk, at) => {
      seen.push(at);
      out.set(chunk, at);
    }, undefined, 100_000);
    expectBytes(out, expected);
    expect(seen.length).toBe(Math.ceil(t.size / 100_000));
    expect(seen[1]).toBe(100_000);
  });

  it("awaits an async onChunk and stops on abort", async () => {
    const ctl = new AbortController();
    const inner = bytesSource(modelBytes);
    // Counted as each read starts (synchronously), so a read issued without awaiting onChunk shows.
    let reads = 0;
    const src: GgufSource = {
      size: inner.size,
      read(offset, length, signal) {
        reads++;
        return inner.read(offset, length, signal);
      },
    };
    let calls = 0;
    let entered!: () => void;
    const inChunk = new Promise<void>((r) => (entered = r));
    let finish!: () => void;
    const p = readRange(src, 0, 1 << 20, () => {
      calls++;
      entered();
      return new Promise<void>((r) => (finish = r));
    }, ctl.signal, 1024);
    await inChunk;
    // onChunk's promise is pending, and readRange waits for it: no second read has started.
    expect(reads).toBe(1);
    ctl.abort();
    finish();
    await expect(p).rejects.toThrow();
    expect({ calls, reads }).toEqual({ calls: 1, reads: 1 });
  });

  it("a range past the end of the file is truncated", async () => {
    const p = readRange(bytesSource(modelBytes), modelBytes.length - 10, 20, () => undefined);
    await expect(p).rejects.toMatchObject({ kind: "truncated" });
  });

  it("readRangeInto with and without readInto", async () => {
    const a = new Uint8Array(t.size);
    await readRangeInto(bytesSource(modelBytes), start, a);
    expectBytes(a, expected);
    const b = new Uint8Array(t.size);
    await readRangeInto(blobSource(new Blob([modelBytes])), start, b);
    expectBytes(b, expected);
  });
});

describe("node file source", () => {
  it("readGgufFile reads the header only", async () => {
    sameHeader(await readGgufFile(MODEL), parseGguf(modelBytes));
  });

  it("FileSource: size, short reads at the end, readInto, close", async () => {
    const src = await FileSource.open(MODEL);
    try {
      expect(src.size).toBe(statSync(MODEL).size);
      expect((await src.read(src.size - 3, 10)).length).toBe(3);
      expect((await src.read(src.size + 5, 10)).length).toBe(0);
      const g = await readGguf(src);
      const t = g.tensors[3];
      const buf = new Uint8Array(t.size);
      await readRangeInto(src, g.dataOffset + t.offset, buf);
      expectBytes(buf, modelBytes.subarray(g.dataOffset + t.offset, g.dataOffset + t.offset + t.size));
    } finally {
      await src.close();
    }
    await expect(src.read(0, 4)).rejects.toMatchObject({ kind: "io" });
  });

  it("a missing file is GgufError('io')", async () => {
    await expect(readGgufFile(fixturePath("models", "no-such-file.gguf"))).rejects.toMatchObject({ kind: "io" });
  });
});

describe("URL source over local HTTP", () => {
  let ranged: TestServer;
  let plain: TestServer;
  let vocabServer: TestServer;
  beforeAll(async () => {
    ranged = await serveFile(MODEL, { range: true });
    plain = await serveFile(MODEL, { range: false });
    vocabServer = await serveFile(VOCAB, { range: true });
  });
  afterAll(async () => {
    await Promise.all([ranged.close(), plain.close(), vocabServer.close()]);
  });

  it("with Range: learns the size and fetches a small prefix of a 7 MB file", async () => {
    const src = urlSource(ranged.url);
    const g = await readGguf(src);
    sameHeader(g, parseGguf(modelBytes));
    expect(src.size).toBe(modelBytes.length);
    expect(src.rangeSupported).toBe(true);
    expect(ranged.bytesSent()).toBeLessThanOrEqual(256 << 10);
    expect(ranged.bytesSent()).toBeLessThan(modelBytes.length / 20);
  });

  it("with Range: streams a tensor", async () => {
    const src = urlSource(ranged.url);
    const g = await readGguf(src, { initialBytes: 16384 });
    const t = g.tensors[1];
    const out = new Uint8Array(t.size);
    await readRange(src, g.dataOffset + t.offset, t.size, (c, at) => out.set(c, at), undefined, 50_000);
    expectBytes(out, modelBytes.subarray(g.dataOffset + t.offset, g.dataOffset + t.offset + t.size));
  });

  it("with Range: a vocab-only file whose header is the whole file", async () => {
    const vocab = new Uint8Array(readFileSync(VOCAB));
    const src = urlSource(vocabServer.url);
    sameHeader(await readGguf(src), parseGguf(vocab));
    expect(src.bytesReceived).toBe(vocab.length);
  });

  it("without Range: reads only what it needs from the 200 stream, continues it, and close() cancels", async () => {
    const src = urlSource(plain.url);
    const g = await readGguf(src, { initialBytes: 4096 });
    sameHeader(g, parseGguf(modelBytes));
    expect(src.rangeSupported).toBe(false);
    expect(src.size).toBe(modelBytes.length);
    expect(src.bytesReceived).toBeLessThan(modelBytes.length / 4);
    // Sequential reads continue the same download.
    const t = g.tensors[0];
    const before = plain.requests();
    const out = new Uint8Array(t.size);
    await readRange(src, g.dataOffset + t.offset, t.size, (c, at) => out.set(c, at));
    expectBytes(out, modelBytes.subarray(g.dataOffset + t.offset, g.dataOffset + t.offset + t.size));
    expect(plain.requests()).toBe(before);
    // A read behind the stream starts over, and is still right.
    expect(await src.read(0, 4)).toEqual(modelBytes.subarray(0, 4));
    expect(plain.requests()).toBe(before + 1);
    await src.close();
  });

  it("HTTP errors are GgufError('io')", async () => {
    const e = await readGguf(urlSource(ranged.url.replace("model.gguf", "missing.gguf"))).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GgufError);
    expect((e as GgufError).kind).toBe("io");
    expect((e as GgufError).message).toMatch(/404/);
  });

  it("reads at or past the end return nothing", async () => {
    const src = urlSource(ranged.url);
    expect((await src.read(modelBytes.length + 100, 10)).length).toBe(0);
    expect(src.size).toBe(modelBytes.length);
    expect((await src.read(modelBytes.length - 2, 10)).length).toBe(2);
  });
});

describe("abort", () => {
  it("readGguf stops with the signal's reason", async () => {
    const ctl = new AbortController();
    ctl.abort(new Error("stop"));
    await expect(readGguf(blobSource(new Blob([modelBytes])), { signal: ctl.signal })).rejects.toThrow("stop");
  });
});
