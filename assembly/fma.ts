// Whether this build computes ggml's fused multiply-adds with f32x4.relaxed_madd (one instruction) or
// emulates them exactly (through f64, ops/math.ts and quant/kcommon.ts say how). Three builds ship
// (asconfig.json, src/wasm/features.ts picks one at run time):
//   simd           baseline 128-bit SIMD; integer dots through i16, FMA emulated       FMA = false
//   relaxed-nofma  relaxed SIMD's integer dot and swizzle; FMA emulated                FMA = false
//                  (engines whose relaxed_madd does not fuse: Bun/JavaScriptCore, x86 without FMA3)
//   relaxed        relaxed SIMD, relaxed_madd taken as ggml's _mm256_fmadd_ps          FMA = true
//                  (only where the loader's probe finds it fused: V8 on x86 with FMA3, ARM)
// FUSED_MADD is the integer constant each target defines (asc --use FUSED_MADD=0|1).
// No `declare const FUSED_MADD: i32`: asc turns a declared global into an import (measured: the module then
// imported fma.FUSED_MADD). The ts-ignore only quiets editors; asc defines the constant.
// @ts-ignore: defined by the compiler (asconfig.json "use")
export const FMA: bool = ASC_FEATURE_RELAXED_SIMD && FUSED_MADD != 0;
