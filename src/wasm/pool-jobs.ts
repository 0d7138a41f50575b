// What the thread pool's threads agree on: the control block's layout in shared memory, how a job
// is cut into chunks that threads claim one at a time, and running one chunk. The jobs' arguments
// are laid out in jobs.ts.
// Imported by the dispatcher (pool.ts) and by the worker script (worker.ts), so both sides read
// the same words. No wasm and no Web/Node API here: the worker bundle stays small.
//
// The control block (assembly/layout.ts: CONTROL_BLOCK = 0x440, up to 0x1000), as i32 words:
//
//   0x440 ┌──────────────────────────────────────────────┐ +0    GEN      job generation: the dispatcher
//         │ GEN                                          │               bumps it, workers Atomics.wait on it
//   0x480 ├──────────────────────────────────────────────┤ +64   NEXT     the next chunk to claim, tagged with
//         │ NEXT                                         │               the job: (gen & 0x7fff) << 16 | chunk
//   0x4c0 ├──────────────────────────────────────────────┤ +128  PROGRESS bumped after every chunk and when a
//         │ PROGRESS                                     │               worker leaves a job: the caller waits on it
//   0x500 ├──────────────────────────────────────────────┤ +192  OP       what to run (Op in jobs.ts)
//         │ OP │ SPIN │ ERRLEN │ FAILED │ NCHUNKS │      │ +196  SPIN     µs a thread polls before it sleeps
//         │ CHUNK │ UNITS │ TEST_DIE │ TEST_ACK │ …     │ +200  ERRLEN   bytes of ERRTEXT
//         │                                              │ +204  FAILED   0, or 1 + the first failing thread
//         │                                              │ +208  NCHUNKS  chunks in the job
//         │                                              │ +212  CHUNK    units (rows or heads) per chunk
//         │                                              │ +216  UNITS    units in the job
//         │                                              │ +220  TEST_DIE tests: 1 + the worker that dies after its next claim
//         │                                              │ +224  TEST_ACK tests: the gen in which it claimed
//         │                                              │ +228  SCRATCH  workers' private output buffers (base)
//         │                                              │ +232  SCRATCH_BYTES  bytes per thread (thread t at base + t × this)
//         │                                              │ +236  PRIVATE  1: workers compute chunks into SCRATCH and commit
//         │                                              │ +240  MEM      which memory the job's pointers are in
//         │                                              │ +244  SLEEPERS workers asleep on GEN until notified
//         │                                              │ +248  NAP      µs a worker naps (timed waits) before it sleeps
//   0x540 ├──────────────────────────────────────────────┤ +256  ARGS     64 words: the op's arguments
//         │ ARGS[0..64)                                  │               (jobs.ts: f32 ones stored by bit pattern)
//   0x640 ├──────────────────────────────────────────────┤ +512  ERRTEXT  the failing thread's message, UTF-8,
//         │ ERRTEXT (1 KiB, UTF-8)                       │               so the waiting caller can read it
//   0xa40 ├──────────────────────────────────────────────┤ +1536 CLAIM    per thread: the chunk it is computing,
//         │ CLAIM[0..64)                                 │               tagged as NEXT but chunk + 1; 0 when none
//   0xb40 ├──────────────────────────────────────────────┤ +1792 SCRATCH  per memory: the workers' private output
//         │ SCRATCH[0..64)                               │               buffers in it (thread t at base + t × SCRATCH_BYTES)
//   0xc40 └──────────────────────────────────────────────┘ +2048
//
// GEN, NEXT and PROGRESS each have a cache line of their own: workers poll GEN, every thread
// compare-exchanges NEXT, and the caller sleeps on PROGRESS.
//
// A job is claimed in chunks (work stealing): each thread, the caller included, takes the next
// chunk off NEXT until none is left, so a thread the OS deschedules simply takes fewer chunks and
// one that never wakes (or died) leaves its share to the others. Claim protocol, per chunk:
//   1. v = NEXT; stop if its tag is not this job's or its chunk is ≥ NCHUNKS;
//   2. CLAIM[t] = v + 1 (announce the chunk before owning it);
//   3. compare-exchange NEXT from v to v + 1; on failure CLAIM[t] = 0 and go back to 1;
//   4. compute the chunk; CLAIM[t] = 0; PROGRESS += 1 and notify.
// Because step 2 comes before step 3 (sequentially consistent atomics), once the caller sees NEXT
// exhausted every owned, unfinished chunk is visible in some CLAIM word: the caller only waits for
// those, never for a worker that has claimed nothing. The tag stops a late worker from claiming a
// chunk of a later job with an earlier job's view (it reads the arguments only after step 3), and
// the dispatcher closes NEXT (CLOSED) before it plans a job, so a thread that read the last job's
// exhausted NEXT cannot then compare it against the new job's NCHUNKS and win the exchange.
//
// Matrix products (PRIVATE = 1) go further: a worker computes its chunk into its own scratch and
// commits it by compare-exchanging CLAIM[t] from the chunk to the chunk | COMMITTING, copying the
// rows out and clearing CLAIM. The caller, done with its own chunks, takes over a chunk a worker
// has held for longer than a chunk takes (the worker was descheduled, or died) by
// compare-exchanging CLAIM[t] to 0 and computing it itself: the worker's commit then fails and its
// rows are dropped. So the caller never sleeps on a descheduled worker, only (briefly) on a copy.
//
// Waking a sleeping worker is not free for the caller: Atomics.notify on a waiter is a futex wake,
// and on a loaded machine the woken thread often takes the caller's core (measured, TinyLlama-shaped
// decode at load average 5-8 on 2 cores: ~0.2-1 ms of the caller's time per wake, 10-30% of a token,
// half of the jobs finding the worker asleep after a 50 µs poll). So a worker between jobs polls
// SPIN µs, then naps for up to NAP µs in short timed waits (NAP_STEP_MS) nobody has to end, and only
// then sleeps on GEN until notified, counted in SLEEPERS; the dispatcher notifies only when SLEEPERS
// is not 0. Race-free by the same ordering argument as the claim: the worker adds itself to SLEEPERS
// before it reads GEN and waits (Atomics.wait compares GEN again under the futex's lock), the
// dispatcher stores GEN before it reads SLEEPERS, so either the worker sees the new GEN or the
// dispatcher sees the sleeper. A napping worker joins a job up to one nap late; the job does not
// wait for it.
//
// A model too large for one memory runs over several (its shards: src/model/shards.ts). There is still
// one control block, in memory 0's first page; every thread has the kernels instantiated once per
// memory, MEM says which instance runs the job, and each memory has its own private scratch (a kernel
// addresses only its own memory). A thread reads MEM and PRIVATE only after it has claimed a chunk,
// when the job's words are stable.
import type { KernelExports } from "./exports.js";
import { attentionBytes, Op, type Jobs, type OpId } from "./jobs.js";

export const CONTROL_BLOCK = 0x440;
export const CONTROL_BLOCK_END = 0x1000;
/** Word indices into an Int32Array over the whole memory. */
export const W = {
  GEN: (CONTROL_BLOCK + 0) >> 2,
  NEXT: (CONTROL_BLOCK + 64) >> 2,
  PROGRESS: (CONTROL_BLOCK + 128) >> 2,
  OP: (CONTROL_BLOCK + 192) >> 2,
  SPIN: (CONTROL_BLOCK + 196) >> 2,
  ERRLEN: (CONTROL_BLOCK + 200) >> 2,
  FAILED: (CONTROL_BLOCK + 204) >> 2,
  NCHUNKS: (CONTROL_BLOCK + 208) >> 2,
  CHUNK: (CONTROL_BLOCK + 212) >> 2,
  UNITS: (CONTROL_BLOCK + 216) >> 2,
  TEST_DIE: (CONTROL_BLOCK + 220) >> 2,
  TEST_ACK: (CONTROL_BLOCK + 224) >> 2,
  SCRATCH_BYTES: (CONTROL_BLOCK + 232) >> 2,
  PRIVATE: (CONTROL_BLOCK + 236) >> 2,
  MEM: (CONTROL_BLOCK + 240) >> 2,
  SLEEPERS: (CONTROL_BLOCK + 244) >> 2,
  NAP: (CONTROL_BLOCK + 248) >> 2,
  ARGS: (CONTROL_BLOCK + 256) >> 2,
  CLAIM: (CONTROL_BLOCK + 1536) >> 2,
  SCRATCH: (CONTROL_BLOCK + 1792) >> 2,
} as const;
export const ERRTEXT = CONTROL_BLOCK + 512;
export const ERRTEXT_BYTES = 1024;
/** The most memories a pool runs jobs on (SCRATCH holds one word each): 256 GiB of model. */
export const MAX_MEMORIES = 64;
/** One past the last byte the control block uses (CLAIM holds 64 words: MAX_THREADS; SCRATCH, MAX_MEMORIES). */
export const CONTROL_BLOCK_USED = CONTROL_BLOCK + 1792 + MAX_MEMORIES * 4;

/** The tag of generation `gen` as it appears in NEXT and CLAIM (bits 16..30). */
export const tagOf = (gen: number): number => (gen & 0x7fff) << 16;
/** Set in CLAIM[t] while worker t copies its chunk out of its scratch: the chunk can no longer be taken over. */
export const COMMITTING = 0x80000000 | 0;
/**
 * NEXT between jobs: bit 31 is in no job's tag, so no thread can claim from it. The dispatcher
 * stores it before it plans the next job: a thread that read the last job's exhausted NEXT and then
 * the next job's (larger) NCHUNKS would otherwise claim a chunk of the next job with the last one's
 * tag, which the dispatcher never waits for.
 */
export const CLOSED = 0x80000000 | 0;
/** The most chunks a job is cut into: the chunk index has 16 bits, and CLAIM holds chunk + 1. */
export const MAX_CHUNKS = 0xfffe;

/** Row alignment of a chunk: 16 rows keeps each chunk's output on whole cache lines. */
export const ROW_ALIGN = 16;

/**
 * Cut the job whose arguments are in ARGS into chunks for `threads` threads and write the plan
 * (NCHUNKS, CHUNK, UNITS); returns the chunk count. At most `perThread` chunks per thread, each
 * at least `minChunkBytes` of weights (K/V cache for attention) unless that leaves fewer chunks
 * than one, and whole multiples of the op's alignment: 16 rows, or (attention) whole groups of
 * query heads sharing a KV head when the KV heads divide evenly between the threads, so that a
 * thread streams only its own KV heads' cache. Every row (head) is computed by the same per-row
 * kernel whatever the cut, so results are bit-identical for any thread count and chunk size.
 */
export function planJob(i32: Int32Array, jobs: Jobs, op: OpId, threads: number, minChunkBytes: number, perThread: number, scratchBytes = 0): number {
  let units = 0;
  let bytes = 0;
  let align = ROW_ALIGN;
  /** Output floats per unit, for the private (scratch) path; 0: the op has none. */
  let floats = 1;
  switch (op) {
    case Op.MATVEC: {
      const a = jobs.matvec.args;
      units = a.rows.get();
      bytes = units * a.rowBytes.get();
      break;
    }
    case Op.MATVECS: {
      const job = jobs.matvecs;
      for (let m = 0, count = job.args.count.get(); m < count; m++) {
        const g = job.each[m];
        units += g.rows.get();
        bytes += g.rows.get() * g.rowBytes.get();
      }
      break;
    }
    case Op.MATMUL: {
      const a = jobs.matmul.args;
      units = a.rows.get();
      // Each row is read once and used for every column: the work is rows × columns.
      bytes = units * a.rowBytes.get() * a.ncols.get();
      floats = a.ncols.get();
      break;
    }
    case Op.MATMULS: {
      const job = jobs.matmuls;
      const ncols = job.args.ncols.get();
      for (let m = 0, count = job.args.count.get(); m < count; m++) {
        const g = job.each[m];
        units += g.rows.get();
        bytes += g.rows.get() * g.rowBytes.get() * ncols;
      }
      floats = ncols;
      break;
    }
    case Op.ATTENTION: {
      const a = jobs.attention.args;
      const nHeads = a.nHeads.get();
      const nKvHeads = a.nKvHeads.get();
      units = nHeads;
      bytes = attentionBytes(a.kv.get(), a.nPos.get(), nKvHeads * a.headDim.get());
      align = nKvHeads % threads === 0 ? nHeads / nKvHeads : 1;
      // Its scores scratch is shared: two threads on one head would mix their softmaxes.
      floats = 0;
      break;
    }
    case Op.ENCODER_ATTENTION: {
      const a = jobs.encoderAttention.args;
      units = a.nHeads.get();
      // every query over every position: nPos² rows of K and V, f32
      bytes = a.nPos.get() * a.nPos.get() * a.nKvHeads.get() * a.headDim.get() * 8;
      align = 1;
      floats = 0;
      break;
    }
  }
  const most = Math.min(MAX_CHUNKS, threads * perThread, Math.ceil(units / align), Math.floor(bytes / Math.max(1, minChunkBytes)));
  const n = Math.max(1, most);
  let chunk = Math.max(align, Math.ceil(units / n / align) * align);
  // The private path needs a chunk's output to fit a thread's scratch.
  const fit = floats > 0 ? Math.floor(scratchBytes / 4 / floats / align) * align : 0;
  const priv = fit >= align && Math.ceil(units / Math.min(chunk, fit)) <= MAX_CHUNKS;
  if (priv) chunk = Math.min(chunk, fit);
  const nChunks = Math.max(1, Math.ceil(units / chunk));
  i32[W.PRIVATE] = priv ? 1 : 0;
  i32[W.UNITS] = units;
  i32[W.CHUNK] = chunk;
  i32[W.NCHUNKS] = nChunks;
  return nChunks;
}

/**
 * Compute chunk `c` of the job named by OP, its arguments read through `jobs`: into the outputs,
 * or (scratch ≠ 0, matrix products only) into scratch, its rows from 0, for commitChunk to copy.
 * The kernels get output pointers moved back by the chunk's first row (u32 arithmetic wraps),
 * so they run unchanged and the same per-row code computes every row, bit for bit.
 */
export function runChunk(k: KernelExports, i32: Int32Array, jobs: Jobs, c: number, scratch = 0, claim = -1, claimed = 0): void {
  // A worker passes its CLAIM word and the value it claimed with, checked (held) after a kernel's
  // arguments are read and before it runs; the caller passes none (claim -1). A worker whose
  // chunk the caller took over (it was descheduled) may resume while the caller already writes a later
  // job's arguments; arguments read while the claim still stands belong to this job (the caller never
  // leaves a job with a claim standing), so the kernel runs on a consistent set or not at all.
  const chunk = i32[W.CHUNK];
  const lo = c * chunk;
  const hi = Math.min(i32[W.UNITS], lo + chunk);
  const op = i32[W.OP];
  if (lo >= hi || !held(i32, claim, claimed)) return;
  switch (op) {
    case Op.MATVEC: {
      const a = jobs.matvec.args;
      const y = scratch === 0 ? a.y.get() : scratch - lo * 4;
      const type = a.type.get(), w = a.w.get(), rowBytes = a.rowBytes.get(), xq = a.xq.get(), n = a.n.get();
      if (held(i32, claim, claimed)) k.matvec(type, w, rowBytes, xq, y, n, lo, hi);
      return;
    }
    case Op.MATVECS: {
      // The matrices' rows as one range: this chunk may end one matrix and start the next.
      const job = jobs.matvecs;
      const xq = job.args.xq.get();
      let off = 0;
      for (let m = 0, count = job.args.count.get(); m < count && off < hi; m++) {
        const g = job.each[m];
        const rows = g.rows.get();
        const r0 = Math.max(0, lo - off);
        const r1 = Math.min(rows, hi - off);
        const y = scratch === 0 ? g.y.get() : scratch + (off - lo) * 4;
        const type = g.type.get(), w = g.w.get(), rowBytes = g.rowBytes.get(), n = g.n.get();
        if (!held(i32, claim, claimed)) return;
        if (r0 < r1) k.matvec(type, w, rowBytes, xq, y, n, r0, r1);
        off += rows;
      }
      return;
    }
    case Op.MATMUL: {
      const a = jobs.matmul.args;
      // Scratch holds the chunk column by column: yStride becomes the chunk's rows.
      const y = scratch === 0 ? a.y.get() : scratch - lo * 4;
      const yStride = scratch === 0 ? a.yStride.get() : hi - lo;
      const type = a.type.get(), w = a.w.get(), rowBytes = a.rowBytes.get(), xq = a.xq.get(), xqStride = a.xqStride.get(), n = a.n.get(), ncols = a.ncols.get();
      if (held(i32, claim, claimed)) k.matmul(type, w, rowBytes, xq, xqStride, y, yStride, n, lo, hi, ncols);
      return;
    }
    case Op.MATMULS: {
      // As MATVECS, the matrices' rows as one range; scratch holds the chunk column by column
      // (yStride the chunk's rows), each matrix's rows at their place in the chunk.
      const job = jobs.matmuls;
      const xq = job.args.xq.get(), xqStride = job.args.xqStride.get(), ncols = job.args.ncols.get();
      let off = 0;
      for (let m = 0, count = job.args.count.get(); m < count && off < hi; m++) {
        const g = job.each[m];
        const rows = g.rows.get();
        const r0 = Math.max(0, lo - off);
        const r1 = Math.min(rows, hi - off);
        const y = scratch === 0 ? g.y.get() : scratch + (off - lo) * 4;
        const yStride = scratch === 0 ? g.yStride.get() : hi - lo;
        const type = g.type.get(), w = g.w.get(), rowBytes = g.rowBytes.get(), n = g.n.get();
        if (!held(i32, claim, claimed)) return;
        if (r0 < r1) k.matmul(type, w, rowBytes, xq, xqStride, y, yStride, n, r0, r1, ncols);
        off += rows;
      }
      return;
    }
    case Op.ATTENTION: {
      const a = jobs.attention.args;
      const q = a.q.get(), kc = a.kCache.get(), vc = a.vCache.get(), out = a.out.get(), scores = a.scores.get();
      const nHeads = a.nHeads.get(), nKvHeads = a.nKvHeads.get(), headDim = a.headDim.get(), nPos = a.nPos.get();
      const scale = a.scale.get(), softcap = a.softcap.get(), batch = a.batch.get(), kv = a.kv.get(), qq = a.qq.get();
      if (!held(i32, claim, claimed)) return;
      if (kv === 1) k.attention_q8(q, kc, vc, out, scores, qq, nHeads, nKvHeads, headDim, nPos, scale, softcap, lo, hi);
      else k.attention(q, kc, vc, out, scores, nHeads, nKvHeads, headDim, nPos, scale, softcap, batch, lo, hi);
      return;
    }
    case Op.ENCODER_ATTENTION:
      encoderAttention(k, jobs.encoderAttention.args, lo, hi, i32, claim, claimed);
      return;
  }
}

/** Whether CLAIM word `claim` still holds `claimed` (always, for claim -1: the caller's own chunks). No closure: runs per kernel call. */
function held(i32: Int32Array, claim: number, claimed: number): boolean {
  return claim < 0 || Atomics.load(i32, claim) === claimed;
}

/** Copy chunk `c`, computed into `scratch` by runChunk, to the job's outputs. */
export function commitChunk(k: KernelExports, i32: Int32Array, jobs: Jobs, c: number, scratch: number): void {
  const chunk = i32[W.CHUNK];
  const lo = c * chunk;
  const hi = Math.min(i32[W.UNITS], lo + chunk);
  if (lo >= hi) return;
  switch (i32[W.OP]) {
    case Op.MATVEC:
      k.vec_copy(scratch, jobs.matvec.args.y.get() + lo * 4, (hi - lo) * 4);
      return;
    case Op.MATVECS: {
      const job = jobs.matvecs;
      let off = 0;
      for (let m = 0, count = job.args.count.get(); m < count && off < hi; m++) {
        const g = job.each[m];
        const rows = g.rows.get();
        const r0 = Math.max(0, lo - off);
        const r1 = Math.min(rows, hi - off);
        if (r0 < r1) k.vec_copy(scratch + (off + r0 - lo) * 4, g.y.get() + r0 * 4, (r1 - r0) * 4);
        off += rows;
      }
      return;
    }
    case Op.MATMUL: {
      const a = jobs.matmul.args;
      const y = a.y.get();
      const yStride = a.yStride.get();
      for (let col = 0, ncols = a.ncols.get(); col < ncols; col++) {
        k.vec_copy(scratch + col * (hi - lo) * 4, y + (col * yStride + lo) * 4, (hi - lo) * 4);
      }
      return;
    }
    case Op.MATMULS: {
      const job = jobs.matmuls;
      const ncols = job.args.ncols.get();
      let off = 0;
      for (let m = 0, count = job.args.count.get(); m < count && off < hi; m++) {
        const g = job.each[m];
        const rows = g.rows.get();
        const r0 = Math.max(0, lo - off);
        const r1 = Math.min(rows, hi - off);
        const y = g.y.get(), yStride = g.yStride.get();
        for (let col = 0; r0 < r1 && col < ncols; col++) {
          k.vec_copy(scratch + (col * (hi - lo) + off + r0 - lo) * 4, y + (col * yStride + r0) * 4, (r1 - r0) * 4);
        }
        off += rows;
      }
      return;
    }
  }
}

/** The chunk a CLAIM word says its thread is computing in the job tagged `tag`, or -1. */
export function claimedChunk(claim: number, tag: number): number {
  return (claim & 0x7fff0000) === tag && (claim & 0xffff) !== 0 ? (claim & 0xffff) - 1 : -1;
}

/**
 * Thread t's part of the job of generation `gen`: claim chunks off NEXT (protocol in the header)
 * and compute them until none is left. A chunk that throws (a trap) is recorded in the control
 * block and the thread goes on: the job must still be exhausted before the caller returns. Returns
 * the first error this thread caught, or null. `claimed` runs after each successful claim (the
 * worker's test hook).
 */
export function work(ks: readonly KernelExports[], i32: Int32Array, u8: Uint8Array, jobs: Jobs, t: number, gen: number, claimed?: () => void): unknown {
  const tag = tagOf(gen);
  const claim = W.CLAIM + t;
  let first: unknown = null;
  for (;;) {
    const v = Atomics.load(i32, W.NEXT);
    // The whole upper half: CLOSED (bit 31) matches no tag.
    if ((v & 0xffff0000) !== tag || (v & 0xffff) >= Atomics.load(i32, W.NCHUNKS)) break;
    Atomics.store(i32, claim, v + 1);
    if (Atomics.compareExchange(i32, W.NEXT, v, v + 1) !== v) {
      // Another thread took it: withdraw the announcement at once, so the dispatcher does not
      // wait on (or take over) a chunk this thread never owned.
      Atomics.store(i32, claim, 0);
      continue;
    }
    claimed?.();
    // Claimed: the job's words are stable until this chunk is done. Workers of a PRIVATE job compute
    // into their own scratch in the job's memory (the caller, t = 0, never: nobody takes its chunks over).
    const mem = i32[W.MEM];
    const k = ks[mem];
    const scratch = t !== 0 && i32[W.PRIVATE] === 1 ? (i32[W.SCRATCH + mem] >>> 0) + t * i32[W.SCRATCH_BYTES] : 0;
    try {
      runChunk(k, i32, jobs, v & 0xffff, scratch, t === 0 ? -1 : claim, v + 1);
      // Commit unless the caller took the chunk over meanwhile (then CLAIM is no longer v + 1).
      if (scratch !== 0 && Atomics.compareExchange(i32, claim, v + 1, (v + 1) | COMMITTING) === v + 1) {
        commitChunk(k, i32, jobs, v & 0xffff, scratch);
      }
    } catch (e) {
      // A trap unwinds out of the instance and leaves it usable.
      reportFailure(i32, u8, t, e);
      first ??= e;
    }
    Atomics.store(i32, claim, 0);
    Atomics.add(i32, W.PROGRESS, 1);
    // Only the caller sleeps on PROGRESS, and never while it computes a chunk itself.
    if (t !== 0) Atomics.notify(i32, W.PROGRESS);
  }
  Atomics.store(i32, claim, 0);
  return first;
}

/**
 * One nap of a worker waiting for a job: a timed wait. Linux's timer slack lengthens it: measured
 * (Node 20, load average 6 on 2 cores) a 10 µs wait lasts 86 µs (median), 50 µs 127 µs, 100 µs 179 µs;
 * the shortest keeps a napping worker's late start into a job short.
 */
export const NAP_STEP_MS = 0.01;

/**
 * A worker's wait for the job after generation `seen` (header: waking costs the caller): poll SPIN µs,
 * nap in timed waits for up to NAP µs, then sleep on GEN, counted in SLEEPERS, until notified.
 */
export function awaitJob(i32: Int32Array, seen: number): void {
  if (spinWhile(i32, W.GEN, seen, Atomics.load(i32, W.SPIN))) return;
  const nap = Atomics.load(i32, W.NAP);
  if (nap > 0) {
    const until = performance.now() + nap / 1000;
    do {
      if (Atomics.load(i32, W.GEN) !== seen) return;
      Atomics.wait(i32, W.GEN, seen, NAP_STEP_MS);
    } while (performance.now() < until);
  }
  // Counted before GEN is read again: a dispatcher that stored GEN after that read sees the count.
  Atomics.add(i32, W.SLEEPERS, 1);
  while (Atomics.load(i32, W.GEN) === seen) Atomics.wait(i32, W.GEN, seen);
  Atomics.sub(i32, W.SLEEPERS, 1);
}

/** Poll i32[index] for up to `micros` µs; true once it is no longer `value`. */
export function spinWhile(i32: Int32Array, index: number, value: number, micros: number): boolean {
  if (micros <= 0) return Atomics.load(i32, index) !== value;
  const until = performance.now() + micros / 1000;
  do {
    for (let s = 0; s < 64; s++) if (Atomics.load(i32, index) !== value) return true;
  } while (performance.now() < until);
  return false;
}

/** Record the first failure of a job: its thread and message, for the dispatcher to throw. */
export function reportFailure(i32: Int32Array, u8: Uint8Array, t: number, error: unknown): void {
  if (Atomics.compareExchange(i32, W.FAILED, 0, t + 1) !== 0) return;
  const text = new TextEncoder().encode(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  const n = Math.min(text.length, ERRTEXT_BYTES);
  // TextEncoder may not write into a SharedArrayBuffer view directly; copy.
  for (let i = 0; i < n; i++) u8[ERRTEXT + i] = text[i];
  Atomics.store(i32, W.ERRLEN, n);
}

/** The failure message a thread left in the control block. */
export function failureText(i32: Int32Array, u8: Uint8Array): string {
  const n = Math.min(Atomics.load(i32, W.ERRLEN), ERRTEXT_BYTES);
  // TextDecoder refuses views of a SharedArrayBuffer: copy out first.
  return new TextDecoder().decode(u8.slice(ERRTEXT, ERRTEXT + n));
}

/** Every query of an encoder layer, heads [h0, h1): one attention_f32 call per query token. */
export function encoderAttention(
  k: KernelExports, a: Jobs["encoderAttention"]["args"], h0: number, h1: number, i32?: Int32Array, claim = -1, claimed = 0,
): void {
  const nPos = a.nPos.get();
  const q = a.q.get(), qStride = a.qStride.get() * 4, out = a.out.get(), outStride = a.outStride.get() * 4;
  const key = a.k.get(), kStride = a.kStride.get(), vT = a.vT.get(), scores = a.scores.get();
  const nHeads = a.nHeads.get(), nKvHeads = a.nKvHeads.get(), headDim = a.headDim.get(), scale = a.scale.get();
  if (i32 !== undefined && !held(i32, claim, claimed)) return;
  for (let t = 0; t < nPos; t++) {
    k.attention_f32(q + t * qStride, key, kStride, vT, out + t * outStride, scores, nHeads, nKvHeads, headDim, nPos, scale, h0, h1);
  }
}
