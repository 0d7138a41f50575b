import { defineConfig } from "vitest/config";
import { readFileSync } from "node:fs";

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

export default defineConfig({
  plugins: [wasmBytes],
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
