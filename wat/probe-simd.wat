;; Name: SIMD probe
;; Computes: nothing; it only has to validate. Woolly's kernels need 128-bit SIMD; an engine that
;;   rejects this module cannot run Woolly, and is told so instead of failing on a kernel.
;; Features: simd
(module
  (func (result v128)
    (i32x4.dot_i16x8_s (v128.const i16x8 1 2 3 4 5 6 7 8) (v128.const i16x8 1 1 1 1 1 1 1 1)))
)
