;; tensor.lsp: the tensor benchmark of `make bench`. Best of 5 runs of each
;; operation, called from Lisp with its output tensor given (no allocation
;; in the loop); prints time per call and GFLOP/s (GB/s for copies).
(de best-of-5 (f)
  "The shortest of 5 timings of (f), in seconds."
  (let ((best 1e9))
    (repeat 5 (let ((t0 (clock))) (f) (setq best (min best (- (clock) t0)))))
    best))

(de report (name flops calls secs)
  (printf "%-28s %9.3f us/call  %7.2f GFLOP/s\n" name (* 1e6 (/ secs calls))
          (/ (* flops calls) secs 1e9)))

(seed 1)

;; the 1989 net's H3 layer: 30 units of 192 inputs
(let ((a (idx-rand (float-matrix 30 192) -1 1))
      (x (idx-rand (float-matrix 192) -1 1))
      (y (float-matrix 30))
      (n 20000))
  (report "idx-m2dotm1 30x192" (* 2 30 192) n
          (best-of-5 (lambda () (repeat n (idx-m2dotm1 a x y))))))

(let ((a (idx-rand (float-matrix 256 256) -1 1))
      (b (idx-rand (float-matrix 256 256) -1 1))
      (c (float-matrix 256 256)))
  (report "idx-m2dotm2 256x256x256" (* 2 256 256 256) 10
          (best-of-5 (lambda () (repeat 10 (idx-m2dotm2 a b c))))))

;; element-wise on 1M floats, contiguous and through a transposed view
(let* ((n 1000000)
       (a (idx-rand (float-matrix 1000 1000) -1 1))
       (b (idx-rand (float-matrix 1000 1000) -1 1))
       (c (float-matrix 1000 1000))
       (bt (idx-transpose b))
       (calls 20))
  (report "idx-add 1M" n calls
          (best-of-5 (lambda () (repeat calls (idx-add a b c)))))
  (report "idx-mul 1M" n calls
          (best-of-5 (lambda () (repeat calls (idx-mul a b c)))))
  (report "idx-add 1M, one transposed" n calls
          (best-of-5 (lambda () (repeat calls (idx-add a bt c)))))
  (report "idx-dotm0 1M" n calls
          (best-of-5 (lambda () (repeat calls (idx-dotm0 a 0.5 c)))))
  (report "idx-tanh 1M" n calls
          (best-of-5 (lambda () (repeat calls (idx-tanh a c)))))
  (report "idx-relu 1M" n calls
          (best-of-5 (lambda () (repeat calls (idx-relu a c)))))
  (report "idx-sum 1M" n calls
          (best-of-5 (lambda () (repeat calls (idx-sum a)))))
  (report "idx-dot 1M" (* 2 n) calls
          (best-of-5 (lambda () (repeat calls (idx-dot a b))))))

;; MNIST to the 1989 size: 10,000 28x28 images to 16x16; 7 flops a pixel
(let ((imgs (idx-rand (float-matrix 10000 28 28)))
      (out (float-matrix 10000 16 16)))
  (report "idx-resize 10000x28x28->16" (* 7 10000 16 16) 1
          (best-of-5 (lambda () (idx-resize imgs 16 16 out)))))
