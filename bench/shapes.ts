// Real small-model shapes for `woolly-bench e2e --shape NAME`: each names the architecture and the
// hyper-parameters of a published model (from its GGUF/config), so synthesized random-weight files
// load through the same code paths as the real downloads.
export interface ModelShape {
  readonly name: string;
  /** `general.architecture` */
  readonly arch: string;
  readonly dim: number;
  readonly hiddenDim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  /** `attention.key_length` when it is not dim / nHeads. */
  readonly headDim?: number;
  readonly nVocab: number;
  readonly nCtx: number;
  readonly ropeBase?: number;
  /** Output projection tied to the embedding (no output.weight). */
  readonly tied?: boolean;
  /** Layers without attention (lfm2's short-convolution layers). */
  readonly convLayers?: readonly number[];
  /** Extra `<arch>.<key>` metadata: sliding windows, soft-caps, … */
  readonly extra?: Readonly<Record<string, number>>;
  /** The mixtures `e2e` synthesizes when no --mix is given (default: all). */
  readonly mixes?: readonly ("Q4_K_M" | "Q8_0" | "Q4_0")[];
}

/** TinyLlama-1.1B's shapes, the model the issues give native llama.cpp figures for. */
export const TINYLLAMA: ModelShape = {
  name: "tinyllama-1.1b-shapes", arch: "llama", dim: 2048, hiddenDim: 5632, nLayers: 22, nHeads: 32, nKvHeads: 4, nVocab: 32000, nCtx: 2048,
};

export const SHAPES: readonly ModelShape[] = [
  TINYLLAMA,
  { name: "qwen3-0.6b-shapes", arch: "qwen3", dim: 1024, hiddenDim: 3072, nLayers: 28, nHeads: 16, nKvHeads: 8, headDim: 128, nVocab: 151936, nCtx: 40960, ropeBase: 1e6, tied: true },
  { name: "gemma-3-1b-shapes", arch: "gemma3", dim: 1152, hiddenDim: 6912, nLayers: 26, nHeads: 4, nKvHeads: 1, headDim: 256, nVocab: 262144, nCtx: 32768, ropeBase: 1e6, tied: true, extra: { "attention.sliding_window": 512, "rope.freq_base_swa": 10000 } },
  { name: "gemma-2-2b-shapes", arch: "gemma2", dim: 2304, hiddenDim: 9216, nLayers: 26, nHeads: 8, nKvHeads: 4, headDim: 256, nVocab: 256000, nCtx: 8192, tied: true, extra: { "attention.sliding_window": 4096, attn_logit_softcapping: 50, final_logit_softcapping: 30 } },
  { name: "phi-3.5-mini-shapes", arch: "phi3", dim: 3072, hiddenDim: 8192, nLayers: 32, nHeads: 32, nKvHeads: 32, nVocab: 32064, nCtx: 4096 },
  { name: "smollm3-3b-shapes", arch: "smollm3", dim: 2048, hiddenDim: 11008, nLayers: 36, nHeads: 16, nKvHeads: 4, nVocab: 128256, nCtx: 65536, ropeBase: 5e6, tied: true },
  { name: "olmo-2-1b-shapes", arch: "olmo2", dim: 2048, hiddenDim: 8192, nLayers: 16, nHeads: 16, nKvHeads: 16, nVocab: 100352, nCtx: 4096, ropeBase: 5e5 },
  { name: "lfm2-350m-shapes", arch: "lfm2", dim: 1024, hiddenDim: 4608, nLayers: 16, nHeads: 16, nKvHeads: 8, nVocab: 65536, nCtx: 128000, ropeBase: 1e6, tied: true, convLayers: [0, 1, 3, 4, 6, 7, 9, 11, 13, 15], extra: { "shortconv.l_cache": 3 } },
];

/**
 * Shapes past one 4 GiB WebAssembly memory, which load split over several (src/model/shards.ts). Not in
 * `--shape all`: synthesizing one writes ~5 GB and loading it takes as much RAM. Llama-3.1-8B's shapes
 * (Qwen3-8B's are alike: 36 layers of 4096, 12288 FFN) at Q4_K_M, the download users ask for, ~4.6 GiB;
 * Q8_0 would be 8 GiB, so only Q4_K_M unless --mix says otherwise.
 */
export const LARGE_SHAPES: readonly ModelShape[] = [
  { name: "llama-8b-shapes", arch: "llama", dim: 4096, hiddenDim: 14336, nLayers: 32, nHeads: 32, nKvHeads: 8, nVocab: 128256, nCtx: 131072, ropeBase: 5e5, mixes: ["Q4_K_M"] },
];

export function shapeByName(name: string): ModelShape | undefined {
  return [...SHAPES, ...LARGE_SHAPES].find((s) => s.name === name || s.name === `${name}-shapes`);
}

/** One tensor of a shape: name, dims (ggml order), and its role for the quantization mixture. */
export interface PlannedTensor {
  readonly name: string;
  readonly dims: readonly number[];
  /** "norm" tensors are f32; others are weights typed by the mixture. */
  readonly role: "norm" | "token_embd" | "output" | "attn_q" | "attn_k" | "attn_v" | "attn_output" | "ffn_gate" | "ffn_up" | "ffn_down";
  readonly layer: number;
}

/** The tensors a model of this shape has, as llama.cpp's converter names them. */
export function tensorsOf(s: ModelShape): PlannedTensor[] {
  const headDim = s.headDim ?? s.dim / s.nHeads;
  const qDim = s.nHeads * headDim;
  const kvDim = s.nKvHeads * headDim;
  const out: PlannedTensor[] = [];
  const add = (name: string, dims: number[], role: PlannedTensor["role"], layer = 0) => out.push({ name, dims, role, layer });
  add("token_embd.weight", [s.dim, s.nVocab], "token_embd");
  const gemma = s.arch === "gemma2" || s.arch === "gemma3";
  for (let l = 0; l < s.nLayers; l++) {
    const b = `blk.${l}.`;
    const conv = s.convLayers?.includes(l) ?? false;
    if (s.arch !== "olmo2") add(b + "attn_norm.weight", [s.dim], "norm", l);
    if (conv) {
      add(b + "shortconv.in_proj.weight", [s.dim, 3 * s.dim], "attn_q", l);
      add(b + "shortconv.conv.weight", [s.extra?.["shortconv.l_cache"] ?? 3, s.dim], "norm", l);
      add(b + "shortconv.out_proj.weight", [s.dim, s.dim], "attn_output", l);
    } else {
      if (s.arch === "phi3") add(b + "attn_qkv.weight", [s.dim, qDim + 2 * kvDim], "attn_v", l);
      else {
        add(b + "attn_q.weight", [s.dim, qDim], "attn_q", l);
        add(b + "attn_k.weight", [s.dim, kvDim], "attn_k", l);
        add(b + "attn_v.weight", [s.dim, kvDim], "attn_v", l);
      }
      if (s.arch === "qwen3" || s.arch === "gemma3" || s.arch === "lfm2") {
        add(b + "attn_q_norm.weight", [headDim], "norm", l);
        add(b + "attn_k_norm.weight", [headDim], "norm", l);
      } else if (s.arch === "olmo2") {
        add(b + "attn_q_norm.weight", [qDim], "norm", l);
        add(b + "attn_k_norm.weight", [kvDim], "norm", l);
      }
      add(b + "attn_output.weight", [qDim, s.dim], "attn_output", l);
    }
    if (gemma || s.arch === "olmo2") add(b + "post_attention_norm.weight", [s.dim], "norm", l);
    if (s.arch !== "olmo2") add(b + "ffn_norm.weight", [s.dim], "norm", l);
    if (s.arch === "phi3") add(b + "ffn_up.weight", [s.dim, 2 * s.hiddenDim], "ffn_up", l);
    else {
      add(b + "ffn_gate.weight", [s.dim, s.hiddenDim], "ffn_gate", l);
      add(b + "ffn_up.weight", [s.dim, s.hiddenDim], "ffn_up", l);
    }
    add(b + "ffn_down.weight", [s.hiddenDim, s.dim], "ffn_down", l);
    if (gemma || s.arch === "olmo2") add(b + "post_ffw_norm.weight", [s.dim], "norm", l);
  }
  add(s.arch === "lfm2" ? "token_embd_norm.weight" : "output_norm.weight", [s.dim], "norm");
  if (!s.tied) add("output.weight", [s.dim, s.nVocab], "output");
  return out;
}
