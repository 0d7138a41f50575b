// The encoder forward pass (bert), read top to bottom like forward.ts: every token of one input goes
// through every layer at once, and attention is bidirectional, so there is no KV cache and no decoding.
// As llama.cpp's llm_build_bert (src/models/bert.cpp) builds it:
//
//   x = LayerNorm(tok_embd[id] + token_types[0] + position_embd[pos])
//   per layer:  q, k, v = W·x + b;  a = attention(q, k, v) over all T tokens;  x = LayerNorm(Wo·a + bo + x)
//               x = LayerNorm(down(gelu(up·x + b_up)) + b_down + x)
//
// K and V stay f32 (llama.cpp runs an embedding model without a KV cache): attention_f32, split by heads
// over the thread pool (Executor.encoderAttention). Buffers are
// allocated once for the longest input (nCtx tokens); encode() allocates nothing.
import { LoadError } from "../errors.js";
import type { Engine } from "../wasm/engine.js";
import type { KernelExports } from "../wasm/exports.js";
import type { ModelConfig } from "./config.js";
import type { EncoderAttentionArgs, Executor } from "./exec.js";
import { project, projection, type Projection } from "./forward.js";
import type { WeightMatrix } from "./weights.js";

const F32 = 4;

export interface EncoderLayerWeights {
  /** Q, K, V: three (dim, dim) matrices, or one fused `attn_qkv` (3·dim rows). */
  readonly qkv: readonly WeightMatrix[];
  /** (dim) f32 biases; 0 where the file has none. */
  readonly bq: number;
  readonly bk: number;
  readonly bv: number;
  readonly wo: WeightMatrix;
  readonly bo: number;
  /** attn_output_norm weight and bias (dim) f32 */
  readonly attnNorm: readonly [number, number];
  readonly up: WeightMatrix;
  /** SwiGLU's gate (nomic-bert), or null: a plain GELU FFN (bert). */
  readonly gate: WeightMatrix | null;
  readonly bUp: number;
  readonly down: WeightMatrix;
  readonly bDown: number;
  /** layer_output_norm weight and bias (dim) f32 */
  readonly outNorm: readonly [number, number];
}

export interface EncoderWeights {
  readonly tokenEmbd: WeightMatrix; // (nVocab, dim)
  /** (nCtxTrain, dim) learned positions (bert), or null: RoPE on Q and K (nomic-bert). */
  readonly posEmbd: WeightMatrix | null;
  /** (2, dim): token types; row 0 is added to every token (llama.cpp hard-codes "sentence A"). null: none. */
  readonly typeEmbd: WeightMatrix | null;
  /** token_embd_norm weight and bias (dim) f32 */
  readonly embNorm: readonly [number, number];
  readonly layers: readonly EncoderLayerWeights[];
  /**
   * The rank (classification) head of a reranker: cls (dim, dim) + bias, tanh, then cls.output
   * (classifierOutputs, dim) + bias; either may be absent (null / 0).
   */
  readonly cls: WeightMatrix | null;
  readonly clsB: number;
  readonly clsOut: WeightMatrix | null;
  readonly clsOutB: number;
}

/**
 * The tensors a bert / nomic-bert file must hold: [name, dims, optional], checked by the loader's planner;
 * `has` says which tensors the file has (a fused attn_qkv or three matrices).
 */
export function encoderTensors(c: ModelConfig, has: (name: string) => boolean): [string, number[], boolean][] {
  const t: [string, number[], boolean][] = [
    ["token_embd.weight", [c.dim, c.nVocab], false],
    ...(c.encoderRope ? [] : [["position_embd.weight", [c.dim, c.nCtxTrain], false] as [string, number[], boolean]]),
    ["token_types.weight", [c.dim, 2], true],
    ["token_embd_norm.weight", [c.dim], false],
    ["token_embd_norm.bias", [c.dim], false],
    ["cls.weight", [c.dim, c.dim], true],
    ["cls.bias", [c.dim], true],
    ["cls.output.weight", [c.dim, c.classifierOutputs], true],
    ["cls.output.bias", [c.classifierOutputs], true],
  ];
  if (c.qDim !== c.dim || c.kvDim !== c.dim) {
    throw new LoadError("bad_hyperparameter", `a ${c.arch} model needs head_count * key_length = embedding_length (${c.qDim}, ${c.kvDim} vs ${c.dim})`);
  }
  for (let l = 0; l < c.nLayers; l++) {
    const b = `blk.${l}.`;
    if (has(`${b}attn_qkv.weight`)) t.push([`${b}attn_qkv.weight`, [c.dim, 3 * c.dim], false], [`${b}attn_qkv.bias`, [3 * c.dim], true]);
    for (const m of ["attn_q", "attn_k", "attn_v", "attn_output"]) {
      if (m === "attn_output" || !has(`${b}attn_qkv.weight`)) t.push([`${b}${m}.weight`, [c.dim, c.dim], false]);
      t.push([`${b}${m}.bias`, [c.dim], true]);
    }
    // nomic-bert: SwiGLU without biases (llama.cpp passes none for it, even if a file had them).
    if (c.encoderRope) t.push([`${b}ffn_gate.weight`, [c.dim, c.hiddenDim], false]);
    t.push(
      [`${b}attn_output_norm.weight`, [c.dim], false],
      [`${b}attn_output_norm.bias`, [c.dim], false],
      [`${b}ffn_up.weight`, [c.dim, c.hiddenDim], false],
      ...(c.encoderRope ? [] : [[`${b}ffn_up.bias`, [c.hiddenDim], true] as [string, number[], boolean]]),
      [`${b}ffn_down.weight`, [c.hiddenDim, c.dim], false],
      ...(c.encoderRope ? [] : [[`${b}ffn_down.bias`, [c.dim], true] as [string, number[], boolean]]),
      [`${b}layer_output_norm.weight`, [c.dim], false],
      [`${b}layer_output_norm.bias`, [c.dim], false],
    );
  }
  return t;
}

/** The encoder's weights from the loader's placed tensors (`vec` gives 0 for an absent one). */
export function encoderWeights(c: ModelConfig, mat: (name: string) => WeightMatrix, vec: (name: string) => number, has: (name: string) => boolean): EncoderWeights {
  const layers: EncoderLayerWeights[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const b = `blk.${l}.`;
    layers.push({
      qkv: has(b + "attn_qkv.weight") ? [mat(b + "attn_qkv.weight")] : [mat(b + "attn_q.weight"), mat(b + "attn_k.weight"), mat(b + "attn_v.weight")],
      // A fused bias is Q's, K's and V's side by side: the three offsets into it.
      bq: vec(b + "attn_q.bias") || vec(b + "attn_qkv.bias"),
      bk: vec(b + "attn_k.bias") || (vec(b + "attn_qkv.bias") && vec(b + "attn_qkv.bias") + c.dim * F32),
      bv: vec(b + "attn_v.bias") || (vec(b + "attn_qkv.bias") && vec(b + "attn_qkv.bias") + 2 * c.dim * F32),
      wo: mat(b + "attn_output.weight"),
      bo: vec(b + "attn_output.bias"),
      attnNorm: [vec(b + "attn_output_norm.weight"), vec(b + "attn_output_norm.bias")],
      up: mat(b + "ffn_up.weight"),
      gate: has(b + "ffn_gate.weight") ? mat(b + "ffn_gate.weight") : null,
      bUp: vec(b + "ffn_up.bias"),
      down: mat(b + "ffn_down.weight"),
      bDown: vec(b + "ffn_down.bias"),
      outNorm: [vec(b + "layer_output_norm.weight"), vec(b + "layer_output_norm.bias")],
    });
  }
  return {
    tokenEmbd: mat("token_embd.weight"),
    posEmbd: has("position_embd.weight") ? mat("position_embd.weight") : null,
    typeEmbd: has("token_types.weight") ? mat("token_types.weight") : null,
    embNorm: [vec("token_embd_norm.weight"), vec("token_embd_norm.bias")],
    layers,
    cls: has("cls.weight") ? mat("cls.weight") : null,
    clsB: vec("cls.bias"),
    clsOut: has("cls.output.weight") ? mat("cls.output.weight") : null,
    clsOutB: vec("cls.output.bias"),
  };
}

interface EncoderLayerPlan {
  readonly qkv: Projection;
  readonly wo: Projection;
  readonly up: Projection;
  readonly down: Projection;
}

export class Encoder {
  /** The most tokens one input may have: the buffers' size, at most the model's trained positions. */
  readonly nCtx: number;
  private readonly k: KernelExports;
  private readonly x: number; //      (nCtx, dim) hidden states
  private readonly xb2: number; //    (nCtx, dim) block output before the residual
  private readonly mix: number; //    (nCtx, 3·dim) Q|K|V
  private readonly vT: number; //     (dim, nCtx) V transposed
  private readonly att: number; //    (nCtx, dim) attention output
  private readonly hb: number; //     (nCtx, hiddenDim) FFN activations
  private readonly gu: number; //     (nCtx, 2·hiddenDim) SwiGLU's gate|up, or 0
  private readonly cosSin: number; // (nCtx, ropeDim) RoPE's cos/sin pairs per position, or 0
  private readonly xq: number; //     (nCtx, xqStride bytes) converted activations
  private readonly xqStride: number;
  private readonly scores: number; // (nHeads, nCtx)
  private readonly row: number; //    (dim) a position's or the token type's embedding row
  private readonly type0: number; //  (dim) token type 0, or 0
  private readonly geluTable: number;
  /** Mean pooling's scratch: a column of T values, T weights, and the (dim) result. */
  private readonly poolCol: number;
  private readonly poolW: number;
  readonly pooled: number;
  private readonly plans: readonly EncoderLayerPlan[];
  /** Reused for every layer's attention: only nPos changes. */
  private readonly attn: EncoderAttentionArgs;
  /** The rank head's projections and outputs ((dim) after cls, (classifierOutputs) scores), or null. */
  private readonly clsPlan: Projection | null;
  private readonly clsOutPlan: Projection | null;
  private readonly clsBuf: number;
  private readonly scoreBuf: number;

  constructor(
    private readonly engine: Engine,
    readonly config: ModelConfig,
    private readonly weights: EncoderWeights,
    private readonly exec: Executor,
    nCtx: number,
  ) {
    const c = config;
    this.k = engine.kernels;
    this.nCtx = Math.min(nCtx, c.nCtxTrain);
    const n = this.nCtx;
    const alloc = (bytes: number, what: string) => engine.alloc(bytes, what);
    this.x = alloc(n * c.dim * F32, "the hidden states");
    this.xb2 = alloc(n * c.dim * F32, "block outputs");
    this.mix = alloc(n * 3 * c.dim * F32, "queries, keys and values");
    this.vT = alloc(n * c.dim * F32, "transposed values");
    this.att = alloc(n * c.dim * F32, "attention outputs");
    this.hb = alloc(n * c.hiddenDim * F32, "feed-forward activations");
    this.gu = c.encoderRope ? alloc(n * 2 * c.hiddenDim * F32, "feed-forward activations") : 0;
    this.cosSin = c.encoderRope ? alloc(n * c.ropes[0].dim * F32, "rotary tables") : 0;
    if (this.cosSin) this.ropeTables();
    this.xqStride = Encoder.activationStride(this.k, weights);
    this.xq = alloc(n * this.xqStride, "quantized activations");
    this.scores = alloc(c.nHeads * n * F32, "attention scores");
    this.row = alloc(c.dim * F32, "an embedding row");
    this.type0 = weights.typeEmbd ? alloc(c.dim * F32, "the token-type embedding") : 0;
    if (weights.typeEmbd) this.k.dequant_row(weights.typeEmbd.type.id, weights.typeEmbd.ptr, this.type0, c.dim);
    this.geluTable = alloc(65536 * 2, "the GELU table");
    this.k.gelu_table(this.geluTable);
    this.poolCol = alloc(n * F32, "pooling scratch");
    this.poolW = alloc(n * F32, "pooling scratch");
    this.pooled = alloc(c.dim * F32, "the pooled embedding");
    const stride = 3 * c.dim;
    this.clsBuf = alloc(c.dim * F32, "the rank head");
    this.scoreBuf = alloc(c.classifierOutputs * F32, "the rank scores");
    this.clsPlan = weights.cls ? projection([[weights.cls, this.clsBuf, c.dim]]) : null;
    this.clsOutPlan = weights.clsOut ? projection([[weights.clsOut, this.scoreBuf, c.classifierOutputs]]) : null;
    this.attn = {
      q: this.mix, qStride: 3 * c.dim, k: this.mix + c.dim * F32, kStride: 3 * c.dim, vT: this.vT, out: this.att, outStride: c.dim,
      scores: this.scores, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, nPos: 0, scale: c.attentionScale,
    };
    this.plans = weights.layers.map((L) => ({
      qkv: projection(L.qkv.map((m, i) => [m, this.mix + i * c.dim * F32, stride] as const)),
      wo: projection([[L.wo, this.xb2, c.dim]]),
      up: L.gate
        ? projection([[L.gate, this.gu, 2 * c.hiddenDim], [L.up, this.gu + c.hiddenDim * F32, 2 * c.hiddenDim]])
        : projection([[L.up, this.hb, c.hiddenDim]]),
      down: projection([[L.down, this.xb2, c.dim]]),
    }));
  }

  /** Bytes the buffers above take, so the loader can check the total before allocating. */
  static scratchBytes(c: ModelConfig, nCtx: number): number {
    const n = Math.min(nCtx, c.nCtxTrain);
    const stride = Math.max(c.dim, c.hiddenDim) * F32 + 64; // a bound on every activation format's row
    const rope = c.encoderRope ? 2 * c.hiddenDim + c.ropes[0].dim : 0;
    const floats = n * (8 * c.dim + c.hiddenDim + c.nHeads + 2 + rope) + 4 * c.dim + c.classifierOutputs;
    return floats * F32 + n * stride + 65536 * 2 + 16 * 64;
  }

  private static activationStride(k: KernelExports, w: EncoderWeights): number {
    let most = 0;
      const head = [w.cls, w.clsOut].filter((m): m is WeightMatrix => m !== null);
    const mats = w.layers.flatMap((L) => [...L.qkv, L.wo, L.up, L.down, ...(L.gate ? [L.gate] : [])]);
    for (const m of [...mats, ...head]) most = Math.max(most, k.act_bytes(m.type.id, m.cols));
    return Math.ceil(most / 64) * 64;
  }

  /** Run tokens[0..T) (T ≤ nCtx) through the encoder. Returns the offset of the (T, dim) final hidden states. */
  encode(tokens: ArrayLike<number>): number {
    const { k, config: c, weights: w } = this;
    const T = tokens.length;
    const dim = c.dim;
    const rowBytes = dim * F32;
    const [nw, nb] = w.embNorm;
    // (token + type 0) + position, then LayerNorm: the order of llama.cpp's two ggml_adds.
    for (let t = 0; t < T; t++) {
      const x = this.x + t * rowBytes;
      const e = w.tokenEmbd;
      k.dequant_row(e.type.id, e.ptr + tokens[t] * e.rowBytes, x, dim);
      if (this.type0) k.vec_add(x, this.type0, x, dim);
      if (w.posEmbd) {
        k.dequant_row(w.posEmbd.type.id, w.posEmbd.ptr + t * w.posEmbd.rowBytes, this.row, dim);
        k.vec_add(this.row, x, x, dim);
      }
      k.layernorm(x, nw, nb, x, dim, c.normEps);
    }
    for (let l = 0; l < c.nLayers; l++) {
      const L = w.layers[l];
      const plan = this.plans[l];
      project(k, this.exec, this.xq, this.xqStride, this.x, T, plan.qkv);
      this.attention(L, T);
      project(k, this.exec, this.xq, this.xqStride, this.att, T, plan.wo);
      this.residualNorm(L.bo, L.attnNorm, T);
      project(k, this.exec, this.xq, this.xqStride, this.x, T, plan.up);
      const ff = c.hiddenDim;
      for (let t = 0; t < T; t++) {
        const h = this.hb + t * ff * F32;
        if (L.gate) {
          // Row by row: ggml's swiglu treats each row's last n % 8 elements apart.
          const g = this.gu + t * 2 * ff * F32;
          k.silu_mul(g, g + ff * F32, h, ff);
          continue;
        }
        if (L.bUp) k.vec_add(h, L.bUp, h, ff);
        k.gelu(h, h, ff, this.geluTable);
      }
      project(k, this.exec, this.xq, this.xqStride, this.hb, T, plan.down);
      this.residualNorm(L.bDown, L.outNorm, T);
    }
    return this.x;
  }

  /**
   * The pooled vector of the last encode() (T tokens), not normalised: mean as llama.cpp's ggml_mul_mat with
   * weights f32(1/T); cls the first token's row, last the last's. Returns its offset ((dim) f32).
   */
  pool(T: number, pooling: "mean" | "cls" | "last"): number {
    const dim = this.config.dim;
    if (pooling === "mean") {
      this.k.pool_mean(this.x, T, dim, Math.fround(1 / T), this.poolCol, this.poolW, this.pooled);
    } else {
      const t = pooling === "cls" ? 0 : T - 1;
      this.k.vec_copy(this.x + t * dim * F32, this.pooled, dim * F32);
    }
    return this.pooled;
  }

  /** Whether the model has a rank (classification) head. */
  get hasRankHead(): boolean {
    return this.clsPlan !== null || this.clsOutPlan !== null;
  }

  /**
   * The rank head's scores for the last encode(): as llama.cpp's build_pooling for pooling "rank" (bert):
   * the first token's row, then cls + bias and tanh (ggml_tanh: libm tanhf; vec_softcap with cap 1 is
   * tanh(x·1)·1, the same), then cls.output + bias. Returns the offset of classifierOutputs f32.
   */
  rank(): number {
    const { k, config: c, weights: w } = this;
    let cur = this.x; // row 0: [CLS]
    if (this.clsPlan) {
      project(k, this.exec, this.xq, this.xqStride, cur, 1, this.clsPlan);
      if (w.clsB) k.vec_add(this.clsBuf, w.clsB, this.clsBuf, c.dim);
      k.vec_softcap(this.clsBuf, 1, c.dim);
      cur = this.clsBuf;
    }
    if (!this.clsOutPlan) {
      k.vec_copy(cur, this.scoreBuf, c.classifierOutputs * F32);
      return this.scoreBuf;
    }
    project(k, this.exec, this.xq, this.xqStride, cur, 1, this.clsOutPlan);
    if (w.clsOutB) k.vec_add(this.scoreBuf, w.clsOutB, this.scoreBuf, c.classifierOutputs);
    return this.scoreBuf;
  }

  /** Biases, then each query token attends to all T tokens, all heads. */
  private attention(L: EncoderLayerWeights, T: number): void {
    const { k, config: c } = this;
    const dim = c.dim;
    const stride = 3 * dim;
    const f = this.engine.f32();
    for (let t = 0; t < T; t++) {
      const q = this.mix + t * stride * F32;
      if (L.bq) k.vec_add(q, L.bq, q, dim);
      if (L.bk) k.vec_add(q + dim * F32, L.bk, q + dim * F32, dim);
      if (L.bv) k.vec_add(q + 2 * dim * F32, L.bv, q + 2 * dim * F32, dim);
      if (this.cosSin) {
        const r = c.ropes[0];
        const cs = this.cosSin + t * r.dim * F32;
        k.rope(q, c.nHeads, c.headDim, r.dim, cs, r.neox ? 1 : 0);
        k.rope(q + dim * F32, c.nKvHeads, c.headDim, r.dim, cs, r.neox ? 1 : 0);
      }
    }
    // V transposed, (dim, T): the layout ggml_cont(ggml_transpose(v)) gives kqv's dot products.
    const m = this.mix >> 2;
    const vt = this.vT >> 2;
    for (let t = 0; t < T; t++) {
      const v = m + t * stride + 2 * dim;
      for (let d = 0; d < dim; d++) f[vt + d * T + t] = f[v + d];
    }
    const a = this.attn;
    a.nPos = T;
    this.exec.encoderAttention(a);
  }

  /**
   * cos/sin for every position 0..nCtx-1, once: as Transformer.ropeTables computes them (ggml's rope cache,
   * θ_i = p·base^(−2i/d) by repeated f32 multiplication), without scaling or frequency factors.
   */
  private ropeTables(): void {
    const r = this.config.ropes[0];
    const f = this.engine.f32();
    const thetaScale = Math.fround(Math.pow(r.base, -2 / r.dim));
    for (let p = 0; p < this.nCtx; p++) {
      let theta = Math.fround(p);
      const base = (this.cosSin >> 2) + p * r.dim;
      for (let i = 0; i < r.dim / 2; i++) {
        const angle = Math.fround(r.freqScale * theta);
        f[base + 2 * i] = Math.cos(angle);
        f[base + 2 * i + 1] = Math.sin(angle);
        theta = Math.fround(theta * thetaScale);
      }
    }
  }

  /** xb2 += bias; x = LayerNorm(xb2 + x) with norm = [weight, bias]: a post-norm residual. */
  private residualNorm(bias: number, norm: readonly [number, number], T: number): void {
    const { k, config: c } = this;
    const dim = c.dim;
    for (let t = 0; t < T; t++) {
      const o = this.xb2 + t * dim * F32;
      const x = this.x + t * dim * F32;
      if (bias) k.vec_add(o, bias, o, dim);
      k.vec_add(o, x, x, dim);
      k.layernorm(x, norm[0], norm[1], x, dim, c.normEps);
    }
  }
}
