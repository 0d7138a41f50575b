// The arena: a bump allocator over the imported linear memory (see layout.ts for the map).
// Loading a model allocates weights, the KV cache and every scratch buffer once; the decode path
// allocates nothing. `arena_mark` / `arena_release` undo allocations made after a mark (a failed
// load, a temporary buffer for prompt processing).
//
// State lives in memory (ARENA_STATE), not in module globals, so that every instance over the same
// memory (one per worker thread) agrees on it. Only the owning thread allocates.
//
//   ARENA_STATE + 0  u64  top: first free byte (ARENA_BASE when empty)

import { ARENA_STATE, ARENA_BASE, PAGE_BYTES, MAX_PAGES } from "./layout";

/** Minimum alignment of every allocation: a cache line, and a multiple of v128's 16 bytes. */
export const ARENA_ALIGN: u32 = 64;

export function arena_base(): usize {
  return ARENA_BASE;
}

/** First free byte, as f64 so that the value 4 GiB (a full memory) is representable in JS. */
export function arena_top(): f64 {
  const top = load<u64>(ARENA_STATE);
  return <f64>(top == 0 ? <u64>ARENA_BASE : top);
}

export function arena_reset(): void {
  store<u64>(ARENA_STATE, <u64>ARENA_BASE);
}

/** Bytes the memory can still give: up to 4 GiB less what is allocated. */
export function arena_available(): f64 {
  return <f64>(MAX_PAGES * PAGE_BYTES) - arena_top();
}

/**
 * Allocate `size` bytes aligned to `align` (a power of two ≥ 64 is enforced), growing the memory
 * if needed. Returns 0 when the request cannot fit below 4 GiB or the engine refuses to grow.
 */
export function arena_alloc(size: f64, align: u32): usize {
  if (align < ARENA_ALIGN) align = ARENA_ALIGN;
  const top = <u64>arena_top();
  const a = <u64>align;
  const start = (top + a - 1) & ~(a - 1);
  const end = start + <u64>size;
  if (size < 0 || end > MAX_PAGES * PAGE_BYTES) return 0;
  const have = <u64>memory.size() * PAGE_BYTES;
  if (end > have) {
    const pages = (end - have + PAGE_BYTES - 1) / PAGE_BYTES;
    if (memory.grow(<i32>pages) < 0) return 0;
  }
  store<u64>(ARENA_STATE, end);
  return <usize>start;
}

/** A mark to return to with `arena_release`. */
export function arena_mark(): f64 {
  return arena_top();
}

/** Free everything allocated since `mark` (memory pages are kept for reuse). */
export function arena_release(mark: f64): void {
  const m = <u64>mark;
  if (m >= <u64>ARENA_BASE && m <= <u64>arena_top()) store<u64>(ARENA_STATE, m);
}
