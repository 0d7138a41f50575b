;; Name: bandwidth
;; Computes: stream_sum_f32(ptr, n) = the sum of n f32 values at ptr, read with v128 loads,
;;   four independent accumulators so the loop is bound by memory, not by add latency.
;;   The benchmark's yardstick: how fast this machine can stream bytes from memory into SIMD
;;   registers, which is the ceiling for a bandwidth-bound matvec.
;; Features: simd
;; Memory: imports env.memory (the one Woolly memory); uses no static data.
;; Loop bounds count elements down instead of comparing to ptr + bytes, which would overflow for a
;; buffer that ends at 4 GiB.
(module
  (import "env" "memory" (memory 1 65536))
  (func (export "stream_sum_f32") (param $p i32) (param $n i32) (result f32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $blocks i32) (local $s f32)
    ;; 16 floats (64 bytes, one cache line) per iteration
    (local.set $blocks (i32.shr_u (local.get $n) (i32.const 4)))
    (block $done
      (loop $loop
        (br_if $done (i32.eqz (local.get $blocks)))
        (local.set $a0 (f32x4.add (local.get $a0) (v128.load offset=0 align=4 (local.get $p))))
        (local.set $a1 (f32x4.add (local.get $a1) (v128.load offset=16 align=4 (local.get $p))))
        (local.set $a2 (f32x4.add (local.get $a2) (v128.load offset=32 align=4 (local.get $p))))
        (local.set $a3 (f32x4.add (local.get $a3) (v128.load offset=48 align=4 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (local.set $blocks (i32.sub (local.get $blocks) (i32.const 1)))
        (br $loop)))
    (local.set $a0 (f32x4.add (f32x4.add (local.get $a0) (local.get $a1))
                              (f32x4.add (local.get $a2) (local.get $a3))))
    (local.set $s (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
                           (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
    ;; the remaining n mod 16 floats, one at a time
    (local.set $n (i32.and (local.get $n) (i32.const 15)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.eqz (local.get $n)))
        (local.set $s (f32.add (local.get $s) (f32.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $tail)))
    (local.get $s))
)
