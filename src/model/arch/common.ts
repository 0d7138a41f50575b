// What every architecture file shares: the hyper-parameters it is given, the traits it returns, and the
// helpers that read llama.cpp's sliding-window keys. (Kept apart from index.ts, which imports every
// architecture, so that no import cycle forms.)
import { LoadError } from "../../errors.js";
import type { GgufFile } from "../../gguf/index.js";

/** What an architecture's file is given: the common hyper-parameters and its own keys (`<arch>.<key>`). */
export interface ArchHparams {
  readonly file: GgufFile;
  /** `<arch>.<k>` */
  readonly key: (k: string) => string;
  readonly dim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly headDim: number;
  /** KV heads per layer (0: a layer without attention). */
  readonly kvHeads: readonly number[];
  readonly u32: <F>(k: string, fallback: F) => number | F;
  readonly f32: <F>(k: string, fallback: F) => number | F;
}

/** How a layer differs from the others. */
export interface LayerTraits {
  /** Sliding-window size of this layer; 0 or absent: it sees the whole context. */
  readonly window?: number;
  /** This layer applies no RoPE. */
  readonly noRope?: boolean;
}

/** An architecture's differences from llama; every field absent means "as llama". */
export interface ArchTraits {
  /** RoPE rotates (x[i], x[i + dim/2]) pairs (NeoX) instead of (x[2i], x[2i+1]). */
  readonly ropeNeox?: boolean;
  /** Q, K and V projections carry biases (qwen2). */
  readonly qkvBias?: boolean;
  /** RMSNorm on Q and K after projection: over each head (`head`), over the whole projection (`full`). */
  readonly qkNorm?: "none" | "head" | "full";
  /** RMSNorm before attention and before the FFN (`attn_norm`, `ffn_norm`); olmo2 has none. */
  readonly preNorms?: boolean;
  /** RMSNorm on the attention and FFN outputs before the residual add (`post_attention_norm`, `post_ffw_norm`). */
  readonly postNorms?: boolean;
  /** The gated FFN's activation: SiLU (SwiGLU) or tanh GELU (GeGLU). */
  readonly activation?: "silu" | "gelu";
  /** Multiplies the token embedding (granite `embedding_scale`, gemma √dim). */
  readonly embeddingScale?: number;
  /** Multiplies each block's output before the residual add (granite). */
  readonly residualScale?: number;
  /** Scale of q·k inside the softmax (default 1/√headDim). */
  readonly attentionScale?: number;
  /** Multiplies Q before attention, in f32, before Q is rounded to f16 (gemma, phi3); 1: none. */
  readonly queryScale?: number;
  /** Logits are divided by this (granite). */
  readonly logitScale?: number;
  /** Attention scores become cap·tanh(s/cap) before the softmax (gemma2); 0: none. */
  readonly attnSoftcap?: number;
  /** Logits become cap·tanh(l/cap) (gemma2, gemma3 when set); 0: none. */
  readonly finalSoftcap?: number;
  /** Name (without `.weight`) of the final norm's tensor. */
  readonly outputNorm?: string;
  /** Kernel width of lfm2's short convolution (`shortconv.l_cache`); 0: the model has no such layers. */
  readonly shortConvKernel?: number;
  /** Where RoPE frequency factors come from: Llama 3.1's `rope_freqs`, or LongRoPE's long/short pair (phi3). */
  readonly ropeFactors?: "rope_freqs" | "longrope";
  /** RoPE base and linear scale of sliding-window layers, where they differ (gemma3). */
  readonly swaRopeBase?: number;
  readonly swaRopeScale?: number;
  /**
   * A BERT-style encoder (bert): learned positions and token types, post-norm LayerNorm blocks with biases,
   * bidirectional attention, a GELU FFN; run by src/model/encoder.ts for embeddings, never generating.
   */
  readonly encoder?: boolean;
  /** An encoder rotates Q and K (RoPE) instead of adding learned position embeddings (nomic-bert). */
  readonly encoderRope?: boolean;
  readonly layer?: (l: number) => LayerTraits;
}

export type ArchSpec = (h: ArchHparams) => ArchTraits;

/**
 * Which layers slide, as llama.cpp decides it: `attention.sliding_window_pattern` as a bool per layer,
 * or as a period n (layer l slides unless l % n == n - 1, so the last of every n is global; 0 = all).
 */
export function slidingLayers(h: ArchHparams, defaultPeriod: number): (l: number) => boolean {
  const k = h.key("attention.sliding_window_pattern");
  const v = h.file.get(k);
  if (v?.type === 9) {
    const items = v.value.items;
    if (!(items instanceof Uint8Array) || v.value.itemType !== 7) {
      throw new LoadError("bad_hyperparameter", `${k} is an array, but not of bools; Woolly reads a period or one bool per layer`);
    }
    if (items.length !== h.nLayers) throw new LoadError("bad_hyperparameter", `${k} has ${items.length} entries; the model has ${h.nLayers} layers`);
    return (l) => items[l] !== 0;
  }
  const n = h.u32("attention.sliding_window_pattern", defaultPeriod);
  return (l) => n === 0 || l % n < n - 1;
}

/** `attention.sliding_window`, checked. */
export function windowSize(h: ArchHparams, fallback: number): number {
  const w = h.u32("attention.sliding_window", fallback);
  if (!Number.isInteger(w) || w < 0) throw new LoadError("bad_hyperparameter", `${h.key("attention.sliding_window")} is ${w}; it must be >= 0`);
  return w;
}
