;; Separable antialiased resample of interleaved uint8 RGB, WebAssembly SIMD (128-bit).
;; Built into resample.wasm and resample-wasm.ts by scripts/build-wasm.mjs (npm `wabt`).
;; Weights are computed in JS (src/stages/resample.ts); this file only applies them.
;;
;; vertical:   uint8 rows (srcRowBytes each) -> float rows (interStride floats each), one output
;;             row per entry of the vertical tables, 16 bytes (16 floats) a step.
;; horizontal: float rows -> uint8 RGB pixels, one pixel (4 float lanes, the 4th ignored) a step,
;;             rounded to nearest and saturated to 0..255.
;; Tables: start (i32 per output), count (i32 per output), weights (f32, maxTaps per output).
;; Reads and writes may run up to 15 bytes (vertical) or 1 byte (horizontal) past a row: the
;; caller pads its buffers and rows are written in order, so the overrun is always overwritten.
(module
  (memory (export "memory") 1)

  (func (export "vertical")
    (param $src i32) (param $srcRowBytes i32)
    (param $inter i32) (param $interStride i32)
    (param $rows i32)
    (param $starts i32) (param $counts i32) (param $weights i32) (param $maxTaps i32)
    (local $r i32) (local $k i32) (local $n i32) (local $i i32)
    (local $dst i32) (local $row i32) (local $w v128) (local $bytes v128)
    (local $half v128) (local $p i32)
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $dst (i32.add (local.get $inter) (i32.mul (local.get $r) (i32.shl (local.get $interStride) (i32.const 2)))))
        (local.set $n (i32.load (i32.add (local.get $counts) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $k (i32.const 0))
        (block $tapsDone
          (loop $tapLoop
            (br_if $tapsDone (i32.ge_u (local.get $k) (local.get $n)))
            (local.set $w (f32x4.splat (f32.load
              (i32.add (local.get $weights)
                (i32.shl (i32.add (i32.mul (local.get $r) (local.get $maxTaps)) (local.get $k)) (i32.const 2))))))
            (local.set $row (i32.add (local.get $src)
              (i32.mul
                (i32.add (i32.load (i32.add (local.get $starts) (i32.shl (local.get $r) (i32.const 2)))) (local.get $k))
                (local.get $srcRowBytes))))
            (local.set $i (i32.const 0))
            (block $colsDone
              (loop $colLoop
                (br_if $colsDone (i32.ge_u (local.get $i) (local.get $srcRowBytes)))
                (local.set $bytes (v128.load (i32.add (local.get $row) (local.get $i))))
                (local.set $p (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))))
                (if (i32.eqz (local.get $k))
                  (then
                    (local.set $half (i16x8.extend_low_i8x16_u (local.get $bytes)))
                    (v128.store offset=0 (local.get $p)
                      (f32x4.mul (local.get $w) (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $half)))))
                    (v128.store offset=16 (local.get $p)
                      (f32x4.mul (local.get $w) (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $half)))))
                    (local.set $half (i16x8.extend_high_i8x16_u (local.get $bytes)))
                    (v128.store offset=32 (local.get $p)
                      (f32x4.mul (local.get $w) (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $half)))))
                    (v128.store offset=48 (local.get $p)
                      (f32x4.mul (local.get $w) (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $half))))))
                  (else
                    (local.set $half (i16x8.extend_low_i8x16_u (local.get $bytes)))
                    (v128.store offset=0 (local.get $p)
                      (f32x4.add (v128.load offset=0 (local.get $p))
                        (f32x4.mul (local.get $w) (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $half))))))
                    (v128.store offset=16 (local.get $p)
                      (f32x4.add (v128.load offset=16 (local.get $p))
                        (f32x4.mul (local.get $w) (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $half))))))
                    (local.set $half (i16x8.extend_high_i8x16_u (local.get $bytes)))
                    (v128.store offset=32 (local.get $p)
                      (f32x4.add (v128.load offset=32 (local.get $p))
                        (f32x4.mul (local.get $w) (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $half))))))
                    (v128.store offset=48 (local.get $p)
                      (f32x4.add (v128.load offset=48 (local.get $p))
                        (f32x4.mul (local.get $w) (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $half))))))))
                (local.set $i (i32.add (local.get $i) (i32.const 16)))
                (br $colLoop)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $tapLoop)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop))))

  (func (export "horizontal")
    (param $inter i32) (param $interStride i32) (param $rows i32)
    (param $out i32) (param $outWidth i32)
    (param $starts i32) (param $counts i32) (param $weights i32) (param $maxTaps i32)
    (local $r i32) (local $x i32) (local $k i32) (local $n i32)
    (local $row i32) (local $at i32) (local $wp i32) (local $o i32)
    (local $acc v128) (local $q v128)
    (local.set $o (local.get $out))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.add (local.get $inter) (i32.mul (local.get $r) (i32.shl (local.get $interStride) (i32.const 2)))))
        (local.set $x (i32.const 0))
        (block $colsDone
          (loop $colLoop
            (br_if $colsDone (i32.ge_u (local.get $x) (local.get $outWidth)))
            (local.set $n (i32.load (i32.add (local.get $counts) (i32.shl (local.get $x) (i32.const 2)))))
            ;; float address of the first tap's R: row + start * 3 floats
            (local.set $at (i32.add (local.get $row)
              (i32.mul (i32.load (i32.add (local.get $starts) (i32.shl (local.get $x) (i32.const 2)))) (i32.const 12))))
            (local.set $wp (i32.add (local.get $weights) (i32.shl (i32.mul (local.get $x) (local.get $maxTaps)) (i32.const 2))))
            (local.set $acc (v128.const f32x4 0 0 0 0))
            (local.set $k (i32.const 0))
            (block $tapsDone
              (loop $tapLoop
                (br_if $tapsDone (i32.ge_u (local.get $k) (local.get $n)))
                (local.set $acc (f32x4.add (local.get $acc)
                  (f32x4.mul (f32x4.splat (f32.load (local.get $wp))) (v128.load (local.get $at)))))
                (local.set $at (i32.add (local.get $at) (i32.const 12)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $tapLoop)))
            (local.set $q (i32x4.trunc_sat_f32x4_s (f32x4.nearest (local.get $acc))))
            (local.set $q (i16x8.narrow_i32x4_s (local.get $q) (local.get $q)))
            (local.set $q (i8x16.narrow_i16x8_u (local.get $q) (local.get $q)))
            (i32.store (local.get $o) (i32x4.extract_lane 0 (local.get $q)))
            (local.set $o (i32.add (local.get $o) (i32.const 3)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $colLoop)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop))))
)
