// SwiGLU: out = silu(gate) * up, the feed-forward activation of llama, qwen2 and granite.
import { expPreciseS, expS, expV } from "./math";

/**
 * out = silu(gate) * up with silu(v) = v / (1 + exp(-v)); gate, up, out: (n), one row; out may alias gate
 * or up. As ggml_vec_swiglu_f32 (ggml-cpu/vec.cpp) in its AVX2 + FMA build, which ggml_compute_forward_swiglu
 * calls once per row: chunks of 8 through ggml_v_silu = x / (1 + ggml_v_expf(0 - x)) (expV, with ggml's
 * fused multiply-adds) times up; the last n % 8 elements through ggml_silu_f32 = x / (1 + expf(-x)) (libm
 * expf: expPreciseS) times up. So the result depends on where the row ends: callers pass one row per call.
 */
export function silu_mul(gate: usize, up: usize, out: usize, n: i32): void {
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    const x0 = v128.load(gate + o);
    const x1 = v128.load(gate + o, 16);
    const u0 = v128.load(up + o);
    const u1 = v128.load(up + o, 16);
    const s0 = f32x4.div(x0, f32x4.add(one, expV(f32x4.sub(zero, x0))));
    const s1 = f32x4.div(x1, f32x4.add(one, expV(f32x4.sub(zero, x1))));
    v128.store(out + o, f32x4.mul(s0, u0));
    v128.store(out + o, f32x4.mul(s1, u1), 16);
  }
  siluTail(gate, up, out, i, n);
}

/** ggml_silu_f32(x) * g for elements i..n-1: the n % 8 tail, with libm's expf. */
@inline function siluTail(gate: usize, up: usize, out: usize, i: i32, n: i32): void {
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(gate + o);
    store<f32>(out + o, (x / (<f32>1 + expPreciseS(-x))) * load<f32>(up + o));
  }
}

/** The scalar twin: bit-identical to silu_mul (the same approximation on the same elements). */
export function silu_mul_scalar(gate: usize, up: usize, out: usize, n: i32): void {
  const full = n & ~7;
  for (let i = 0; i < full; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(gate + o);
    store<f32>(out + o, (x / (<f32>1 + expS(<f32>0 - x))) * load<f32>(up + o));
  }
  siluTail(gate, up, out, full, n);
}
