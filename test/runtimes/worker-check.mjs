// createWorkerModel() — the engine in a Web Worker of its own — outside a browser: Deno has module
// workers. Loads stories260K from bytes, streams llama.cpp's greedy text, aborts a long generation.
//   deno run --allow-read test/runtimes/worker-check.mjs --fixtures DIR [--threads N]
// Prints `WOOLLY-WORKER-REPORT {json}`; exits 1 when a check failed.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const fixtures = opt("--fixtures") ?? fileURLToPath(new URL("../../../shared/fixtures/", import.meta.url));
const threads = opt("--threads") === undefined ? undefined : Number(opt("--threads"));
const { createWorkerModel } = await import(new URL("../../dist/index.js", import.meta.url).href);

const failures = [];
const ref = JSON.parse(await readFile(`${fixtures}/reference/stories260K-Q8_0.p1.json`, "utf8"));
const want = new TextDecoder().decode(Uint8Array.from(ref.greedy_bytes_hex.match(/../g), (h) => parseInt(h, 16)));
const bytes = new Uint8Array(await readFile(`${fixtures}/models/stories260K-Q8_0.gguf`));
let progressCalls = 0;
const options = { contextLength: 2048, onProgress: () => progressCalls++ };
if (threads !== undefined) options.threads = threads;
const model = await createWorkerModel(bytes, options);
const report = { simd: model.simd, threads: model.threads, progressCalls };
if (threads !== undefined && model.threads !== threads) failures.push(`threads ${model.threads}, asked for ${threads}`);
if (progressCalls === 0) failures.push("onProgress was never called");

const tokens = await model.tokenize("Once upon a time");
if (JSON.stringify(tokens) !== JSON.stringify(ref.prompt)) failures.push(`tokenize gave ${JSON.stringify(tokens)}`);

let text = "";
const g = model.generate("Once upon a time", { temperature: 0, maxTokens: ref.greedy.length });
for await (const piece of g) text += piece;
const r = await g.result;
if (text !== want || r.text !== want) failures.push(`greedy text ${JSON.stringify(text)}, llama.cpp ${JSON.stringify(want)}`);
if (JSON.stringify(r.tokens) !== JSON.stringify(ref.greedy)) failures.push(`greedy tokens ${JSON.stringify(r.tokens)}`);

// Seed 1 at temperature 0.8 runs to the full context without end-of-text: only the abort ends it.
const controller = new AbortController();
const long = model.generate("Once upon a time", { temperature: 0.8, seed: 1, maxTokens: 2000, signal: controller.signal });
let pieces = 0;
for await (const _piece of long) if (++pieces === 3) controller.abort();
report.abortedAfter = pieces;
const finish = (await long.result).finishReason;
if (finish !== "aborted") failures.push(`finishReason ${finish} after abort`);

model.dispose();
let disposedError = "";
try {
  await model.complete("Once", { maxTokens: 1 });
} catch (e) {
  disposedError = e.kind;
}
if (disposedError !== "disposed") failures.push(`a call after dispose() gave ${JSON.stringify(disposedError)}, not kind "disposed"`);

Object.assign(report, { ok: failures.length === 0, failures });
console.log(`WOOLLY-WORKER-REPORT ${JSON.stringify(report)}`);
process.exit(report.ok ? 0 : 1);
