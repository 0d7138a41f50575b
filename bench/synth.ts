// Synthesizes GGUF models of real shapes with random weights, so the end-to-end benchmark needs no
// download. Quantized blocks are random bytes with their scale fields set to small finite f16
// values (a block's speed does not depend on its values; NaN/Inf scales would only make the
// logits meaningless). Written tensor by tensor to a file, never held whole in memory.
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ggufLayout } from "../src/gguf/writer.js";
import { GgufValueType, type GgufValue } from "../src/gguf/types.js";
import { GgmlType, ggmlType } from "../src/quant/types.js";
import { createEngine, type Engine } from "../src/wasm/engine.js";
import { randomWeights } from "./random-weights.js";
import { tensorsOf, type ModelShape } from "./shapes.js";

export { TINYLLAMA, type ModelShape } from "./shapes.js";

/** The weight mixtures llama.cpp's quantize produces for these names. */
export type Mixture = "Q4_K_M" | "Q8_0" | "Q4_0";
export const MIXTURES: readonly Mixture[] = ["Q4_K_M", "Q8_0", "Q4_0"];

/** llama.cpp's use_more_bits(): the layers whose attn_v / ffn_down get Q6_K in Q4_K_M. */
function moreBits(layer: number, nLayers: number): boolean {
  return layer < nLayers / 8 || layer >= (7 * nLayers) / 8 || (layer - Math.floor(nLayers / 8)) % 3 === 2;
}

function typeFor(mix: Mixture, tensor: string, layer: number, nLayers: number, tied: boolean): number {
  if (mix === "Q8_0") return GgmlType.Q8_0;
  // A tied embedding is the output projection too: llama.cpp's quantize gives it the output's type.
  if (tensor === "output" || (tensor === "token_embd" && tied)) return GgmlType.Q6_K;
  if (mix === "Q4_0") return GgmlType.Q4_0;
  if ((tensor === "attn_v" || tensor === "ffn_down") && moreBits(layer, nLayers)) return GgmlType.Q6_K;
  return GgmlType.Q4_K;
}

/**
 * llama.cpp's quantize falls back from a K-quant when rows are not whole 256-element super-blocks (gemma-3-1b's
 * 1152): Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0.
 */
function rowFallback(type: number, cols: number): number {
  if (cols % 256 === 0) return type;
  if (type === GgmlType.Q4_K) return GgmlType.Q5_0;
  if (type === GgmlType.Q5_K) return GgmlType.Q5_1;
  if (type === GgmlType.Q6_K) return GgmlType.Q8_0;
  return type;
}

let engine: Engine | null = null;
/** The kernels' dequantizer, for randomWeights' calibration (a few blocks per type, once). */
function dequant(type: number, block: Uint8Array, n: number): Float32Array {
  const e = (engine ??= createEngine({ simd: "simd" }));
  const src = e.alloc(block.length, "a calibration block");
  const dst = e.alloc(n * 4, "its dequantized values");
  e.u8().set(block, src);
  e.kernels.dequant_row(type, src, dst, n);
  return e.f32().slice(dst >> 2, (dst >> 2) + n);
}

function randomTensor(type: number, dims: readonly number[], seed: number): Uint8Array {
  const info = ggmlType(type);
  if (!info) throw new Error(`unknown type ${type}`);
  const cols = dims[0];
  const rows = dims.slice(1).reduce((a, b) => a * b, 1);
  const out = new Uint8Array(((rows * cols) / info.blockElements) * info.blockBytes);
  randomWeights(type, rows, cols, seed, out, dequant);
  return out;
}

function vocab(n: number): { tokens: string[]; scores: Float32Array; types: Int32Array } {
  const tokens = ["<unk>", "<s>", "</s>"];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(6);
  }
  const letters = "abcdefghijklmnopqrstuvwxyz";
  for (let i = 0; tokens.length < n; i++) {
    let s = "";
    for (let v = i; ; v = Math.floor(v / 26) - 1) {
      s = letters[v % 26] + s;
      if (v < 26) break;
    }
    tokens.push(i % 2 === 0 ? "▁" + s : s);
    types.push(1);
  }
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) scores[i] = types[i] === 1 ? -i : 0;
  return { tokens, scores, types: Int32Array.from(types) };
}

/** Write (once) a synthetic model of `shape` in `mix` and return its path. */
export function synthesizeModel(shape: ModelShape, mix: Mixture, dir = join(tmpdir(), "woolly-bench")): string {
  mkdirSync(dir, { recursive: true });
  // "-r3": weights scaled to RMS 1/cols with normal f16 scales (randomWeights); files of earlier scalings are not reused.
  const path = join(dir, `${shape.name}-${mix}-r3.gguf`);
  if (existsSync(path) && statSync(path).size > 0) return path;
  const s = shape;
  const a = s.arch;
  const headDim = s.headDim ?? s.dim / s.nHeads;
  const v = vocab(s.nVocab);
  const u32 = (value: number): GgufValue => ({ type: GgufValueType.UINT32, value });
  const f32 = (value: number): GgufValue => ({ type: GgufValueType.FLOAT32, value });
  const str = (value: string): GgufValue => ({ type: GgufValueType.STRING, value });
  const kvHeads: GgufValue = s.convLayers
    ? {
        type: GgufValueType.ARRAY,
        value: { itemType: GgufValueType.INT32, items: Int32Array.from({ length: s.nLayers }, (_, l) => (s.convLayers?.includes(l) ? 0 : s.nKvHeads)) },
      }
    : u32(s.nKvHeads);
  const metadata = new Map<string, GgufValue>([
    ["general.architecture", str(a)],
    ["general.name", str(`${s.name} (random weights, ${mix})`)],
    [`${a}.context_length`, u32(s.nCtx)],
    [`${a}.embedding_length`, u32(s.dim)],
    [`${a}.block_count`, u32(s.nLayers)],
    [`${a}.feed_forward_length`, u32(s.hiddenDim)],
    [`${a}.attention.head_count`, u32(s.nHeads)],
    [`${a}.attention.head_count_kv`, kvHeads],
    [`${a}.attention.key_length`, u32(headDim)],
    [`${a}.attention.value_length`, u32(headDim)],
    [`${a}.attention.layer_norm_rms_epsilon`, f32(1e-6)],
    [`${a}.rope.freq_base`, f32(s.ropeBase ?? 10000)],
    [`${a}.rope.dimension_count`, u32(headDim)],
    // Counts are u32 keys in GGUF; bases, caps and scales are f32.
    ...Object.entries(s.extra ?? {}).map(([k, x]): [string, GgufValue] => [`${a}.${k}`, /freq_base|softcapping|scale/.test(k) ? f32(x) : u32(x)]),
    ["tokenizer.ggml.model", str("llama")],
    ["tokenizer.ggml.tokens", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.STRING, items: v.tokens } }],
    ["tokenizer.ggml.scores", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.FLOAT32, items: v.scores } }],
    ["tokenizer.ggml.token_type", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT32, items: v.types } }],
    ["tokenizer.ggml.bos_token_id", u32(1)],
    ["tokenizer.ggml.eos_token_id", u32(2)],
    ["tokenizer.ggml.unknown_token_id", u32(0)],
  ]);
  const tensors = tensorsOf(s).map((t) => ({
    name: t.name,
    dims: [...t.dims],
    type: t.role === "norm" ? GgmlType.F32 : rowFallback(typeFor(mix, t.role, t.layer, s.nLayers, s.tied ?? false), t.dims[0]),
  }));

  const layout = ggufLayout({ metadata, tensors });
  const partial = path + ".partial";
  const fd = openSync(partial, "w");
  try {
    writeSync(fd, layout.header, 0, layout.header.length, 0);
    tensors.forEach((t, i) => {
      const elements = t.dims.reduce((x, y) => x * y, 1);
      const data =
        t.type === GgmlType.F32
          ? new Uint8Array(Float32Array.from({ length: elements }, () => 1).buffer)
          : randomTensor(t.type, t.dims, i + 1);
      writeSync(fd, data, 0, data.length, layout.dataOffset + layout.tensors[i].offset);
    });
    // zero padding after the last tensor, up to the file size the layout promises
    const last = layout.tensors[layout.tensors.length - 1];
    const end = layout.dataOffset + last.offset + last.size;
    if (end < layout.fileSize) writeSync(fd, new Uint8Array(layout.fileSize - end), 0, layout.fileSize - end, end);
  } finally {
    closeSync(fd);
  }
  renameSync(partial, path);
  return path;
}
