// Where a model's tensors live in the arena, and the shapes the forward pass reads them with.
// Vectors are byte offsets of f32 data; 0 means "this model has none".
import type { GgmlTypeInfo } from "../quant/types.js";

/** A 2-D weight W of shape (rows, cols), stored row-major in its GGUF type: y = W·x has `rows` outputs. */
export interface WeightMatrix {
  readonly name: string;
  readonly ptr: number;
  readonly type: GgmlTypeInfo;
  readonly rows: number;
  readonly cols: number;
  readonly rowBytes: number;
}

/** One layer's mixer: attention, or lfm2's short convolution. */
export interface AttentionWeights {
  readonly kind: "attention";
  /** Q, K, V: three matrices (qDim, kvDim, kvDim rows), or one fused `attn_qkv` (qDim + 2·kvDim rows). */
  readonly qkv: readonly WeightMatrix[];
  /** (qDim), (kvDim), (kvDim) f32 biases, 0 when the model has none. */
  readonly bq: number;
  readonly bk: number;
  readonly bv: number;
  /** Q/K RMSNorm weights: (headDim) per head, or (qDim) / (kvDim) over the whole projection; 0: none. */
  readonly qNorm: number;
  readonly kNorm: number;
  readonly wo: WeightMatrix; // (dim, qDim)
}

export interface ShortConvWeights {
  readonly kind: "shortconv";
  readonly inProj: WeightMatrix; // (3·dim, dim): b, c, x
  /** (dim, L) f32 taps */
  readonly conv: number;
  readonly outProj: WeightMatrix; // (dim, dim)
}

export interface LayerWeights {
  /** (dim) f32 norms; 0 where the architecture has none (olmo2 has no pre-norms, llama no post-norms). */
  readonly attnNorm: number;
  readonly attnPostNorm: number;
  readonly ffnNorm: number;
  readonly ffnPostNorm: number;
  readonly mixer: AttentionWeights | ShortConvWeights;
  /** Gate and up: two matrices (hiddenDim rows each), or one fused `ffn_up` (2·hiddenDim rows, gate first). */
  readonly gateUp: readonly WeightMatrix[];
  readonly wDown: WeightMatrix; // (dim, hiddenDim)
}

export interface ModelWeights {
  readonly tokenEmbd: WeightMatrix; // (nVocab, dim)
  /** (dim) f32 */
  readonly outputNorm: number;
  /** (nVocab, dim); the token embedding itself when the model ties them. */
  readonly output: WeightMatrix;
  readonly layers: readonly LayerWeights[];
  /** (rope.dim / 2) divisors of each rotation frequency (`rope_freqs`, or LongRoPE's chosen pair), or null. */
  readonly ropeFreqFactors: Float32Array | null;
}
