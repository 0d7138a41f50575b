// Builds Woolly: AssemblyScript kernels (baseline SIMD and relaxed SIMD), WAT modules, the
// thread-pool worker script (build/worker.txt), then the ESM bundles in dist/ with every .wasm and
// the worker script inlined, then the .d.ts files. (Each module's shared-memory form is derived at
// run time by flipping one flag byte: withSharedMemory in src/wasm/engine.ts.)
//   node scripts/build.mjs          everything
//   node scripts/build.mjs wasm     only build/* (what the tests need)
import { readFileSync, writeFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { workerBuildOptions } from "./worker-options.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const build = join(root, "build");
const only = process.argv[2];

/**
 * asconfig.json: -O3 without `converge`. Converge re-runs binaryen's optimizer until the module stops
 * shrinking, and keeps the LAST run even when that run grew it — which it did on every build of these
 * kernels ("Last converge was suboptimal": ~125 bytes larger than a single -O3 pass, the code otherwise
 * the same up to local and type numbering). One pass gives the smaller module, faster, and no message.
 */
async function buildAssemblyScript() {
  const asc = (await import("assemblyscript/asc")).default;
  for (const target of ["simd", "relaxed"]) {
    const { error, stderr } = await asc.main(
      ["--config", join(root, "asconfig.json"), "--target", target],
      { stdout: process.stdout, stderr: process.stderr },
    );
    if (error) throw new Error(`asc (${target}) failed: ${error.message}\n${stderr.toString()}`);
  }
}

/** Each wat/*.wat names its features in a header line `;; Features: simd, relaxed_simd`. */
async function buildWat() {
  const wabt = await (await import("wabt")).default();
  for (const file of readdirSync(join(root, "wat")).filter((f) => f.endsWith(".wat"))) {
    const text = readFileSync(join(root, "wat", file), "utf8");
    const header = /^;; Features:(.*)$/m.exec(text);
    if (!header) throw new Error(`wat/${file}: missing ';; Features:' header line`);
    const features = Object.fromEntries(
      header[1].split(",").map((f) => f.trim()).filter(Boolean).map((f) => [f, true]),
    );
    const mod = wabt.parseWat(file, text, features);
    mod.resolveNames();
    // validate() takes the features too (wabt's defaults leave out e.g. relaxed_simd and threads).
    mod.validate(features);
    const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
    writeFileSync(join(build, basename(file, ".wat") + ".wasm"), buffer);
    mod.destroy();
  }
}

/**
 * The thread pool's worker (src/wasm/worker.ts) as one self-contained classic script, imported as
 * text by src/wasm/pool.ts and started from a Blob URL or `new Worker(code, { eval: true })`. No wasm
 * inside: the compiled modules and the memory arrive by postMessage. vitest.config.ts builds the
 * same script from the sources on the fly.
 */
async function buildWorker() {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({ ...workerBuildOptions(root), minify: true });
  writeFileSync(join(build, "worker.txt"), result.outputFiles[0].text);
}

async function bundle() {
  const esbuild = await import("esbuild");
  rmSync(join(root, "dist"), { recursive: true, force: true });
  const common = {
    bundle: true,
    format: "esm",
    // Node 20 lacks Uint8Array.fromBase64, which esbuild emits for inlined binaries above es2022.
    target: "es2022",
    loader: { ".wasm": "binary", ".txt": "text" },
    sourcemap: false,
    logLevel: "warning",
    absWorkingDir: root,
  };
  await esbuild.build({
    ...common,
    // worker.js: the module worker createWorkerModel() starts (src/browser/worker-entry.ts).
    entryPoints: { index: "src/index.ts", worker: "src/browser/worker-entry.ts" },
    outdir: "dist",
    platform: "neutral",
    // Reached only through dynamic import() where Worker/navigator are missing (Node): the bundle
    // stays Web-API-only for browsers.
    external: ["node:*"],
  });
  await esbuild.build({
    ...common,
    entryPoints: { node: "src/node.ts", cli: "src/cli/bin.ts", bench: "bench/main.ts" },
    outdir: "dist",
    platform: "node",
    packages: "external",
    banner: { js: "#!/usr/bin/env node" },
  });
  execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", join(root, "tsconfig.json")], { stdio: "inherit" });
}

mkdirSync(build, { recursive: true });
await buildAssemblyScript();
await buildWat();
await buildWorker();
if (only !== "wasm") await bundle();
