// The JS↔WASM boundary: the type of every function the kernel modules export. Each area of the
// kernels declares its interface and its list of names in a file of its own (exports-*.ts);
// test/wasm.test.ts checks every listed name against both builds, so the TypeScript side and
// assembly/ cannot drift apart silently. Pointers are byte offsets into the one linear memory;
// lengths count elements.
import { QUANT_EXPORT_NAMES, type QuantExports } from "./exports-quant.js";
import { OPS_EXPORT_NAMES, type OpsExports } from "./exports-ops.js";

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
export type KernelExports = ArenaExports & QuantExports & OpsExports;

/** wat/bandwidth.wat */
export interface BandwidthExports {
  stream_sum_f32(ptr: number, n: number): number;
}

const ARENA_EXPORT_NAMES = [
  "arena_base", "arena_top", "arena_reset", "arena_available", "arena_alloc", "arena_mark", "arena_release",
] satisfies (keyof ArenaExports)[];

/** Names checked against the built modules (test/wasm.test.ts). */
export const EXPORT_NAMES = {
  kernels: [...ARENA_EXPORT_NAMES, ...QUANT_EXPORT_NAMES, ...OPS_EXPORT_NAMES] as (keyof KernelExports)[],
  bandwidth: ["stream_sum_f32"] satisfies (keyof BandwidthExports)[],
};
