// GeGLU (gemma2, gemma3): out = gelu(gate) * up, and the soft-capping of scores and logits.
import { floatToHalf, halfToFloat } from "./math";

/**
 * table (65536 u16): for every f16 bit pattern h, f16(gelu(f32(h))) with ggml's tanh GELU
 * 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))), as ggml_cpu_init fills ggml_table_gelu_f16. Built once per
 * model (65536 tanh calls, about 2 ms); gelu_mul reads it.
 */
export function gelu_table(table: usize): void {
  for (let h: u32 = 0; h < 65536; h++) {
    const x = halfToFloat(h);
    const g = <f32>0.5 * x * (<f32>1 + Mathf.tanh(<f32>0.79788456080286535587989211986876 * x * (<f32>1 + <f32>0.044715 * x * x)));
    store<u16>(table + (<usize>h << 1), <u16>floatToHalf(g));
  }
}

/** The scalar twin of gelu_table (it is scalar already: the table is built once). */
export function gelu_table_scalar(table: usize): void {
  gelu_table(table);
}

/**
 * out = gelu(gate) * up; gate, up, out: (n); out may alias gate or up. As ggml_vec_geglu_f32 with
 * GGML_GELU_FP16: gate ≤ -10 gives 0, gate ≥ 10 gives gate·up, otherwise the table's value at f16(gate),
 * widened to f32, times up.
 */
export function gelu_mul(gate: usize, up: usize, out: usize, n: i32, table: usize): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(gate + o);
    const u = load<f32>(up + o);
    let y: f32;
    if (x <= <f32>-10) y = 0;
    else if (x >= <f32>10) y = x * u;
    else y = halfToFloat(<u32>load<u16>(table + (<usize>floatToHalf(x) << 1))) * u;
    store<f32>(out + o, y);
  }
}

/** The scalar twin of gelu_mul. */
export function gelu_mul_scalar(gate: usize, up: usize, out: usize, n: i32, table: usize): void {
  gelu_mul(gate, up, out, n, table);
}

/**
 * x = cap · tanh(x · f32(1/cap)) in place, x: (n): ggml_scale, ggml_tanh (libm tanhf), ggml_scale, the
 * three ops llama.cpp builds for gemma2's final-logit soft-capping.
 */
export function vec_softcap(x: usize, cap: f32, n: i32): void {
  const inv = <f32>1 / cap;
  for (let i = 0; i < n; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, Mathf.tanh(load<f32>(p) * inv) * cap);
  }
}

/** The scalar twin of vec_softcap. */
export function vec_softcap_scalar(x: usize, cap: f32, n: i32): void {
  vec_softcap(x, cap, n);
}
