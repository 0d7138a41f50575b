// The per-memory budget that makes a model split: for the tests that force a small fixture over several
// WebAssembly memories (test/shards.test.ts, test/kv-q8.test.ts).
import type { GgufFile } from "../../src/gguf/index.js";
import type { KvType } from "../../src/model/kv-cache.js";
import { planModelMemories } from "../../src/model/load.js";
import { SCRATCH_BYTES } from "../../src/wasm/pool.js";

export interface SplitShape {
  readonly ctx: number;
  readonly batch: number;
  readonly threads?: number;
  readonly kvType?: KvType;
}

/**
 * The smallest per-memory budget (to 64 bytes) that lays `file` out over at most `memories` memories (the
 * tightest split), with its cache of `ctx` positions and `batch`, for `threads` threads: a pool keeps its
 * workers' scratch in every memory.
 */
export function budgetFor(file: GgufFile, memories: number, { ctx, batch, threads = 1, kvType = "f16" }: SplitShape): number {
  const poolBytes = threads > 1 ? threads * SCRATCH_BYTES : 0;
  const count = (budget: number) => {
    try {
      return planModelMemories(file, budget, ctx, batch, poolBytes, kvType).bytes.length;
    } catch {
      return Infinity;
    }
  };
  let lo = 1 << 16;
  let hi = 1 << 30;
  while (hi - lo > 64) {
    const mid = Math.floor((lo + hi) / 2);
    if (count(mid) <= memories) hi = mid;
    else lo = mid;
  }
  return hi;
}
