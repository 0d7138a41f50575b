// olmo2 (OLMo 2): no norm before attention or the FFN, RMSNorm after each (`post_attention_norm`,
// `post_ffw_norm`); RMSNorm over the whole Q and K projections (`attn_q_norm` [qDim], `attn_k_norm`
// [kvDim]) before RoPE; NeoX RoPE.
import type { ArchSpec } from "./common.js";

export const olmo2: ArchSpec = () => ({ ropeNeox: true, qkNorm: "full", preNorms: false, postNorms: true });
