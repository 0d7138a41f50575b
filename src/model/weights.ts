// Where a model's tensors live in the arena, and the shapes the forward pass reads them with.
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

export interface LayerWeights {
  /** (dim) f32 */
  readonly attnNorm: number;
  readonly wq: WeightMatrix; // (dim, dim)
  readonly wk: WeightMatrix; // (kvDim, dim)
  readonly wv: WeightMatrix; // (kvDim, dim)
  /** (dim), (kvDim), (kvDim) f32 biases, 0 when the architecture has none. */
  readonly bq: number;
  readonly bk: number;
  readonly bv: number;
  readonly wo: WeightMatrix; // (dim, dim)
  /** (dim) f32 */
  readonly ffnNorm: number;
  readonly wGate: WeightMatrix; // (hiddenDim, dim)
  readonly wUp: WeightMatrix; // (hiddenDim, dim)
  readonly wDown: WeightMatrix; // (dim, hiddenDim)
}

export interface ModelWeights {
  readonly tokenEmbd: WeightMatrix; // (nVocab, dim)
  /** (dim) f32 */
  readonly outputNorm: number;
  /** (nVocab, dim); the token embedding itself when the model ties them. */
  readonly output: WeightMatrix;
  readonly layers: readonly LayerWeights[];
  /** (rope.dim / 2) divisors of each rotation frequency (`rope_freqs.weight`, Llama 3.1 scaling), or null. */
  readonly ropeFreqFactors: Float32Array | null;
}
