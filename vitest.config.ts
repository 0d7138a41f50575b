import { defineConfig } from "vitest/config";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { workerBuildOptions } from "./scripts/worker-options.mjs";

// Loads a `.wasm` import as its bytes, as esbuild's binary loader does in the published build.
const wasmBytes = {
  name: "woolly-wasm-bytes",
  enforce: "pre" as const,
  load(id: string) {
    if (!id.endsWith(".wasm")) return null;
    const b64 = readFileSync(id).toString("base64");
    return `export default Uint8Array.from(atob(${JSON.stringify(b64)}), (c) => c.charCodeAt(0));`;
  },
};

// build/worker.txt (the thread pool's worker script, imported as text) is bundled here from the
// TypeScript sources on every load, with the options scripts/build.mjs uses, so tests never run a
// stale worker.
const workerText = {
  name: "woolly-worker-text",
  enforce: "pre" as const,
  resolveId(source: string, importer: string | undefined) {
    if (!source.endsWith("/build/worker.txt") || !importer) return null;
    return resolve(dirname(importer), source);
  },
  load(id: string) {
    if (!id.endsWith("/build/worker.txt")) return null;
    const root = dirname(fileURLToPath(import.meta.url));
    const result = buildSync(workerBuildOptions(root));
    return `export default ${JSON.stringify(result.outputFiles[0].text)};`;
  },
};

export default defineConfig({
  plugins: [wasmBytes, workerText],
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
