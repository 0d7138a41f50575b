// Split GGUF sets (llama.cpp's gguf-split layout): the writer's parts, loading a set from the first
// path, from Files in any order and from the first URL with exactly the single file's logits, and a
// typed error naming the part for every way a set can be incomplete or mixed up.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SplitError, loadModel, parseGguf, planSplit, writeGgufSplit, type GgufValue } from "../src/index.js";
import { loadModelFile, readGgufFile } from "../src/node.js";
import { startDownloadServer, type DownloadServer } from "./helpers/download-server.js";
import { fixturePath, tensorsOf } from "./helpers/fixtures.js";

const STORIES = fixturePath("models", "stories260K-Q8_0.gguf");
const SYNTH = fixturePath("models", "synth-qwen2-Q4_K_M.gguf");
const PROMPT = [1, 43, 107, 261, 78, 204, 30];

/** The fixture split into `parts` parts by tensor count, as gguf-split --split-max-tensors would. */
function split(path: string, parts: number, prefix = "model"): { name: string; bytes: Uint8Array }[] {
  const bytes = new Uint8Array(readFileSync(path));
  const g = parseGguf(bytes);
  const maxTensors = Math.ceil(g.tensors.length / parts);
  return writeGgufSplit({ metadata: g.metadata, tensors: tensorsOf(g, bytes) }, { maxTensors, prefix });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "woolly-split-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes the parts into a fresh folder; returns their paths. */
function save(sub: string, parts: { name: string; bytes: Uint8Array }[]): string[] {
  const d = mkdtempSync(join(dir, sub + "-"));
  return parts.map((p) => {
    const path = join(d, p.name);
    writeFileSync(path, p.bytes);
    return path;
  });
}

describe("writing a split set", () => {
  it("puts the metadata in part 1 and split.no, split.tensors.count, split.count (in that order) in every part", () => {
    const parts = split(STORIES, 3);
    expect(parts.map((p) => p.name)).toEqual(["model-00001-of-00003.gguf", "model-00002-of-00003.gguf", "model-00003-of-00003.gguf"]);
    const original = parseGguf(new Uint8Array(readFileSync(STORIES)));
    const files = parts.map((p) => parseGguf(p.bytes));
    const total = original.tensors.length;
    const tail = (m: Map<string, GgufValue>) => [...m].slice(-3);
    for (const [no, f] of files.entries()) {
      expect(tail(f.metadata)).toEqual([
        ["split.no", { type: 2, value: no }],
        ["split.tensors.count", { type: 5, value: total }],
        ["split.count", { type: 2, value: 3 }],
      ]);
    }
    expect([...files[0].metadata.keys()].slice(0, -3)).toEqual([...original.metadata.keys()]);
    expect(files[1].metadata.size).toBe(3);
    expect(files[2].metadata.size).toBe(3);
    // Tensors in file order, split by count (gguf-split: a new part at every multiple of the limit).
    const per = Math.ceil(total / 3);
    expect(files.map((f) => f.tensors.length)).toEqual([per, per, total - 2 * per]);
    expect(files.flatMap((f) => f.tensors.map((t) => t.name))).toEqual(original.tensors.map((t) => t.name));
    // Each part's offsets restart at 0, each tensor padded to 32.
    for (const f of files) expect(f.tensors[0].offset).toBe(0);
  });

  // sha256 of what llama-gguf-split (llama.cpp, Sep 2026 source, built here once) wrote for these
  // fixtures: `--split --split-max-tensors 20` on stories260K-Q8_0 (also with
  // --no-tensor-first-split) and `--split --split-max-size 1M` (1M = 10^6 bytes) on synth-qwen2-Q4_K_M.
  it.each([
    [STORIES, { maxTensors: 20 }, ["733683ea7939d89f6cbb6277220573683f9a763e67421e968007f02f47654db7", "d8c1d8464c605bf1a8be97bf311b09c4cb10e093d3862eb50dba522a48403904", "53558154112b2879cc59558069a7cadc9c407b71ae3dc3acbc060da6a074d698"]],
    [
      STORIES,
      { maxTensors: 20, noTensorFirstSplit: true },
      [
        "00f9784603505796877c5a1fd6cb4a31e186950a354d6645a148ebaebcd2e341",
        "6c1d0064c4e3a4b39f8f9d2928a882ddca25b71944dd4d0382e2569cc3f17dc1",
        "61ee5701e2261f59147dab580e7c625fca0f6404078d0837401216f91c1793d2",
        "a142b335919390854cb38607108255e0f32079da3da8efbe1ba27c21caee34d8",
      ],
    ],
    [SYNTH, { maxBytes: 1_000_000 }, ["64be7e0456b8fcaef991a5ea1c62f9c3dcd31f2622700df3af12438eb8de6f9a", "5adf9dcf34130f3b27727d874cbbd27a5cf849d284fb99ca827e71ea1142cca9"]],
  ] as const)("%s %o: byte-for-byte what gguf-split writes", (path, options, want) => {
    const bytes = new Uint8Array(readFileSync(path));
    const g = parseGguf(bytes);
    const parts = writeGgufSplit({ metadata: g.metadata, tensors: tensorsOf(g, bytes) }, options);
    expect(parts.map((p) => createHash("sha256").update(p.bytes).digest("hex"))).toEqual(want);
  });

  it("splits by size like --split-max-size, counting each tensor padded to 32 bytes", () => {
    const bytes = new Uint8Array(readFileSync(STORIES));
    const g = parseGguf(bytes);
    const sizes = g.tensors.map((t) => Math.ceil(t.size / 32) * 32);
    const maxBytes = Math.max(...sizes) * 2;
    const plan = planSplit({ metadata: g.metadata, tensors: tensorsOf(g, bytes) }, { maxBytes });
    for (const p of plan) {
      const sum = p.tensors.reduce((s, t) => s + Math.ceil(parseSize(g, t.name) / 32) * 32, 0);
      expect(sum).toBeLessThanOrEqual(maxBytes);
    }
    expect(plan.flatMap((p) => p.tensors.map((t) => t.name))).toEqual(g.tensors.map((t) => t.name));
  });
});

function parseSize(g: ReturnType<typeof parseGguf>, name: string): number {
  return g.tensor(name)?.size ?? -1;
}

describe("loading a split set", () => {
  let server: DownloadServer;
  beforeAll(async () => {
    server = await startDownloadServer();
  });
  afterAll(() => server.close());

  for (const [label, path] of [
    ["stories260K-Q8_0", STORIES],
    ["synth-qwen2-Q4_K_M", SYNTH],
  ] as const) {
    it(`${label}: from the first path, Files in any order and the first URL, the logits equal the single file's exactly`, async () => {
      const single = await loadModelFile(path);
      const want = await single.logits(PROMPT);
      single.dispose();
      const parts = split(path, 3, label);
      const paths = save(label, parts);
      for (const p of parts) server.files.set(`/${label}/${p.name}`, p.bytes);

      const fromPath = await loadModelFile(paths[0]);
      expect(await fromPath.logits(PROMPT)).toEqual(want);
      // The merged view is the model as if never split.
      expect(fromPath.file.has("split.count")).toBe(false);
      expect(fromPath.file.tensors.length).toBe(parseGguf(new Uint8Array(readFileSync(path))).tensors.length);
      fromPath.dispose();

      const files = [...parts].reverse().map((p) => new File([new Uint8Array(p.bytes)], p.name));
      const fromFiles = await loadModel(files);
      expect(await fromFiles.logits(PROMPT)).toEqual(want);
      fromFiles.dispose();

      const before = server.requests.length;
      const fromUrl = await loadModel(`${server.base}/${label}/${parts[0].name}`);
      expect(await fromUrl.logits(PROMPT)).toEqual(want);
      fromUrl.dispose();
      const asked = new Set(server.requests.slice(before).map((r) => r.path));
      expect([...asked].sort()).toEqual(parts.map((p) => `/${label}/${p.name}`));
    });
  }

  it("any part's path finds the whole set; inspect reads one part as it is", async () => {
    const parts = split(STORIES, 3, "any");
    const paths = save("any", parts);
    const m = await loadModelFile(paths[2]);
    expect(m.config.nLayers).toBe(5);
    m.dispose();
    expect((await readGgufFile(paths[1])).getU32("split.no")).toBe(1);
  });
});

describe("an incomplete or mixed-up set is a SplitError naming the part", () => {
  const parts = split(STORIES, 3, "bad");
  const file = (i: number, name = parts[i].name) => new File([new Uint8Array(parts[i].bytes)], name);

  async function splitError(p: Promise<unknown>): Promise<SplitError> {
    const e = await p.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(SplitError);
    return e as SplitError;
  }

  it("a missing part file", async () => {
    const paths = save("missing", parts);
    unlinkSync(paths[1]);
    const e = await splitError(loadModelFile(paths[0]));
    expect(e.kind).toBe("missing_part");
    expect(e.part).toBe(paths[1]);
  });

  it("a part the server does not have, read remotely or through the cache", async () => {
    const server = await startDownloadServer();
    try {
      server.files.set(`/s/${parts[0].name}`, parts[0].bytes);
      server.files.set(`/s/${parts[2].name}`, parts[2].bytes);
      const cacheDir = mkdtempSync(join(dir, "cache-"));
      for (const options of [{}, { cache: { dir: cacheDir } }]) {
        const e = await splitError(loadModel(`${server.base}/s/${parts[0].name}`, options));
        expect(e.kind).toBe("missing_part");
        expect(e.part).toBe(`${server.base}/s/${parts[1].name}`);
      }
    } finally {
      await server.close();
    }
  });

  it("a part not given among Files, or a lone part", async () => {
    let e = await splitError(loadModel([file(0), file(2)]));
    expect(e.kind).toBe("missing_part");
    expect(e.part).toBe("part 2 of 3");
    e = await splitError(loadModel(new Blob([new Uint8Array(parts[0].bytes)])));
    expect(e.kind).toBe("missing_part");
    expect(e.message).toContain("part 1 of a 3-part");
    await expect(loadModel([])).rejects.toMatchObject({ kind: "invalid_parameter", parameter: "source" });
  });

  it("a part given twice", async () => {
    const e = await splitError(loadModel([file(0), file(1), file(1, "copy.gguf")]));
    expect(e.kind).toBe("duplicate_part");
    expect(e.part).toBe("copy.gguf");
  });

  it("parts swapped on disk: the wrong split.no", async () => {
    const paths = save("swapped", parts);
    renameSync(paths[1], paths[1] + ".tmp");
    renameSync(paths[2], paths[1]);
    renameSync(paths[1] + ".tmp", paths[2]);
    const e = await splitError(loadModelFile(paths[0]));
    expect(e.kind).toBe("part_mismatch");
    expect(e.part).toBe(paths[1]);
    expect(e.message).toContain("split.no 2, expected 1");
  });

  it("a part of a set with another part count", async () => {
    const two = split(STORIES, 2, "two");
    const e = await splitError(loadModel([file(0), file(1), new File([new Uint8Array(two[1].bytes)], "two-2.gguf")]));
    expect(e.kind).toBe("part_mismatch");
    expect(e.part).toBe("two-2.gguf");
  });

  it("a part of another model (its tensor count disagrees)", async () => {
    const other = split(SYNTH, 3, "other");
    const e = await splitError(loadModel([file(0), new File([new Uint8Array(other[1].bytes)], "other-2.gguf"), file(2)]));
    expect(e.kind).toBe("part_mismatch");
    expect(e.part).toBe("other-2.gguf");
    expect(e.message).toContain("another model");
  });

  it("a first part whose split.count disagrees with its name", async () => {
    const d = mkdtempSync(join(dir, "count-"));
    const p = join(d, "x-00001-of-00002.gguf");
    writeFileSync(p, parts[0].bytes);
    const e = await splitError(loadModelFile(p));
    expect(e.kind).toBe("part_mismatch");
    expect(e.part).toBe(p);
  });
});
