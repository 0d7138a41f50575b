// assembly/ops.ts: element-wise and attention kernels of the forward pass. Pointers are byte offsets into
// the engine's memory, f32 unless stated; `n` counts elements. Every kernel has a scalar twin
// `<name>_scalar` with the same signature and the same results, bit for bit.

/** The kernels, each listed once; OpsExports adds the `_scalar` twins. */
interface OpsKernels {
  /** out = x / sqrt(mean(x²) + eps) * weight; out may alias x. Rounds as ggml's rms_norm then mul. */
  rmsnorm(x: number, weight: number, out: number, n: number, eps: number): void;
  /** out = a + b; out may alias a or b. */
  vec_add(a: number, b: number, out: number, n: number): void;
  /** acc += f32(s * x) (granite's residual_scale). */
  vec_add_scaled(acc: number, x: number, s: number, n: number): void;
  /** x *= s in place. */
  vec_scale(x: number, s: number, n: number): void;
  /** out = silu(gate) * up with ggml's f32 exp approximation; out may alias gate or up. */
  silu_mul(gate: number, up: number, out: number, n: number): void;
  /**
   * RoPE for one position, in place on x = (nHeads, headDim). cosSin holds ropeDim/2 pairs (cos θ_i, sin θ_i).
   * neox = 0: pairs (x[2i], x[2i+1]) (llama); neox = 1: pairs (x[i], x[i + ropeDim/2]) (qwen2).
   * Dimensions >= ropeDim are left unchanged.
   */
  rope(x: number, nHeads: number, headDim: number, ropeDim: number, cosSin: number, neox: number): void;
  /** n f32 at src → n f16 (u16) at dst, round to nearest even. */
  f32_to_f16(src: number, dst: number, n: number): void;
  /** n f16 (u16) at src → n f32 at dst, exact. */
  f16_to_f32(src: number, dst: number, n: number): void;
  /**
   * Grouped-query attention of one query token over positions 0..nPos-1 of one layer's f16 KV cache, for
   * query heads h in [h0, h1). q, out: (nHeads, headDim) f32 (out may alias q); kCache, vCache:
   * (nCtx, nKvHeads, headDim) f16; scores: f32 scratch of nHeads*nPos floats (head h at scores + h*nPos*4).
   * Query head h reads kv head h / (nHeads / nKvHeads). s_t = (f16(q_h) · k_t) * scale, softmax, Σ p_t v_t.
   * Afterwards scores holds f16(p_t) * 2^112 (the probabilities V was weighted with); nPos = 0 writes
   * zeros. An inf or NaN in the cache reads as a large finite value (see assembly/ops/attention.ts).
   * softcap > 0 replaces each q·k by softcap·tanh(q·k / softcap) before the scale (gemma2); 0 leaves it.
   * batch = 1 sums V as llama.cpp does for a prompt (llamafile's tinyBLAS, 8 lanes), batch = 0 as for one
   * token (ggml_vec_dot_f16, 32 lanes).
   */
  attention(
    q: number, kCache: number, vCache: number, out: number, scores: number,
    nHeads: number, nKvHeads: number, headDim: number, nPos: number, scale: number, softcap: number, batch: number, h0: number, h1: number,
  ): void;
  /**
   * Attention over an 8-bit (ggml block_q8_0) KV cache, as llama.cpp's CPU flash attention computes it for a
   * q8_0 cache: q quantized to Q8_0, integer K·Q per block, f32 softmax, V dequantized and summed in f32,
   * divided by Σ at the end (assembly/ops/attention_q8.ts gives the orders). kCache, vCache: (nCtx, nKvHeads,
   * headDim) block_q8_0 (34 bytes per 32 values); headDim % 32 == 0. scores: f32 scratch of nHeads*nPos
   * floats (left holding exp(s_t - max)); qq: nHeads slots of alignUp(2*headDim + 44*headDim/32, 16) bytes
   * (head h's quantized query, then its 1/Σ). The other arguments as attention's (no batch: one order).
   */
  attention_q8(
    q: number, kCache: number, vCache: number, out: number, scores: number, qq: number,
    nHeads: number, nKvHeads: number, headDim: number, nPos: number, scale: number, softcap: number, h0: number, h1: number,
  ): void;
  /**
   * n f32 at x (n % 32 == 0) → n/32 ggml block_q8_0 at dst (f16 d, 32 i8), rounded as ggml's AVX2
   * quantize_row_q8_0 (what llama.cpp's CPU backend stores into a q8_0 KV cache).
   */
  kv_quantize_q8_0(x: number, dst: number, n: number): void;
  /**
   * The numerators of ggml_vec_soft_max_f32 (AVX2 + FMA) over one row, as attention computes them:
   * x[t] = ggml_v_expf(x[t] - max) for t < n in place; returns their sum in ggml's order (f64).
   */
  softmax_numerators(x: number, n: number, max: number): number;
  /** Fill table (65536 u16) with f16(gelu(x)) for every f16 x, as ggml's GELU table. */
  gelu_table(table: number): void;
  /** out = gelu(gate) * up through the table (ggml_vec_geglu_f32); out may alias gate or up. */
  gelu_mul(gate: number, up: number, out: number, n: number, table: number): void;
  /** x = cap * tanh(x / cap) in place (final-logit soft-capping). */
  vec_softcap(x: number, cap: number, n: number): void;
  /**
   * lfm2's gated short convolution of T tokens: bcx (T, stride) rows of b, c, x (dim each); state (dim, L-1)
   * updated in place; w (dim, L); out (T, dim) = c ⊙ conv(state ++ b⊙x).
   */
  short_conv(bcx: number, stride: number, state: number, w: number, out: number, dim: number, L: number, T: number): void;
  /** Copy `bytes` bytes from src to dst; the ranges may overlap. */
  vec_copy(src: number, dst: number, bytes: number): void;
  /** First index of the maximum of x (n); NaN never wins; 0 when nothing is above -inf. */
  argmax(x: number, n: number): number;
  /** out = (x - mean) / sqrt(var + eps) * weight + bias; out may alias x. Rounds as ggml's norm, mul, add. */
  layernorm(x: number, weight: number, bias: number, out: number, n: number, eps: number): void;
  /** out = gelu(x) through the table (ggml_vec_gelu_f32); out may alias x. */
  gelu(x: number, out: number, n: number, table: number): void;
  /**
   * One query token attends to all nPos positions (no causal limit), heads [h0, h1): q, out (nHeads, headDim);
   * k: nPos rows of kStride f32; vT: (nKvHeads*headDim, nPos) f32; scores: (nHeads, nPos) f32 scratch.
   * llama.cpp's non-flash attention without a KV cache (f32 K and V), in its AVX2 + FMA order.
   */
  attention_f32(
    q: number, k: number, kStride: number, vT: number, out: number, scores: number,
    nHeads: number, nKvHeads: number, headDim: number, nPos: number, scale: number, h0: number, h1: number,
  ): void;
  /** out (dim) = Σ_t x[t] · w over T rows of x (T, dim), as ggml_vec_dot_f32 per dimension; col, wcol: T f32 scratch each. */
  pool_mean(x: number, T: number, dim: number, w: number, col: number, wcol: number, out: number): void;
}

type ScalarTwins<T> = { [K in keyof T & string as `${K}_scalar`]: T[K] };

export type OpsExports = OpsKernels & ScalarTwins<OpsKernels>;

const KERNEL_NAMES = [
  "rmsnorm", "vec_add", "vec_add_scaled", "vec_scale", "silu_mul", "rope",
  "f32_to_f16", "f16_to_f32", "attention", "attention_q8", "kv_quantize_q8_0", "softmax_numerators", "vec_copy", "argmax",
  "gelu_table", "gelu_mul", "vec_softcap", "short_conv",
  "layernorm", "gelu", "attention_f32", "pool_mean",
] as const satisfies readonly (keyof OpsKernels)[];

/** Does not compile while a kernel of OpsKernels is missing from KERNEL_NAMES. */
type AssertNever<T extends never> = T;
type OpsKernelsAllListed = AssertNever<Exclude<keyof OpsKernels, (typeof KERNEL_NAMES)[number]>>;

/** Every ops export, kernels and their scalar twins (checked against both builds by test/wasm.test.ts). */
export const OPS_EXPORT_NAMES: (keyof OpsExports)[] = KERNEL_NAMES.flatMap(
  (name) => [name, `${name}_scalar`] as const,
);
