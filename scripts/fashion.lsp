#!/usr/bin/env lush89
;; fashion.lsp: a small modern convolutional net on Fashion-MNIST (28x28
;; clothes, 10 classes, 60,000 training and 10,000 test images):
;;   input 1x28x28 -> random shift of up to 2 pixels (training only)
;;   -> conv 3x3: W maps -> batchnorm -> relu -> maxpool 2: Wx14x14
;;   -> conv 3x3: 2W maps -> batchnorm -> relu -> maxpool 2: 2Wx7x7
;;   -> dropout 0.25 -> linear 128 -> relu -> dropout 0.25
;;   -> linear 10;  W = 16 (--width): 207,018 parameters.
;; Augmentation: the random shift is a layer of the net; the horizontal
;; flip is done on the data side, in Lisp: before each pass a random half
;; of the training images is mirrored left to right (fashion-flipper),
;; drawn from the generator, so that a resumed run draws the same flips.
;; Trained by softmax cross-entropy and AdamW, its rate following half a
;; cosine from --lr down to --lr/20 over the passes, the examples shuffled
;; every pass, in mini-batches (--batch, default 64) where the simulator has
;; them, else one example at a time; 3 passes by default. Same eval lines,
;; outputs and final table as the other scripts.
;;
;;   lush89 scripts/fashion.lsp [--passes N] [--lr X] [--width N] [--seed N] [--out DIR]
;;                              [--quiet] [--data fashion|mnist|digits|DIR] [--batch N]
;;                              [--threads N] [--resume DIR]

(libload "train")

(de fashion-net (width)
  "The net at the top of fashion.lsp with WIDTH maps in its first
convolution (2 WIDTH in its second), its weights drawn from the generator
(seed it first)."
  (nn-seq '(1 28 28)
    (nn-random-shift 2)
    (nn-conv width 3 1 () 1 -1) (nn-batchnorm) (nn-relu) (nn-maxpool 2)
    (nn-conv (* 2 width) 3 1 () 1) (nn-batchnorm) (nn-relu) (nn-maxpool 2)
    (nn-dropout 0.25)
    (nn-linear 128) (nn-relu) (nn-dropout 0.25)
    (nn-linear 10)))

(de fashion-mirror (w)
  "The [W W] matrix that reverses a row of W elements (ones on the
anti-diagonal): x . M is x mirrored."
  (let ((m (float-matrix w w)))
    (for (i 0 (- w 1)) (m i (- w 1 i) 1))
    m))

(defvar fashion-flip-chunk 1024 "Images mirrored per step of fashion-flipper.")

(de fashion-flipper (data)
  "A function of no argument that replaces the training images of DATA (a
fitted dataset: its float train-inputs when it holds them, else its
train-images) by a copy of the original ones in which each image is
mirrored left to right with probability 1/2, drawn from the generator.
The originals are kept aside, so each call draws anew from them."
  (let* ((key (if (hget data 'train-inputs) 'train-inputs 'train-images))
         (target (hget data key))
         (original (copy-matrix target))
         (n (idx-dim target 0))
         (w (last (idx-shape target)))
         (size (/ (idx-nelem target) n))
         (mirror (fashion-mirror w))
         (ones (idx-fill (float-matrix size) 1)))
    (lambda ()
      (for (at 0 (- n 1) fashion-flip-chunk)
        (let* ((k (min fashion-flip-chunk (- n at)))
               (x (idx-copy (narrow original 0 k at) (apply float-matrix (cons k (cdr (idx-shape target))))))
               (rows (idx-reshape x (/ (* k size) w) w))
               (flipped (idx-reshape (idx-m2dotm2 rows mirror) k size))
               (coin (idx-copy (idx-rand (int-matrix k) 0 2) (float-matrix k)))
               (flat (idx-reshape x k size)))
          (idx-add flat (idx-mul (idx-m1extm1 coin ones) (idx-sub flipped flat)) flat)
          (idx-copy x (narrow target 0 k at)))))))

(de fashion-schedule (opt rate passes)
  "A before-pass function (see train-run) setting OPT's rate for pass p of
PASSES along half a cosine, from RATE at the first pass to RATE/20 at the
last."
  (lambda (pass)
    (let ((alpha (if (> passes 1) (/ (- pass 1) (- passes 1)) 0)))
      (nn-set-rate opt (* rate (+ 0.05 (* 0.475 (+ 1 (cos (* 3.141592653589793 alpha))))))))))

(de fashion-recipe (data rate passes width)
  "The recipe (see train-run) of fashion.lsp on DATA (fitted to 28x28): a
fresh (fashion-net WIDTH), AdamW on the cosine schedule from RATE over
PASSES shuffled passes, the training images flipped at random before each
pass. Seed the generator first."
  (let* ((opt (nn-adamw rate))
         (flip (fashion-flipper data))
         (schedule (fashion-schedule opt rate passes)))
    (train-recipe 'name "fashion" 'net (fashion-net width) 'opt opt 'cost 'ce
                  'data data 'passes passes 'shuffle t
                  'before-pass (lambda (pass) (schedule pass) (flip)))))

(de fashion-main (args)
  "The command line of scripts/fashion.lsp: parses ARGS (see the script),
trains on --data (default fashion) and prints the eval lines, the
confusion matrix and the final table. The rate defaults to 2e-3 for
mini-batches and to 5e-4 one example at a time. Returns the recipe."
  (let* ((opts (train-options args "usage: lush89 scripts/fashion.lsp [OPTION]..."
                              (list '("passes" 3) '("out" "out/fashion") '("data" "fashion")
                                    (list "batch" (if (train-batch-supported) 64 1)))
                              '(("width" int 16 "maps of the first convolution"))))
         (rate (or (hget opts "lr") (if (> (hget opts "batch") 1) 2e-3 5e-4)))
         (data (progn
                 (when (< (hget opts "width") 1)
                   (error "--width %d: the first convolution needs at least 1 map"
                          (hget opts "width")))
                 (train-data opts '(1 28 28)))))
    (seed (hget opts "seed"))
    (let ((r (train-configure (fashion-recipe data rate (hget opts "passes") (hget opts "width"))
                              opts)))
      (train-header r (sprintf "fashion: cross-entropy, AdamW %g on a cosine to %g"
                               rate (/ rate 20)))
      (train-run r))))

(when (script-main-p "fashion.lsp")
  (fashion-main (cdr argv)))
