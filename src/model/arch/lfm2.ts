// lfm2 (Liquid LFM2): layers whose `attention.head_count_kv` entry is 0 are gated short convolutions
// (in-projection to 3·dim split as b, c, x; y = c ⊙ causal depthwise conv over time of b ⊙ x, kernel
// `shortconv.l_cache`; out-projection); the others are attention with per-head Q/K norms. NeoX RoPE; the
// final norm is `token_embd_norm`; the output projection is tied to the embedding.
import { LoadError } from "../../errors.js";
import { windowSize, type ArchSpec } from "./common.js";

export const lfm2: ArchSpec = (h) => {
  const kernel = h.u32("shortconv.l_cache", 0);
  if (!(kernel >= 2)) throw new LoadError("bad_hyperparameter", `${h.key("shortconv.l_cache")} is ${kernel}; lfm2 needs a convolution of at least 2 taps`);
  // A sliding window, when the file sets one, applies to every attention layer (llama.cpp's lfm2 loader).
  const window = windowSize(h, 0);
  return {
    ropeNeox: true,
    qkNorm: "head",
    outputNorm: "token_embd_norm",
    shortConvKernel: kernel,
    layer: (l) => ({ window: h.kvHeads[l] > 0 ? window : 0 }),
  };
};
