// 50 load/dispose cycles in headless Chromium (threads on a cross-origin isolated page): every disposed
// model — its WebAssembly memory and its ended Web Workers — is garbage-collected, and the page's JS heap
// after the last cycle is within 10% of where it was after the warm-up (collected through the DevTools
// protocol before each reading).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import type { Browser } from "playwright-core";
import { FIXTURES } from "./helpers/fixtures.js";
import { launchChromium, serveExample } from "./helpers/runtimes.js";

let server: ChildProcess | undefined;
let browser: Browser | undefined;
let base = "";
beforeAll(async () => {
  ({ base, server } = await serveExample({ "/fixtures/": FIXTURES }));
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  server?.kill();
});

describe("load and dispose in Chromium", () => {
  it("50 cycles with 2 threads: every model collected, the heap back within 10%", async () => {
    const page = await (browser as Browser).newPage();
    await page.goto(`${base}/`);
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    const cdp = await page.context().newCDPSession(page);
    const heap = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      await cdp.send("HeapProfiler.collectGarbage");
      return (await cdp.send("Runtime.getHeapUsage")).usedSize;
    };
    // A string, not a function: vitest would rewrite the page's own import() in a function's source.
    await page.evaluate(`(async () => {
      const woolly = await import("${base}/dist/index.js");
      const bytes = new Uint8Array(await (await fetch("${base}/fixtures/models/synth-llama-F32.gguf")).arrayBuffer());
      globalThis.refs = [];
      globalThis.cycle = async () => {
        const m = await woolly.loadModel(bytes, { threads: 2, contextLength: 64 });
        await m.complete([1, 2, 3], { maxTokens: 2, temperature: 0 });
        const threads = m.threads;
        m.dispose();
        globalThis.refs.push(new WeakRef(m));
        return threads;
      };
    })()`);
    const cycle = () => page.evaluate(() => (globalThis as unknown as { cycle: () => Promise<number> }).cycle());
    expect(await cycle()).toBe(2);
    // The page's heap is ~2 MB and the first cycles add V8's type feedback and compiled code for the
    // library (measured: 2.01 MB after cycle 1, 2.35 after 10, 2.39 / 2.40 / 2.41 / 2.42 after 20-50), so
    // the reference is the 10th cycle's; a leaked model would hold its 20 MB memory and workers, and the
    // WeakRefs below catch that directly.
    for (let i = 1; i < 10; i++) await cycle();
    const first = await heap();
    for (let i = 10; i < 50; i++) await cycle();
    const last = await heap();
    const alive = await page.evaluate(() => (globalThis as unknown as { refs: WeakRef<object>[] }).refs.filter((r) => r.deref() !== undefined).length);
    await page.close();
    expect(alive, "disposed models still reachable").toBe(0);
    expect(last, `heap ${first} → ${last}`).toBeLessThan(first * 1.1);
  }, 300_000);
});
