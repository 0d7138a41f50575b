// The same build in every runtime: runs the BUILT package (dist/, made by `npm test`'s build step)
// in Node (the machine's, baseline SIMD), Node 24 (relaxed SIMD), Deno, Bun and headless Chromium,
// each through the shared checks in test/runtimes/checks.mjs (parity of logits with llama.cpp, greedy
// text byte for byte), plus the Deno and Bun examples and the browser example page.
// A runtime that is missing FAILS, saying how to install it: scripts/install-runtimes.sh (.ci/run).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { FIXTURES } from "./helpers/fixtures.js";
import { BIN, INSTALL, ROOT, RUNTIMES, launchChromium, reportLine, requireInstalled, run, serveExample } from "./helpers/runtimes.js";

const CHECK = join(RUNTIMES, "check.mjs");
const OUTPUT = process.env.WOOLLY_TEST_OUTPUT ?? join(tmpdir(), "woolly-test-output");

/**
 * Thread counts to check: 1 and 2 once the loader takes a `threads` option, else none (the option is
 * not passed). Read from the source so this file needs no edit when the thread pool lands.
 */
const THREADS = /\bthreads\??\s*:/.test(readFileSync(join(ROOT, "src/model/load.ts"), "utf8")) ? [1, 2] : [];

interface Run {
  model: string;
  simd: string;
  threads: number | null;
  modelThreads?: number;
  relativeRms?: number;
  decodeTokensPerSecond?: number;
}
interface Report {
  runtime: string;
  bestFlavour: string | null;
  ok: boolean;
  failures: string[];
  runs: Run[];
}

interface Reference {
  prompt: number[];
  greedy: number[];
  greedy_bytes_hex: string;
}
const STORIES = "stories260K-Q8_0";
const storiesRef = JSON.parse(readFileSync(join(FIXTURES, "reference", `${STORIES}.p1.json`), "utf8")) as Reference;
/** llama.cpp's greedy continuation of "Once upon a time" (32 tokens). */
const GREEDY_TEXT = new TextDecoder().decode(Buffer.from(storiesRef.greedy_bytes_hex, "hex"));
const PROMPT = "Once upon a time";

function parseReport(stdout: string, stderr: string): Report {
  return reportLine<Report>("WOOLLY-RUNTIME-REPORT", stdout, stderr);
}

/** One line per runtime in the test log: the figures behind the pass. */
function summarize(r: Report): string {
  const rms = Math.max(...r.runs.map((x) => x.relativeRms ?? Number.NaN));
  const tps = r.runs.filter((x) => x.decodeTokensPerSecond !== undefined).map((x) => `${x.simd}/${x.threads === null ? `default(${x.modelThreads})` : x.threads} threads: ${x.decodeTokensPerSecond}`);
  return `${r.runtime}: best ${r.bestFlavour}, ${r.runs.length} runs, max relative RMS ${rms.toExponential(2)}, stories decode tokens/s ${tps.join(", ")}`;
}

function expectReport(r: Report, bestFlavour: string): void {
  expect(r.failures, `${r.runtime} failed its checks`).toEqual([]);
  expect(r.ok).toBe(true);
  expect(r.bestFlavour).toBe(bestFlavour);
  const flavours = bestFlavour !== "simd" ? 2 : 1;
  expect(r.runs).toHaveLength(2 * flavours * Math.max(1, THREADS.length));
}

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist/index.js")) || !existsSync(join(ROOT, "dist/node.js")) || !existsSync(join(ROOT, "dist/worker.js"))) {
    throw new Error("dist/ is not built: run `node scripts/build.mjs` (npm test does it first)");
  }
});

const nodeMajor = Number(process.versions.node.split(".")[0]);
const threadArgs = THREADS.length > 0 ? ["--threads", THREADS.join(",")] : [];

describe("the built package in each runtime", () => {
  it(`Node ${process.versions.node} (the machine's; Node 20 has no correct relaxed SIMD: baseline kernels)`, async () => {
    const { stdout, stderr } = await run(process.execPath, [CHECK, "--fixtures", FIXTURES, ...threadArgs]);
    const r = parseReport(stdout, stderr);
    console.log(summarize(r));
    expectReport(r, nodeMajor <= 20 ? "simd" : "relaxed");
  });

  it("Node 24 (relaxed SIMD)", async () => {
    const bin = join(BIN, "node");
    requireInstalled("Node 24", bin);
    const { stdout, stderr } = await run(bin, [CHECK, "--fixtures", FIXTURES, ...threadArgs]);
    const r = parseReport(stdout, stderr);
    console.log(summarize(r));
    expect(r.runtime).toMatch(/^node 24\./);
    expectReport(r, "relaxed");
  });

  it("Deno", async () => {
    const bin = join(BIN, "deno");
    requireInstalled("Deno", bin);
    // Reading files is the only permission Woolly needs (threads included): not -A.
    const { stdout, stderr } = await run(bin, ["run", "--allow-read", CHECK, "--fixtures", FIXTURES, ...threadArgs]);
    const r = parseReport(stdout, stderr);
    console.log(summarize(r));
    expect(r.runtime).toMatch(/^deno /);
    expectReport(r, "relaxed");
  });

  it("Bun", async () => {
    const bin = join(BIN, "bun");
    requireInstalled("Bun", bin);
    const { stdout, stderr } = await run(bin, [CHECK, "--fixtures", FIXTURES, ...threadArgs]);
    const r = parseReport(stdout, stderr);
    console.log(summarize(r));
    expect(r.runtime).toMatch(/^bun /);
    // Bun runs relaxed_dot right but splits relaxed_madd into a multiply and an add, and the relaxed
    // kernels replay ggml's fused multiply-adds with it: the loader gives Bun relaxed-nofma (relaxed
    // SIMD's integer dots, the multiply-adds emulated exactly as in the baseline build)
    expectReport(r, "relaxed-nofma");
  });
});

describe("the Deno and Bun examples stream llama.cpp's greedy text", () => {
  const model = join(FIXTURES, "models", `${STORIES}.gguf`);
  const want = PROMPT + GREEDY_TEXT + "\n";
  it("examples/deno.ts", async () => {
    const bin = join(BIN, "deno");
    requireInstalled("Deno", bin);
    const { code, stdout, stderr } = await run(bin, ["run", "--allow-read", "examples/deno.ts", model, PROMPT, String(storiesRef.greedy.length)]);
    expect(code, stderr).toBe(0);
    expect(stdout).toBe(want);
    expect(stderr).toMatch(/decode [\d.]+ tokens\/s/);
  });
  it("examples/bun.ts", async () => {
    const bin = join(BIN, "bun");
    requireInstalled("Bun", bin);
    const { code, stdout, stderr } = await run(bin, ["examples/bun.ts", model, PROMPT, String(storiesRef.greedy.length)]);
    expect(code, stderr).toBe(0);
    expect(stdout).toBe(want);
    expect(stderr).toMatch(/decode [\d.]+ tokens\/s/);
  });
});

describe("createWorkerModel (the engine in a Web Worker of its own) in Deno and Bun", () => {
  const cases = (THREADS.length > 0 ? THREADS : [0]).flatMap((t) => [["Deno", t], ["Bun", t]] as const);
  it.each(cases)("%s, threads %i (0 = default)", async (name, threads) => {
    const bin = join(BIN, name.toLowerCase());
    requireInstalled(name, bin);
    const args = [join(RUNTIMES, "worker-check.mjs"), "--fixtures", FIXTURES, ...(threads > 0 ? ["--threads", String(threads)] : [])];
    const { stdout, stderr } = await run(bin, name === "Deno" ? ["run", "--allow-read", ...args] : args);
    const r = reportLine<{ ok: boolean; failures: string[]; simd: string }>("WOOLLY-WORKER-REPORT", stdout, stderr);
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
    // Bun: relaxed-nofma, its relaxed_madd does not fuse (see the "Bun" test above)
    expect(r.simd).toBe(name === "Bun" ? "relaxed-nofma" : "relaxed");
  });
});

describe("headless Chromium", () => {
  let server: ChildProcess | undefined;
  let base = "";
  let browser: Browser | undefined;

  beforeAll(async () => {
    // The example's own server, with the fixtures and the check page mounted beside the example.
    ({ base, server } = await serveExample({ "/fixtures/": FIXTURES, "/runtimes/": RUNTIMES }));
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.kill();
  });

  it("runs the checks on the page's main thread and in a worker (threads on a cross-origin isolated page)", async () => {
    if (!browser) throw new Error(`Chromium did not start: ${INSTALL}`);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/runtimes/browser-check.html?threads=${THREADS.join(",")}`);
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    await page.waitForFunction(() => "__woollyReport" in globalThis, undefined, { timeout: 170_000 });
    const report = (await page.evaluate(() => (globalThis as unknown as { __woollyReport: unknown }).__woollyReport)) as {
      mainThread: Report;
      worker: Report;
      error?: string;
    };
    await page.close();
    expect(report.error).toBeUndefined();
    expect(errors).toEqual([]);
    console.log(summarize(report.mainThread));
    console.log(summarize(report.worker));
    expect(report.mainThread.failures).toEqual([]);
    expect(report.mainThread.bestFlavour).toBe("relaxed");
    expect(report.mainThread.runs).toHaveLength(4);
    expectReport(report.worker, "relaxed");
  }, 180_000);

  const pageThreads = THREADS.length > 0 ? THREADS : [0];
  it.each(pageThreads)("the example page (threads %i; 0 = default): file input, streaming, llama.cpp's greedy text, Stop", async (threads) => {
    if (!browser) throw new Error(`Chromium did not start: ${INSTALL}`);
    const page = await browser.newPage({ viewport: { width: 900, height: 820 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    if (threads > 0) await page.selectOption("#threads", String(threads));
    // Read in place: Playwright hands the fixture file to the file input, as a user picking it would.
    await page.setInputFiles("#file", join(FIXTURES, "models", `${STORIES}.gguf`));
    await page.waitForSelector("#generate:not([disabled])", { timeout: 60_000 });
    expect(await page.evaluate(() => (document.getElementById("progress") as HTMLProgressElement).value)).toBe(1);
    const status = await page.textContent("#model-status");
    expect(status).toMatch(/relaxed SIMD/);
    if (threads > 0) expect(status).toContain(`${threads} thread${threads === 1 ? "" : "s"}`);

    await page.fill("#prompt", PROMPT);
    await page.fill("#temperature", "0");
    await page.fill("#max-tokens", String(storiesRef.greedy.length));
    await page.click("#generate");
    await page.waitForSelector("#stats[data-finish]", { timeout: 60_000 });
    expect(await page.getAttribute("#stats", "data-finish")).toBe("length");
    expect(await page.textContent("#generated")).toBe(GREEDY_TEXT);
    expect(await page.textContent("#stats")).toMatch(/32 tokens · [\d.]+ tokens\/s/);
    mkdirSync(OUTPUT, { recursive: true });
    const shot = join(OUTPUT, `example-page-threads-${threads}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);

    // Stop: a long sampled generation, stopped once text is streaming. Seed 1 at temperature 0.8
    // runs to the full 2048-token context without an end-of-text (measured: about 4 s), so only the
    // Stop button can end it early.
    await page.evaluate(() => {
      delete (document.getElementById("stats") as HTMLElement).dataset.finish;
    });
    await page.fill("#temperature", "0.8");
    await page.fill("#seed", "1");
    await page.fill("#max-tokens", "4096");
    await page.click("#generate");
    await page.waitForFunction(() => (document.getElementById("generated")?.textContent ?? "").length > 0);
    await page.click("#stop");
    await page.waitForSelector("#stats[data-finish]", { timeout: 30_000 });
    expect(await page.getAttribute("#stats", "data-finish")).toBe("aborted");
    expect(await page.textContent("#stats")).toMatch(/aborted$/);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
