// granite (IBM Granite 3.x): llama with four scales (llama.cpp's llm_build_granite).
import type { ArchSpec } from "./common.js";

export const granite: ArchSpec = (h) => {
  const attentionScale = h.f32("attention.scale", 0);
  return {
    embeddingScale: h.f32("embedding_scale", 1),
    residualScale: h.f32("residual_scale", 1),
    logitScale: h.f32("logit_scale", 1),
    ...(attentionScale ? { attentionScale } : {}),
  };
};
