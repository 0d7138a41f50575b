// Builds Woolly: AssemblyScript kernels (baseline SIMD and relaxed SIMD), WAT modules, the
// thread-pool worker script (build/worker.txt), then the ESM bundles in dist/ with every .wasm, the
// worker script and the npm dependencies inlined, then the .d.ts files. (Each module's shared-memory form is derived at
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
  for (const target of ["simd", "relaxed-nofma", "relaxed"]) {
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

/**
 * The dependency rule: every entry INLINES its npm dependencies (today only @huggingface/jinja);
 * dist/ imports nothing but its own files and `node:*` built-ins, and package.json has no runtime
 * dependencies. Every way the package is used then resolves the same files with nothing to look
 * up: `import "woolly"` in Node, Deno's `npm:woolly/node` or a script importing dist/node.js by path
 * (no bare specifier for Deno to resolve), Bun, a page loading dist/index.js straight from a server
 * or CDN with no bundler or import map (as examples/browser does), and a page built by a bundler.
 * The cost: a user who also uses @huggingface/jinja gets a second copy of it, and a jinja fix needs a
 * Woolly release. test/packaging.test.ts checks the rule on the packed package.
 *
 * All entries are one build with code splitting, so what they share — the engine, the inlined
 * kernels, jinja — is one chunk file: a Node user importing both "woolly" and "woolly/node" loads
 * one copy, and `instanceof` works across the two. Chunks sit beside the entries in dist/, so
 * `new URL("./worker.js", import.meta.url)` means dist/worker.js from whichever file it ends up in.
 */
async function bundle() {
  const esbuild = await import("esbuild");
  rmSync(join(root, "dist"), { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: {
      index: "src/index.ts",
      // worker.js: the module worker createWorkerModel() starts (src/browser/worker-entry.ts).
      worker: "src/browser/worker-entry.ts",
      node: "src/node.ts",
      cli: "src/cli/bin.ts",
      bench: "bench/main.ts",
    },
    outdir: "dist",
    chunkNames: "chunk-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    // Neutral: no runtime's conditions or globals assumed; the Node-only entries import node:*
    // built-ins statically, and index.js reaches them only through dynamic import() where
    // Worker/navigator are missing (Node), so what a page loads stays Web-API-only.
    platform: "neutral",
    external: ["node:*"],
    // Node 20 lacks Uint8Array.fromBase64, which esbuild emits for inlined binaries above es2022.
    target: "es2022",
    loader: { ".wasm": "binary", ".txt": "text" },
    sourcemap: false,
    metafile: true,
    logLevel: "warning",
    absWorkingDir: root,
  });
  // Only the executables get a shebang (a banner would put one on every chunk a page loads).
  for (const bin of ["cli.js", "bench.js"]) {
    const file = join(root, "dist", bin);
    writeFileSync(file, "#!/usr/bin/env node\n" + readFileSync(file, "utf8"));
  }
  writeNotices(Object.keys(result.metafile.inputs));
  execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", join(root, "tsconfig.json")], { stdio: "inherit" });
}

/** The licences of the inlined packages (their dist files carry none), in dist/THIRD-PARTY-NOTICES.txt. */
function writeNotices(inputs) {
  // Package folder of each input under a node_modules (relative to root; maybe through a symlink).
  const packages = new Map();
  for (const input of inputs) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) packages.set(m[1], join(root, input.slice(0, m.index + m[0].length)));
  }
  const notices = [...packages].sort(([a], [b]) => a.localeCompare(b)).map(([name, dir]) => {
    const { version, license } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
    if (!file) throw new Error(`${name}: inlined into dist/ but has no licence file to copy`);
    return `${name}@${version} (${license})\n\n${readFileSync(join(dir, file), "utf8").trim()}\n`;
  });
  writeFileSync(
    join(root, "dist", "THIRD-PARTY-NOTICES.txt"),
    `Packages inlined into these bundles:\n\n${notices.join("\n" + "-".repeat(72) + "\n\n")}`,
  );
}

mkdirSync(build, { recursive: true });
await buildAssemblyScript();
await buildWat();
await buildWorker();
if (only !== "wasm") await bundle();
