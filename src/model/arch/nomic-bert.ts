// nomic-bert (nomic-embed-text v1/v1.5; llama.cpp builds it with llm_build_bert): the bert encoder with a
// fused QKV projection (`attn_qkv`, no biases), NeoX RoPE on Q and K instead of learned positions, and a
// SwiGLU FFN (`ffn_gate`, `ffn_up`, `ffn_down`, no biases: llama.cpp passes none for this architecture).
import type { ArchSpec } from "./common.js";

export const nomicBert: ArchSpec = () => ({ encoder: true, encoderRope: true, ropeNeox: true, activation: "silu", preNorms: false });
