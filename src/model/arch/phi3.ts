// phi3 (Phi-3, Phi-3.5, Phi-4-mini): fused `attn_qkv` (Q, K, V rows in that order) and fused gate+up
// `ffn_up` (2·hiddenDim rows: gate first); NeoX RoPE, with LongRoPE frequency factors
// (`rope_factors_long` / `_short`, chosen by the context length against the original one) and
// `rope.scaling.attn_factor` on cos and sin; Q multiplied by 1/√headDim before attention. llama.cpp
// disables phi3's sliding window (its converters set it wrongly), and so does Woolly.
import type { ArchSpec } from "./common.js";

export const phi3: ArchSpec = (h) => ({
  ropeNeox: true,
  queryScale: Math.fround(1 / Math.sqrt(h.headDim)),
  attentionScale: 1,
  ropeFactors: "longrope",
});
