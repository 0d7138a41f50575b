// gemma3 (text): gemma2 without attention soft-capping (the final cap only when the file sets one), plus an
// RMSNorm over each head of Q and K; a sliding window on 5 of every 6 layers (or the file's pattern), whose
// layers use their own RoPE base (`rope.freq_base_swa`, default 10000) and no linear scaling.
import { gemmaQueryScale } from "./gemma2.js";
import { slidingLayers, windowSize, type ArchSpec } from "./common.js";

export const gemma3: ArchSpec = (h) => {
  const window = windowSize(h, 0);
  const slides = window > 0 ? slidingLayers(h, 6) : () => false;
  return {
    ropeNeox: true,
    qkNorm: "head",
    postNorms: true,
    activation: "gelu",
    embeddingScale: Math.fround(Math.sqrt(h.dim)),
    queryScale: gemmaQueryScale(h, h.nLayers === 62),
    attentionScale: 1,
    finalSoftcap: h.f32("final_logit_softcapping", 0),
    ...(window > 0 ? { swaRopeBase: h.f32("rope.freq_base_swa", 10000), swaRopeScale: 1 } : {}),
    layer: (l) => ({ window: slides(l) ? window : 0 }),
  };
};
