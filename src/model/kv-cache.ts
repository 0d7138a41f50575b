// The per-sequence state of the forward pass: each attention layer's K and V rows (f16, or 8-bit with the
// load option kvType "q8_0"), and each short-convolution layer's last L-1 inputs (lfm2).
//
//   full layer:    k, v (nCtx, kvDim) rows; position p at row p
//   window layer:  k, v (capacity, kvDim) rows with capacity = min(nCtx, window - 1 + slack); position p at
//                  row p - base. When a batch would pass the end, the window-1 rows the batch still needs
//                  move to the front (base = pos0 - window + 1): memory and attention time stay those of
//                  the window, not of the context (llama.cpp's SWA cache keeps n_swa + n_ubatch cells for
//                  the same reason). slack = max(batch, min(256, window)) rows makes the move rare: once
//                  every `slack` decoded tokens, window - 1 rows, so at most max(1, window/256) rows per token.
//   conv layer:    state (dim, L-1) f32
//   scores:        (nHeads, longest span) f32, the attention kernel's scratch, one per memory; for a q8_0
//                  cache followed by nHeads slots for the quantized queries (qSlotBytes)
//
// A row is kvDim values: f16 (2 bytes each), or for kvType "q8_0" ggml block_q8_0, 34 bytes per 32 values
// (f16 d, 32 i8: 34/64 of the f16 bytes), quantized as llama.cpp's CPU backend stores a q8_0 cache
// (assembly/ops/attention_q8.ts). Either way a row is bytes to this class: window moves and sessions copy
// rowBytes per position.
//
// A model split over several memories (src/model/shards.ts) keeps each layer's cache in its layer's
// memory, written and read by that memory's kernels; only this class's bookkeeping is shared.
//
// A position sees itself and the positions before it (causal); in a window layer only the window - 1
// before it, as llama.cpp masks them (p1 - p0 >= n_swa is masked). Attention always reads one contiguous
// run of rows, so the kernel is the same for both kinds.
import type { Engine } from "../wasm/engine.js";
import type { KernelExports } from "../wasm/exports.js";
import type { ModelConfig } from "./config.js";
import type { AttentionArgs } from "./exec.js";

const F16 = 2;
const F32 = 4;
const SLACK = 256;

/** How the KV cache stores K and V: f16, or 8-bit ggml block_q8_0 (34 bytes per 32 values). */
export type KvType = "f16" | "q8_0";
export const KV_TYPES: readonly KvType[] = ["f16", "q8_0"];
/** The attention kernel's code for each type (AttentionArgs.kv, the pool's ATTENTION job). */
export const KV_CODE: Readonly<Record<KvType, number>> = { f16: 0, q8_0: 1 };

/** Bytes of one position's K (or V) row of kvDim values. */
export function kvRowBytes(kvDim: number, kvType: KvType): number {
  return kvType === "q8_0" ? (kvDim / 32) * 34 : kvDim * F16;
}

/** Bytes of one head's quantized-query slot (attention_q8's qq; the larger, baseline layout, rounded to 16). */
export function qSlotBytes(headDim: number): number {
  return Math.ceil((2 * headDim + 44 * (headDim / 32)) / 16) * 16;
}

interface LayerCache {
  /** The memory the layer lives in (its shard), and the kernels over it. */
  readonly engine: Engine;
  readonly kernels: KernelExports;
  /** K rows, V rows (kvType's format), or 0 for a conv layer. */
  readonly k: number;
  readonly v: number;
  readonly rowBytes: number;
  /** Values per K (or V) row: nKvHeads · headDim (0 for a conv layer). */
  readonly kvDim: number;
  readonly capacity: number;
  /** Sliding window, 0 for a full layer. */
  readonly window: number;
  /** Conv state (f32), or 0. */
  readonly state: number;
  readonly stateBytes: number;
}

/** One layer's part of a saved session (see KvCache.snapshot). */
export interface SavedLayer {
  readonly kind: "attention" | "conv";
  /** First position whose rows are saved (attention layers). */
  readonly first: number;
  /** K rows (the cache's kvType), or the conv state (f32). */
  readonly k: Uint8Array;
  /** V rows; empty for a conv layer. */
  readonly v: Uint8Array;
}

export class KvCache {
  /** (nHeads, longest span) f32 scratch for the attention kernel, in the first memory. */
  readonly scores: number;
  /** The same scratch in each memory that holds attention layers (0 in the others). */
  private readonly scoresByShard: readonly number[];
  /** Bytes of the K and V rows of every attention layer (conv states and scratch apart). */
  readonly kvBytes: number;
  /** The quantized-query slots after each memory's scores (kvType "q8_0"; 0 otherwise). */
  private readonly qqByShard: readonly number[];
  private readonly layers: readonly LayerCache[];
  /** Position held by row 0 of each layer's cache (0 for full layers). */
  private readonly base: Int32Array;

  /**
   * `engines`: the model's one engine, or its shards' with `shardOf[l]` the shard of layer l (every
   * layer in engine 0 by default). `kvType`: how K and V rows are stored (q8_0 needs headDim % 32 == 0:
   * the loader checks).
   */
  constructor(
    engines: Engine | readonly Engine[],
    c: ModelConfig,
    nCtx: number,
    batch: number,
    shardOf: readonly number[] = c.layers.map(() => 0),
    readonly kvType: KvType = "f16",
  ) {
    const list: readonly Engine[] = "memory" in engines ? [engines] : engines;
    this.layers = c.layers.map((lc, l) => {
      const engine = list[shardOf[l]];
      const kernels = engine.kernels;
      if (lc.kind === "shortconv") {
        const stateBytes = c.dim * (c.shortConvKernel - 1) * F32;
        return { engine, kernels, k: 0, v: 0, rowBytes: 0, kvDim: 0, capacity: 0, window: 0, state: engine.alloc(stateBytes, "the short-convolution state"), stateBytes };
      }
      const capacity = KvCache.capacity(lc.window, nCtx, batch);
      const rowBytes = kvRowBytes(lc.kvDim, kvType);
      const what = `the KV cache (${capacity} positions)`;
      const k = engine.alloc(capacity * rowBytes, what);
      const v = engine.alloc(capacity * rowBytes, what);
      return { engine, kernels, k, v, rowBytes, kvDim: lc.kvDim, capacity, window: lc.window, state: 0, stateBytes: 0 };
    });
    this.kvBytes = this.layers.reduce((sum, L) => sum + 2 * L.capacity * L.rowBytes, 0);
    this.base = new Int32Array(c.nLayers);
    const scoresBytes = KvCache.scoresBytes(c, nCtx, kvType);
    this.scoresByShard = list.map((e, s) => (s === 0 || c.layers.some((lc, l) => shardOf[l] === s && lc.kind === "attention") ? e.alloc(scoresBytes, "attention scores") : 0));
    this.scores = this.scoresByShard[0];
    const qqOffset = KvCache.qqOffset(c, nCtx);
    this.qqByShard = this.scoresByShard.map((p) => (p !== 0 && kvType === "q8_0" ? p + qqOffset : 0));
  }

  /** The quantized-query slots in shard `s`'s memory (kvType "q8_0"; 0 for f16). */
  qqIn(s: number): number {
    return this.qqByShard[s];
  }

  /** The attention scores scratch in shard `s`'s memory. */
  scoresIn(s: number): number {
    return this.scoresByShard[s];
  }

  /** Rows a layer's cache holds: the window plus room for a batch, and at least min(256, window) rows of slack. */
  static capacity(window: number, nCtx: number, batch: number): number {
    return window > 0 ? Math.min(nCtx, window - 1 + Math.max(batch, Math.min(SLACK, window))) : nCtx;
  }

  private static longestSpan(c: ModelConfig, nCtx: number): number {
    return Math.max(1, ...c.layers.map((l) => (l.kind === "shortconv" ? 1 : l.window > 0 ? Math.min(l.window, nCtx) : nCtx)));
  }

  /** Bytes the caches, states and scores take (what the constructor allocates for one memory, before alignment). */
  static bytes(c: ModelConfig, nCtx: number, batch: number, kvType: KvType = "f16"): number {
    let total = KvCache.scoresBytes(c, nCtx, kvType);
    for (let l = 0; l < c.nLayers; l++) total += KvCache.layerBytes(c, l, nCtx, batch, kvType);
    return total;
  }

  /** Bytes of one memory's attention scratch: the scores, and for q8_0 the quantized-query slots after them. */
  static scoresBytes(c: ModelConfig, nCtx: number, kvType: KvType = "f16"): number {
    return kvType === "q8_0" ? KvCache.qqOffset(c, nCtx) + c.nHeads * qSlotBytes(c.headDim) : c.nHeads * KvCache.longestSpan(c, nCtx) * F32;
  }

  /** Where the quantized-query slots start in the scratch: after the scores, 64-byte aligned. */
  private static qqOffset(c: ModelConfig, nCtx: number): number {
    return Math.ceil((c.nHeads * KvCache.longestSpan(c, nCtx) * F32) / 64) * 64;
  }

  /** Bytes layer l's cache or conv state takes, alignment included. */
  static layerBytes(c: ModelConfig, l: number, nCtx: number, batch: number, kvType: KvType = "f16"): number {
    const L = c.layers[l];
    const bytes = L.kind === "shortconv" ? c.dim * (c.shortConvKernel - 1) * F32 : 2 * KvCache.capacity(L.window, nCtx, batch) * kvRowBytes(L.kvDim, kvType);
    return bytes + 128; // alignment of each allocation
  }

  /** A new sequence: window caches start at position 0, conv states at zero. */
  reset(): void {
    this.base.fill(0);
    for (const L of this.layers) if (L.state) L.engine.u8().fill(0, L.state, L.state + L.stateBytes);
  }

  /** Before positions pos0..pos0+T-1 are written: slide each window cache the batch would overflow. */
  makeRoom(pos0: number, T: number): void {
    for (let l = 0; l < this.layers.length; l++) {
      const L = this.layers[l];
      if (L.window === 0 || pos0 + T - 1 - this.base[l] < L.capacity) continue;
      const keep = L.window - 1;
      const from = pos0 - keep - this.base[l]; // row of the first position still needed
      L.kernels.vec_copy(L.k + from * L.rowBytes, L.k, keep * L.rowBytes);
      L.kernels.vec_copy(L.v + from * L.rowBytes, L.v, keep * L.rowBytes);
      this.base[l] = pos0 - keep;
    }
  }

  /** K and V of position pos (f32 rows of kvDim, in layer l's memory) into layer l's cache, as f16 or q8_0. */
  store(l: number, pos: number, kRow: number, vRow: number): void {
    const L = this.layers[l];
    const at = (pos - this.base[l]) * L.rowBytes;
    const kvDim = L.kvDim;
    if (this.kvType === "q8_0") {
      L.kernels.kv_quantize_q8_0(kRow, L.k + at, kvDim);
      L.kernels.kv_quantize_q8_0(vRow, L.v + at, kvDim);
    } else {
      L.kernels.f32_to_f16(kRow, L.k + at, kvDim);
      L.kernels.f32_to_f16(vRow, L.v + at, kvDim);
    }
  }

  /** Point `a` at the rows a query at position pos attends to in layer l. */
  span(l: number, pos: number, a: AttentionArgs): void {
    const L = this.layers[l];
    const first = L.window > 0 ? Math.max(0, pos - L.window + 1) : 0;
    const row = (first - this.base[l]) * L.rowBytes;
    a.kCache = L.k + row;
    a.vCache = L.v + row;
    a.nPos = pos - first + 1;
  }

  /**
   * What positions 0..n-1 left in each layer, for a saved session: a full layer's rows 0..n-1, a window
   * layer's last window-1 rows (all a continuation needs), a conv layer's state. Copies, not views.
   */
  snapshot(n: number): SavedLayer[] {
    return this.layers.map((L, l) => {
      const u8 = L.engine.u8();
      if (L.state) return { kind: "conv", first: 0, k: u8.slice(L.state, L.state + L.stateBytes), v: new Uint8Array(0) };
      const first = L.window > 0 ? Math.max(this.base[l], n - L.window + 1, 0) : 0;
      const from = (first - this.base[l]) * L.rowBytes;
      const bytes = (n - first) * L.rowBytes;
      return { kind: "attention", first, k: u8.slice(L.k + from, L.k + from + bytes), v: u8.slice(L.v + from, L.v + from + bytes) };
    });
  }

  /** Why `saved` cannot be restored for n positions into this cache, or null when it can. */
  misfit(n: number, saved: readonly SavedLayer[]): string | null {
    if (saved.length !== this.layers.length) return `it has ${saved.length} layers, this model ${this.layers.length}`;
    for (let l = 0; l < saved.length; l++) {
      const L = this.layers[l];
      const s = saved[l];
      if ((s.kind === "conv") !== (L.state !== 0)) return `layer ${l} is ${s.kind}, not ${L.state ? "conv" : "attention"}`;
      if (s.kind === "conv") {
        if (s.k.length !== L.stateBytes) return `layer ${l}'s state has ${s.k.length} bytes, not ${L.stateBytes}`;
        continue;
      }
      const rows = n - s.first;
      if (s.first < 0 || rows < 0 || s.k.length !== rows * L.rowBytes || s.v.length !== rows * L.rowBytes) {
        return `layer ${l} holds ${s.k.length} bytes of keys from position ${s.first}, not ${rows} rows of ${L.rowBytes} bytes`;
      }
      if (rows > L.capacity) return `layer ${l} needs ${rows} cached positions; this model's context holds ${L.capacity}`;
      if (L.window === 0 && s.first !== 0) return `layer ${l} sees every position but the session starts it at ${s.first}`;
    }
    return null;
  }

  /** Put a snapshot back (check misfit() first): rows at their positions, window bases, conv states. */
  restore(saved: readonly SavedLayer[]): void {
    saved.forEach((s, l) => {
      const L = this.layers[l];
      const u8 = L.engine.u8();
      if (s.kind === "conv") {
        u8.set(s.k, L.state);
        return;
      }
      this.base[l] = s.first;
      u8.set(s.k, L.k);
      u8.set(s.v, L.v);
    });
  }

  /** Layer l's short-convolution state. */
  convState(l: number): number {
    return this.layers[l].state;
  }

  /**
   * How many of the `cached` positions a new call may keep, given it shares the first n tokens: n where
   * everything position n needs is still held, else 0 (recompute from the start). A conv state exists only
   * for the last position, so it allows n = cached alone; a window cache has dropped positions before its
   * base, so position n needs base ≤ n - window + 1.
   */
  reusable(n: number, cached: number): number {
    const keep = Math.min(n, cached);
    for (let l = 0; l < this.layers.length; l++) {
      const L = this.layers[l];
      if (L.state && keep !== cached) return 0;
      if (L.window > 0 && this.base[l] > Math.max(0, keep - L.window + 1)) return 0;
    }
    return keep;
  }
}
