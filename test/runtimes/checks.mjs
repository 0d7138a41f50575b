// The checks every runtime runs on the BUILT package (dist/), shared by the Node/Deno/Bun driver
// (check.mjs) and the Chromium page (browser/check.html). Web APIs only, so it runs anywhere: the
// caller passes in how to load a model and how to read a llama.cpp reference file.

/** The bound the main parity test (test/parity.test.ts) uses; a runtime that needs more is a bug. */
export const MAX_RELATIVE_RMS = 1e-4;

/** Models every runtime loads: a SentencePiece story model (greedy text too) and a K-quant one. */
export const MODELS = ["stories260K-Q8_0", "synth-llama-Q4_K"];
export const PROMPT = "Once upon a time";

/** RMS of (got - reference) over all logits, relative to the reference logits' standard deviation. */
export function relativeRms(got, ref) {
  let se = 0;
  let sum = 0;
  let sum2 = 0;
  let n = 0;
  for (let t = 0; t < ref.prompt.length; t++) {
    for (let i = 0; i < ref.n_vocab; i++) {
      const r = ref.logits[t][i];
      se += (got[t][i] - r) ** 2;
      sum += r;
      sum2 += r * r;
      n++;
    }
  }
  return Math.sqrt(se / n) / Math.sqrt(sum2 / n - (sum / n) ** 2);
}

export function hex(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function hexToBytes(h) {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Run every check. `load(name, options)` returns a loaded Model, `reference(name)` the parsed
 * `<name>.p1.json`. `threads` lists the thread counts to try (an empty list: the option is not
 * passed at all). Returns a plain JSON-able report; `ok` is false when any check failed.
 */
export async function runChecks({ woolly, load, reference, threads = [], runtime }) {
  const report = {
    runtime,
    bestFlavour: woolly.bestFlavour(),
    features: woolly.detectFeatures(),
    crossOriginIsolated: typeof globalThis.crossOriginIsolated === "boolean" ? globalThis.crossOriginIsolated : null,
    runs: [],
    /** The split-model checks (checkSplit), apart from `runs` whose count the drivers check. */
    splitRuns: [],
    failures: [],
  };
  // Each engine's best kernels, and the baseline ones too where a relaxed build is best, so both are
  // proven in every engine that has both.
  const flavours = report.bestFlavour !== "simd" ? [report.bestFlavour, "simd"] : ["simd"];
  const threadOptions = threads.length === 0 ? [undefined] : threads;
  for (const name of MODELS) {
    const ref = await reference(name);
    for (const simd of flavours) {
      for (const t of threadOptions) {
        const run = { model: name, simd, threads: t ?? null };
        const fail = (what) => {
          report.failures.push(`${name} simd=${simd} threads=${t ?? "-"}: ${what}`);
        };
        const options = { contextLength: 256, simd };
        if (t !== undefined) options.threads = t;
        let model;
        try {
          const t0 = performance.now();
          model = await load(name, options);
          run.loadMs = Math.round(performance.now() - t0);
          run.modelSimd = model.simd;
          run.modelThreads = model.threads;
          if (model.simd !== simd) fail(`model.simd is ${model.simd}, asked for ${simd}`);
          if (t !== undefined && model.threads !== t) fail(`model.threads is ${model.threads}, asked for ${t}`);

          const ids = model.tokenize(PROMPT);
          if (JSON.stringify(ids) !== JSON.stringify(ref.prompt)) fail(`tokenize gave ${JSON.stringify(ids)}, llama.cpp ${JSON.stringify(ref.prompt)}`);
          const logits = await model.logits(ref.prompt);
          run.relativeRms = relativeRms(logits, ref);
          if (!(run.relativeRms < MAX_RELATIVE_RMS)) fail(`logits relative RMS ${run.relativeRms} ≥ ${MAX_RELATIVE_RMS}`);

          if (name.startsWith("stories260K")) {
            // Streamed, as a user reads it: the pieces must join to llama.cpp's greedy bytes.
            const g = model.generate(ref.prompt, { temperature: 0, maxTokens: ref.greedy.length, ignoreEos: true });
            let streamed = "";
            let pieces = 0;
            for await (const piece of g) {
              streamed += piece;
              pieces++;
            }
            const r = await g.result;
            run.pieces = pieces;
            run.decodeTokensPerSecond = Math.round(r.timings.decodeTokensPerSecond);
            const want = new TextDecoder().decode(hexToBytes(ref.greedy_bytes_hex));
            run.text = streamed;
            if (JSON.stringify(r.tokens) !== JSON.stringify(ref.greedy)) fail(`greedy tokens ${JSON.stringify(r.tokens)}, llama.cpp ${JSON.stringify(ref.greedy)}`);
            if (hex(model.tokenizer.detokenizeBytes(r.tokens)) !== ref.greedy_bytes_hex) fail("greedy bytes differ from llama.cpp's");
            if (streamed !== want) fail(`streamed text ${JSON.stringify(streamed)}, llama.cpp ${JSON.stringify(want)}`);
            if (r.text !== want) fail(`result.text ${JSON.stringify(r.text)}, llama.cpp ${JSON.stringify(want)}`);
          }
        } catch (e) {
          fail(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        } finally {
          model?.dispose();
        }
        report.runs.push(run);
      }
    }
  }
  await checkSplit({ load, report, threads: threadOptions, flavour: report.bestFlavour });
  report.ok = report.failures.length === 0;
  return report;
}

/**
 * Per-memory budget (InternalLoadOptions.maxMemoryBytes) that splits synth-llama-Q4_K (context 64,
 * batch 4) over three WebAssembly memories, as a model past 4 GiB is split.
 */
export const SPLIT_BUDGET = 600_000;
/** A thread pool's private output buffers per thread, reserved in every memory (src/wasm/pool.ts SCRATCH_BYTES). */
const POOL_SCRATCH_BYTES = 256 << 10;

/** A model split over several memories gives the logits of one memory, bit for bit, on each thread count. */
async function checkSplit({ load, report, threads, flavour }) {
  const name = "synth-llama-Q4_K";
  for (const t of threads) {
    const run = { model: `${name} split`, simd: flavour, threads: t ?? null };
    const fail = (what) => report.failures.push(`${name} split threads=${t ?? "-"}: ${what}`);
    const options = { contextLength: 64, batchSize: 4, simd: flavour, ...(t === undefined ? {} : { threads: t }) };
    let whole;
    let split;
    try {
      whole = await load(name, options);
      // The same split for any thread count: the pool's scratch comes on top of the budget.
      const pool = whole.threads > 1 ? whole.threads * POOL_SCRATCH_BYTES : 0;
      split = await load(name, { ...options, maxMemoryBytes: SPLIT_BUDGET + pool });
      run.memories = split.memories;
      run.modelThreads = split.threads;
      if (!(split.memories > 1)) fail(`loaded in ${split.memories} memory, not split`);
      const ids = whole.tokenize(PROMPT + " there was a little girl");
      const want = await whole.logits(ids);
      const got = await split.logits(ids);
      for (let i = 0; i < want.length; i++) {
        if (hex(new Uint8Array(got[i].buffer, got[i].byteOffset, got[i].byteLength)) !== hex(new Uint8Array(want[i].buffer, want[i].byteOffset, want[i].byteLength))) {
          fail(`logits at position ${i} differ from one memory's`);
          break;
        }
      }
    } catch (e) {
      fail(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    } finally {
      whole?.dispose();
      split?.dispose();
    }
    report.splitRuns.push(run);
  }
}
