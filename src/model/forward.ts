// The transformer forward pass, read top to bottom like llama2.c's: it only calls kernels with
// pointers. A batch of T tokens (T ≤ batch) at consecutive positions goes through every layer at
// once, so each weight matrix is streamed from memory once per batch (prefill); T = 1 is decode.
// Every buffer is allocated once, here, when the model loads; forward() allocates nothing.
import type { Engine } from "../wasm/engine.js";
import type { KernelExports } from "../wasm/exports.js";
import type { ModelConfig } from "./config.js";
import type { AttentionArgs, Executor } from "./exec.js";
import type { ModelWeights, WeightMatrix } from "./weights.js";

const F32 = 4;
const F16 = 2;

/** Which positions of a batch need logits: only the last (generation) or every one (evaluation). */
export type LogitsFor = "last" | "all";

export class Transformer {
  readonly batch: number;
  readonly nCtx: number;
  private readonly k: KernelExports;
  // Activations, one row per token of the batch:
  private readonly x: number; //      (batch, dim) residual stream
  private readonly xb: number; //     (batch, dim) normed input of a block
  private readonly xb2: number; //    (batch, dim) output of a block before the residual add
  private readonly q: number; //      (batch, dim)
  private readonly kv: number; //     (batch, 2, kvDim) this batch's K and V rows before the f16 cache
  private readonly att: number; //    (batch, dim) attention output
  private readonly hb: number; //     (batch, hiddenDim) gate, then silu(gate)*up
  private readonly hb2: number; //    (batch, hiddenDim) up
  private readonly xq: number; //     (batch, xqStride bytes) activations converted for the dot products
  private readonly xqStride: number;
  private readonly scores: number; // (nHeads, nCtx) attention scratch
  private readonly cosSin: number; // (batch, rope.dim) cos/sin pairs per position
  private readonly logits: number; // (batch, nVocab)
  private readonly kCache: number; // (nLayers, nCtx, kvDim) f16
  private readonly vCache: number; // (nLayers, nCtx, kvDim) f16
  private readonly thetaScale: number;
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
    this.k = engine.kernels;
    this.nCtx = nCtx;
    this.batch = batch;
    const alloc = (bytes: number, what: string) => engine.alloc(bytes, what);
    this.x = alloc(batch * c.dim * F32, "the residual stream");
    this.xb = alloc(batch * c.dim * F32, "normed activations");
    this.xb2 = alloc(batch * c.dim * F32, "block outputs");
    this.q = alloc(batch * c.dim * F32, "queries");
    this.kv = alloc(batch * 2 * c.kvDim * F32, "keys and values of the batch");
    this.att = alloc(batch * c.dim * F32, "attention outputs");
    this.hb = alloc(batch * c.hiddenDim * F32, "feed-forward activations");
    this.hb2 = alloc(batch * c.hiddenDim * F32, "feed-forward activations");
    this.xqStride = Transformer.activationStride(engine.kernels, config, weights);
    this.xq = alloc(batch * this.xqStride, "quantized activations");
    this.scores = alloc(c.nHeads * nCtx * F32, "attention scores");
    this.cosSin = alloc(batch * c.rope.dim * F32, "rotary tables");
    this.logits = alloc(batch * c.nVocab * F32, "logits");
    this.kCache = alloc(c.nLayers * nCtx * c.kvDim * F16, `the KV cache (${nCtx} positions)`);
    this.vCache = alloc(c.nLayers * nCtx * c.kvDim * F16, `the KV cache (${nCtx} positions)`);
    this.thetaScale = Math.fround(Math.pow(c.rope.base, -2 / c.rope.dim));
    this.plans = weights.layers.map((L) => ({
      qkv: projection([
        [L.wq, this.q, c.dim],
        [L.wk, this.kv, 2 * c.kvDim],
        [L.wv, this.kv + c.kvDim * F32, 2 * c.kvDim],
      ]),
      wo: projection([[L.wo, this.xb2, c.dim]]),
      gateUp: projection([
        [L.wGate, this.hb, c.hiddenDim],
        [L.wUp, this.hb2, c.hiddenDim],
      ]),
      down: projection([[L.wDown, this.xb2, c.dim]]),
    }));
    this.outputPlan = projection([[weights.output, this.logits, c.nVocab]]);
    this.attn = {
      q: 0, kCache: 0, vCache: 0, out: 0, scores: this.scores,
      nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, nPos: 0, scale: c.attentionScale,
    };
  }

  /** Bytes the buffers above take for a model, so the loader can check the total before allocating. */
  static scratchBytes(k: KernelExports, c: ModelConfig, w: ModelWeights | null, nCtx: number, batch: number): number {
    const stride = w ? Transformer.activationStride(k, c, w) : (Math.max(c.dim, c.hiddenDim) * F32 + 64);
    const floats =
      batch * (5 * c.dim + 2 * c.kvDim + 2 * c.hiddenDim + c.rope.dim + c.nVocab) + c.nHeads * nCtx;
    return floats * F32 + batch * stride + 2 * c.nLayers * nCtx * c.kvDim * F16 + 16 * 64;
  }

  /** Bytes per token of the activation buffer: the largest companion format any weight needs. */
  private static activationStride(k: KernelExports, c: ModelConfig, w: ModelWeights): number {
    let most = 0;
    const consider = (m: WeightMatrix) => {
      most = Math.max(most, k.act_bytes(m.type.id, m.cols));
    };
    consider(w.output);
    for (const l of w.layers) [l.wq, l.wk, l.wv, l.wo, l.wGate, l.wUp, l.wDown].forEach(consider);
    return Math.ceil(most / 64) * 64;
  }

  /**
   * Run tokens[0..T) at positions pos0..pos0+T-1 (T ≤ batch, pos0 + T ≤ nCtx), writing their K and V
   * into the cache. Returns the byte offset of the logits: (T, nVocab) for "all", (1, nVocab) for "last".
   */
  forward(tokens: ArrayLike<number>, pos0: number, logitsFor: LogitsFor): number {
    const { k, config: c, weights: w } = this;
    const T = tokens.length;
    const dim = c.dim;
    const kvDim = c.kvDim;

    // Token embeddings (granite scales them).
    for (let t = 0; t < T; t++) {
      const e = w.tokenEmbd;
      const row = this.x + t * dim * F32;
      k.dequant_row(e.type.id, e.ptr + tokens[t] * e.rowBytes, row, dim);
      if (c.embeddingScale !== 1) k.vec_scale(row, c.embeddingScale, dim);
    }
    this.ropeTables(pos0, T);

    for (let l = 0; l < c.nLayers; l++) {
      const L = w.layers[l];
      const kCache = this.kCache + l * this.nCtx * kvDim * F16;
      const vCache = this.vCache + l * this.nCtx * kvDim * F16;

      // Attention block: norm, Q/K/V from one converted activation, RoPE, cache, attend, project.
      for (let t = 0; t < T; t++) k.rmsnorm(this.x + t * dim * F32, L.attnNorm, this.xb + t * dim * F32, dim, c.normEps);
      const plan = this.plans[l];
      this.project(this.xb, T, plan.qkv);
      for (let t = 0; t < T; t++) {
        const q = this.q + t * dim * F32;
        const kr = this.kv + t * 2 * kvDim * F32;
        const vr = kr + kvDim * F32;
        if (c.qkvBias) {
          k.vec_add(q, L.bq, q, dim);
          k.vec_add(kr, L.bk, kr, kvDim);
          k.vec_add(vr, L.bv, vr, kvDim);
        }
        const cs = this.cosSin + t * c.rope.dim * F32;
        const neox = c.rope.neox ? 1 : 0;
        k.rope(q, c.nHeads, c.headDim, c.rope.dim, cs, neox);
        k.rope(kr, c.nKvHeads, c.headDim, c.rope.dim, cs, neox);
        const pos = pos0 + t;
        k.f32_to_f16(kr, kCache + pos * kvDim * F16, kvDim);
        k.f32_to_f16(vr, vCache + pos * kvDim * F16, kvDim);
      }
      // Causal: token t sees positions 0..pos0+t, all of which are in the cache by now.
      const a = this.attn;
      a.kCache = kCache;
      a.vCache = vCache;
      for (let t = 0; t < T; t++) {
        a.q = this.q + t * dim * F32;
        a.out = this.att + t * dim * F32;
        a.nPos = pos0 + t + 1;
        this.exec.attention(a);
      }
      this.project(this.att, T, plan.wo);
      this.residual(T);

      // Feed-forward block: norm, gate and up from one converted activation, SiLU·up, down.
      for (let t = 0; t < T; t++) k.rmsnorm(this.x + t * dim * F32, L.ffnNorm, this.xb + t * dim * F32, dim, c.normEps);
      this.project(this.xb, T, plan.gateUp);
      // Row by row: ggml's swiglu treats each row's last n % 8 elements apart (libm expf).
      for (let t = 0; t < T; t++) {
        const o = t * c.hiddenDim * F32;
        k.silu_mul(this.hb + o, this.hb2 + o, this.hb + o, c.hiddenDim);
      }
      this.project(this.hb, T, plan.down);
      this.residual(T);
    }

    // Final norm and the output projection, for the positions that want logits.
    const first = logitsFor === "all" ? 0 : T - 1;
    const n = T - first;
    for (let t = first; t < T; t++) {
      k.rmsnorm(this.x + t * dim * F32, w.outputNorm, this.xb + (t - first) * dim * F32, dim, c.normEps);
    }
    this.project(this.xb, n, this.outputPlan);
    if (c.logitScale !== 1) k.vec_scale(this.logits, 1 / c.logitScale, n * c.nVocab);
    return this.logits;
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
    const { k } = this;
    const n = p.cols;
    for (const g of p.groups) {
      const type = g.matvecs[0][0].type.id;
      for (let t = 0; t < T; t++) k.quantize_act(type, input + t * n * F32, this.xq + t * this.xqStride, n);
      if (T === 1) this.exec.matvecs(g.matvecs, this.xq);
      else for (const [m, out, stride] of g.outs) this.exec.matmul(m, this.xq, this.xqStride, out, stride, T);
    }
  }

  /**
   * cos/sin of every rotation angle for positions pos0..pos0+T-1, computed as ggml's rope cache does
   * (θ_i = p·base^(−2i/d) by repeated f32 multiplication, divided by the frequency factor, times
   * the linear scale), so positions rotate exactly as in llama.cpp.
   */
  private ropeTables(pos0: number, T: number): void {
    const c = this.config;
    const f = this.engine.f32();
    const half = c.rope.dim / 2;
    const ff = this.weights.ropeFreqFactors;
    for (let t = 0; t < T; t++) {
      let theta = Math.fround(pos0 + t);
      const base = (this.cosSin >> 2) + t * c.rope.dim;
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(c.rope.freqScale * Math.fround(ff ? theta / ff[i] : theta));
        f[base + 2 * i] = Math.cos(angle);
        f[base + 2 * i + 1] = Math.sin(angle);
        theta = Math.fround(theta * this.thetaScale);
      }
    }
  }
}

/** One projection step: its matrices grouped by activation format, with their outputs. */
interface Projection {
  readonly cols: number;
  readonly groups: readonly {
    /** [matrix, output, output row stride in elements] for matmul. */
    readonly outs: readonly (readonly [WeightMatrix, number, number])[];
    /** [matrix, output] for one matvecs dispatch. */
    readonly matvecs: readonly (readonly [WeightMatrix, number])[];
  }[];
}

interface LayerPlan {
  readonly qkv: Projection;
  readonly wo: Projection;
  readonly gateUp: Projection;
  readonly down: Projection;
}

/** Group matrices that read the same input by the activation format their dot products take. */
function projection(outs: readonly (readonly [WeightMatrix, number, number])[]): Projection {
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
