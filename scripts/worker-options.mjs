// esbuild options of the thread pool's worker script: src/wasm/worker.ts as one self-contained script
// (no wasm inside; the modules and the memory arrive by postMessage), imported as text by
// src/wasm/pool.ts. scripts/build.mjs, vitest.config.ts and test/threads.test.ts all bundle it with
// these options, so every path runs the same worker.
import { join } from "node:path";

export function workerBuildOptions(root) {
  return {
    entryPoints: [join(root, "src/wasm/worker.ts")],
    bundle: true,
    format: "iife",
    target: "es2022",
    platform: "neutral",
    write: false,
    logLevel: "warning",
  };
}
