// lfm2's gated short convolution over a batch of T tokens of one sequence.
//
//   bcx:   (T, stride) f32; row t holds b (dim), c (dim), x (dim) at offsets 0, dim, 2·dim
//   state: (dim, L-1) f32; channel ch's last L-1 values of b⊙x, oldest first; updated to the batch's end
//   w:     (dim, L) f32; channel ch's taps (`shortconv.conv.weight`, ne [L, dim])
//   out:   (T, dim) f32; out[t][ch] = c[t][ch] · Σ_i win[t + i] · w[ch][i], win = state ++ (b⊙x)[0..T)
//
// As llama.cpp's lfm2 graph: ggml_mul(b, x), ggml_concat(state, bx), ggml_ssm_conv (a row-wise dot summed
// in f32 from 0 in tap order, "not using ggml_vec_dot_f32, because its sum is in double precision"),
// ggml_mul(c, conv); the new state is the last L-1 columns of the concatenation.

export function short_conv(bcx: usize, stride: i32, state: usize, w: usize, out: usize, dim: i32, L: i32, T: i32): void {
  const keep = L - 1;
  const rowBytes = <usize>stride << 2;
  for (let ch = 0; ch < dim; ch++) {
    const st = state + (<usize>(ch * keep) << 2);
    const wc = w + (<usize>(ch * L) << 2);
    const co = <usize>ch << 2;
    for (let t = 0; t < T; t++) {
      let sum: f32 = 0;
      for (let i = 0; i < L; i++) {
        const at = t + i;
        let v: f32;
        if (at < keep) v = load<f32>(st + (<usize>at << 2));
        else v = bxAt(bcx, rowBytes, at - keep, co, dim);
        sum += v * load<f32>(wc + (<usize>i << 2));
      }
      const c = load<f32>(bcx + <usize>t * rowBytes + (<usize>dim << 2) + co);
      store<f32>(out + (<usize>(t * dim) << 2) + co, c * sum);
    }
    // The last L-1 values of state ++ bx become the state.
    for (let j = 0; j < keep; j++) {
      const at = T + j; // index into the concatenation of the final window's j-th value
      const v = at < keep ? load<f32>(st + (<usize>at << 2)) : bxAt(bcx, rowBytes, at - keep, co, dim);
      store<f32>(st + (<usize>j << 2), v);
    }
  }
}

/** b⊙x of token t, channel at byte offset co. */
@inline function bxAt(bcx: usize, rowBytes: usize, t: i32, co: usize, dim: i32): f32 {
  const row = bcx + <usize>t * rowBytes;
  return load<f32>(row + co) * load<f32>(row + (<usize>(2 * dim) << 2) + co);
}

/** The scalar twin of short_conv (it is scalar: L·dim·T multiply-adds are a few µs per token). */
export function short_conv_scalar(bcx: usize, stride: i32, state: usize, w: usize, out: usize, dim: i32, L: i32, T: i32): void {
  short_conv(bcx, stride, state, w, out, dim, L, T);
}
