// Element-wise kernels of the forward pass: rmsnorm, residual adds, scaling, copy, argmax.
// Each is written to round exactly as the ggml CPU op sequence llama.cpp builds for the same step, so
// results match llama.cpp's bit for bit where noted. Every kernel has a scalar twin `<name>_scalar` giving
// the same bits (tests compare them). All vectors are f32 and `n` counts elements.

/**
 * out = x / sqrt(mean(x²) + eps) * weight, out may alias x. x, weight, out: (n).
 * As ggml_compute_forward_rms_norm_f32 then ggml_mul: each square rounded to f32 and summed in f64 in
 * index order, mean = f32(sum / n), scale = 1 / sqrt(mean + eps) in f32, out = (x * scale) * weight.
 * The f64 sum is one serial chain to keep ggml's order exactly (the SIMD form only squares 4 at a time):
 * measured 2.4 µs at n = 2048 (Node 20), the latency of 2048 dependent adds; the scalar twin takes 6.5 µs.
 */
export function rmsnorm(x: usize, weight: usize, out: usize, n: i32, eps: f32): void {
  let sum: f64 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const sq = f32x4.mul(v, v);
    sum += <f64>f32x4.extract_lane(sq, 0);
    sum += <f64>f32x4.extract_lane(sq, 1);
    sum += <f64>f32x4.extract_lane(sq, 2);
    sum += <f64>f32x4.extract_lane(sq, 3);
  }
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    sum += <f64>(v * v);
  }
  const mean = <f32>(sum / <f64>n);
  const scale: f32 = <f32>1 / sqrt<f32>(mean + eps);
  const sv = f32x4.splat(scale);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(f32x4.mul(v128.load(x + o), sv), v128.load(weight + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) * scale * load<f32>(weight + o));
  }
}

export function rmsnorm_scalar(x: usize, weight: usize, out: usize, n: i32, eps: f32): void {
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    sum += <f64>(v * v);
  }
  const mean = <f32>(sum / <f64>n);
  const scale: f32 = <f32>1 / sqrt<f32>(mean + eps);
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) * scale * load<f32>(weight + o));
  }
}

/** out = a + b; out may alias a or b. */
export function vec_add(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

export function vec_add_scalar(a: usize, b: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/**
 * acc += s * x (a residual with a scale, granite's residual_scale). As ggml_scale then ggml_add: the product
 * is rounded to f32, then added.
 */
export function vec_add_scaled(acc: usize, x: usize, s: f32, n: i32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(acc + o, f32x4.add(v128.load(acc + o), f32x4.mul(v128.load(x + o), sv)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(acc + o, load<f32>(acc + o) + load<f32>(x + o) * s);
  }
}

export function vec_add_scaled_scalar(acc: usize, x: usize, s: f32, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(acc + o, load<f32>(acc + o) + load<f32>(x + o) * s);
  }
}

/** x *= s in place (granite's embedding and logit scales; llama.cpp's ggml_scale). */
export function vec_scale(x: usize, s: f32, n: i32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.mul(v128.load(x + o), sv));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) * s);
  }
}

export function vec_scale_scalar(x: usize, s: f32, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) * s);
  }
}

/** Copy `bytes` bytes from src to dst; the ranges may overlap (memmove). One `memory.copy`. */
export function vec_copy(src: usize, dst: usize, bytes: usize): void {
  memory.copy(dst, src, bytes);
}

export function vec_copy_scalar(src: usize, dst: usize, bytes: usize): void {
  if (dst <= src) {
    for (let i: usize = 0; i < bytes; i++) store<u8>(dst + i, load<u8>(src + i));
  } else {
    for (let i = bytes; i > 0; i--) store<u8>(dst + i - 1, load<u8>(src + i - 1));
  }
}

/**
 * The first index of the maximum of x (n). NaN never wins; when no element is above -inf the answer is 0.
 * Each lane keeps the first index of its own maximum (strict >), then the lanes holding the overall maximum
 * give up their smallest index: that is the first occurrence overall.
 */
export function argmax(x: usize, n: i32): i32 {
  if (n < 8) return argmax_scalar(x, n);
  let best = f32x4.splat(-Infinity);
  let bestIdx = i32x4(0, 1, 2, 3);
  let idx = i32x4(0, 1, 2, 3);
  const four = i32x4.splat(4);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const gt = f32x4.gt(v, best);
    best = v128.bitselect(v, best, gt);
    bestIdx = v128.bitselect(idx, bestIdx, gt);
    idx = i32x4.add(idx, four);
  }
  let m = f32x4.extract_lane(best, 0);
  let mi = i32x4.extract_lane(bestIdx, 0);
  const v1 = f32x4.extract_lane(best, 1);
  const i1 = i32x4.extract_lane(bestIdx, 1);
  if (v1 > m || (v1 == m && i1 < mi)) {
    m = v1;
    mi = i1;
  }
  const v2 = f32x4.extract_lane(best, 2);
  const i2 = i32x4.extract_lane(bestIdx, 2);
  if (v2 > m || (v2 == m && i2 < mi)) {
    m = v2;
    mi = i2;
  }
  const v3 = f32x4.extract_lane(best, 3);
  const i3 = i32x4.extract_lane(bestIdx, 3);
  if (v3 > m || (v3 == m && i3 < mi)) {
    m = v3;
    mi = i3;
  }
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v > m) {
      m = v;
      mi = i;
    }
  }
  return mi;
}

export function argmax_scalar(x: usize, n: i32): i32 {
  let m: f32 = -Infinity;
  let mi = 0;
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v > m) {
      m = v;
      mi = i;
    }
  }
  return mi;
}
