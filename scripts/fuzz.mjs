// `npm run fuzz`: the GGUF fuzzer at scale (not in CI; the suite runs a fixed-seed slice, test/fuzz.test.ts).
// Cases come from test/helpers/fuzz.ts: mutated real fixture files through the reader, every Nth also
// through the loader (tokenizer, tensor plan, memory check, a short generation). Each case runs in a worker
// with a memory cap (resourceLimits) and a time cap (a watchdog terminates a worker that reports nothing
// for --timeout ms); a crash, a hang, an untyped error or an out-of-memory is a finding, saved with its
// seed and index (and the bytes) under fuzz-findings/ for a test to be made of it.
//
//   npm run fuzz -- [--cases 100000] [--seed 1] [--load-every 25] [--timeout 10000] [--memory-mb 1024]
import { build } from "esbuild";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: o } = parseArgs({
  options: {
    cases: { type: "string", default: "100000" },
    seed: { type: "string", default: "1" },
    "load-every": { type: "string", default: "25" },
    timeout: { type: "string", default: "10000" },
    "memory-mb": { type: "string", default: "1024" },
  },
});
const total = Number(o.cases);
const seed = Number(o.seed);
const loadEvery = Number(o["load-every"]);
const timeoutMs = Number(o.timeout);

// The worker: the case generator and oracles, bundled from the TypeScript sources.
const dir = mkdtempSync(join(tmpdir(), "woolly-fuzz-"));
const workerFile = join(dir, "worker.mjs");
await build({
  stdin: {
    contents: `
      import { parentPort, workerData } from "node:worker_threads";
      import { readFileSync } from "node:fs";
      import { fuzzCase, parseOracle, loadOracle } from "./test/helpers/fuzz.ts";
      const seeds = workerData.seeds.map((p) => new Uint8Array(readFileSync(p)));
      parentPort.on("message", async ({ from, to }) => {
        for (let i = from; i < to; i++) {
          const c = fuzzCase(workerData.seed, i, seeds);
          parentPort.postMessage({ i, started: true });
          try {
            const parsed = parseOracle(c);
            const loaded = i % workerData.loadEvery === 0 ? await loadOracle(c) : null;
            parentPort.postMessage({ i, kind: c.kind, parsed, loaded });
          } catch (e) {
            parentPort.postMessage({ i, kind: c.kind, finding: String(e && e.message || e) });
          }
        }
        parentPort.postMessage({ done: true });
      });`,
    resolveDir: root,
    loader: "ts",
  },
  bundle: true,
  platform: "node",
  format: "esm",
  // Node 20 lacks Uint8Array.fromBase64, which esbuild emits for inlined binaries above es2022.
  target: "es2022",
  outfile: workerFile,
  loader: { ".wasm": "binary", ".txt": "text" },
  logLevel: "error",
});

const seeds = [
  "models/stories260K-Q8_0.gguf",
  "models/stories260K-Q4_0.gguf",
  "models/synth-llama-Q4_K.gguf",
  "archs/models/synth-lfm2-Q8_0.gguf",
  "archs/models/synth-gemma3-Q8_0.gguf",
].map((f) => join(root, "..", "shared", "fixtures", f));
const outcomes = new Map();
const findings = [];
const t0 = Date.now();
let next = 0;

/** Run cases [from, to) in one worker; resolves with the index to continue from (past a hang or crash). */
function runBatch(from, to) {
  return new Promise((resolve) => {
    const w = new Worker(workerFile, { workerData: { seed, seeds, loadEvery }, resourceLimits: { maxOldGenerationSizeMb: Number(o["memory-mb"]) } });
    let current = from;
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        findings.push({ i: current, what: `no answer within ${timeoutMs} ms (a hang)` });
        void w.terminate();
      }, timeoutMs);
    };
    w.on("message", (m) => {
      arm();
      if (m.done) {
        clearTimeout(timer);
        void w.terminate();
        return;
      }
      current = m.i;
      if (m.started) return;
      if (m.finding) findings.push({ i: m.i, what: m.finding, kind: m.kind });
      else {
        const key = `${m.parsed}${m.loaded ? ` / load: ${m.loaded}` : ""}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
      if ((m.i + 1) % 5000 === 0) process.stderr.write(`fuzz: ${m.i + 1} cases, ${findings.length} findings, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    });
    w.on("error", (e) => findings.push({ i: current, what: `worker died: ${e.message}` }));
    w.on("exit", () => {
      clearTimeout(timer);
      resolve(current + 1);
    });
    arm();
    w.postMessage({ from, to });
  });
}

while (next < total) next = await runBatch(next, Math.min(total, next + 2000));

if (findings.length > 0) {
  const out = join(root, "fuzz-findings");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `seed-${seed}.json`), JSON.stringify(findings, null, 2));
}
const secs = ((Date.now() - t0) / 1000).toFixed(0);
process.stdout.write(`fuzz: ${total} cases (seed ${seed}, every ${loadEvery}th loaded too) in ${secs} s; ${findings.length} findings\n`);
for (const [k, n] of [...outcomes].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${String(n).padStart(7)}  ${k}\n`);
for (const f of findings.slice(0, 20)) process.stdout.write(`  finding: case ${f.i}${f.kind ? ` (${f.kind})` : ""}: ${f.what}\n`);
process.exitCode = findings.length > 0 ? 1 : 0;
