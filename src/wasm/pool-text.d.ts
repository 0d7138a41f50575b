// A `.txt` import is its text: build/worker.txt, the thread pool's worker script (esbuild's text
// loader in the build; vitest.config.ts bundles it from src/wasm/worker.ts under test).
declare module "*.txt" {
  const text: string;
  export default text;
}
