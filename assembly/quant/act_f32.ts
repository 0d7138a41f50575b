// Activations for F32 weights: x itself, copied so that every weight type reads its activations
// from the one `xq` buffer of the generic entry points (the copy is O(n), the matvec O(n·rows)).
//
//   xq + 0   f32[n]   x_i, in order          f32_bytes(n) = 4·n

export function f32_bytes(n: i32): i32 {
  return n << 2;
}

export function quantize_f32(x: usize, xq: usize, n: i32): void {
  memory.copy(xq, x, (<usize>n) << 2);
}

export function quantize_f32_scalar(x: usize, xq: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(xq + ((<usize>i) << 2), load<f32>(x + ((<usize>i) << 2)));
}
