// A `.wasm` import is its bytes: esbuild's binary loader in the build, a small plugin in vitest.
declare module "*.wasm" {
  const bytes: Uint8Array<ArrayBuffer>;
  export default bytes;
}
