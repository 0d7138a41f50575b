// The transformer forward pass, read top to bottom like llama2.c's: it only calls kernels with
// pointers. A batch of T tokens (T ≤ batch) at consecutive positions goes through every layer at
// once, so each weight matrix is streamed from memory once per batch (prefill); T = 1 is decode.
// Every buffer is allocated once, here, when the model loads; forward() allocates nothing.
//
// A model past 4 GiB runs over several memories (shards, src/model/shards.ts), each with its own
// kernels, executor and activation buffers (a Stage); only the residual stream, T × dim floats, is
// copied from one memory to the next at a shard boundary. A model in one memory has one Stage.
//
// Architectures differ only through ModelConfig (src/model/config.ts, src/model/arch/): which norms a
// block has, Q/K norms, RoPE per layer, sliding windows, soft-caps, the FFN's activation, and lfm2's
// short-convolution layers in place of attention.
import type { Engine } from "../wasm/engine.js";
import type { KernelExports } from "../wasm/exports.js";
import type { LayerConfig, ModelConfig } from "./config.js";
import type { AttentionArgs, Executor } from "./exec.js";
import { KV_CODE, KvCache, type KvType } from "./kv-cache.js";
import type { AttentionWeights, ModelWeights, ShortConvWeights, WeightMatrix } from "./weights.js";

const F32 = 4;

/**
 * Which positions of a batch need logits: only the last (generation) or every one (evaluation); or none,
 * "hidden": every position's final-normed hidden state (llama.cpp's t_embd, what an embedding pools).
 */
export type LogitsFor = "last" | "all" | "hidden";

/** Widths of the per-token activation rows, in elements. */
function widths(c: ModelConfig) {
  // Q|K|V of an attention layer, or b|c|x of a short-convolution layer, side by side in one row.
  const mixer = Math.max(...c.layers.map((l) => (l.kind === "attention" ? c.qDim + 2 * l.kvDim : 3 * c.dim)));
  return { mixer, att: Math.max(c.qDim, c.dim), gateUp: 2 * c.hiddenDim };
}

/**
 * Where a model's layers live: one memory (a model under 4 GiB), or several shards, each a contiguous
 * run of layers (src/model/shards.ts plans them). The token embedding is in shard 0; the output norm and
 * matrix in `outputShard` (0 when the output is tied to the embedding).
 */
export interface ShardLayout {
  /** Each shard's engine and the executor running its kernels, in order. */
  readonly shards: readonly { readonly engine: Engine; readonly exec: Executor }[];
  /** The shard of each layer (non-decreasing). */
  readonly layerShard: readonly number[];
  readonly outputShard: number;
}

/** One memory's part of the pass: its kernels, its executor and its own activation buffers. */
interface Stage {
  readonly engine: Engine;
  readonly k: KernelExports;
  readonly exec: Executor;
  /** Layers [first, end) live in this memory. */
  readonly first: number;
  readonly end: number;
  // Activations, one row per token of the batch:
  readonly x: number; //      (batch, dim) residual stream
  readonly xb: number; //     (batch, dim) normed input of a block
  readonly xb2: number; //    (batch, dim) output of a block before the residual add
  readonly mix: number; //    (batch, mixStride) Q|K|V (attention) or b|c|x (short conv)
  readonly att: number; //    (batch, qDim) attention output, or (batch, dim) short-conv output
  readonly gu: number; //     (batch, 2·hiddenDim) gate|up
  readonly hb: number; //     (batch, hiddenDim) act(gate)·up
  readonly xq: number; //     (batch, xqStride bytes) activations converted for the dot products
  readonly cosSin: number; // (ropes, batch, rope.dim) cos/sin pairs per position, per RoPE variant
  readonly geluTable: number; // (65536) u16, or 0
  /** Reused for every attention call of this memory's layers. */
  readonly attn: AttentionArgs;
}

export class Transformer {
  readonly batch: number;
  readonly nCtx: number;
  private readonly mixStride: number;
  private readonly xqStride: number;
  private readonly logits: number; // (batch, nVocab), in the output shard
  private readonly thetaScales: readonly number[];
  /** One per memory, in layer order; a model under 4 GiB has one. */
  private readonly stages: readonly Stage[];
  private readonly out: Stage;
  /** K/V caches (attention layers, sliding windows kept short) and short-conv states, with their scores scratch. */
  readonly cache: KvCache;
  /** Each layer's projections, built once: forward() allocates nothing. */
  private readonly plans: readonly LayerPlan[];
  private readonly outputPlan: Projection;

  constructor(
    layout: ShardLayout,
    readonly config: ModelConfig,
    private readonly weights: ModelWeights,
    nCtx: number,
    batch: number,
    kvType: KvType = "f16",
  ) {
    const c = config;
    const w = widths(c);
    this.nCtx = nCtx;
    this.batch = batch;
    this.mixStride = w.mixer;
    this.xqStride = Transformer.activationStride(layout.shards[0].engine.kernels, weights);
    this.cache = new KvCache(layout.shards.map((s) => s.engine), c, nCtx, batch, layout.layerShard, kvType);
    this.stages = layout.shards.map(({ engine, exec }, s) => {
      const alloc = (bytes: number, what: string) => engine.alloc(bytes, what);
      const first = layout.layerShard.indexOf(s);
      const stage: Stage = {
        engine, exec, k: engine.kernels,
        first: first < 0 ? 0 : first,
        end: first < 0 ? 0 : layout.layerShard.lastIndexOf(s) + 1,
        x: alloc(batch * c.dim * F32, "the residual stream"),
        xb: alloc(batch * c.dim * F32, "normed activations"),
        xb2: alloc(batch * c.dim * F32, "block outputs"),
        mix: alloc(batch * w.mixer * F32, "queries, keys and values"),
        att: alloc(batch * w.att * F32, "attention outputs"),
        gu: alloc(batch * w.gateUp * F32, "feed-forward activations"),
        hb: alloc(batch * c.hiddenDim * F32, "feed-forward activations"),
        xq: alloc(batch * this.xqStride, "quantized activations"),
        cosSin: alloc(c.ropes.length * batch * c.ropes[0].dim * F32, "rotary tables"),
        geluTable: c.activation === "gelu" ? alloc(65536 * 2, "the GELU table") : 0,
        attn: {
          q: 0, kCache: 0, vCache: 0, out: 0, scores: this.cache.scoresIn(s), qq: this.cache.qqIn(s), kv: KV_CODE[kvType],
          nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, nPos: 0, scale: c.attentionScale, softcap: c.attnSoftcap, batch: 1,
        },
      };
      if (stage.geluTable) stage.k.gelu_table(stage.geluTable);
      return stage;
    });
    this.out = this.stages[layout.outputShard];
    this.logits = this.out.engine.alloc(batch * c.nVocab * F32, "logits");
    this.thetaScales = c.ropes.map((r) => Math.fround(Math.pow(r.base, -2 / r.dim)));

    this.plans = weights.layers.map((L, l) => {
      const lc = c.layers[l];
      const S = this.stages[layout.layerShard[l]];
      const gateUp = projection(L.gateUp.length === 2
        ? [[L.gateUp[0], S.gu, w.gateUp], [L.gateUp[1], S.gu + c.hiddenDim * F32, w.gateUp]]
        : [[L.gateUp[0], S.gu, w.gateUp]]);
      const down = projection([[L.wDown, S.xb2, c.dim]]);
      if (L.mixer.kind === "shortconv") {
        return { gateUp, down, mixIn: projection([[L.mixer.inProj, S.mix, w.mixer]]), mixOut: projection([[L.mixer.outProj, S.xb2, c.dim]]) };
      }
      const m = L.mixer;
      const q = S.mix;
      const mixIn = projection(m.qkv.length === 3
        ? [[m.qkv[0], q, w.mixer], [m.qkv[1], q + c.qDim * F32, w.mixer], [m.qkv[2], q + (c.qDim + lc.kvDim) * F32, w.mixer]]
        : [[m.qkv[0], q, w.mixer]]);
      return { gateUp, down, mixIn, mixOut: projection([[m.wo, S.xb2, c.dim]]) };
    });
    this.outputPlan = projection([[weights.output, this.logits, c.nVocab]]);
  }

  /** The memory the logits (and "hidden" states) of forward() are in. */
  get outputEngine(): Engine {
    return this.out.engine;
  }

  /** Every memory the model uses, in shard order. */
  get engines(): readonly Engine[] {
    return this.stages.map((s) => s.engine);
  }

  /**
   * Bytes the activation buffers and attention scores take in each memory (logits and KV cache apart:
   * logitsBytes, KvCache.layerBytes), so the loader can plan memories before allocating.
   */
  static stageBytes(c: ModelConfig, nCtx: number, batch: number, kvType: KvType = "f16"): number {
    const wd = widths(c);
    const stride = Math.max(c.dim, c.hiddenDim, c.qDim) * F32 + 64;
    const floats = batch * (3 * c.dim + wd.mixer + wd.att + wd.gateUp + c.hiddenDim + c.ropes.length * c.ropes[0].dim);
    const gelu = c.activation === "gelu" ? 65536 * 2 : 0;
    return floats * F32 + batch * stride + gelu + KvCache.scoresBytes(c, nCtx, kvType) + 16 * 64;
  }

  /** Bytes of the logits buffer, in the memory holding the output matrix. */
  static logitsBytes(c: ModelConfig, batch: number): number {
    return batch * c.nVocab * F32 + 64;
  }

  /** Bytes per token of the activation buffer: the largest companion format any weight needs. */
  private static activationStride(k: KernelExports, w: ModelWeights): number {
    let most = 0;
    const consider = (m: WeightMatrix) => {
      most = Math.max(most, k.act_bytes(m.type.id, m.cols));
    };
    consider(w.output);
    for (const l of w.layers) {
      const mx = l.mixer;
      if (mx.kind === "attention") [...mx.qkv, mx.wo].forEach(consider);
      else [mx.inProj, mx.outProj].forEach(consider);
      [...l.gateUp, l.wDown].forEach(consider);
    }
    return Math.ceil(most / 64) * 64;
  }

  /** The longest prefix of `cached` positions (≤ n) a new call can continue from: see KvCache.reusable. */
  reusable(n: number, cached: number): number {
    return this.cache.reusable(n, cached);
  }

  /**
   * Run tokens[0..T) at positions pos0..pos0+T-1 (T ≤ batch, pos0 + T ≤ nCtx), writing their K and V
   * into the cache. Returns the byte offset, in outputEngine's memory, of the logits: (T, nVocab) for
   * "all", (1, nVocab) for "last"; for "hidden" the offset of the (T, dim) final-normed hidden states.
   */
  forward(tokens: ArrayLike<number>, pos0: number, logitsFor: LogitsFor): number {
    const { config: c, weights: w } = this;
    const T = tokens.length;
    const dim = c.dim;
    if (pos0 === 0) this.cache.reset();
    this.cache.makeRoom(pos0, T);

    // Token embeddings (granite and gemma scale them), in the first memory.
    let at = this.stages[0];
    for (let t = 0; t < T; t++) {
      const e = w.tokenEmbd;
      const row = at.x + t * dim * F32;
      at.k.dequant_row(e.type.id, e.ptr + tokens[t] * e.rowBytes, row, dim);
      if (c.embeddingScale !== 1) at.k.vec_scale(row, c.embeddingScale, dim);
    }

    // Each memory's layers in turn; only the residual stream (T, dim) moves between memories.
    for (let s = 0; s < this.stages.length; s++) {
      const S = this.stages[s];
      if (S.first === S.end) continue;
      at = handOff(at, S, T * dim);
      this.ropeTables(S, pos0, T);
      for (let l = S.first; l < S.end; l++) this.layer(S, l, pos0, T);
    }

    // Final norm and the output projection, for the positions that want logits.
    const o = handOff(at, this.out, T * dim);
    const first = logitsFor === "last" ? T - 1 : 0;
    const n = T - first;
    for (let t = first; t < T; t++) {
      o.k.rmsnorm(o.x + t * dim * F32, w.outputNorm, o.xb + (t - first) * dim * F32, dim, c.normEps);
    }
    if (logitsFor === "hidden") return o.xb;
    this.project(o, o.xb, n, this.outputPlan);
    if (c.logitScale !== 1) o.k.vec_scale(this.logits, 1 / c.logitScale, n * c.nVocab);
    if (c.finalSoftcap !== 0) o.k.vec_softcap(this.logits, c.finalSoftcap, n * c.nVocab);
    return this.logits;
  }

  /** Layer l, in its memory S, for T tokens whose residual stream is in S.x. */
  private layer(S: Stage, l: number, pos0: number, T: number): void {
    const { k } = S;
    const L = this.weights.layers[l];
    const plan = this.plans[l];

    // Mixer block: [norm], attention or short convolution, [post-norm], residual.
    const input = this.norm(S, L.attnNorm, S.x, T);
    this.project(S, input, T, plan.mixIn);
    if (L.mixer.kind === "attention") this.attention(S, l, L.mixer, pos0, T);
    else this.shortConv(S, l, L.mixer, T);
    this.project(S, S.att, T, plan.mixOut);
    this.postNorm(S, L.attnPostNorm, T);
    this.residual(S, T);

    // Feed-forward block: [norm], gate and up from one converted activation, act(gate)·up, down, [post-norm].
    this.project(S, this.norm(S, L.ffnNorm, S.x, T), T, plan.gateUp);
    const ff = this.config.hiddenDim;
    // Row by row: ggml's swiglu treats each row's last n % 8 elements apart (libm expf).
    for (let t = 0; t < T; t++) {
      const gate = S.gu + t * 2 * ff * F32;
      const out = S.hb + t * ff * F32;
      if (S.geluTable) k.gelu_mul(gate, gate + ff * F32, out, ff, S.geluTable);
      else k.silu_mul(gate, gate + ff * F32, out, ff);
    }
    this.project(S, S.hb, T, plan.down);
    this.postNorm(S, L.ffnPostNorm, T);
    this.residual(S, T);
  }

  /**
   * Attention of layer l for T tokens whose Q|K|V rows are in `mix`: biases, Q/K norms, RoPE, Q scale, then
   * K and V into the cache, then each token attends to the positions it sees (causal, within its window).
   */
  private attention(S: Stage, l: number, m: AttentionWeights, pos0: number, T: number): void {
    const { config: c } = this;
    const k = S.k;
    const lc: LayerConfig = c.layers[l];
    const { qDim, headDim, nHeads } = c;
    const kvDim = lc.kvDim;
    for (let t = 0; t < T; t++) {
      const q = S.mix + t * this.mixStride * F32;
      const kr = q + qDim * F32;
      const vr = kr + kvDim * F32;
      if (m.bq) k.vec_add(q, m.bq, q, qDim);
      if (m.bk) k.vec_add(kr, m.bk, kr, kvDim);
      if (m.bv) k.vec_add(vr, m.bv, vr, kvDim);
      if (c.qkNorm === "full") {
        k.rmsnorm(q, m.qNorm, q, qDim, c.normEps);
        k.rmsnorm(kr, m.kNorm, kr, kvDim, c.normEps);
      } else if (c.qkNorm === "head") {
        for (let h = 0; h < nHeads; h++) k.rmsnorm(q + h * headDim * F32, m.qNorm, q + h * headDim * F32, headDim, c.normEps);
        for (let h = 0; h < lc.nKvHeads; h++) k.rmsnorm(kr + h * headDim * F32, m.kNorm, kr + h * headDim * F32, headDim, c.normEps);
      }
      if (lc.rope >= 0) {
        const r = c.ropes[lc.rope];
        const cs = S.cosSin + (lc.rope * this.batch + t) * r.dim * F32;
        const neox = r.neox ? 1 : 0;
        k.rope(q, nHeads, headDim, r.dim, cs, neox);
        k.rope(kr, lc.nKvHeads, headDim, r.dim, cs, neox);
      }
      if (c.queryScale !== 1) k.vec_scale(q, c.queryScale, qDim);
      this.cache.store(l, pos0 + t, kr, vr);
    }
    const a = S.attn;
    a.nKvHeads = lc.nKvHeads;
    // llama.cpp sums V for a batch of tokens in llamafile's 8 lanes, for one token in ggml_vec_dot_f16's 32.
    a.batch = T > 1 ? 1 : 0;
    for (let t = 0; t < T; t++) {
      this.cache.span(l, pos0 + t, a);
      a.q = S.mix + t * this.mixStride * F32;
      a.out = S.att + t * qDim * F32;
      S.exec.attention(a);
    }
  }

  /** lfm2's gated short convolution of T tokens whose b|c|x rows are in `mix`; output (T, dim) in att. */
  private shortConv(S: Stage, l: number, m: ShortConvWeights, T: number): void {
    const c = this.config;
    S.k.short_conv(S.mix, this.mixStride, this.cache.convState(l), m.conv, S.att, c.dim, c.shortConvKernel, T);
  }

  /** RMSNorm of T rows of `x` into xb with `weight`, or x itself when the block has no such norm. */
  private norm(S: Stage, weight: number, x: number, T: number): number {
    if (!weight) return x;
    const dim = this.config.dim;
    for (let t = 0; t < T; t++) S.k.rmsnorm(x + t * dim * F32, weight, S.xb + t * dim * F32, dim, this.config.normEps);
    return S.xb;
  }

  /** RMSNorm of the block output xb2 in place (gemma, olmo2), when the block has one. */
  private postNorm(S: Stage, weight: number, T: number): void {
    if (!weight) return;
    const dim = this.config.dim;
    for (let t = 0; t < T; t++) S.k.rmsnorm(S.xb2 + t * dim * F32, weight, S.xb2 + t * dim * F32, dim, this.config.normEps);
  }

  /** x += residualScale * xb2 for every token of the batch. */
  private residual(S: Stage, T: number): void {
    const n = T * this.config.dim;
    if (this.config.residualScale === 1) S.k.vec_add(S.x, S.xb2, S.x, n);
    else S.k.vec_add_scaled(S.x, S.xb2, this.config.residualScale, n);
  }

  /**
   * out_j = W_j · in for several matrices reading the same input (Q/K/V, gate/up): the input is
   * converted once per activation format; each group of matrices sharing that format is one
   * dispatch (one job for a thread pool): matvecs for one token, matmuls for several.
   */
  private project(S: Stage, input: number, T: number, p: Projection): void {
    project(S.k, S.exec, S.xq, this.xqStride, input, T, p);
  }

  /**
   * cos/sin of every rotation angle for positions pos0..pos0+T-1 and every RoPE variant, computed as ggml's
   * rope cache does (θ_i = p·base^(−2i/d) by repeated f32 multiplication, divided by the frequency factor,
   * times the linear scale; cos and sin times the attention factor), so positions rotate exactly as in llama.cpp.
   * Into S's memory: each memory holding layers gets its own copy (a few µs per memory and batch).
   */
  private ropeTables(S: Stage, pos0: number, T: number): void {
    const c = this.config;
    const f = S.engine.f32();
    const ff = this.weights.ropeFreqFactors;
    c.ropes.forEach((r, v) => {
      const half = r.dim / 2;
      const thetaScale = this.thetaScales[v];
      for (let t = 0; t < T; t++) {
        let theta = Math.fround(pos0 + t);
        const base = (S.cosSin >> 2) + (v * this.batch + t) * r.dim;
        for (let i = 0; i < half; i++) {
          const angle = Math.fround(r.freqScale * Math.fround(ff ? theta / ff[i] : theta));
          f[base + 2 * i] = r.attnFactor === 1 ? Math.cos(angle) : Math.fround(Math.fround(Math.cos(angle)) * r.attnFactor);
          f[base + 2 * i + 1] = r.attnFactor === 1 ? Math.sin(angle) : Math.fround(Math.fround(Math.sin(angle)) * r.attnFactor);
          theta = Math.fround(theta * thetaScale);
        }
      }
    });
  }
}

/**
 * Move the residual stream's first n floats from one memory's stage to the next (bit for bit, as i32
 * words); returns the stage that now holds it. The same stage: nothing to do (a model in one memory).
 */
function handOff(from: Stage, to: Stage, n: number): Stage {
  if (from === to) return to;
  const src = from.engine.i32();
  const dst = to.engine.i32();
  const a = from.x >> 2;
  const b = to.x >> 2;
  for (let i = 0; i < n; i++) dst[b + i] = src[a + i];
  return to;
}

/**
 * The body of Transformer.project, shared with the encoder: T rows of `input` converted once per
 * activation format into xq (xqStride bytes per row), then one matvecs (T = 1) or matmuls dispatch per format.
 */
export function project(k: KernelExports, exec: Executor, xq: number, xqStride: number, input: number, T: number, p: Projection): void {
  const n = p.cols;
  for (const g of p.groups) {
    const type = g.matvecs[0][0].type.id;
    for (let t = 0; t < T; t++) k.quantize_act(type, input + t * n * F32, xq + t * xqStride, n);
    if (T === 1) exec.matvecs(g.matvecs, xq);
    else exec.matmuls(g.outs, xq, xqStride, T);
  }
}

/** One projection step: its matrices grouped by activation format, with their outputs. */
export interface Projection {
  readonly cols: number;
  readonly groups: readonly {
    /** [matrix, output, output row stride in elements] for one matmuls dispatch. */
    readonly outs: readonly (readonly [WeightMatrix, number, number])[];
    /** [matrix, output] for one matvecs dispatch. */
    readonly matvecs: readonly (readonly [WeightMatrix, number])[];
  }[];
}

interface LayerPlan {
  /** Q/K/V (attention) or the in-projection (short conv). */
  readonly mixIn: Projection;
  /** The attention output projection, or the short conv's out-projection. */
  readonly mixOut: Projection;
  readonly gateUp: Projection;
  readonly down: Projection;
}

/** Group matrices that read the same input by the activation format their dot products take. */
export function projection(outs: readonly (readonly [WeightMatrix, number, number])[]): Projection {
  const byFormat = new Map<string, (readonly [WeightMatrix, number, number])[]>();
  for (const o of outs) {
    const key = o[0].type.dotWith ?? o[0].type.name;
    const list = byFormat.get(key) ?? [];
    list.push(o);
    byFormat.set(key, list);
  }
  return {
    cols: outs[0][0].cols,
    groups: [...byFormat.values()].map((g) => ({ outs: g, matvecs: g.map(([m, y]) => [m, y] as const) })),
  };
}
