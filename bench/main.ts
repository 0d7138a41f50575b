// `woolly-bench`: Woolly's benchmarks.
//   woolly-bench [kernels] [--formats Q4_0,Q4_K] [--shapes 4096x4096] [--positions 512,2048] [--simd auto|simd|relaxed-nofma|relaxed] [--quick] [--json]
//   woolly-bench e2e [--mix Q4_K_M,Q8_0,Q4_0] [--shape tinyllama-1.1b,qwen3-0.6b,…|all] [--model FILE.gguf …] [--runs N] [--threads 1,2] [--prefill 64,512]
//                    [--decode N] [--decode-after N] [--kv f16,q8_0] [--json]
import { cpus, totalmem } from "node:os";
import { parseArgs, numberOption } from "../src/cli/args.js";
import { chooseFlavour, createEngine } from "../src/wasm/engine.js";
import { detectFeatures } from "../src/wasm/features.js";
import { ALL_FORMATS, BenchCheckError, benchKernels, DEFAULT_SHAPES, measureBandwidth, type KernelResult } from "./kernels.js";
import { benchModel, E2eCheckError, type E2eResult } from "./e2e.js";
import { MIXTURES, synthesizeModel, type Mixture } from "./synth.js";
import { LARGE_SHAPES, SHAPES, shapeByName, TINYLLAMA } from "./shapes.js";
import { WoollyError } from "../src/errors.js";
import { KV_TYPES, type KvType } from "../src/model/kv-cache.js";

const out = (s: string) => process.stdout.write(s + "\n");

function machine(): string {
  const c = cpus();
  // fusedDot: the relaxed builds take their dot-add forms (one AVX-VNNI instruction here)
  const dot = detectFeatures().fusedDot ? ", dot-add kernels" : "";
  return `${c[0]?.model ?? "unknown CPU"}, ${c.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.release.name} ${process.version}${dot}`;
}

function pad(s: string | number, n: number): string {
  return String(s).padStart(n);
}

async function kernels(argv: string[]): Promise<void> {
  const args = parseArgs(argv, [
    { name: "formats" }, { name: "shapes" }, { name: "simd" }, { name: "quick", flag: true }, { name: "json", flag: true },
    { name: "samples" }, { name: "positions" },
  ]);
  const quick = args.flags.has("quick");
  const simdArg = simdChoice(args.values.get("simd"));
  const simd = chooseFlavour(simdArg);
  const formats = args.values.get("formats")?.split(",").map((s) => s.trim().toUpperCase()) ?? ALL_FORMATS;
  const shapes = args.values.get("shapes")?.split(",").map((s) => {
    const [r, c] = s.split("x").map(Number);
    if (!Number.isInteger(r) || !Number.isInteger(c) || r < 1 || c < 1) throw new BenchCheckError(`--shapes takes ROWSxCOLS, e.g. 4096x4096; got ${s}`);
    return [r, c] as const;
  }) ?? (quick ? [[4096, 4096] as const] : DEFAULT_SHAPES);
  const attentionPositions = args.values.get("positions")?.split(",").map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new BenchCheckError(`--positions takes cached positions for the attention bench, e.g. 512,2048 (0 for none); got ${s}`);
    return n;
  }).filter((n) => n > 0) ?? (quick ? [2048] : [512, 2048, 8192]);
  const json = args.flags.has("json");
  const samples = numberOption(args, "samples") ?? (quick ? 3 : 5);
  if (!json) {
    out(`woolly-bench kernels — ${machine()}, ${simd} kernels, one thread, median of ${samples}`);
    out(`weights cycle through ≥96 MiB per pass (more than the L3 cache), as in a model`);
    if (attentionPositions.length) out(`attn: TinyLlama's 32 heads over 4 KV heads of 64, one token over n positions; vs naive = vs the scalar twin`);
  }
  let header = false;
  for (const r of benchKernels({ simd, formats, shapes, matmulColumns: [8, 32, 128], matmulShape: shapes[0], samples, minMs: quick ? 60 : 150, attentionPositions })) {
    if (json) {
      out(JSON.stringify(r));
      continue;
    }
    if (r.bench === "bandwidth") {
      out(`memory bandwidth (v128 streaming sum of 256 MiB): ${r.gbPerS.toFixed(1)} GB/s\n`);
      continue;
    }
    if (!header) {
      out(`${"format".padEnd(7)} ${"shape".padEnd(11)} ${"variant".padEnd(10)} ${pad("ms", 9)} ${pad("GB/s", 7)} ${pad("of bw", 6)} ${pad("vs naive", 8)} ${pad("cols/s", 9)} ${pad("vs matvec", 9)}`);
      header = true;
    }
    const k = r as KernelResult;
    out(
      `${k.format.padEnd(7)} ${k.shape.padEnd(11)} ${k.variant.padEnd(10)} ${pad(k.ms.toFixed(3), 9)} ${pad(k.gbPerS.toFixed(2), 7)} ` +
        `${pad((k.ratioToBandwidth * 100).toFixed(0) + "%", 6)} ${pad(k.ratioToNaive === null ? "" : k.ratioToNaive.toFixed(2) + "x", 8)} ` +
        `${pad(k.tokensPerS === undefined ? "" : k.tokensPerS.toFixed(0), 9)} ${pad(k.speedupOverMatvec === undefined ? "" : k.speedupOverMatvec.toFixed(2) + "x", 9)}`,
    );
  }
}

async function e2e(argv: string[]): Promise<void> {
  const args = parseArgs(argv, [
    { name: "mix" }, { name: "model" }, { name: "runs" }, { name: "json", flag: true }, { name: "simd" }, { name: "decode" }, { name: "threads" }, { name: "prefill" },
    { name: "shape" }, { name: "kv" }, { name: "decode-after" },
  ]);
  const json = args.flags.has("json");
  const runs = numberOption(args, "runs") ?? 3;
  const simdArg = simdChoice(args.values.get("simd"));
  const list = (name: string): number[] | undefined =>
    args.values.get(name)?.split(",").map((s) => {
      const v = Number(s);
      if (!Number.isInteger(v) || v < 1) throw new BenchCheckError(`--${name} takes positive integers separated by commas; got ${s}`);
      return v;
    });
  const threadCounts: (number | undefined)[] = list("threads") ?? [undefined];
  const kvTypes: (KvType | undefined)[] = args.values.get("kv")?.split(",").map((s) => {
    const t = KV_TYPES.find((k) => k === s);
    if (t === undefined) throw new BenchCheckError(`--kv takes ${KV_TYPES.join(", ")} separated by commas; got ${s}`);
    return t;
  }) ?? [undefined];
  const options = {
    prefillLengths: list("prefill") ?? [64, 512], decodeTokens: numberOption(args, "decode") ?? 32, runs, simd: simdArg, decodeAfter: numberOption(args, "decode-after"),
  } as const;
  const models: [string, string, string][] = [];
  const given = args.values.get("model");
  if (given) for (const p of given.split(",")) models.push([p, p.split("/").pop() ?? p, "file"]);
  const shapeArg = args.values.get("shape");
  const shapes = !shapeArg ? [TINYLLAMA] : shapeArg === "all" ? SHAPES : shapeArg.split(",").map((n) => {
    const s = shapeByName(n);
    if (!s) throw new BenchCheckError(`--shape takes all or ${[...SHAPES, ...LARGE_SHAPES].map((x) => x.name.replace(/-shapes$/, "")).join(", ")}; got ${n}`);
    return s;
  });
  const mixArg = args.values.get("mix")?.split(",");
  for (const m of mixArg ?? []) {
    if (!(MIXTURES as readonly string[]).includes(m)) throw new BenchCheckError(`--mix takes ${MIXTURES.join(", ")}; got ${m}`);
  }
  for (const m of MIXTURES) {
    for (const shape of shapes) {
      const wanted = mixArg ?? (given ? [] : (shape.mixes ?? MIXTURES));
      if (!wanted.includes(m)) continue;
      if (!json) out(`synthesizing ${shape.name} ${m} (random weights; cached in the temp folder)…`);
      models.push([synthesizeModel(shape, m), shape.name, m]);
    }
  }
  if (!json) out(`woolly-bench e2e — ${machine()}, median of ${runs}`);
  for (const [path, label, weights] of models) {
    for (const threads of threadCounts) {
      for (const kvType of kvTypes) {
        for await (const r of benchModel(path, label, weights, { ...options, threads, kvType })) {
          if (json) out(JSON.stringify(r));
          else out(formatE2e(r));
        }
      }
    }
  }
}

/** `woolly-bench synth --shape S --mix M`: write (once) the synthesized model and print its path (for bench:native). */
function synth(argv: string[]): void {
  const args = parseArgs(argv, [{ name: "shape" }, { name: "mix" }]);
  const shape = shapeByName(args.values.get("shape") ?? TINYLLAMA.name);
  if (!shape) throw new BenchCheckError(`--shape takes ${SHAPES.map((x) => x.name.replace(/-shapes$/, "")).join(", ")}`);
  const mix = args.values.get("mix") ?? "Q4_K_M";
  if (!(MIXTURES as readonly string[]).includes(mix)) throw new BenchCheckError(`--mix takes ${MIXTURES.join(", ")}; got ${mix}`);
  out(synthesizeModel(shape, mix as Mixture));
}

const SIMD_CHOICES = ["auto", "simd", "relaxed-nofma", "relaxed"] as const;

/** The --simd value: a kernel build, or auto (the default). */
function simdChoice(value: string | undefined): (typeof SIMD_CHOICES)[number] {
  const v = value ?? "auto";
  const choice = SIMD_CHOICES.find((c) => c === v);
  if (!choice) throw new BenchCheckError(`--simd must be one of ${SIMD_CHOICES.join(", ")}; got ${v}`);
  return choice;
}

/** `woolly-bench bandwidth`: the one-thread v128 streaming read in GB/s, the yardstick every speed figure sits beside. */
function bandwidth(argv: string[]): void {
  const args = parseArgs(argv, [{ name: "simd" }]);
  const simd = simdChoice(args.values.get("simd"));
  out(measureBandwidth(createEngine({ simd }), 7, 300).toFixed(2));
}

function formatE2e(r: E2eResult): string {
  const memories = r.memories > 1 ? ` in ${r.memories} memories` : "";
  const after = r.phase === "decode" ? ` after ${r.context}` : "";
  return `${r.model} ${r.weights.padEnd(7)} ${r.simd.padEnd(7)} ${r.threads} thread${r.threads > 1 ? "s" : " "} kv ${r.kvType.padEnd(4)} ${r.phase.padEnd(7)} ${pad(r.tokens, 4)} tokens${after} ` +
    `${pad(r.tokensPerS.toFixed(2), 8)} tokens/s   KV ${(r.kvCacheBytes / 2 ** 20).toFixed(1)} MiB, loaded in ${r.loadSeconds.toFixed(1)} s, wasm memory ${(r.wasmMemoryBytes / 2 ** 20).toFixed(0)} MiB${memories}, ` +
    `peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB (file ${(r.fileBytes / 2 ** 20).toFixed(0)} MiB)`;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd.startsWith("-")) await kernels(argv);
    else if (cmd === "kernels") await kernels(rest);
    else if (cmd === "e2e") await e2e(rest);
    else if (cmd === "synth") synth(rest);
    else if (cmd === "bandwidth") bandwidth(rest);
    else {
      process.stderr.write(`woolly-bench: unknown benchmark "${cmd}" (kernels, e2e, synth, bandwidth)\n`);
      return 2;
    }
    return 0;
  } catch (e) {
    if (e instanceof BenchCheckError || e instanceof E2eCheckError || e instanceof WoollyError) {
      process.stderr.write(`woolly-bench: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = await main(process.argv.slice(2));
