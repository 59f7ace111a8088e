#!/usr/bin/env lush89
;; resnet.lsp: a small residual net with batch norm on the digits, and a
;; layer with parameters written in Lisp. Sized for the 16x16 digits:
;;   input 1x16x16 -> conv 3x3: 8 maps -> batchnorm -> relu
;;   -> residual block (conv 3x3, batchnorm, relu, conv 3x3, batchnorm,
;;      layer-scale) -> relu -> maxpool 2: 8x8x8
;;   -> two branches side by side (concat): a 3x3 and a 1x1 convolution,
;;      each a small net of conv, batchnorm, relu: 16x8x8
;;   -> residual block as above at 16 maps -> relu -> maxpool 2: 16x4x4
;;   -> linear 10;  9,282 parameters.
;; layer-scale, below, is a Lisp class: a per-channel gain at the end of
;; each residual branch (LayerScale, Touvron et al. 2021), started small so
;; that each block begins close to the identity. Its gains are nn-parameter
;; tensors, trained with the rest. Trained by softmax cross-entropy and
;; AdamW with a linear decay of the rate (as lib/modern.lsp), in shuffled
;; order; same eval lines, outputs and final table as the other scripts.
;;
;;   lush89 scripts/resnet.lsp [--passes N] [--lr X] [--seed N] [--out DIR] [--quiet]
;;                             [--data digits|mnist|fashion|DIR] [--batch N] [--threads N]
;;                             [--resume DIR]

(libload "../lib/modern")          ; beside this file is scripts/modern.lsp

;; y[c] = gain[c] x[c] over the first dimension of the input (the planes).
(defclass layer-scale () (gain ()))

(defmethod layer-scale layer-scale (channels init)
  (setq gain (nn-parameter channels))
  (idx-fill gain init))

(defmethod layer-scale gains ()
  "The gains: once the layer is in a net, a view of the net's parameters."
  gain)

(defmethod layer-scale scaled (m k)
  "A new tensor shaped as M, its plane c times (K c)."
  (let ((out (copy-matrix m)))
    (for (c 0 (- (idx-dim m 0) 1))
      (idx-dotm0 (select m 0 c) (k c) (select out 0 c)))
    out))

(defmethod layer-scale fprop (x)
  (==> this scaled x gain))

(defmethod layer-scale bprop (x y dy)
  (let ((g (nn-grad gain)))
    (for (c 0 (- (idx-dim x 0) 1))
      (g c (+ (g c) (idx-dot (select x 0 c) (select dy 0 c))))))
  (==> this scaled dy gain))

(defmethod layer-scale bbprop (x y ddy)
  (let ((h (nn-ddgrad gain)))
    (for (c 0 (- (idx-dim x 0) 1))
      (let ((xc (select x 0 c)))
        (h c (+ (h c) (idx-dot (idx-mul xc xc) (select ddy 0 c)))))))
  (==> this scaled ddy (idx-mul gain gain)))

(de resnet-block (maps)
  "A residual block on MAPS planes: x + layer-scale(bn(conv(relu(bn(conv x)))))."
  (nn-residual (nn-conv maps 3 1 () 1) (nn-batchnorm) (nn-relu)
               (nn-conv maps 3 1 () 1) (nn-batchnorm) (new layer-scale maps 0.1)))

(de resnet-branch (shape maps k)
  "A branch for inputs of SHAPE: a net of a KxK convolution to MAPS planes
(padded to keep the size), batchnorm and relu."
  (nn-seq shape (nn-conv maps k 1 () (div k 2)) (nn-batchnorm) (nn-relu)))

(de resnet-net ()
  "The small residual net (see the top of resnet.lsp), its weights drawn
from the generator (seed it first)."
  (nn-seq '(1 16 16)
    (nn-conv 8 3 1 () 1 -1) (nn-batchnorm) (nn-relu)
    (resnet-block 8) (nn-relu) (nn-maxpool 2)
    (nn-concat (resnet-branch '(8 8 8) 8 3) (resnet-branch '(8 8 8) 8 1))
    (resnet-block 16) (nn-relu) (nn-maxpool 2)
    (nn-linear 10)))

(de resnet-recipe (data rate passes)
  "The recipe (see train-run) of resnet.lsp on DATA (fitted to 16x16): a
fresh (resnet-net) trained by cross-entropy and AdamW at RATE decayed
linearly to RATE/3 over PASSES shuffled passes. Seed the generator first."
  (let ((opt (nn-adamw rate)))
    (train-recipe 'name "resnet" 'net (resnet-net) 'opt opt 'cost 'ce
                  'data data 'passes passes 'shuffle t
                  'references train-references
                  'before-pass (modern-linear-decay opt rate passes))))

(de resnet-main (args)
  "The command line of scripts/resnet.lsp: parses ARGS (see the script),
trains (resnet-net) on --data and prints the eval lines and the final
table. Returns the recipe."
  (let* ((opts (train-options args "usage: lush89 scripts/resnet.lsp [OPTION]..."
                              '(("passes" 23) ("lr" 2e-3) ("out" "out/resnet"))))
         (data (train-data opts '(1 16 16)))
         (rate (hget opts "lr")))
    (seed (hget opts "seed"))
    (let ((r (train-configure (resnet-recipe data rate (hget opts "passes")) opts)))
      (train-header r (sprintf "resnet: cross-entropy, AdamW %g decayed to %g" rate (/ rate 3)))
      (train-run r))))

(when (script-main-p "resnet.lsp")
  (resnet-main (cdr argv)))
