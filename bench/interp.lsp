;; interp.lsp: the interpreter benchmark of `make bench`: (fib 25), (fib 30) and a
;; tight arithmetic loop, best of 3; prints "NAME SECONDS".
(de fib (n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))
(de arith (n) (let ((s 0)) (for (i 1 n) (setq s (+ s (* i 0.5)))) s))
(de best-of-3 (f arg)
  (let ((best 1e9))
    (repeat 3 (let ((t0 (clock))) (f arg) (setq best (min best (- (clock) t0)))))
    best))
(printf "fib25 %.4f\n" (best-of-3 fib 25))
(printf "fib30 %.4f\n" (best-of-3 fib 30))
(printf "loop3M %.4f\n" (best-of-3 arith 3000000))
