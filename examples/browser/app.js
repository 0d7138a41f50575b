// The browser example: pick a GGUF file, watch it load, stream text with live tokens/s, stop at will.
// The model runs in Woolly's own Web Worker (createWorkerModel), so this page never blocks. Served
// by `npm run example`, which sends the COOP/COEP headers threads need. In your own app, import
// from "woolly" instead of the built file.
import { createWorkerModel, bestFlavour } from "/dist/index.js";

const $ = (id) => document.getElementById(id);
const fileInput = $("file");
const threadsSelect = $("threads");
const progress = $("progress");
const modelStatus = $("model-status");
const generateButton = $("generate");
const stopButton = $("stop");
const stats = $("stats");
const promptText = document.querySelector(".prompt-text");
const generated = $("generated");

const isolated = globalThis.crossOriginIsolated === true;
const cores = navigator.hardwareConcurrency || 1;
// Threads share one WebAssembly memory, which needs SharedArrayBuffer: only on an isolated page.
const maxThreads = isolated ? Math.min(cores, 8) : 1;
for (let t = 1; t <= maxThreads; t++) threadsSelect.add(new Option(String(t), String(t)));
threadsSelect.value = String(maxThreads);
threadsSelect.disabled = maxThreads === 1;
$("env").textContent =
  `WebAssembly ${bestFlavour() === "relaxed" ? "relaxed SIMD" : bestFlavour() === "simd" ? "SIMD" : "without SIMD (unsupported)"} · ` +
  `${cores} cores · ${isolated ? "cross-origin isolated: threads available" : "not cross-origin isolated: one thread"}`;

let model;
let running;

const mib = (n) => (n / 1048576).toFixed(1);

function setStatus(text, error = false) {
  modelStatus.textContent = text;
  modelStatus.classList.toggle("error", error);
}

fileInput.addEventListener("change", async () => {
  const file = fileInput.files?.[0];
  if (!file) return;
  running?.abort();
  model?.dispose();
  model = undefined;
  generateButton.disabled = true;
  progress.value = 0;
  setStatus(`Loading ${file.name} (${mib(file.size)} MiB)…`);
  const t0 = performance.now();
  try {
    model = await createWorkerModel(file, {
      threads: Number(threadsSelect.value),
      contextLength: Number($("context").value) || undefined,
      onProgress: ({ loadedBytes, totalBytes }) => {
        progress.value = totalBytes ? loadedBytes / totalBytes : 1;
        setStatus(`Loading ${file.name}: ${mib(loadedBytes)} / ${mib(totalBytes)} MiB`);
      },
    });
    progress.value = 1;
    const c = model.config;
    setStatus(
      `${file.name}: ${c.name || c.arch}, ${c.nLayers} layers, dim ${c.dim}, vocab ${c.nVocab}, context ${model.contextLength} · ` +
        `${model.simd === "relaxed" ? "relaxed SIMD" : "SIMD"}, ${model.threads} thread${model.threads === 1 ? "" : "s"} · ` +
        `loaded in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
    );
    generateButton.disabled = false;
  } catch (e) {
    setStatus(`Could not load ${file.name}: ${e.message}`, true);
  }
});

generateButton.addEventListener("click", async () => {
  if (!model) return;
  const prompt = $("prompt").value;
  const seed = $("seed").value;
  const controller = new AbortController();
  running = controller;
  generateButton.disabled = true;
  stopButton.disabled = false;
  promptText.textContent = prompt;
  generated.textContent = "";
  stats.textContent = "prefill…";
  const options = {
    maxTokens: Number($("max-tokens").value) || 128,
    temperature: Number($("temperature").value),
    signal: controller.signal,
  };
  if (seed !== "") options.seed = Number(seed);
  let pieces = 0;
  let first = 0;
  try {
    const g = model.generate(prompt, options);
    for await (const piece of g) {
      // Decode speed counts from the first piece: before it is the prompt's prefill.
      if (pieces === 0) first = performance.now();
      pieces++;
      generated.textContent += piece;
      const s = (performance.now() - first) / 1000;
      stats.textContent = `${pieces} tokens · ${s > 0 ? ((pieces - 1) / s).toFixed(1) : "–"} tokens/s`;
    }
    const r = await g.result;
    const t = r.timings;
    stats.textContent =
      `${r.tokens.length} tokens · ${t.decodeTokensPerSecond.toFixed(1)} tokens/s · ` +
      `prompt ${r.promptTokens} at ${t.prefillTokensPerSecond.toFixed(1)} tokens/s · ${r.finishReason}`;
    stats.dataset.finish = r.finishReason;
  } catch (e) {
    stats.textContent = `error: ${e.message}`;
    stats.dataset.finish = "error";
  } finally {
    running = undefined;
    generateButton.disabled = false;
    stopButton.disabled = true;
  }
});

stopButton.addEventListener("click", () => running?.abort());
