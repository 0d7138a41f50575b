// The non-matmul kernels of the transformer forward pass, one area per file in ops/:
//   ops/vec.ts        rmsnorm, vec_add, vec_add_scaled, vec_scale, vec_copy, argmax
//   ops/silu.ts       silu_mul (SwiGLU)
//   ops/rope.ts       rope (normal and neox pairing)
//   ops/f16.ts        f32_to_f16, f16_to_f32 (KV cache rows)
//   ops/attention.ts  attention (one query token, grouped-query, f16 KV cache, optional soft-cap)
//   ops/attention_q8.ts  attention_q8, kv_quantize_q8_0 (the 8-bit KV cache: kvType "q8_0")
//   ops/gelu.ts       gelu_table, gelu_mul (GeGLU), vec_softcap
//   ops/conv.ts       short_conv (lfm2's gated short convolution)
//   ops/encoder.ts    layernorm, gelu, attention_f32 (bidirectional, f32 K/V), pool_mean: the BERT encoder
// ops/math.ts holds the shared exp approximation and f16 conversions; it is not re-exported.
// Every kernel has a scalar twin `<name>_scalar` that gives the same bits; see each file for how the
// arithmetic follows ggml's CPU ops and where it does not.
export * from "./ops/vec";
export * from "./ops/silu";
export * from "./ops/rope";
export * from "./ops/f16";
export * from "./ops/attention";
export { attention_q8, attention_q8_scalar, kv_quantize_q8_0, kv_quantize_q8_0_scalar } from "./ops/attention_q8";
export * from "./ops/gelu";
export * from "./ops/conv";
export * from "./ops/encoder";
