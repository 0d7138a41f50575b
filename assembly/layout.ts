// Memory map of the linear memory that every Woolly module imports as `env.memory`.
// All addresses are byte offsets; every module and every thread sees the same picture. A model past
// 4 GiB has several such memories (src/model/shards.ts), each laid out the same way; only memory 0's
// control block is used.
//
//   0x0000_0000 ┌────────────────────────────────────┐
//               │ null guard: pointer 0 means "none" │  1 KiB, never written
//   0x0000_0400 ├────────────────────────────────────┤  ARENA_STATE
//               │ arena state: top (u64), flags (u32)│  64 B (KERNEL_FLAGS at +8)
//   0x0000_0440 ├────────────────────────────────────┤  CONTROL_BLOCK
//               │ thread-pool control block          │  3 KiB - 64 B (Atomics wait/notify words, job args)
//   0x0000_1000 ├────────────────────────────────────┤  --memoryBase 4096 in asconfig.json
//               │ AssemblyScript static data         │  lookup tables (IQ4 codebook, f16 tables, …)
//   0x0001_0000 ├────────────────────────────────────┤  WAT_DATA
//               │ WAT modules' static data           │  64 KiB
//   0x0002_0000 ├────────────────────────────────────┤  ARENA_BASE
//               │ arena: weights, KV cache, scratch  │  bump-allocated upward, 64-byte aligned,
//               │ …                                  │  memory grown on demand
//   top ───────►├────────────────────────────────────┤
//               │ free                               │
//   4 GiB       └────────────────────────────────────┘  wasm32 ceiling (65536 pages)

export const ARENA_STATE: usize = 0x400;
export const CONTROL_BLOCK: usize = 0x440;
/**
 * u32 of kernel choices the loader makes for this memory (src/wasm/engine.ts, set_kernel_flags) and
 * every instance over it reads: in memory, not a module global, so worker threads see the same
 * choice. A fresh memory holds 0: every choice off. The results never depend on it, only the speed.
 */
export const KERNEL_FLAGS: usize = ARENA_STATE + 8;
/** KERNEL_FLAGS bit: i32x4.relaxed_dot_i8x16_i7x16_add_s is one instruction here (features.ts fusedDot). */
export const FLAG_DOT_ADD: u32 = 1;
export const CONTROL_BLOCK_BYTES: usize = 0x1000 - 0x440;
export const WAT_DATA: usize = 0x10000;
export const ARENA_BASE: usize = 0x20000;
export const PAGE_BYTES: u64 = 65536;
export const MAX_PAGES: u64 = 65536;
