;; AlexNet's LRN, its gradient and the max-pool gradient, WebAssembly SIMD (128-bit), run on
;; tfjs-backend-wasm's own heap: the module imports that memory ("env" "memory"), so tensors are
;; read and written where tfjs keeps them, by byte offset. Built into train-kernels-wasm.ts by
;; scripts/build-wasm.mjs (npm `wabt`), twice: once importing a shared memory (tfjs's threaded
;; build) and once a plain one (the single-threaded build). src/model/wasm-simd-kernels.ts
;; calls it and falls back to the JS kernels for what it does not cover.
;;
;; Layout: NHWC float32, channels innermost. `channels` must be a multiple of 4.
;; `mode` picks beta: 0 is 0.75 (n^-0.75 = 1 / sqrt(n * sqrt(n))), 1 is 0.5 (1 / sqrt(n)).
;; `scratch` is 16-byte aligned room for 3 * (channels + 2 * radius + 4) floats, zeroed by the
;; caller: squares and gradient terms are kept there, padded with `radius` zeros on each side, so
;; the channel window is a plain sum of 2 * radius + 1 unaligned loads with no edge cases.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Sum of the 2 * radius + 1 floats at $at, $at + 4 bytes, ...
  (func $window (param $at i32) (param $taps i32) (result v128)
    (local $sum v128) (local $k i32)
    (local.set $sum (v128.load (local.get $at)))
    (local.set $k (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $taps)))
        (local.set $sum (f32x4.add (local.get $sum)
          (v128.load (i32.add (local.get $at) (i32.shl (local.get $k) (i32.const 2))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next)))
    (local.get $sum))

  ;; Writes x^2 of one pixel into the padded squares row at $squares + 4 * radius.
  (func $squares (param $x i32) (param $row i32) (param $bytes i32)
    (local $c i32) (local $v v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $bytes)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $c))))
        (v128.store (i32.add (local.get $row) (local.get $c)) (f32x4.mul (local.get $v) (local.get $v)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $next))))

  ;; The window sum at $at: five loads added in order when $five (radius 2, AlexNet's), else
  ;; $window. Inlined by hand in the kernels below (V8 does not inline wasm calls here, and two
  ;; calls per vector cost more than the arithmetic).
  ;; y = x / (bias + alpha * sum of x^2 over channels [c - radius, c + radius])^beta
  (func (export "lrn")
    (param $x i32) (param $y i32) (param $pixels i32) (param $channels i32) (param $radius i32)
    (param $bias f32) (param $alpha f32) (param $mode i32) (param $scratch i32)
    (local $p i32) (local $c i32) (local $bytes i32) (local $taps i32) (local $row i32)
    (local $vbias v128) (local $valpha v128) (local $n v128) (local $at i32) (local $w i32)
    (local $five i32) (local $sum v128) (local $power v128)
    (local.set $bytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $taps (i32.add (i32.shl (local.get $radius) (i32.const 1)) (i32.const 1)))
    (local.set $five (i32.eq (local.get $taps) (i32.const 5)))
    (local.set $row (i32.add (local.get $scratch) (i32.shl (local.get $radius) (i32.const 2))))
    (local.set $vbias (f32x4.splat (local.get $bias)))
    (local.set $valpha (f32x4.splat (local.get $alpha)))
    (block $pixelsDone
      (loop $pixel
        (br_if $pixelsDone (i32.ge_u (local.get $p) (local.get $pixels)))
        (local.set $at (i32.mul (local.get $p) (local.get $bytes)))
        (call $squares (i32.add (local.get $x) (local.get $at)) (local.get $row) (local.get $bytes))
        (local.set $c (i32.const 0))
        (block $channelsDone
          (loop $channel
            (br_if $channelsDone (i32.ge_u (local.get $c) (local.get $bytes)))
            (local.set $w (i32.add (local.get $scratch) (local.get $c)))
            (if (local.get $five)
              (then
                (local.set $sum (f32x4.add (f32x4.add (f32x4.add (f32x4.add
                  (v128.load (local.get $w)) (v128.load offset=4 (local.get $w)))
                  (v128.load offset=8 (local.get $w))) (v128.load offset=12 (local.get $w)))
                  (v128.load offset=16 (local.get $w)))))
              (else (local.set $sum (call $window (local.get $w) (local.get $taps)))))
            (local.set $n (f32x4.add (local.get $vbias) (f32x4.mul (local.get $valpha) (local.get $sum))))
            (if (i32.eqz (local.get $mode))
              (then (local.set $power (f32x4.div (v128.const f32x4 1 1 1 1)
                (f32x4.sqrt (f32x4.mul (local.get $n) (f32x4.sqrt (local.get $n)))))))
              (else (local.set $power (f32x4.div (v128.const f32x4 1 1 1 1) (f32x4.sqrt (local.get $n))))))
            (v128.store (i32.add (local.get $y) (i32.add (local.get $at) (local.get $c)))
              (f32x4.mul (v128.load (i32.add (local.get $x) (i32.add (local.get $at) (local.get $c)))) (local.get $power)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $channel)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $pixel))))

  ;; dx_k = dy_k * n_k^-beta + scale * x_k * sum over |d - k| <= radius of dy_d * y_d / n_d,
  ;; scale = -2 * alpha * beta (tfjs's cpu LRNGrad, regrouped per pixel). One division per
  ;; vector: q = 1 / n, n^-0.75 = sqrt(q * sqrt(q)), n^-0.5 = sqrt(q), and dy * y / n = dy * y * q.
  (func (export "lrnGrad")
    (param $x i32) (param $y i32) (param $dy i32) (param $dx i32) (param $pixels i32)
    (param $channels i32) (param $radius i32) (param $bias f32) (param $alpha f32) (param $scale f32)
    (param $mode i32) (param $scratch i32)
    (local $p i32) (local $c i32) (local $bytes i32) (local $taps i32) (local $row i32)
    (local $terms i32) (local $termRow i32) (local $powers i32) (local $stride i32)
    (local $vbias v128) (local $valpha v128) (local $vscale v128) (local $q v128) (local $at i32)
    (local $i i32) (local $w i32) (local $five i32) (local $sum v128)
    (local.set $bytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $taps (i32.add (i32.shl (local.get $radius) (i32.const 1)) (i32.const 1)))
    (local.set $five (i32.eq (local.get $taps) (i32.const 5)))
    ;; Each scratch row holds channels + 2 * radius + 4 floats (16-byte multiple not needed).
    (local.set $stride (i32.shl (i32.add (local.get $channels) (i32.add (i32.shl (local.get $radius) (i32.const 1)) (i32.const 4))) (i32.const 2)))
    (local.set $row (i32.add (local.get $scratch) (i32.shl (local.get $radius) (i32.const 2))))
    (local.set $terms (i32.add (local.get $scratch) (local.get $stride)))
    (local.set $termRow (i32.add (local.get $terms) (i32.shl (local.get $radius) (i32.const 2))))
    (local.set $powers (i32.add (local.get $terms) (local.get $stride)))
    (local.set $vbias (f32x4.splat (local.get $bias)))
    (local.set $valpha (f32x4.splat (local.get $alpha)))
    (local.set $vscale (f32x4.splat (local.get $scale)))
    (block $pixelsDone
      (loop $pixel
        (br_if $pixelsDone (i32.ge_u (local.get $p) (local.get $pixels)))
        (local.set $at (i32.mul (local.get $p) (local.get $bytes)))
        (call $squares (i32.add (local.get $x) (local.get $at)) (local.get $row) (local.get $bytes))
        (local.set $c (i32.const 0))
        (block $normsDone
          (loop $norm
            (br_if $normsDone (i32.ge_u (local.get $c) (local.get $bytes)))
            (local.set $i (i32.add (local.get $at) (local.get $c)))
            (local.set $w (i32.add (local.get $scratch) (local.get $c)))
            (if (local.get $five)
              (then
                (local.set $sum (f32x4.add (f32x4.add (f32x4.add (f32x4.add
                  (v128.load (local.get $w)) (v128.load offset=4 (local.get $w)))
                  (v128.load offset=8 (local.get $w))) (v128.load offset=12 (local.get $w)))
                  (v128.load offset=16 (local.get $w)))))
              (else (local.set $sum (call $window (local.get $w) (local.get $taps)))))
            (local.set $q (f32x4.div (v128.const f32x4 1 1 1 1)
              (f32x4.add (local.get $vbias) (f32x4.mul (local.get $valpha) (local.get $sum)))))
            (v128.store (i32.add (local.get $powers) (local.get $c))
              (if (result v128) (i32.eqz (local.get $mode))
                (then (f32x4.sqrt (f32x4.mul (local.get $q) (f32x4.sqrt (local.get $q)))))
                (else (f32x4.sqrt (local.get $q)))))
            (v128.store (i32.add (local.get $termRow) (local.get $c))
              (f32x4.mul
                (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $i))) (v128.load (i32.add (local.get $y) (local.get $i))))
                (local.get $q)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $norm)))
        (local.set $c (i32.const 0))
        (block $gradsDone
          (loop $grad
            (br_if $gradsDone (i32.ge_u (local.get $c) (local.get $bytes)))
            (local.set $i (i32.add (local.get $at) (local.get $c)))
            (local.set $w (i32.add (local.get $terms) (local.get $c)))
            (if (local.get $five)
              (then
                (local.set $sum (f32x4.add (f32x4.add (f32x4.add (f32x4.add
                  (v128.load (local.get $w)) (v128.load offset=4 (local.get $w)))
                  (v128.load offset=8 (local.get $w))) (v128.load offset=12 (local.get $w)))
                  (v128.load offset=16 (local.get $w)))))
              (else (local.set $sum (call $window (local.get $w) (local.get $taps)))))
            (v128.store (i32.add (local.get $dx) (local.get $i))
              (f32x4.add
                (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $i))) (v128.load (i32.add (local.get $powers) (local.get $c))))
                (f32x4.mul (local.get $vscale)
                  (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $sum)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $grad)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $pixel))))

  ;; Max-pool gradient of `images` NHWC images: each output's dy goes to the first maximum of its
  ;; window in row-major order (tfjs's cpu rule); a window without one (all NaN) drops it. dx
  ;; is zeroed here first. $geometry points at 10 i32s: inHeight, inWidth, outHeight,
  ;; outWidth, filterHeight, filterWidth, strideHeight, strideWidth, padTop, padLeft.
  (func (export "maxPoolGrad")
    (param $x i32) (param $dy i32) (param $dx i32) (param $images i32) (param $channels i32)
    (param $geometry i32)
    (local $inH i32) (local $inW i32) (local $outH i32) (local $outW i32) (local $fH i32) (local $fW i32)
    (local $sH i32) (local $sW i32) (local $padTop i32) (local $padLeft i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $iy i32) (local $ix i32) (local $c i32)
    (local $y0 i32) (local $y1 i32) (local $x0 i32) (local $x1 i32) (local $top i32) (local $left i32)
    (local $bytes i32) (local $rowBytes i32) (local $image i32) (local $offset i32) (local $dyAt i32)
    (local $best v128) (local $where v128) (local $v v128) (local $m v128) (local $g v128) (local $t i32)
    (local.set $inH (i32.load offset=0 (local.get $geometry)))
    (local.set $inW (i32.load offset=4 (local.get $geometry)))
    (local.set $outH (i32.load offset=8 (local.get $geometry)))
    (local.set $outW (i32.load offset=12 (local.get $geometry)))
    (local.set $fH (i32.load offset=16 (local.get $geometry)))
    (local.set $fW (i32.load offset=20 (local.get $geometry)))
    (local.set $sH (i32.load offset=24 (local.get $geometry)))
    (local.set $sW (i32.load offset=28 (local.get $geometry)))
    (local.set $padTop (i32.load offset=32 (local.get $geometry)))
    (local.set $padLeft (i32.load offset=36 (local.get $geometry)))
    (local.set $bytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $rowBytes (i32.mul (local.get $inW) (local.get $bytes)))
    (local.set $dyAt (local.get $dy))
    (memory.fill (local.get $dx) (i32.const 0)
      (i32.mul (local.get $images) (i32.mul (local.get $inH) (local.get $rowBytes))))
    (block $imagesDone
      (loop $imageLoop
        (br_if $imagesDone (i32.ge_u (local.get $b) (local.get $images)))
        (local.set $image (i32.mul (local.get $b) (i32.mul (local.get $inH) (local.get $rowBytes))))
        (local.set $oy (i32.const 0))
        (block $rowsDone
          (loop $rowLoop
            (br_if $rowsDone (i32.ge_s (local.get $oy) (local.get $outH)))
            (local.set $top (i32.sub (i32.mul (local.get $oy) (local.get $sH)) (local.get $padTop)))
            (local.set $y0 (select (local.get $top) (i32.const 0) (i32.gt_s (local.get $top) (i32.const 0))))
            (local.set $y1 (i32.add (local.get $top) (local.get $fH)))
            (local.set $y1 (select (local.get $y1) (local.get $inH) (i32.lt_s (local.get $y1) (local.get $inH))))
            (local.set $ox (i32.const 0))
            (block $colsDone
              (loop $colLoop
                (br_if $colsDone (i32.ge_s (local.get $ox) (local.get $outW)))
                (local.set $left (i32.sub (i32.mul (local.get $ox) (local.get $sW)) (local.get $padLeft)))
                (local.set $x0 (select (local.get $left) (i32.const 0) (i32.gt_s (local.get $left) (i32.const 0))))
                (local.set $x1 (i32.add (local.get $left) (local.get $fW)))
                (local.set $x1 (select (local.get $x1) (local.get $inW) (i32.lt_s (local.get $x1) (local.get $inW))))
                (local.set $c (i32.const 0))
                (block $channelsDone
                  (loop $channelLoop
                    (br_if $channelsDone (i32.ge_u (local.get $c) (local.get $bytes)))
                    (local.set $best (v128.const f32x4 -inf -inf -inf -inf))
                    (local.set $where (v128.const i32x4 -1 -1 -1 -1))
                    (local.set $iy (local.get $y0))
                    (block $windowRowsDone
                      (loop $windowRow
                        (br_if $windowRowsDone (i32.ge_s (local.get $iy) (local.get $y1)))
                        (local.set $ix (local.get $x0))
                        (block $windowColsDone
                          (loop $windowCol
                            (br_if $windowColsDone (i32.ge_s (local.get $ix) (local.get $x1)))
                            (local.set $offset (i32.add (local.get $image)
                              (i32.add (i32.mul (local.get $iy) (local.get $rowBytes))
                                (i32.add (i32.mul (local.get $ix) (local.get $bytes)) (local.get $c)))))
                            (local.set $v (v128.load (i32.add (local.get $x) (local.get $offset))))
                            ;; NaN > best is false: NaNs never win, as in the cpu kernel.
                            (local.set $m (f32x4.gt (local.get $v) (local.get $best)))
                            (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
                            (local.set $where (v128.bitselect
                              (i32x4.add (i32x4.splat (local.get $offset)) (v128.const i32x4 0 4 8 12))
                              (local.get $where) (local.get $m)))
                            (local.set $ix (i32.add (local.get $ix) (i32.const 1)))
                            (br $windowCol)))
                        (local.set $iy (i32.add (local.get $iy) (i32.const 1)))
                        (br $windowRow)))
                    (local.set $g (v128.load (i32.add (local.get $dyAt) (local.get $c))))
                    ;; Each lane's dy to its maximum (inlined: V8 does not inline wasm calls here).
                    (local.set $t (i32x4.extract_lane 0 (local.get $where)))
                    (if (i32.ge_s (local.get $t) (i32.const 0))
                      (then
                        (local.set $t (i32.add (local.get $dx) (local.get $t)))
                        (f32.store (local.get $t) (f32.add (f32.load (local.get $t)) (f32x4.extract_lane 0 (local.get $g))))))
                    (local.set $t (i32x4.extract_lane 1 (local.get $where)))
                    (if (i32.ge_s (local.get $t) (i32.const 0))
                      (then
                        (local.set $t (i32.add (local.get $dx) (local.get $t)))
                        (f32.store (local.get $t) (f32.add (f32.load (local.get $t)) (f32x4.extract_lane 1 (local.get $g))))))
                    (local.set $t (i32x4.extract_lane 2 (local.get $where)))
                    (if (i32.ge_s (local.get $t) (i32.const 0))
                      (then
                        (local.set $t (i32.add (local.get $dx) (local.get $t)))
                        (f32.store (local.get $t) (f32.add (f32.load (local.get $t)) (f32x4.extract_lane 2 (local.get $g))))))
                    (local.set $t (i32x4.extract_lane 3 (local.get $where)))
                    (if (i32.ge_s (local.get $t) (i32.const 0))
                      (then
                        (local.set $t (i32.add (local.get $dx) (local.get $t)))
                        (f32.store (local.get $t) (f32.add (f32.load (local.get $t)) (f32x4.extract_lane 3 (local.get $g))))))
                    (local.set $c (i32.add (local.get $c) (i32.const 16)))
                    (br $channelLoop)))
                (local.set $dyAt (i32.add (local.get $dyAt) (local.get $bytes)))
                (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
                (br $colLoop)))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (br $rowLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $imageLoop))))
;; out[c] = sum over r of x[r * cols + c], for a Sum over leading axes (a bias gradient).
  ;; Accumulates in float64 in $scratch (8 * cols bytes, zeroed by the caller), so 50,000 rows
  ;; lose nothing to float32 rounding.
  (func (export "columnSums")
    (param $x i32) (param $out i32) (param $rows i32) (param $cols i32) (param $scratch i32)
    (local $r i32) (local $c i32) (local $row i32) (local $acc i32) (local $v v128) (local $vectorCols i32)
    (local.set $vectorCols (i32.and (local.get $cols) (i32.const -4)))
    (local.set $row (local.get $x))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $c (i32.const 0))
        (block $vectorDone
          (loop $vector
            (br_if $vectorDone (i32.ge_u (local.get $c) (local.get $vectorCols)))
            (local.set $v (v128.load (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2)))))
            (local.set $acc (i32.add (local.get $scratch) (i32.shl (local.get $c) (i32.const 3))))
            (v128.store offset=0 (local.get $acc)
              (f64x2.add (v128.load offset=0 (local.get $acc)) (f64x2.promote_low_f32x4 (local.get $v))))
            (v128.store offset=16 (local.get $acc)
              (f64x2.add (v128.load offset=16 (local.get $acc))
                (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $vector)))
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $c) (local.get $cols)))
            (local.set $acc (i32.add (local.get $scratch) (i32.shl (local.get $c) (i32.const 3))))
            (f64.store (local.get $acc)
              (f64.add (f64.load (local.get $acc))
                (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2)))))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $tail)))
        (local.set $row (i32.add (local.get $row) (i32.shl (local.get $cols) (i32.const 2))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop)))
    (local.set $c (i32.const 0))
    (block $outDone
      (loop $outLoop
        (br_if $outDone (i32.ge_u (local.get $c) (local.get $cols)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2)))
          (f32.demote_f64 (f64.load (i32.add (local.get $scratch) (i32.shl (local.get $c) (i32.const 3))))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $outLoop))))

  ;; Copies $rows runs of $bytes bytes, from $src every $srcStride bytes to $dst every
  ;; $dstStride bytes: one part of a split or a concatenation along any axis.
  (func (export "copyRows")
    (param $src i32) (param $dst i32) (param $rows i32) (param $bytes i32) (param $srcStride i32) (param $dstStride i32)
    (local $r i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (memory.copy (local.get $dst) (local.get $src) (local.get $bytes))
        (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
        (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $next))))
;; filterGrad's inner loops: dW rows at $dwAt (+ $coBytes for the second channel) +=
  ;; sum over $n pixels of x (at $xp, every $xStep bytes) times dy (at $dp, every $coBytes bytes),
  ;; 16 output channels (4 vectors) at a time.
  (func $gradSingle (param $xp0 i32) (param $dp0 i32) (param $dwAt i32) (param $n i32) (param $xStep i32) (param $coBytes i32)
    (local $cb i32) (local $xp i32) (local $dp i32) (local $i i32) (local $at i32) (local $s v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (block $cbDone
      (loop $cbLoop
        (br_if $cbDone (i32.ge_u (local.get $cb) (local.get $coBytes)))
        (local.set $at (i32.add (local.get $dwAt) (local.get $cb)))
        (local.set $a0 (v128.load offset=0 (local.get $at)))
        (local.set $a1 (v128.load offset=16 (local.get $at)))
        (local.set $a2 (v128.load offset=32 (local.get $at)))
        (local.set $a3 (v128.load offset=48 (local.get $at)))
        (local.set $xp (local.get $xp0))
        (local.set $dp (i32.add (local.get $dp0) (local.get $cb)))
        (local.set $i (local.get $n))
        (loop $pixel
          (local.set $s (f32x4.splat (f32.load (local.get $xp))))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load offset=0 (local.get $dp)))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $dp)))))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (v128.load offset=32 (local.get $dp)))))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (v128.load offset=48 (local.get $dp)))))
          (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
          (local.set $dp (i32.add (local.get $dp) (local.get $coBytes)))
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (br_if $pixel (i32.gt_s (local.get $i) (i32.const 0))))
        (v128.store offset=0 (local.get $at) (local.get $a0))
        (v128.store offset=16 (local.get $at) (local.get $a1))
        (v128.store offset=32 (local.get $at) (local.get $a2))
        (v128.store offset=48 (local.get $at) (local.get $a3))
        (local.set $cb (i32.add (local.get $cb) (i32.const 64)))
        (br $cbLoop))))

  (func $gradPair (param $xp0 i32) (param $dp0 i32) (param $dwAt i32) (param $n i32) (param $xStep i32) (param $coBytes i32)
    (local $cb i32) (local $xp i32) (local $dp i32) (local $i i32) (local $at i32) (local $bt i32)
    (local $s v128) (local $t v128) (local $d v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (block $cbDone
      (loop $cbLoop
        (br_if $cbDone (i32.ge_u (local.get $cb) (local.get $coBytes)))
        (local.set $at (i32.add (local.get $dwAt) (local.get $cb)))
        (local.set $bt (i32.add (local.get $at) (local.get $coBytes)))
        (local.set $a0 (v128.load offset=0 (local.get $at)))
        (local.set $a1 (v128.load offset=16 (local.get $at)))
        (local.set $a2 (v128.load offset=32 (local.get $at)))
        (local.set $a3 (v128.load offset=48 (local.get $at)))
        (local.set $b0 (v128.load offset=0 (local.get $bt)))
        (local.set $b1 (v128.load offset=16 (local.get $bt)))
        (local.set $b2 (v128.load offset=32 (local.get $bt)))
        (local.set $b3 (v128.load offset=48 (local.get $bt)))
        (local.set $xp (local.get $xp0))
        (local.set $dp (i32.add (local.get $dp0) (local.get $cb)))
        (local.set $i (local.get $n))
        (loop $pixel
          (local.set $s (f32x4.splat (f32.load offset=0 (local.get $xp))))
          (local.set $t (f32x4.splat (f32.load offset=4 (local.get $xp))))
          (local.set $d (v128.load offset=0 (local.get $dp)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (local.get $d))))
          (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $t) (local.get $d))))
          (local.set $d (v128.load offset=16 (local.get $dp)))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (local.get $d))))
          (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $t) (local.get $d))))
          (local.set $d (v128.load offset=32 (local.get $dp)))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (local.get $d))))
          (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $t) (local.get $d))))
          (local.set $d (v128.load offset=48 (local.get $dp)))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (local.get $d))))
          (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $t) (local.get $d))))
          (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
          (local.set $dp (i32.add (local.get $dp) (local.get $coBytes)))
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (br_if $pixel (i32.gt_s (local.get $i) (i32.const 0))))
        (v128.store offset=0 (local.get $at) (local.get $a0))
        (v128.store offset=16 (local.get $at) (local.get $a1))
        (v128.store offset=32 (local.get $at) (local.get $a2))
        (v128.store offset=48 (local.get $at) (local.get $a3))
        (v128.store offset=0 (local.get $bt) (local.get $b0))
        (v128.store offset=16 (local.get $bt) (local.get $b1))
        (v128.store offset=32 (local.get $bt) (local.get $b2))
        (v128.store offset=48 (local.get $bt) (local.get $b3))
        (local.set $cb (i32.add (local.get $cb) (i32.const 64)))
        (br $cbLoop))))

  ;; Filter gradient of a convolution, dW[ky, kx, ci, co] = sum over (b, oy, ox) of
  ;; x[b, oy * sH + ky - padTop, ox * sW + kx - padLeft, ci] * dy[b, oy, ox, co], for `images`
  ;; NHWC images, `outChannels` a multiple of 16. dW is zeroed here first. Per output row and tap
  ;; it runs along ox with 16 output channels of two input channels in 8 accumulators
  ;; ($gradPair), so dy's row (a few KB) stays in L1 across the taps. $geometry points at 12 i32s: inHeight, inWidth, inChannels, outHeight,
  ;; outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth, padTop, padLeft.
  (func (export "filterGrad")
    (param $x i32) (param $dy i32) (param $dw i32) (param $images i32) (param $geometry i32)
    (local $inH i32) (local $inW i32) (local $ci i32) (local $outH i32) (local $outW i32) (local $co i32)
    (local $kh i32) (local $kw i32) (local $sH i32) (local $sW i32) (local $padTop i32) (local $padLeft i32)
    (local $b i32) (local $oy i32) (local $ky i32) (local $kx i32) (local $c i32)
    (local $iy i32) (local $ox0 i32) (local $ox1 i32) (local $n i32) (local $t i32)
    (local $xRow i32) (local $dyRow i32) (local $xp i32) (local $dp i32) (local $dwAt i32)
    (local $xStep i32) (local $coBytes i32) (local $ciBytes i32)
    (local.set $inH (i32.load offset=0 (local.get $geometry)))
    (local.set $inW (i32.load offset=4 (local.get $geometry)))
    (local.set $ci (i32.load offset=8 (local.get $geometry)))
    (local.set $outH (i32.load offset=12 (local.get $geometry)))
    (local.set $outW (i32.load offset=16 (local.get $geometry)))
    (local.set $co (i32.load offset=20 (local.get $geometry)))
    (local.set $kh (i32.load offset=24 (local.get $geometry)))
    (local.set $kw (i32.load offset=28 (local.get $geometry)))
    (local.set $sH (i32.load offset=32 (local.get $geometry)))
    (local.set $sW (i32.load offset=36 (local.get $geometry)))
    (local.set $padTop (i32.load offset=40 (local.get $geometry)))
    (local.set $padLeft (i32.load offset=44 (local.get $geometry)))
    (local.set $coBytes (i32.shl (local.get $co) (i32.const 2)))
    (local.set $ciBytes (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $xStep (i32.mul (local.get $sW) (local.get $ciBytes)))
    (memory.fill (local.get $dw) (i32.const 0)
      (i32.mul (i32.mul (i32.mul (local.get $kh) (local.get $kw)) (local.get $ci)) (local.get $coBytes)))
    (block $imagesDone
      (loop $image
        (br_if $imagesDone (i32.ge_u (local.get $b) (local.get $images)))
        (local.set $oy (i32.const 0))
        (block $rowsDone
          (loop $row
            (br_if $rowsDone (i32.ge_s (local.get $oy) (local.get $outH)))
            (local.set $dyRow (i32.add (local.get $dy)
              (i32.mul (i32.mul (i32.add (i32.mul (local.get $b) (local.get $outH)) (local.get $oy)) (local.get $outW)) (local.get $coBytes))))
            (local.set $ky (i32.const 0))
            (block $kyDone
              (loop $kyLoop
                (br_if $kyDone (i32.ge_s (local.get $ky) (local.get $kh)))
                (local.set $iy (i32.sub (i32.add (i32.mul (local.get $oy) (local.get $sH)) (local.get $ky)) (local.get $padTop)))
                (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $inH)))
                  (then
                    (local.set $kx (i32.const 0))
                    (block $kxDone
                      (loop $kxLoop
                        (br_if $kxDone (i32.ge_s (local.get $kx) (local.get $kw)))
                        ;; Valid ox: 0 <= ox * sW + kx - padLeft < inW.
                        (local.set $t (i32.sub (local.get $padLeft) (local.get $kx)))
                        (local.set $ox0 (select
                          (i32.div_s (i32.add (local.get $t) (i32.sub (local.get $sW) (i32.const 1))) (local.get $sW))
                          (i32.const 0)
                          (i32.gt_s (local.get $t) (i32.const 0))))
                        (local.set $t (i32.add (local.get $inW) (local.get $t)))
                        (local.set $ox1 (select
                          (i32.div_s (i32.add (local.get $t) (i32.sub (local.get $sW) (i32.const 1))) (local.get $sW))
                          (i32.const 0)
                          (i32.gt_s (local.get $t) (i32.const 0))))
                        (local.set $ox1 (select (local.get $ox1) (local.get $outW) (i32.lt_s (local.get $ox1) (local.get $outW))))
                        (local.set $n (i32.sub (local.get $ox1) (local.get $ox0)))
                        (if (i32.gt_s (local.get $n) (i32.const 0))
                          (then
                            (local.set $xRow (i32.add (local.get $x)
                              (i32.mul
                                (i32.add
                                  (i32.mul (i32.add (i32.mul (local.get $b) (local.get $inH)) (local.get $iy)) (local.get $inW))
                                  (i32.sub (i32.add (i32.mul (local.get $ox0) (local.get $sW)) (local.get $kx)) (local.get $padLeft)))
                                (local.get $ciBytes))))
                            (local.set $c (i32.const 0))
                            (block $cDone
                              (loop $cLoop
                                (br_if $cDone (i32.ge_s (local.get $c) (local.get $ci)))
                                (local.set $dwAt (i32.add (local.get $dw)
                                  (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $ci)) (local.get $c))
                                    (local.get $coBytes))))
                                (local.set $xp (i32.add (local.get $xRow) (i32.shl (local.get $c) (i32.const 2))))
                                (local.set $dp (i32.add (local.get $dyRow) (i32.mul (local.get $ox0) (local.get $coBytes))))
                                ;; Two input channels at a time where there are two left: each dy
                                ;; vector loaded once feeds both.
                                (if (i32.lt_s (i32.add (local.get $c) (i32.const 1)) (local.get $ci))
                                  (then
                                    (call $gradPair (local.get $xp) (local.get $dp) (local.get $dwAt) (local.get $n) (local.get $xStep) (local.get $coBytes))
                                    (local.set $c (i32.add (local.get $c) (i32.const 2))))
                                  (else
                                    (call $gradSingle (local.get $xp) (local.get $dp) (local.get $dwAt) (local.get $n) (local.get $xStep) (local.get $coBytes))
                                    (local.set $c (i32.add (local.get $c) (i32.const 1)))))
                                (br $cLoop)))))
                        (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                        (br $kxLoop)))))
                (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                (br $kyLoop)))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (br $row)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $image))))

  ;; dst[i] += src[i] for `count` floats (count a multiple of 4): sums the helper thread's half.
  (func (export "addInto") (param $dst i32) (param $src i32) (param $count i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $next))))
;; out[i, n] = dot(a[i, :], b[n, :]) for i < $m, n < $count: a [m, k] times b^T, b given as
  ;; [count, k] rows (a dense layer's input gradient, dy W^T, with W's rows). $k a multiple of 4;
  ;; out rows are $outStride floats apart. Eight rows of a at a time share each load of b.
  (func (export "matMulBT")
    (param $a i32) (param $b i32) (param $out i32) (param $m i32) (param $k i32) (param $count i32) (param $outStride i32)
    (local $n i32) (local $i i32) (local $kk i32) (local $kBytes i32) (local $row i32) (local $bRow i32) (local $o i32)
    (local $v v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $kBytes (i32.shl (local.get $k) (i32.const 2)))
    (block $nDone
      (loop $nLoop
        (br_if $nDone (i32.ge_u (local.get $n) (local.get $count)))
        (local.set $bRow (i32.add (local.get $b) (i32.mul (local.get $n) (local.get $kBytes))))
        (local.set $i (i32.const 0))
        (block $blocksDone
          (loop $blocks
            (br_if $blocksDone (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $m)))
            (local.set $row (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $kBytes))))
            (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
            (local.set $a4 (v128.const i32x4 0 0 0 0)) (local.set $a5 (v128.const i32x4 0 0 0 0))
            (local.set $a6 (v128.const i32x4 0 0 0 0)) (local.set $a7 (v128.const i32x4 0 0 0 0))
            (local.set $kk (i32.const 0))
            (block $kDone
              (loop $kLoop
                (br_if $kDone (i32.ge_u (local.get $kk) (local.get $kBytes)))
                (local.set $v (v128.load (i32.add (local.get $bRow) (local.get $kk))))
                (local.set $o (i32.add (local.get $row) (local.get $kk)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $v) (v128.load (local.get $o)))))
                (local.set $o (i32.add (local.get $o) (local.get $kBytes)))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $v) (v128.load (local.get $o)))))
                (local.set $o (i32.add (local.get $o) (local.get $kBytes)))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $v) (v128.load (local.get $o)))))
                (local.set $o (i32.add (local.get $o) (local.get $kBytes)))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $v) (v128.load (local.get $o)))))
                (local.set $o (i32.add (local.get $o) (local.get $kBytes)))
                (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $v) (v128.load (local.get $o)))))
                (local.set $o (i32.add (local.get $o) (local.get $kBytes)))
                (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $v) (v128.load (local.get $o)))))
                (local.set $o (i32.add (local.get $o) (local.get $kBytes)))
                (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $v) (v128.load (local.get $o)))))
                (local.set $o (i32.add (local.get $o) (local.get $kBytes)))
                (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $v) (v128.load (local.get $o)))))
                (local.set $kk (i32.add (local.get $kk) (i32.const 16)))
                (br $kLoop)))
            (call $storeSum (local.get $out) (local.get $outStride) (local.get $i) (local.get $n) (local.get $a0))
            (call $storeSum (local.get $out) (local.get $outStride) (i32.add (local.get $i) (i32.const 1)) (local.get $n) (local.get $a1))
            (call $storeSum (local.get $out) (local.get $outStride) (i32.add (local.get $i) (i32.const 2)) (local.get $n) (local.get $a2))
            (call $storeSum (local.get $out) (local.get $outStride) (i32.add (local.get $i) (i32.const 3)) (local.get $n) (local.get $a3))
            (call $storeSum (local.get $out) (local.get $outStride) (i32.add (local.get $i) (i32.const 4)) (local.get $n) (local.get $a4))
            (call $storeSum (local.get $out) (local.get $outStride) (i32.add (local.get $i) (i32.const 5)) (local.get $n) (local.get $a5))
            (call $storeSum (local.get $out) (local.get $outStride) (i32.add (local.get $i) (i32.const 6)) (local.get $n) (local.get $a6))
            (call $storeSum (local.get $out) (local.get $outStride) (i32.add (local.get $i) (i32.const 7)) (local.get $n) (local.get $a7))
            (local.set $i (i32.add (local.get $i) (i32.const 8)))
            (br $blocks)))
        ;; Rows left over (fewer than 8), one at a time.
        (block $restDone
          (loop $rest
            (br_if $restDone (i32.ge_u (local.get $i) (local.get $m)))
            (local.set $row (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $kBytes))))
            (local.set $a0 (v128.const i32x4 0 0 0 0))
            (local.set $kk (i32.const 0))
            (block $k1Done
              (loop $k1
                (br_if $k1Done (i32.ge_u (local.get $kk) (local.get $kBytes)))
                (local.set $a0 (f32x4.add (local.get $a0)
                  (f32x4.mul (v128.load (i32.add (local.get $bRow) (local.get $kk))) (v128.load (i32.add (local.get $row) (local.get $kk))))))
                (local.set $kk (i32.add (local.get $kk) (i32.const 16)))
                (br $k1)))
            (call $storeSum (local.get $out) (local.get $outStride) (local.get $i) (local.get $n) (local.get $a0))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rest)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $nLoop))))

  ;; out[i * stride + n] = the sum of the four lanes of $v.
  (func $storeSum (param $out i32) (param $stride i32) (param $i i32) (param $n i32) (param $v v128)
    (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $stride)) (local.get $n)) (i32.const 2)))
      (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
        (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v))))))

  ;; out[i, n] = sum over k of a[i, k] * b[k, n] for i < $m and the $count columns from b's
  ;; (and out's) first: a [m, k] times b [k, n] with b's rows $stride floats long ($count a
  ;; multiple of 16). Two rows by 16 columns in 8 accumulators.
  (func (export "matMulNN")
    (param $a i32) (param $b i32) (param $out i32) (param $m i32) (param $k i32) (param $count i32) (param $stride i32)
    (local $i i32) (local $cb i32) (local $kk i32) (local $strideBytes i32) (local $kBytes i32)
    (local $bp i32) (local $ap i32) (local $two i32) (local $at i32)
    (local $s v128) (local $t v128) (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local.set $strideBytes (i32.shl (local.get $stride) (i32.const 2)))
    (local.set $kBytes (i32.shl (local.get $k) (i32.const 2)))
    ;; Columns outside, rows inside: one 16-column strip of b (k * 64 bytes) is read from memory
    ;; once and from cache for the other row pairs.
    (block $colsDone
      (loop $cols
        (br_if $colsDone (i32.ge_u (local.get $cb) (i32.shl (local.get $count) (i32.const 2))))
        (local.set $i (i32.const 0))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $m)))
            ;; A lone last row runs as a pair with itself (its second result is dropped).
            (local.set $two (select (i32.const 1) (i32.const 0) (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $m))))
            (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
            (local.set $b0 (v128.const i32x4 0 0 0 0)) (local.set $b1 (v128.const i32x4 0 0 0 0))
            (local.set $b2 (v128.const i32x4 0 0 0 0)) (local.set $b3 (v128.const i32x4 0 0 0 0))
            (local.set $bp (i32.add (local.get $b) (local.get $cb)))
            (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $kBytes))))
            (local.set $kk (local.get $k))
            (block $kDone
              (loop $kLoop
                (br_if $kDone (i32.eqz (local.get $kk)))
                (local.set $s (f32x4.splat (f32.load (local.get $ap))))
                (local.set $t (f32x4.splat (f32.load (i32.add (local.get $ap) (i32.mul (local.get $two) (local.get $kBytes))))))
                (local.set $w0 (v128.load offset=0 (local.get $bp)))
                (local.set $w1 (v128.load offset=16 (local.get $bp)))
                (local.set $w2 (v128.load offset=32 (local.get $bp)))
                (local.set $w3 (v128.load offset=48 (local.get $bp)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (local.get $w0))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (local.get $w1))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (local.get $w2))))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (local.get $w3))))
                (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $t) (local.get $w0))))
                (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $t) (local.get $w1))))
                (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $t) (local.get $w2))))
                (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $t) (local.get $w3))))
                (local.set $ap (i32.add (local.get $ap) (i32.const 4)))
                (local.set $bp (i32.add (local.get $bp) (local.get $strideBytes)))
                (local.set $kk (i32.sub (local.get $kk) (i32.const 1)))
                (br $kLoop)))
            (local.set $at (i32.add (i32.add (local.get $out) (i32.mul (local.get $i) (local.get $strideBytes))) (local.get $cb)))
            (v128.store offset=0 (local.get $at) (local.get $a0))
            (v128.store offset=16 (local.get $at) (local.get $a1))
            (v128.store offset=32 (local.get $at) (local.get $a2))
            (v128.store offset=48 (local.get $at) (local.get $a3))
            (if (local.get $two)
              (then
                (local.set $at (i32.add (local.get $at) (local.get $strideBytes)))
                (v128.store offset=0 (local.get $at) (local.get $b0))
                (v128.store offset=16 (local.get $at) (local.get $b1))
                (v128.store offset=32 (local.get $at) (local.get $b2))
                (v128.store offset=48 (local.get $at) (local.get $b3))))
            (local.set $i (i32.add (local.get $i) (i32.const 2)))
            (br $rows)))
        (local.set $cb (i32.add (local.get $cb) (i32.const 64)))
        (br $cols))))

  ;; SGD with momentum and weight decay over $count floats (a multiple of 4):
  ;; v' = momentum * v - lr * (decay * w + g), w' = w + v'.
  (func (export "sgdMomentum")
    (param $w i32) (param $v i32) (param $g i32) (param $nextV i32) (param $nextW i32) (param $count i32)
    (param $lr f32) (param $momentum f32) (param $decay f32)
    (local $at i32) (local $end i32) (local $lrs v128) (local $ms v128) (local $ds v128) (local $weight v128) (local $velocity v128)
    (local.set $lrs (f32x4.splat (local.get $lr)))
    (local.set $ms (f32x4.splat (local.get $momentum)))
    (local.set $ds (f32x4.splat (local.get $decay)))
    (local.set $end (i32.shl (local.get $count) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $weight (v128.load (i32.add (local.get $w) (local.get $at))))
        (local.set $velocity
          (f32x4.sub
            (f32x4.mul (local.get $ms) (v128.load (i32.add (local.get $v) (local.get $at))))
            (f32x4.mul (local.get $lrs)
              (f32x4.add (f32x4.mul (local.get $ds) (local.get $weight)) (v128.load (i32.add (local.get $g) (local.get $at)))))))
        (v128.store (i32.add (local.get $nextV) (local.get $at)) (local.get $velocity))
        (v128.store (i32.add (local.get $nextW) (local.get $at)) (f32x4.add (local.get $weight) (local.get $velocity)))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $next))))

  ;; The ReLU gradient over $count floats (a multiple of 4): dx = dy * step(x), where step(x) is
  ;; 1 for x > 0, NaN for a NaN x and 0 otherwise, as tfjs's mul(dy, cast(step(x))) computes it.
  (func (export "reluGrad") (param $dy i32) (param $x i32) (param $dx i32) (param $count i32)
    (local $at i32) (local $end i32) (local $v v128)
    (local.set $end (i32.shl (local.get $count) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $at))))
        (v128.store (i32.add (local.get $dx) (local.get $at))
          (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $at)))
            (v128.or
              (v128.and (f32x4.gt (local.get $v) (v128.const f32x4 0 0 0 0)) (v128.const f32x4 1 1 1 1))
              (v128.and (f32x4.ne (local.get $v) (local.get $v)) (v128.const f32x4 nan nan nan nan)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $next))))

  ;; A bias add: out[r, c] = x[r, c] + bias[c] over $rows rows of $cols floats ($cols a multiple
  ;; of 4), the same float32 additions as tfjs's broadcasting Add.
  (func (export "biasAdd") (param $x i32) (param $bias i32) (param $out i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $bytes i32)
    (local.set $bytes (i32.shl (local.get $cols) (i32.const 2)))
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $c (i32.const 0))
        (block $colsDone
          (loop $col
            (br_if $colsDone (i32.ge_u (local.get $c) (local.get $bytes)))
            (v128.store (i32.add (local.get $out) (local.get $c))
              (f32x4.add (v128.load (i32.add (local.get $x) (local.get $c))) (v128.load (i32.add (local.get $bias) (local.get $c)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $col)))
        (local.set $x (i32.add (local.get $x) (local.get $bytes)))
        (local.set $out (i32.add (local.get $out) (local.get $bytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))
)
