// SwiGLU: out = silu(gate) * up, the feed-forward activation of llama, qwen2 and granite.
import { expV, expS } from "./math";

/**
 * out = silu(gate) * up with silu(v) = v / (1 + exp(-v)); gate, up, out: (n); out may alias gate or up.
 * As ggml_vec_swiglu_f32 (ggml-cpu/vec.cpp): ggml_v_silu = x / (1 + ggml_v_expf(0 - x)), then * up.
 * ggml runs its vector loop over n rounded down to its vector width and sends the last n % 8 elements (AVX2)
 * through ggml_silu_f32, which calls libm's expf; here every element takes the approximation, so the
 * result does not depend on where a vector width happens to end.
 */
export function silu_mul(gate: usize, up: usize, out: usize, n: i32): void {
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const x = v128.load(gate + o);
    const silu = f32x4.div(x, f32x4.add(one, expV(f32x4.sub(zero, x))));
    v128.store(out + o, f32x4.mul(silu, v128.load(up + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(gate + o);
    store<f32>(out + o, (x / (<f32>1 + expS(<f32>0 - x))) * load<f32>(up + o));
  }
}

/**
 * The scalar twin: bit-identical to silu_mul because it runs the same approximation (ggml's own scalar
 * ggml_silu_f32 uses libm expf instead, which is within about 1.5 ulp of this).
 */
export function silu_mul_scalar(gate: usize, up: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(gate + o);
    store<f32>(out + o, (x / (<f32>1 + expS(<f32>0 - x))) * load<f32>(up + o));
  }
}
