// `npm run bench:browser`: a GGUF file loaded from a URL (HTTP Range, as a page loads a model) in headless
// Chromium on a cross-origin isolated page, then load time, prefill and decode tokens/s, and the peak
// resident memory of the page's renderer process (VmHWM from /proc, so WebAssembly memory and workers
// are counted). Not part of CI. The same checks as `woolly-bench e2e` run before any timing: the logits
// of a short prompt are finite and greedy decoding is deterministic.
//
//   npm run bench:browser -- --model FILE.gguf [--threads 1,2] [--prefill 64] [--decode 32] [--runs 3]
//   npm run bench:browser -- --shape llama-8b [--mix Q4_K_M]   (the file `woolly-bench e2e --shape` made)
//
// Needs the runtimes (`bash scripts/install-runtimes.sh`) and a built dist/.
//
// Chromium is driven over the DevTools protocol directly, not through Playwright: Playwright enables the
// Network domain on every page, and the renderer then keeps response bodies for DevTools — measured, the
// Qwen3-0.6B-shaped file (0.37 GiB; 0.41 GiB of WebAssembly memory) took the renderer from 0.14 to
// 0.80 GiB with Playwright, and to 0.60 GiB without.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// Node 20 has WebSocket behind a flag (Node 22 and later by default): run again with it.
if (typeof WebSocket === "undefined") {
  const r = spawnSync(process.execPath, ["--experimental-websocket", ...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const CHROMIUM = "/usr/bin/chromium";

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const numbers = (s) => s.split(",").map((v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected positive integers, got ${s}`);
  return n;
});

let model = option("model");
const shape = option("shape");
// bench/synth.ts names them so (shapes in bench/shapes.ts end in "-shapes"; "-r3": the current weight scaling).
if (!model && shape) model = join(tmpdir(), "woolly-bench", `${shape}-shapes-${option("mix", "Q4_K_M")}-r3.gguf`);
if (!model || !existsSync(model)) {
  process.stderr.write(`bench:browser: give --model FILE.gguf, or --shape NAME after \`woolly-bench e2e --shape NAME\` has made it (${model ?? "no file"})\n`);
  process.exit(2);
}
if (!existsSync(join(ROOT, "dist/index.js"))) {
  process.stderr.write("bench:browser: dist/ is not built: run `node scripts/build.mjs`\n");
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  process.stderr.write("bench:browser: no Chromium: run `bash scripts/install-runtimes.sh`\n");
  process.exit(2);
}
const threadsList = numbers(option("threads", "1,2"));
const prefill = numbers(option("prefill", "64"))[0];
const decode = numbers(option("decode", "32"))[0];
const runs = numbers(option("runs", "3"))[0];

/** Start scripts/serve-example.mjs with the model's folder at /models/; resolves with its base URL. */
function serve(dir) {
  const server = spawn(process.execPath, [join(ROOT, "scripts/serve-example.mjs"), "--port", "0", "--mount", `/models/=${dir}`], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolveBase, reject) => {
    let seen = "";
    server.stdout.on("data", (d) => {
      seen += d.toString();
      const m = /Serving (http:\/\/\S+?)\/?\s/.exec(seen);
      if (m) resolveBase({ base: m[1], server });
    });
    server.on("exit", (code) => reject(new Error(`serve-example exited with ${code}`)));
  });
}

/** Peak resident set (VmHWM, or VmRSS now) of Chromium's renderer processes, in bytes: the page runs in one of them. */
function rendererPeak(field = "VmHWM") {
  let peak = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmd.includes("--type=renderer")) continue;
      const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // the process ended meanwhile
    }
  }
  return peak;
}

/** Headless Chromium with a DevTools endpoint; resolves with a minimal protocol client. */
async function launch() {
  const profile = mkdtempSync(join(tmpdir(), "woolly-bench-browser-"));
  const proc = spawn(CHROMIUM, [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  const wsUrl = await new Promise((ok, fail) => {
    let seen = "";
    proc.stderr.on("data", (d) => {
      seen += d;
      const m = /DevTools listening on (ws:\S+)/.exec(seen);
      if (m) ok(m[1]);
    });
    proc.on("exit", (code) => fail(new Error(`Chromium exited with ${code}: ${seen}`)));
  });
  const ws = new WebSocket(wsUrl);
  await new Promise((ok, fail) => {
    ws.addEventListener("open", ok, { once: true });
    ws.addEventListener("error", () => fail(new Error(`cannot connect to ${wsUrl}`)), { once: true });
  });
  let next = 0;
  const replies = new Map();
  const waiters = [];
  ws.addEventListener("message", (e) => {
    const m = JSON.parse(String(e.data));
    if (m.id !== undefined) {
      const r = replies.get(m.id);
      replies.delete(m.id);
      if (m.error) r.fail(new Error(`${r.method}: ${m.error.message}`));
      else r.ok(m.result);
      return;
    }
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].method === m.method && waiters[i].sessionId === m.sessionId) waiters.splice(i, 1)[0].ok(m.params);
    }
  });
  const send = (method, params = {}, sessionId = undefined) =>
    new Promise((ok, fail) => {
      const id = ++next;
      replies.set(id, { ok, fail, method });
      ws.send(JSON.stringify({ id, method, params, sessionId }));
    });
  const event = (method, sessionId) => new Promise((ok) => waiters.push({ method, sessionId, ok }));
  const close = async () => {
    // Browser.close ends every Chromium process; the profile is removed once they have (they write there until then).
    const exited = new Promise((ok) => proc.once("exit", ok));
    await send("Browser.close").catch(() => proc.kill());
    await exited;
    ws.close();
    for (let attempt = 0; ; attempt++) {
      try {
        rmSync(profile, { recursive: true, force: true });
        return;
      } catch (e) {
        if (attempt === 20) {
          process.stderr.write(`bench:browser: could not remove ${profile}: ${e.message}\n`);
          return;
        }
        await new Promise((ok) => setTimeout(ok, 100));
      }
    }
  };
  return { send, event, close };
}

/** An expression's value in the page (awaited); a thrown error becomes this call's error. */
async function evaluate(cdp, sessionId, expression) {
  const r = await cdp.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId);
  if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
  return r.result.value;
}

const gib = (n) => `${(n / 2 ** 30).toFixed(2)} GiB`;
const { base, server } = await serve(dirname(resolve(model)));
const cdp = await launch();
const fileBytes = statSync(model).size;
const { product } = await cdp.send("Browser.getVersion");
process.stdout.write(`bench:browser — ${basename(model)} (${gib(fileBytes)}), ${product}, prefill ${prefill}, decode ${decode}, median of ${runs}\n`);
try {
  for (const threads of threadsList) {
    // A fresh page (and renderer) per thread count, so each peak is its own.
    const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank", newWindow: true });
    const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
    await cdp.send("Page.enable", {}, sessionId);
    const loaded = cdp.event("Page.loadEventFired", sessionId);
    await cdp.send("Page.navigate", { url: `${base}/` }, sessionId);
    await loaded;
    const url = `${base}/models/${encodeURIComponent(basename(model))}`;
    await evaluate(cdp, sessionId, `import("${base}/dist/index.js").then((w) => { globalThis.woolly = w; })`);
    // What the page holds before the model: the baseline the model's own memory adds to.
    const before = rendererPeak("VmRSS");
    const loadMs = await evaluate(cdp, sessionId, `(async () => {
      const t0 = performance.now();
      globalThis.model = await globalThis.woolly.loadModel(${JSON.stringify(url)}, { threads: ${threads}, contextLength: ${prefill + decode + 32} });
      return performance.now() - t0;
    })()`);
    // Right after the load: the renderer's peak so far, and the page's JS heap after a full collection
    // (what the load left reachable, not garbage awaiting a collection).
    const loadPeak = rendererPeak();
    await cdp.send("HeapProfiler.collectGarbage", {}, sessionId);
    const heapAfterLoad = (await cdp.send("Runtime.getHeapUsage", {}, sessionId)).usedSize;
    const result = await evaluate(cdp, sessionId, `(async () => {
      const model = globalThis.model;
      globalThis.model = undefined;
      const n = model.config.nVocab;
      const prompt = (len, run) => {
        const ids = [model.tokenizer.bos ?? 1];
        for (let i = 1; i < len; i++) ids.push(259 + ((run * 7919 + i * 104729) % (n - 259)));
        ids[1] = 259 + ((run * 31 + 17) % (n - 259));
        return ids;
      };
      try {
        const ids = prompt(8, 999);
        const logits = await model.logits(ids);
        if (!logits.every((row) => row.every(Number.isFinite))) return { error: "non-finite logits" };
        const a = await model.complete(ids, { temperature: 0, maxTokens: 8, ignoreEos: true });
        await model.complete(prompt(8, 998), { temperature: 0, maxTokens: 2, ignoreEos: true });
        const c = await model.complete(ids, { temperature: 0, maxTokens: 8, ignoreEos: true });
        if (a.tokens.join() !== c.tokens.join()) return { error: "greedy decoding is not deterministic" };
        const median = (xs) => xs.slice().sort((x, y) => x - y)[xs.length >> 1];
        const pre = [], dec = [];
        for (let r = 0; r < ${runs}; r++) {
          const p = await model.complete(prompt(${prefill}, r), { temperature: 0, maxTokens: 1, ignoreEos: true });
          if (p.cachedTokens > 1) return { error: "a prompt reused the cache" };
          pre.push(p.timings.prefillTokensPerSecond);
          const d = await model.complete(prompt(16, 100 + r), { temperature: 0, maxTokens: ${decode}, ignoreEos: true });
          dec.push(d.timings.decodeTokensPerSecond);
        }
        return { threads: model.threads, fallback: model.threadFallback, simd: model.simd, memoryBytes: model.memoryBytes, prefill: median(pre), decode: median(dec) };
      } finally {
        model.dispose();
      }
    })()`);
    const peak = rendererPeak();
    const now = rendererPeak("VmRSS");
    await cdp.send("Target.closeTarget", { targetId });
    if (result.error) throw new Error(`check failed before timing: ${result.error}`);
    process.stdout.write(
      `threads ${result.threads}${result.fallback ? ` (${result.fallback})` : ""}, ${result.simd}: load ${(loadMs / 1000).toFixed(1)} s, ` +
        `prefill ${result.prefill.toFixed(2)} tok/s, decode ${result.decode.toFixed(2)} tok/s, ` +
        `wasm memory ${gib(result.memoryBytes)}, renderer RSS ${gib(before)} before loading, peak ${gib(loadPeak)} after it ` +
        `(JS heap after a collection ${gib(heapAfterLoad)}), ${gib(peak)} at the end (peak − before = ${((peak - before) / fileBytes).toFixed(2)}x the file), ${gib(now)} now\n`,
    );
  }
} finally {
  await cdp.close();
  server.kill();
}
