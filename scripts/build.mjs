// Builds Woolly: AssemblyScript kernels (baseline SIMD and relaxed SIMD), WAT modules, then the
// ESM bundles in dist/ with every .wasm inlined, then the .d.ts files.
//   node scripts/build.mjs          everything
//   node scripts/build.mjs wasm     only build/*.wasm (what the tests need)
import { readFileSync, writeFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const build = join(root, "build");
const only = process.argv[2];

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
    mod.validate();
    const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
    writeFileSync(join(build, basename(file, ".wat") + ".wasm"), buffer);
    mod.destroy();
  }
}

async function bundle() {
  const esbuild = await import("esbuild");
  rmSync(join(root, "dist"), { recursive: true, force: true });
  const common = {
    bundle: true,
    format: "esm",
    // Node 20 lacks Uint8Array.fromBase64, which esbuild emits for inlined binaries above es2022.
    target: "es2022",
    loader: { ".wasm": "binary" },
    sourcemap: false,
    logLevel: "warning",
    absWorkingDir: root,
  };
  await esbuild.build({
    ...common,
    entryPoints: { index: "src/index.ts" },
    outdir: "dist",
    platform: "neutral",
  });
  await esbuild.build({
    ...common,
    entryPoints: { node: "src/node.ts", cli: "src/cli/main.ts", bench: "bench/main.ts" },
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
if (only !== "wasm") await bundle();
