// The transformer forward pass, read top to bottom like llama2.c's: it only calls kernels with
// pointers. A batch of T tokens (T ≤ batch) at consecutive positions goes through every layer at
// once, so each weight matrix is streamed from memory once per batch (prefill); T = 1 is decode.
// Every buffer is allocated once, here, when the model loads; forward() allocates nothing.
//
// Architectures differ only through ModelConfig (src/model/config.ts, src/model/arch/): which norms a
// block has, Q/K norms, RoPE per layer, sliding windows, soft-caps, the FFN's activation, and lfm2's
// short-convolution layers in place of attention.
import type { Engine } from "../wasm/engine.js";
import type { KernelExports } from "../wasm/exports.js";
import type { LayerConfig, ModelConfig } from "./config.js";
import type { AttentionArgs, Executor } from "./exec.js";
import { KvCache } from "./kv-cache.js";
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

export class Transformer {
  readonly batch: number;
  readonly nCtx: number;
  private readonly k: KernelExports;
  // Activations, one row per token of the batch:
  private readonly x: number; //      (batch, dim) residual stream
  private readonly xb: number; //     (batch, dim) normed input of a block
  private readonly xb2: number; //    (batch, dim) output of a block before the residual add
  private readonly mix: number; //    (batch, mixStride) Q|K|V (attention) or b|c|x (short conv)
  private readonly mixStride: number;
  private readonly att: number; //    (batch, qDim) attention output, or (batch, dim) short-conv output
  private readonly gu: number; //     (batch, 2·hiddenDim) gate|up
  private readonly hb: number; //     (batch, hiddenDim) act(gate)·up
  private readonly xq: number; //     (batch, xqStride bytes) activations converted for the dot products
  private readonly xqStride: number;
  private readonly cosSin: number; // (ropes, batch, rope.dim) cos/sin pairs per position, per RoPE variant
  private readonly logits: number; // (batch, nVocab)
  private readonly geluTable: number; // (65536) u16, or 0
  private readonly thetaScales: readonly number[];
  /** K/V caches (attention layers, sliding windows kept short) and short-conv states, with their scores scratch. */
  readonly cache: KvCache;
  /** Each layer's projections, built once: forward() allocates nothing. */
  private readonly plans: readonly LayerPlan[];
  private readonly outputPlan: Projection;
  /** Reused for every attention call. */
  private readonly attn: AttentionArgs;

  constructor(
    private readonly engine: Engine,
    readonly config: ModelConfig,
    private readonly weights: ModelWeights,
    private readonly exec: Executor,
    nCtx: number,
    batch: number,
  ) {
    const c = config;
    const w = widths(c);
    this.k = engine.kernels;
    this.nCtx = nCtx;
    this.batch = batch;
    const alloc = (bytes: number, what: string) => engine.alloc(bytes, what);
    this.x = alloc(batch * c.dim * F32, "the residual stream");
    this.xb = alloc(batch * c.dim * F32, "normed activations");
    this.xb2 = alloc(batch * c.dim * F32, "block outputs");
    this.mixStride = w.mixer;
    this.mix = alloc(batch * w.mixer * F32, "queries, keys and values");
    this.att = alloc(batch * w.att * F32, "attention outputs");
    this.gu = alloc(batch * w.gateUp * F32, "feed-forward activations");
    this.hb = alloc(batch * c.hiddenDim * F32, "feed-forward activations");
    this.xqStride = Transformer.activationStride(engine.kernels, weights);
    this.xq = alloc(batch * this.xqStride, "quantized activations");
    this.cosSin = alloc(c.ropes.length * batch * c.ropes[0].dim * F32, "rotary tables");
    this.logits = alloc(batch * c.nVocab * F32, "logits");
    this.geluTable = c.activation === "gelu" ? alloc(65536 * 2, "the GELU table") : 0;
    if (this.geluTable) this.k.gelu_table(this.geluTable);
    this.cache = new KvCache(engine, c, nCtx, batch);
    this.thetaScales = c.ropes.map((r) => Math.fround(Math.pow(r.base, -2 / r.dim)));

    const q = this.mix;
    this.plans = weights.layers.map((L, l) => {
      const lc = c.layers[l];
      const gateUp = projection(L.gateUp.length === 2
        ? [[L.gateUp[0], this.gu, w.gateUp], [L.gateUp[1], this.gu + c.hiddenDim * F32, w.gateUp]]
        : [[L.gateUp[0], this.gu, w.gateUp]]);
      const down = projection([[L.wDown, this.xb2, c.dim]]);
      if (L.mixer.kind === "shortconv") {
        return { gateUp, down, mixIn: projection([[L.mixer.inProj, this.mix, w.mixer]]), mixOut: projection([[L.mixer.outProj, this.xb2, c.dim]]) };
      }
      const m = L.mixer;
      const mixIn = projection(m.qkv.length === 3
        ? [[m.qkv[0], q, w.mixer], [m.qkv[1], q + c.qDim * F32, w.mixer], [m.qkv[2], q + (c.qDim + lc.kvDim) * F32, w.mixer]]
        : [[m.qkv[0], q, w.mixer]]);
      return { gateUp, down, mixIn, mixOut: projection([[m.wo, this.xb2, c.dim]]) };
    });
    this.outputPlan = projection([[weights.output, this.logits, c.nVocab]]);
    this.attn = {
      q: 0, kCache: 0, vCache: 0, out: 0, scores: this.cache.scores,
      nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, nPos: 0, scale: c.attentionScale, softcap: c.attnSoftcap, batch: 1,
    };
  }

  /** Bytes the buffers above take for a model, so the loader can check the total before allocating. */
  static scratchBytes(k: KernelExports, c: ModelConfig, w: ModelWeights | null, nCtx: number, batch: number): number {
    const wd = widths(c);
    const stride = w ? Transformer.activationStride(k, w) : (Math.max(c.dim, c.hiddenDim, c.qDim) * F32 + 64);
    const floats = batch * (3 * c.dim + wd.mixer + wd.att + wd.gateUp + c.hiddenDim + c.ropes.length * c.ropes[0].dim + c.nVocab);
    const gelu = c.activation === "gelu" ? 65536 * 2 : 0;
    return floats * F32 + batch * stride + gelu + KvCache.bytes(c, nCtx, batch) + 16 * 64;
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
   * into the cache. Returns the byte offset of the logits: (T, nVocab) for "all", (1, nVocab) for "last";
   * for "hidden" the offset of the (T, dim) final-normed hidden states.
   */
  forward(tokens: ArrayLike<number>, pos0: number, logitsFor: LogitsFor): number {
    const { k, config: c, weights: w } = this;
    const T = tokens.length;
    const dim = c.dim;
    if (pos0 === 0) this.cache.reset();
    this.cache.makeRoom(pos0, T);

    // Token embeddings (granite and gemma scale them).
    for (let t = 0; t < T; t++) {
      const e = w.tokenEmbd;
      const row = this.x + t * dim * F32;
      k.dequant_row(e.type.id, e.ptr + tokens[t] * e.rowBytes, row, dim);
      if (c.embeddingScale !== 1) k.vec_scale(row, c.embeddingScale, dim);
    }
    this.ropeTables(pos0, T);

    for (let l = 0; l < c.nLayers; l++) {
      const L = w.layers[l];
      const plan = this.plans[l];

      // Mixer block: [norm], attention or short convolution, [post-norm], residual.
      const input = this.norm(L.attnNorm, this.x, T);
      this.project(input, T, plan.mixIn);
      if (L.mixer.kind === "attention") this.attention(l, L.mixer, pos0, T);
      else this.shortConv(l, L.mixer, T);
      this.project(this.att, T, plan.mixOut);
      this.postNorm(L.attnPostNorm, T);
      this.residual(T);

      // Feed-forward block: [norm], gate and up from one converted activation, act(gate)·up, down, [post-norm].
      this.project(this.norm(L.ffnNorm, this.x, T), T, plan.gateUp);
      const ff = c.hiddenDim;
      // Row by row: ggml's swiglu treats each row's last n % 8 elements apart (libm expf).
      for (let t = 0; t < T; t++) {
        const gate = this.gu + t * 2 * ff * F32;
        const out = this.hb + t * ff * F32;
        if (this.geluTable) k.gelu_mul(gate, gate + ff * F32, out, ff, this.geluTable);
        else k.silu_mul(gate, gate + ff * F32, out, ff);
      }
      this.project(this.hb, T, plan.down);
      this.postNorm(L.ffnPostNorm, T);
      this.residual(T);
    }

    // Final norm and the output projection, for the positions that want logits.
    const first = logitsFor === "last" ? T - 1 : 0;
    const n = T - first;
    for (let t = first; t < T; t++) {
      k.rmsnorm(this.x + t * dim * F32, w.outputNorm, this.xb + (t - first) * dim * F32, dim, c.normEps);
    }
    if (logitsFor === "hidden") return this.xb;
    this.project(this.xb, n, this.outputPlan);
    if (c.logitScale !== 1) k.vec_scale(this.logits, 1 / c.logitScale, n * c.nVocab);
    if (c.finalSoftcap !== 0) k.vec_softcap(this.logits, c.finalSoftcap, n * c.nVocab);
    return this.logits;
  }

  /**
   * Attention of layer l for T tokens whose Q|K|V rows are in `mix`: biases, Q/K norms, RoPE, Q scale, then
   * K and V into the cache, then each token attends to the positions it sees (causal, within its window).
   */
  private attention(l: number, m: AttentionWeights, pos0: number, T: number): void {
    const { k, config: c } = this;
    const lc: LayerConfig = c.layers[l];
    const { qDim, headDim, nHeads } = c;
    const kvDim = lc.kvDim;
    for (let t = 0; t < T; t++) {
      const q = this.mix + t * this.mixStride * F32;
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
        const cs = this.cosSin + (lc.rope * this.batch + t) * r.dim * F32;
        const neox = r.neox ? 1 : 0;
        k.rope(q, nHeads, headDim, r.dim, cs, neox);
        k.rope(kr, lc.nKvHeads, headDim, r.dim, cs, neox);
      }
      if (c.queryScale !== 1) k.vec_scale(q, c.queryScale, qDim);
      this.cache.store(l, pos0 + t, kr, vr);
    }
    const a = this.attn;
    a.nKvHeads = lc.nKvHeads;
    // llama.cpp sums V for a batch of tokens in llamafile's 8 lanes, for one token in ggml_vec_dot_f16's 32.
    a.batch = T > 1 ? 1 : 0;
    for (let t = 0; t < T; t++) {
      this.cache.span(l, pos0 + t, a);
      a.q = this.mix + t * this.mixStride * F32;
      a.out = this.att + t * qDim * F32;
      this.exec.attention(a);
    }
  }

  /** lfm2's gated short convolution of T tokens whose b|c|x rows are in `mix`; output (T, dim) in att. */
  private shortConv(l: number, m: ShortConvWeights, T: number): void {
    const c = this.config;
    this.k.short_conv(this.mix, this.mixStride, this.cache.convState(l), m.conv, this.att, c.dim, c.shortConvKernel, T);
  }

  /** RMSNorm of T rows of `x` into xb with `weight`, or x itself when the block has no such norm. */
  private norm(weight: number, x: number, T: number): number {
    if (!weight) return x;
    const dim = this.config.dim;
    for (let t = 0; t < T; t++) this.k.rmsnorm(x + t * dim * F32, weight, this.xb + t * dim * F32, dim, this.config.normEps);
    return this.xb;
  }

  /** RMSNorm of the block output xb2 in place (gemma, olmo2), when the block has one. */
  private postNorm(weight: number, T: number): void {
    if (!weight) return;
    const dim = this.config.dim;
    for (let t = 0; t < T; t++) this.k.rmsnorm(this.xb2 + t * dim * F32, weight, this.xb2 + t * dim * F32, dim, this.config.normEps);
  }

  /** x += residualScale * xb2 for every token of the batch. */
  private residual(T: number): void {
    const n = T * this.config.dim;
    if (this.config.residualScale === 1) this.k.vec_add(this.x, this.xb2, this.x, n);
    else this.k.vec_add_scaled(this.x, this.xb2, this.config.residualScale, n);
  }

  /**
   * out_j = W_j · in for several matrices reading the same input (Q/K/V, gate/up): the input is
   * converted once per activation format; for one token each group of matrices sharing that format
   * is one matvecs dispatch (one job for a thread pool), for several tokens each matrix is a matmul.
   */
  private project(input: number, T: number, p: Projection): void {
    project(this.k, this.exec, this.xq, this.xqStride, input, T, p);
  }

  /**
   * cos/sin of every rotation angle for positions pos0..pos0+T-1 and every RoPE variant, computed as ggml's
   * rope cache does (θ_i = p·base^(−2i/d) by repeated f32 multiplication, divided by the frequency factor,
   * times the linear scale; cos and sin times the attention factor), so positions rotate exactly as in llama.cpp.
   */
  private ropeTables(pos0: number, T: number): void {
    const c = this.config;
    const f = this.engine.f32();
    const ff = this.weights.ropeFreqFactors;
    c.ropes.forEach((r, v) => {
      const half = r.dim / 2;
      const thetaScale = this.thetaScales[v];
      for (let t = 0; t < T; t++) {
        let theta = Math.fround(pos0 + t);
        const base = (this.cosSin >> 2) + (v * this.batch + t) * r.dim;
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
 * The body of Transformer.project, shared with the encoder: T rows of `input` converted once per
 * activation format into xq (xqStride bytes per row), then one matvecs dispatch (T = 1) or a matmul per matrix.
 */
export function project(k: KernelExports, exec: Executor, xq: number, xqStride: number, input: number, T: number, p: Projection): void {
  const n = p.cols;
  for (const g of p.groups) {
    const type = g.matvecs[0][0].type.id;
    for (let t = 0; t < T; t++) k.quantize_act(type, input + t * n * F32, xq + t * xqStride, n);
    if (T === 1) exec.matvecs(g.matvecs, xq);
    else for (const [m, out, stride] of g.outs) exec.matmul(m, xq, xqStride, out, stride, T);
  }
}

/** One projection step: its matrices grouped by activation format, with their outputs. */
export interface Projection {
  readonly cols: number;
  readonly groups: readonly {
    /** [matrix, output, output row stride in elements] for matmul. */
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
