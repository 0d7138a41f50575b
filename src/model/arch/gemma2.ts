// gemma2 (llama.cpp's llm_build_gemma2_iswa): token embeddings scaled by √dim; RMSNorm before and after
// attention and the FFN; GeGLU (tanh GELU) FFN; Q multiplied by 1/√headDim before attention (the softmax
// scale is then 1); attention scores soft-capped (cap·tanh(s/cap)) and so are the final logits; a sliding
// window (default 4096) on every other layer, starting with layer 0; NeoX RoPE, the same on every layer.
import { slidingLayers, windowSize, type ArchSpec } from "./common.js";

export const gemma2: ArchSpec = (h) => {
  const window = windowSize(h, 4096);
  const slides = slidingLayers(h, 2);
  return {
    ropeNeox: true,
    postNorms: true,
    activation: "gelu",
    embeddingScale: Math.fround(Math.sqrt(h.dim)),
    queryScale: gemmaQueryScale(h),
    attentionScale: 1,
    attnSoftcap: h.f32("attn_logit_softcapping", 50),
    finalSoftcap: h.f32("final_logit_softcapping", 30),
    layer: (l) => ({ window: slides(l) ? window : 0 }),
  };
};

/** 1/√headDim, except Gemma 27B (46 or 62 layers), which scales by 1/√(dim / nHeads) (gemma_pytorch's config). */
export function gemmaQueryScale(h: Parameters<ArchSpec>[0], big = h.nLayers === 46): number {
  return Math.fround(1 / Math.sqrt(big ? h.dim / h.nHeads : h.headDim));
}
