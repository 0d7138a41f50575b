// `npm run bench:native`: native llama.cpp's llama-bench and `woolly-bench e2e` on the same synthesized GGUF,
// back to back, with the ratios and this machine's streaming-read bandwidth beside them. Not part of CI.
//
// llama-bench is built once from the llama.cpp source the node-llama-cpp npm package ships
// (llama/gitRelease.bundle, llama.cpp of Sep 2026 in 3.22.1): CPU only, -DGGML_NATIVE=ON, Release, into a
// cache outside the repository (WOOLLY_NATIVE_CACHE, default ~/.cache/woolly/native-<version>). About 15
// minutes on 2 cores the first time.
//
//   npm run bench:native -- [--shape tinyllama-1.1b] [--mix Q4_K_M,Q4_0,Q8_0] [--threads 1,2]
//                           [--prefill 64,512] [--decode 64] [--runs 3] [--node PATH] [--json]
// --node runs Woolly under another Node (e.g. test/runtimes/node_modules/.bin/node, Node 24, for the
// relaxed-SIMD kernels); the default is the Node running this script.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const NODE_LLAMA_CPP = "3.22.1";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opt } = parseArgs({
  options: {
    shape: { type: "string", default: "tinyllama-1.1b" },
    mix: { type: "string", default: "Q4_K_M,Q4_0,Q8_0" },
    threads: { type: "string", default: "1,2" },
    prefill: { type: "string", default: "64,512" },
    decode: { type: "string", default: "64" },
    runs: { type: "string", default: "3" },
    node: { type: "string", default: process.execPath },
    json: { type: "boolean", default: false },
  },
});
const log = (s) => process.stderr.write(s + "\n");
const run = (cmd, args, options = {}) => execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26, ...options });

/** Build (once) llama-bench from node-llama-cpp's bundled llama.cpp source; returns its path. */
function llamaBench() {
  const cache = process.env.WOOLLY_NATIVE_CACHE ?? join(homedir(), ".cache", "woolly", `native-${NODE_LLAMA_CPP}`);
  const bin = join(cache, "build", "bin", "llama-bench");
  if (existsSync(bin)) return bin;
  mkdirSync(cache, { recursive: true });
  const src = join(cache, "llama.cpp");
  if (!existsSync(join(src, "CMakeLists.txt"))) {
    log(`bench:native: fetching node-llama-cpp@${NODE_LLAMA_CPP} from the npm registry for its llama.cpp source…`);
    const pack = join(cache, "pack");
    rmSync(pack, { recursive: true, force: true });
    mkdirSync(pack);
    run("npm", ["pack", `node-llama-cpp@${NODE_LLAMA_CPP}`, "--silent"], { cwd: pack });
    const tgz = readdirSync(pack).find((f) => f.endsWith(".tgz"));
    run("tar", ["-xzf", tgz, "package/llama/gitRelease.bundle"], { cwd: pack });
    rmSync(src, { recursive: true, force: true });
    run("git", ["clone", "--quiet", join(pack, "package", "llama", "gitRelease.bundle"), src]);
    rmSync(pack, { recursive: true, force: true });
  }
  log("bench:native: building llama-bench (CPU, GGML_NATIVE=ON; about 15 minutes on 2 cores, once)…");
  const build = join(cache, "build");
  run("cmake", ["-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON", "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DBUILD_SHARED_LIBS=OFF"], { stdio: "inherit" });
  run("cmake", ["--build", build, "--target", "llama-bench", "-j", String(Math.max(1, (run("nproc", []) | 0)))], { stdio: "inherit" });
  if (!existsSync(bin)) throw new Error(`the build finished without ${bin}`);
  return bin;
}

const bench = join(root, "dist", "bench.js");
if (!existsSync(bench)) run(process.execPath, [join(root, "scripts", "build.mjs")], { stdio: "inherit" });
const native = llamaBench();
const bandwidth = Number(run(opt.node, [bench, "bandwidth"]).trim());
const rows = [];
for (const mix of opt.mix.split(",")) {
  const model = run(process.execPath, [bench, "synth", "--shape", opt.shape, "--mix", mix]).trim();
  log(`bench:native: ${mix}: llama-bench on ${model}…`);
  const nat = JSON.parse(run(native, ["-m", model, "-p", opt.prefill, "-n", opt.decode, "-t", opt.threads, "-r", opt.runs, "-o", "json"]));
  log(`bench:native: ${mix}: woolly-bench e2e on the same file…`);
  const w = spawnSync(opt.node, [bench, "e2e", "--model", model, "--threads", opt.threads, "--prefill", opt.prefill,
    "--decode", opt.decode, "--runs", opt.runs, "--json"], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (w.status !== 0) throw new Error(`woolly-bench e2e failed: ${w.stderr}`);
  const woolly = w.stdout.trim().split("\n").map((l) => JSON.parse(l));
  for (const r of woolly) {
    const phase = r.phase;
    const n = nat.find((x) => x.n_threads === r.threads && (phase === "decode" ? x.n_gen === r.tokens && x.n_prompt === 0 : x.n_prompt === r.tokens && x.n_gen === 0));
    rows.push({ mix, threads: r.threads, simd: r.simd, phase, tokens: r.tokens, woolly: r.tokensPerS, native: n?.avg_ts ?? null, ratio: n ? r.tokensPerS / n.avg_ts : null });
  }
}
if (opt.json) {
  for (const r of rows) process.stdout.write(JSON.stringify({ ...r, shape: opt.shape, bandwidthGBs: bandwidth }) + "\n");
} else {
  const pad = (s, n) => String(s).padStart(n);
  process.stdout.write(`${opt.shape}, medians of ${opt.runs} (llama-bench: mean of ${opt.runs}); one-thread v128 streaming read ${bandwidth.toFixed(1)} GB/s\n`);
  process.stdout.write(`${"weights".padEnd(8)} ${"simd".padEnd(8)} thr ${"phase".padEnd(12)} ${pad("woolly t/s", 11)} ${pad("native t/s", 11)} ${pad("ratio", 6)}\n`);
  for (const r of rows) {
    process.stdout.write(`${r.mix.padEnd(8)} ${r.simd.padEnd(8)} ${pad(r.threads, 3)} ${`${r.phase} ${r.tokens}`.padEnd(12)} ${pad(r.woolly.toFixed(2), 11)} ` +
      `${pad(r.native === null ? "-" : r.native.toFixed(2), 11)} ${pad(r.ratio === null ? "-" : r.ratio.toFixed(2), 6)}\n`);
  }
}
