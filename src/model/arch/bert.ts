// bert (BERT, bge, MiniLM, ...; llama.cpp's llm_build_bert): an encoder. Token embedding + learned position
// embedding + token-type 0 embedding, LayerNorm; each layer Q/K/V with biases, bidirectional attention, output
// projection with bias, residual, LayerNorm, FFN up (bias) -> GELU -> down (bias), residual, LayerNorm. The
// final hidden states are pooled (`bert.pooling_type`) into one embedding per text: src/model/encoder.ts.
import type { ArchSpec } from "./common.js";

export const bert: ArchSpec = () => ({ encoder: true, activation: "gelu", preNorms: false });
