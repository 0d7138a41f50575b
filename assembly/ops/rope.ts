// Rotary position embedding for one position, in place on every head of q or k.
//
//   x:      (nHeads, headDim) f32, rotated in place; dimensions >= ropeDim are left unchanged
//   cosSin: (ropeDim/2, 2) f32, pair i = (cos θ_i, sin θ_i) for this position, computed by the TypeScript
//           layer (freq_base, linear and Llama-3 scaling are its business)
//
// neox = 0 (llama, ggml's "normal" mode): pair i is (x[2i], x[2i+1]).
// neox = 1 (qwen2, GGML_ROPE_TYPE_NEOX):  pair i is (x[i], x[i + ropeDim/2]).
// Rotation as ggml's rotate_pairs (ggml-cpu/ops.cpp): x0' = x0*cos - x1*sin, x1' = x0*sin + x1*cos, each
// product rounded to f32 before the add (ggml's source has no fma; a compiler that contracts it — clang's
// default -ffp-contract=on — would differ by an ulp).

/** Lanes 0 and 2 negated: turns [a0c0, b0c0, ..] + [b0s0, a0s0, ..] into [a0c0 - b0s0, b0c0 + a0s0, ..]. */
const SIGN_EVEN = i32x4(<i32>0x80000000, 0, <i32>0x80000000, 0);

export function rope(x: usize, nHeads: i32, headDim: i32, ropeDim: i32, cosSin: usize, neox: i32): void {
  const half = ropeDim >> 1;
  for (let h = 0; h < nHeads; h++) {
    const xh = x + (<usize>(h * headDim) << 2);
    if (neox == 0) {
      let i = 0;
      for (; i + 4 <= ropeDim; i += 4) {
        const o = <usize>i << 2;
        const v = v128.load(xh + o); // [a0, b0, a1, b1]
        const cs = v128.load(cosSin + o); // [c0, s0, c1, s1]
        const c = v128.shuffle<f32>(cs, cs, 0, 0, 2, 2);
        const s = v128.shuffle<f32>(cs, cs, 1, 1, 3, 3);
        const swapped = v128.shuffle<f32>(v, v, 1, 0, 3, 2); // [b0, a0, b1, a1]
        const t = v128.xor(f32x4.mul(swapped, s), SIGN_EVEN);
        v128.store(xh + o, f32x4.add(f32x4.mul(v, c), t));
      }
      for (; i < ropeDim; i += 2) rotatePair(xh + (<usize>i << 2), xh + (<usize>(i + 1) << 2), cosSin + (<usize>i << 2));
    } else {
      let i = 0;
      for (; i + 4 <= half; i += 4) {
        const p0 = xh + (<usize>i << 2);
        const p1 = xh + (<usize>(i + half) << 2);
        const csp = cosSin + (<usize>i << 3);
        const cs0 = v128.load(csp);
        const cs1 = v128.load(csp, 16);
        const c = v128.shuffle<f32>(cs0, cs1, 0, 2, 4, 6);
        const s = v128.shuffle<f32>(cs0, cs1, 1, 3, 5, 7);
        const x0 = v128.load(p0);
        const x1 = v128.load(p1);
        v128.store(p0, f32x4.sub(f32x4.mul(x0, c), f32x4.mul(x1, s)));
        v128.store(p1, f32x4.add(f32x4.mul(x0, s), f32x4.mul(x1, c)));
      }
      for (; i < half; i++) rotatePair(xh + (<usize>i << 2), xh + (<usize>(i + half) << 2), cosSin + (<usize>i << 3));
    }
  }
}

export function rope_scalar(x: usize, nHeads: i32, headDim: i32, ropeDim: i32, cosSin: usize, neox: i32): void {
  const half = ropeDim >> 1;
  for (let h = 0; h < nHeads; h++) {
    const xh = x + (<usize>(h * headDim) << 2);
    for (let i = 0; i < half; i++) {
      const i0 = neox == 0 ? 2 * i : i;
      const i1 = neox == 0 ? 2 * i + 1 : i + half;
      rotatePair(xh + (<usize>i0 << 2), xh + (<usize>i1 << 2), cosSin + (<usize>i << 3));
    }
  }
}

@inline function rotatePair(p0: usize, p1: usize, cs: usize): void {
  const c = load<f32>(cs);
  const s = load<f32>(cs, 4);
  const x0 = load<f32>(p0);
  const x1 = load<f32>(p1);
  store<f32>(p0, x0 * c - x1 * s);
  store<f32>(p1, x0 * s + x1 * c);
}
