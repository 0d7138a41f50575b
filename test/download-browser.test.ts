// The model cache in a browser (headless Chromium): a page downloads a model from the local server
// into the Origin Private File System, then loads it again with the server gone, with the same
// logits as Node computes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { build, buildSync, type Plugin } from "esbuild";
import type { Browser } from "playwright-core";
import { workerBuildOptions } from "../scripts/worker-options.mjs";
import { loadModelFile } from "../src/node.js";
import { startDownloadServer, type DownloadServer } from "./helpers/download-server.js";
import { fixturePath } from "./helpers/fixtures.js";
import { launchChromium, ROOT } from "./helpers/runtimes.js";

const STORIES = fixturePath("models", "stories260K-Q8_0.gguf");
const PROMPT = [1, 43, 107, 261, 78];

/** src/index.ts as one ES module, as scripts/build.mjs bundles it (wasm and the worker inlined). */
async function bundle(): Promise<Uint8Array> {
  const workerText: Plugin = {
    name: "worker-text",
    setup(b) {
      b.onResolve({ filter: /worker\.txt$/ }, (a) => ({ path: a.path, namespace: "worker-text" }));
      b.onLoad({ filter: /.*/, namespace: "worker-text" }, () => ({ contents: buildSync(workerBuildOptions(ROOT)).outputFiles[0].text, loader: "text" }));
    },
  };
  const out = await build({
    entryPoints: [`${ROOT}/src/index.ts`],
    bundle: true,
    format: "esm",
    platform: "neutral",
    external: ["node:*"],
    target: "es2022",
    loader: { ".wasm": "binary" },
    plugins: [workerText],
    write: false,
    logLevel: "warning",
  });
  return out.outputFiles[0].contents;
}

interface PageResult {
  readonly last: number[];
  readonly cached: { name: string; size: number }[];
  readonly downloaded: number;
}

describe("the model cache in Chromium (OPFS)", () => {
  let browser: Browser;
  let server: DownloadServer;
  beforeAll(async () => {
    browser = await launchChromium();
    server = await startDownloadServer();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("downloads through the page into OPFS, then loads the cached copy with the server stopped", async () => {
    const model = await loadModelFile(STORIES, { threads: 1, simd: "simd" });
    const want = Array.from((await model.logits(PROMPT))[PROMPT.length - 1]);
    model.dispose();

    const bytes = new Uint8Array(readFileSync(STORIES));
    // The page's own module script does the work (an import() inside page.evaluate would be
    // rewritten by vitest's transform).
    const script = `
      import * as w from "/woolly.js";
      globalThis.runModel = async (url, prompt) => {
        let downloaded = 0;
        const m = await w.loadModel(url, { cache: true, threads: 1, simd: "simd", onDownloadProgress: (p) => (downloaded = p.receivedBytes) });
        const logits = await m.logits(prompt);
        m.dispose();
        return { last: Array.from(logits[prompt.length - 1]), cached: await w.listCachedModels(), downloaded };
      };`;
    server.files.set("/index.html", new TextEncoder().encode(`<!doctype html><title>woolly cache</title><script type="module">${script}</script>`));
    server.files.set("/woolly.js", await bundle());
    server.files.set("/model.gguf", bytes);
    const page = await browser.newPage();
    await page.goto(`${server.base}/index.html`);
    await page.waitForFunction(() => "runModel" in globalThis);
    const load = (url: string) =>
      page.evaluate(
        ({ url, prompt }) => (globalThis as unknown as { runModel: (u: string, p: number[]) => Promise<PageResult> }).runModel(url, prompt),
        { url, prompt: PROMPT },
      );

    const url = `${server.base}/model.gguf`;
    const first = await load(url);
    const name = `127.0.0.1_${new URL(server.base).port}/model.gguf`;
    expect(first.downloaded).toBe(bytes.length);
    expect(first.cached).toEqual([{ name, size: bytes.length }]);
    expect(first.last).toEqual(want);

    await server.close();
    const second = await load(url);
    expect(second.downloaded).toBe(0);
    expect(second.last).toEqual(want);
    // What OPFS holds under the cache's folder: the entry, and no partial file.
    const files = await page.evaluate(async (entry) => {
      const root = await (await navigator.storage.getDirectory()).getDirectoryHandle("woolly-cache");
      const [host, file] = entry.split("/");
      const dir = await root.getDirectoryHandle(host);
      const names: string[] = [];
      for await (const key of (dir as FileSystemDirectoryHandle & { keys(): AsyncIterable<string> }).keys()) names.push(key);
      return { names, size: (await (await dir.getFileHandle(file)).getFile()).size };
    }, name);
    expect(files).toEqual({ names: ["model.gguf"], size: bytes.length });
  });
});
