// qwen3 (Qwen3 dense): llama with an RMSNorm over each head of Q and of K (`attn_q_norm`, `attn_k_norm`,
// shape [headDim]) after projection and before RoPE, NeoX RoPE, no biases. headDim comes from
// `attention.key_length` and need not equal dim / nHeads.
import type { ArchSpec } from "./common.js";

export const qwen3: ArchSpec = () => ({ ropeNeox: true, qkNorm: "head" });
