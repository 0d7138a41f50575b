// f32 <-> f16 conversion of whole rows: the KV cache is stored in f16, as llama.cpp's default cache type.
// Round to nearest even, with subnormals, infinities and NaN handled exactly (see ops/math.ts).
//
//   f32_to_f16(src, dst, n): src (n) f32 → dst (n) u16
//   f16_to_f32(src, dst, n): src (n) u16 → dst (n) f32
import { floatToHalf, floatToHalfV, halfToFloat, halfToFloatV } from "./math";

export function f32_to_f16(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const s = src + (<usize>i << 2);
    const lo = floatToHalfV(v128.load(s));
    const hi = floatToHalfV(v128.load(s, 16));
    // Every lane holds 0..0xFFFF, so the unsigned saturating narrow is exact.
    v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(lo, hi));
  }
  for (; i < n; i++) store<u16>(dst + (<usize>i << 1), <u16>floatToHalf(load<f32>(src + (<usize>i << 2))));
}

export function f32_to_f16_scalar(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<u16>(dst + (<usize>i << 1), <u16>floatToHalf(load<f32>(src + (<usize>i << 2))));
}

export function f16_to_f32(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    const d = dst + (<usize>i << 2);
    v128.store(d, halfToFloatV(i32x4.extend_low_i16x8_u(h)));
    v128.store(d, halfToFloatV(i32x4.extend_high_i16x8_u(h)), 16);
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), halfToFloat(<u32>load<u16>(src + (<usize>i << 1))));
}

export function f16_to_f32_scalar(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), halfToFloat(<u32>load<u16>(src + (<usize>i << 1))));
}
