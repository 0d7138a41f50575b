// A plain f64 encoder (bert and nomic-bert, as llama.cpp's llm_build_bert defines them) over a GGUF's
// dequantized weights: Woolly's own reference for architectures without a llama.cpp fixture. It has none
// of the f32 roundings or 8-bit activations of the real thing, so it agrees with llama.cpp and Woolly only
// to that noise; test/nomic-bert.test.ts measures it against llama.cpp's bert vectors first.
import { parseGguf } from "../../src/index.js";

const half = (h: number): number => {
  const e = (h >> 10) & 31, m = h & 1023, s = h >> 15 ? -1 : 1;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
};

/** Every tensor of a GGUF as f64, for the types the synth-bert files use (F32, Q8_0). */
export function dequantizeAll(bytes: Uint8Array): { get: (name: string) => Float64Array | undefined; metadata: (key: string) => unknown } {
  const g = parseGguf(bytes);
  const cache = new Map<string, Float64Array>();
  return {
    metadata: (key) => g.get(key)?.value,
    get(name) {
      const hit = cache.get(name);
      if (hit) return hit;
      const t = g.tensor(name);
      if (!t) return undefined;
      const n = t.dims.reduce((a, b) => a * b, 1);
      const view = new DataView(bytes.buffer, bytes.byteOffset + g.tensorStart(t), t.size);
      const out = new Float64Array(n);
      if (t.type === 0) for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      else if (t.type === 8) {
        for (let b = 0; b < n / 32; b++) {
          const d = half(view.getUint16(b * 34, true));
          for (let i = 0; i < 32; i++) out[b * 32 + i] = d * view.getInt8(b * 34 + 2 + i);
        }
      } else throw new Error(`${name}: type ${t.type} not in the reference`);
      cache.set(name, out);
      return out;
    },
  };
}

export interface RefConfig {
  arch: "bert" | "nomic-bert";
  dim: number;
  nHeads: number;
  hidden: number;
  eps: number;
  ropeBase: number;
}

/** y = W·x (+ b) with W (rows, cols) row-major. */
function mv(w: Float64Array, x: ArrayLike<number>, rows: number, b?: Float64Array, row0 = 0): Float64Array {
  const cols = x.length;
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = b ? b[r] : 0;
    const o = (row0 + r) * cols;
    for (let c = 0; c < cols; c++) s += w[o + c] * x[c];
    y[r] = s;
  }
  return y;
}

function layerNorm(x: Float64Array, w: Float64Array, b: Float64Array, eps: number): Float64Array {
  const n = x.length;
  const mean = x.reduce((a, v) => a + v, 0) / n;
  const v = x.reduce((a, u) => a + (u - mean) ** 2, 0) / n;
  const s = 1 / Math.sqrt(v + eps);
  return x.map((u, i) => (u - mean) * s * w[i] + b[i]);
}

const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * v * (1 + 0.044715 * v * v)));
const silu = (v: number) => v / (1 + Math.exp(-v));

/** Every token's final hidden state for `ids`. */
export function referenceEncode(m: ReturnType<typeof dequantizeAll>, c: RefConfig, ids: readonly number[]): Float64Array[] {
  const need = (n: string) => {
    const t = m.get(n);
    if (!t) throw new Error(`missing ${n}`);
    return t;
  };
  const { dim, nHeads } = c;
  const hd = dim / nHeads;
  const tok = need("token_embd.weight");
  const types = m.get("token_types.weight");
  const pos = c.arch === "bert" ? need("position_embd.weight") : undefined;
  let x = ids.map((id, t) => {
    const v = new Float64Array(dim);
    for (let i = 0; i < dim; i++) v[i] = tok[id * dim + i] + (types ? types[i] : 0) + (pos ? pos[t * dim + i] : 0);
    return layerNorm(v, need("token_embd_norm.weight"), need("token_embd_norm.bias"), c.eps);
  });
  const T = ids.length;
  for (let l = 0; ; l++) {
    const b = `blk.${l}.`;
    if (!m.get(b + "attn_output.weight")) break;
    const fused = m.get(b + "attn_qkv.weight");
    const qkv = x.map((v) => {
      if (fused) return mv(fused, v, 3 * dim, m.get(b + "attn_qkv.bias"));
      const out = new Float64Array(3 * dim);
      ["attn_q", "attn_k", "attn_v"].forEach((n, j) => out.set(mv(need(`${b}${n}.weight`), v, dim, m.get(`${b}${n}.bias`)), j * dim));
      return out;
    });
    if (c.arch === "nomic-bert") {
      // NeoX RoPE: pairs (i, i + hd/2) of each head of Q and K, θ_i = p · base^(−2i/hd).
      qkv.forEach((row, p) => {
        for (let h = 0; h < 2 * nHeads; h++) {
          const o = h * hd;
          for (let i = 0; i < hd / 2; i++) {
            const th = p * Math.pow(c.ropeBase, (-2 * i) / hd);
            const [a, d] = [row[o + i], row[o + i + hd / 2]];
            row[o + i] = a * Math.cos(th) - d * Math.sin(th);
            row[o + i + hd / 2] = a * Math.sin(th) + d * Math.cos(th);
          }
        }
      });
    }
    const att = qkv.map((qr) => {
      const out = new Float64Array(dim);
      for (let h = 0; h < nHeads; h++) {
        const s = qkv.map((kr) => {
          let d = 0;
          for (let i = 0; i < hd; i++) d += qr[h * hd + i] * kr[dim + h * hd + i];
          return d / Math.sqrt(hd);
        });
        const mx = Math.max(...s);
        const e = s.map((v) => Math.exp(v - mx));
        const z = e.reduce((a, v) => a + v, 0);
        for (let t = 0; t < T; t++) for (let i = 0; i < hd; i++) out[h * hd + i] += (e[t] / z) * qkv[t][2 * dim + h * hd + i];
      }
      return out;
    });
    x = x.map((v, t) => {
      const o = mv(need(b + "attn_output.weight"), att[t], dim, m.get(b + "attn_output.bias"));
      const a = layerNorm(o.map((u, i) => u + v[i]), need(b + "attn_output_norm.weight"), need(b + "attn_output_norm.bias"), c.eps);
      let hidden: Float64Array;
      if (c.arch === "nomic-bert") {
        const g = mv(need(b + "ffn_gate.weight"), a, c.hidden);
        const u = mv(need(b + "ffn_up.weight"), a, c.hidden);
        hidden = g.map((gv, i) => silu(gv) * u[i]);
      } else {
        hidden = mv(need(b + "ffn_up.weight"), a, c.hidden, m.get(b + "ffn_up.bias")).map(gelu);
      }
      const y = mv(need(b + "ffn_down.weight"), hidden, dim, c.arch === "bert" ? m.get(b + "ffn_down.bias") : undefined);
      return layerNorm(y.map((u, i) => u + a[i]), need(b + "layer_output_norm.weight"), need(b + "layer_output_norm.bias"), c.eps);
    });
  }
  return x;
}
