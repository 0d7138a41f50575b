// Planning a model over several WebAssembly memories ("shards"), before anything is allocated.
//
// A wasm32 memory ends at 4 GiB, and pointers in the kernels stay 32-bit, so a larger model (an 8B
// model at Q4_K_M is ~4.6 GiB) is cut between layers: each shard is one memory holding a contiguous
// run of layers with their weights and KV cache, and its own activation buffers. The kernels are
// instantiated once per memory; the forward pass copies only the residual stream (T × dim floats)
// from one memory to the next (src/model/forward.ts, Stage).
//
//   shard 0                        shard 1                       shard n-1
//   ┌──────────────────────────┐   ┌──────────────────────────┐  ┌──────────────────────────┐
//   │ activations, scores      │   │ activations, scores      │  │ activations, scores      │
//   │ token_embd, rope factors │   │ blk.i … blk.j-1          │  │ blk.j … blk.L-1          │
//   │ blk.0 … blk.i-1          │ → │   weights + KV cache     │→…│ output_norm, output      │
//   │   weights + KV cache     │   │                          │  │ logits                   │
//   └──────────────────────────┘   └──────────────────────────┘  └──────────────────────────┘
//
// Layers are assigned greedily in order: a layer goes to the current memory while it fits the
// per-memory budget, else it opens the next. The token embedding is always in shard 0 (it may be
// alone there when it is large); the output norm, matrix and logits go where they fit after the last
// layer, or with the embedding when the output is tied to it. A model that fits one budget gets one
// shard: the same single memory, allocations and speed as before shards existed.
import { WasmError } from "../errors.js";
import { formatBytes } from "../wasm/engine.js";

/** A tensor as the planner sees it: its name and the arena bytes it takes (aligned, f32 copy included). */
export interface SizedTensor {
  readonly name: string;
  readonly bytes: number;
}

export interface ShardRequest {
  /** Arena bytes one memory may hold. */
  readonly budget: number;
  /** How to name that limit in a refusal, e.g. "the 4 GiB one WebAssembly memory holds". */
  readonly limitText: string;
  /** Activation buffers and attention scores every memory holds. */
  readonly stageBytes: number;
  /** The logits buffer, in the memory of the output matrix. */
  readonly logitsBytes: number;
  /** Shard 0's tensors: the token embedding and RoPE factors. */
  readonly head: readonly SizedTensor[];
  /** Per layer: its tensors and its KV cache (or conv state). */
  readonly layers: readonly { readonly tensors: readonly SizedTensor[]; readonly kvBytes: number }[];
  /** The output norm and matrix; with a tied output they join the head. */
  readonly tail: readonly SizedTensor[];
  readonly tiedOutput: boolean;
  /** KV cache positions, for messages. */
  readonly nCtx: number;
}

export interface ShardPlan {
  /** The shard of each layer (non-decreasing). */
  readonly layerShard: readonly number[];
  /** The shard holding the output norm, the output matrix and the logits. */
  readonly outputShard: number;
  /** Each tensor's shard. */
  readonly tensorShard: ReadonlyMap<string, number>;
  /** Arena bytes planned in each memory. */
  readonly bytes: readonly number[];
}

const sum = (ts: readonly SizedTensor[]) => ts.reduce((s, t) => s + t.bytes, 0);

/**
 * Assign every tensor to a memory under `r.budget` bytes each. Throws WasmError('out_of_memory') naming
 * what cannot fit any memory: a single tensor, a layer (weights and KV cache together: a layer is never
 * cut), or the embedding (or output) with its buffers.
 */
export function planShards(r: ShardRequest): ShardPlan {
  const over = (what: string, needs: number, parts: string) =>
    new WasmError(
      "out_of_memory",
      `${what} needs ${formatBytes(needs)} (${parts}), more than ${r.limitText} (${formatBytes(r.budget)}); ` +
        `a tensor or a layer cannot be split across memories: try a smaller contextLength or a smaller quantization`,
    );
  const buffers = `with the ${formatBytes(r.stageBytes)} of activation buffers every memory holds`;
  const all = [...r.head, ...r.layers.flatMap((l) => l.tensors), ...r.tail];
  for (const t of all) {
    if (r.stageBytes + t.bytes > r.budget) throw over(`tensor ${t.name}`, r.stageBytes + t.bytes, `${formatBytes(t.bytes)} ${buffers}`);
  }

  const tensorShard = new Map<string, number>();
  const bytes: number[] = [];
  const place = (ts: readonly SizedTensor[], extra: number) => {
    for (const t of ts) tensorShard.set(t.name, bytes.length - 1);
    bytes[bytes.length - 1] += sum(ts) + extra;
  };
  const fits = (n: number) => bytes[bytes.length - 1] + n <= r.budget;
  const open = () => bytes.push(r.stageBytes);

  const head = r.tiedOutput ? [...r.head, ...r.tail] : r.head;
  const headExtra = r.tiedOutput ? r.logitsBytes : 0;
  open();
  if (!fits(sum(head) + headExtra)) {
    const what = r.tiedOutput ? "the token embedding (tied to the output) with the output norm and logits" : "the token embedding";
    throw over(what, r.stageBytes + sum(head) + headExtra, `${formatBytes(sum(head) + headExtra)} ${buffers}`);
  }
  place(head, headExtra);

  const layerShard: number[] = [];
  r.layers.forEach((L, l) => {
    const weights = sum(L.tensors);
    const need = weights + L.kvBytes;
    if (r.stageBytes + need > r.budget) {
      throw over(`layer ${l}`, r.stageBytes + need, `${formatBytes(weights)} of weights and ${formatBytes(L.kvBytes)} for its ${r.nCtx}-position KV cache ${buffers}`);
    }
    if (!fits(need)) open();
    place(L.tensors, L.kvBytes);
    layerShard.push(bytes.length - 1);
  });

  let outputShard = 0;
  if (!r.tiedOutput) {
    const need = sum(r.tail) + r.logitsBytes;
    if (r.stageBytes + need > r.budget) throw over("the output matrix with its logits", r.stageBytes + need, `${formatBytes(need)} ${buffers}`);
    if (!fits(need)) open();
    place(r.tail, r.logitsBytes);
    outputShard = bytes.length - 1;
  }
  return { layerShard, outputShard, tensorShard, bytes };
}

/**
 * Which part of the plan a tensor belongs to: a layer's (`blk.N.`), the head's (token embedding, RoPE
 * factors) or the tail's (the output norm and matrix).
 */
export function tensorGroup(name: string): { kind: "layer"; layer: number } | { kind: "head" } | { kind: "tail" } {
  const m = /^blk\.(\d+)\./.exec(name);
  if (m) return { kind: "layer", layer: Number(m[1]) };
  if (name === "token_embd.weight" || name.startsWith("rope_")) return { kind: "head" };
  return { kind: "tail" };
}

/**
 * The machine's physical memory where the runtime tells it (Node, Bun, Deno with `--allow-sys`:
 * os.totalmem()), else null (browsers): a model needing more would not run without swapping the weights
 * every token.
 */
export async function machineMemoryBytes(): Promise<number | null> {
  // Deno asks for the `sys` permission (or prompts at a terminal): read it only where already granted.
  const deno = (globalThis as { Deno?: { permissions?: { querySync?(d: { name: string; kind: string }): { state: string } } } }).Deno;
  try {
    if (deno && deno.permissions?.querySync?.({ name: "sys", kind: "systemMemoryInfo" }).state !== "granted") return null;
    const specifier = "node:os";
    const os = (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as typeof import("node:os");
    const n = os.totalmem();
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}
