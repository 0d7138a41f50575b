// The JS↔WASM boundary: the type of every function the kernel modules export. Each area of the
// kernels declares its own interface here; test/wasm.test.ts checks that every name declared in
// EXPORT_NAMES exists in both builds, so this file and assembly/ cannot drift apart silently.
// Pointers are byte offsets into the one linear memory (numbers); lengths count elements.

/** assembly/arena.ts */
export interface ArenaExports {
  arena_base(): number;
  arena_top(): number;
  arena_reset(): void;
  arena_available(): number;
  arena_alloc(size: number, align: number): number;
  arena_mark(): number;
  arena_release(mark: number): void;
}

/** Every export of the AssemblyScript kernels module. */
export type KernelExports = ArenaExports;

/** wat/bandwidth.wat */
export interface BandwidthExports {
  stream_sum_f32(ptr: number, n: number): number;
}

/** Names checked against the built modules (test/wasm.test.ts). */
export const EXPORT_NAMES = {
  kernels: [
    "arena_base", "arena_top", "arena_reset", "arena_available", "arena_alloc", "arena_mark", "arena_release",
  ] satisfies (keyof KernelExports)[],
  bandwidth: ["stream_sum_f32"] satisfies (keyof BandwidthExports)[],
};
