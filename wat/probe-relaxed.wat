;; Name: Relaxed SIMD probe
;; Computes: probe() = the four i32 lanes of relaxed_dot_i8x16_i7x16_add_s over fixed operands,
;;   summed with weights 1, 2, 4, 8. Engines without relaxed SIMD (Safari, Node 20 without a flag)
;;   reject a module that merely contains a relaxed opcode; Node 20's Liftoff compiler, behind the
;;   flag, validates it but computes a wrong dot. The loader runs probe() and uses the relaxed build
;;   only when the module validates and the value is right (see src/wasm/features.ts).
;; Also: probe_madd() = lane 0 of f32x4.relaxed_madd(a, b, c) as i32 bits, with a = 1 + 2^-23,
;;   b = 1 - 2^-23, c = -1: a·b = 1 - 2^-46 exactly, so a fused multiply-add gives -2^-46
;;   (0xa8800000) and a multiply then add gives round(a·b) - 1 = 0. The Q4_K/Q6_K kernels use
;;   relaxed_madd for ggml's _mm256_fmadd_ps and need the fused one (x86 with FMA3, ARM); an engine
;;   that splits it gets the baseline build.
;; Also: probe_dot_lowering() = lane 0 of relaxed_dot_i8x16_i7x16_add_s(splat 127, splat -1, 0), an
;;   operand past the 7-bit range, where the result shows how the engine lowers the instruction (the
;;   kernels never go there): one x86 AVX-VNNI vpdpbusd (unsigned 255 times 127, four products, no
;;   saturation) gives 129540; pmaddubsw + pmaddwd (x86 without AVX-VNNI, or with V8's
;;   --no-enable-avx-vnni) saturates the i16 pair sums, 2·32767 = 65534; ARM's signed dot gives -508.
;;   The loader runs the prefill tiles' dot-add forms only on the first (src/wasm/features.ts fusedDot).
;; Features: simd, relaxed_simd
(module
  (func (export "probe") (result i32)
    (local $v v128)
    (local.set $v
      (i32x4.relaxed_dot_i8x16_i7x16_add_s
        (v128.const i8x16 -128 127 -1 5 -7 9 100 -100 3 -3 64 -64 1 2 -2 -1)
        (v128.const i8x16 127 127 3 0 1 2 3 4 5 6 7 8 9 10 11 12)
        (v128.const i32x4 1000 -1000 7 0)))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v))
               (i32.mul (i32.const 2) (i32x4.extract_lane 1 (local.get $v))))
      (i32.add (i32.mul (i32.const 4) (i32x4.extract_lane 2 (local.get $v)))
               (i32.mul (i32.const 8) (i32x4.extract_lane 3 (local.get $v))))))
  (func (export "probe_madd") (result i32)
    (i32x4.extract_lane 0
      (f32x4.relaxed_madd
        (v128.const f32x4 0x1.000002p+0 0x1.000002p+0 0x1.000002p+0 0x1.000002p+0)
        (v128.const f32x4 0x1.fffffcp-1 0x1.fffffcp-1 0x1.fffffcp-1 0x1.fffffcp-1)
        (v128.const f32x4 -1 -1 -1 -1))))
  (func (export "probe_dot_lowering") (result i32)
    (i32x4.extract_lane 0
      (i32x4.relaxed_dot_i8x16_i7x16_add_s
        (v128.const i8x16 127 127 127 127 127 127 127 127 127 127 127 127 127 127 127 127)
        (v128.const i8x16 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1)
        (v128.const i32x4 0 0 0 0))))
)
