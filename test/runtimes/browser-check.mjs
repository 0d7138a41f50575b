// The shared checks in Chromium, twice: on the page's main thread (no threads: a page may not block
// on Atomics.wait there), and in a module worker, where a real app runs the engine, with the thread
// counts given in ?threads=1,2. Models come from the server by URL (HTTP Range reads); the result
// lands in window.__woollyReport for the test to read.
import * as woolly from "/dist/index.js";
import { runChecks } from "./checks.mjs";

const threads = (new URLSearchParams(location.search).get("threads") ?? "").split(",").filter(Boolean).map(Number);
const out = document.getElementById("out");

async function main() {
  const mainThread = await runChecks({
    woolly,
    runtime: `chromium main thread ${navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? ""}`,
    load: (name, options) => woolly.loadModel(new URL(`/fixtures/models/${name}.gguf`, location.href), options),
    reference: async (name) => (await fetch(`/fixtures/reference/${name}.p1.json`)).json(),
  });
  const worker = new Worker("./browser-check-worker.mjs", { type: "module" });
  const inWorker = await new Promise((resolve) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => resolve({ ok: false, failures: [`worker error: ${e.message}`], runs: [] });
    worker.postMessage({ threads });
  });
  worker.terminate();
  return { mainThread, worker: inWorker };
}

main().then(
  (report) => {
    out.textContent = JSON.stringify(report, null, 2);
    globalThis.__woollyReport = report;
  },
  (e) => {
    out.textContent = String(e?.stack ?? e);
    globalThis.__woollyReport = { error: String(e?.stack ?? e) };
  },
);
