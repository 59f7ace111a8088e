;; buffers.lsp: the state of a net that is saved but not trained (batch
;; norm's running averages, nn-buffers) survives nn-save and nn-load,
;; nn-export and nn-import, and the checkpoints of a run: a resumed run of a
;; net with batch norm ends exactly as the uninterrupted one. Files written
;; before buffers were kept still load. Works in a fresh temporary folder.

(libload "../../lib/train")
(setq data-verbose ())

(defvar bf-dir (sprintf "%s/lush89-buffers-%.0f" (or (getenv "TMPDIR") "/tmp")
                        (* 1e9 (clock))))
(mkdir-p bf-dir)
(de bf-file (name) (concat bf-dir "/" name))

(de bf-same (a b)
  "t when the tensors A and B hold exactly the same numbers."
  (and (equal (idx-shape a) (idx-shape b)) (= 0 (idx-sup (idx-abs (idx-sub a b))))))

(de bf-net ()
  "A small net with two batch norms, one inside a nested net, drawing from
the generator while training (a random flip)."
  (nn-seq '(1 12 12) (nn-random-flip)
          (nn-conv 4 3 1 () 1) (nn-batchnorm) (nn-relu) (nn-maxpool 2)
          (nn-seq '(4 6 6) (nn-conv 6 3 1) (nn-batchnorm) (nn-relu))
          (nn-linear 10)))

(de bf-buffers (net)
  "A copy of NET's buffers, packed."
  (nn-pack (mapcar cdr (nn-buffers net))))

(de bf-eval-output (net x)
  "NET's output for X in evaluation mode, which reads the running averages."
  (let ((mode (nn-mode net 'eval)))
    (prog1 (copy-matrix (nn-fprop net x)) (nn-mode net mode))))

(de bf-trained ()
  "A (bf-net) after a few training steps, so that its running averages are
neither 0 nor 1."
  (seed 4)
  (let ((net (bf-net)) (opt (nn-adamw 1e-2))
        (x (idx-rand (float-matrix 20 1 12 12) -1 1))
        (labels (idx-copy (idx-rand (int-matrix 20) 0 10) (float-matrix 20))))
    (nn-train-pass net opt x labels 'ce)
    net))

;; ---- nn-buffers: names as nn-export's, the modules' own tensors

(let ((net (bf-net)))
  (assert (equal (all ((b (nn-buffers net))) (list (car b) (idx-shape (cdr b))))
                 '(("b2.running_mean" (4)) ("b2.running_var" (4))
                   ("n3.b2.running_mean" (6)) ("n3.b2.running_var" (6)))))
  ;; they start at 0 and 1, and writing into them changes the evaluation
  (assert (= 0 (idx-sum (cdr (car (nn-buffers net))))))
  (assert (= 4 (idx-sum (cdr (cadr (nn-buffers net))))))
  (let* ((x (idx-rand (float-matrix 1 12 12) -1 1))
         (before (bf-eval-output net x)))
    (idx-fill (cdr (car (nn-buffers net))) 0.5)
    (assert (not (bf-same before (bf-eval-output net x))))))
(assert (null (nn-buffers (nn-seq '(3) (nn-linear 2)))))
(assert-error (nn-buffers [1 2]) "nn-buffers: argument 1")

;; training moves them
(defvar bf-net1 (bf-trained))
(assert (not (bf-same (bf-buffers bf-net1) (bf-buffers (bf-net)))))
(defvar bf-x (idx-rand (float-matrix 1 12 12) -1 1))

;; ---- nn-save and nn-load

(nn-save bf-net1 (bf-file "net.idx"))
(assert (= (+ (nn-nparams bf-net1) 20) (idx-nelem (load-matrix (bf-file "net.idx")))))
(let ((net (bf-net)))
  (nn-load net (bf-file "net.idx"))
  (assert (bf-same (nn-params net) (nn-params bf-net1)))
  (assert (bf-same (bf-buffers net) (bf-buffers bf-net1)))
  (assert (bf-same (bf-eval-output net bf-x) (bf-eval-output bf-net1 bf-x))))
;; a net without buffers: the file is its parameters alone, as before
(let ((net (nn-seq '(3) (nn-linear 2))))
  (nn-save net (bf-file "plain.idx"))
  (assert (bf-same (load-matrix (bf-file "plain.idx")) (nn-params net))))
;; a file of the parameters alone (as nn-save wrote before) loads; the
;; buffers stay
(save-matrix (nn-params bf-net1) (bf-file "old.idx"))
(let ((net (bf-net)))
  (nn-load net (bf-file "old.idx"))
  (assert (bf-same (nn-params net) (nn-params bf-net1)))
  (assert (bf-same (bf-buffers net) (bf-buffers (bf-net)))))
(save-matrix (float-matrix (+ (nn-nparams bf-net1) 3)) (bf-file "bad.idx"))
(assert-error (nn-load (bf-net) (bf-file "bad.idx"))
              (sprintf "bad.idx holds %d values (shape (%d)), the net has %d parameters and 20 values of buffers"
                       (+ (nn-nparams bf-net1) 3) (+ (nn-nparams bf-net1) 3) (nn-nparams bf-net1)))

;; ---- nn-export and nn-import

(nn-export bf-net1 (bf-file "net.safetensors"))
(let ((f (load-safetensors (bf-file "net.safetensors"))))
  (assert (equal (mapcar car f)
                 '("c1.weight" "c1.bias" "b2.weight" "b2.bias" "b2.running_mean" "b2.running_var"
                   "n3.c1.weight" "n3.c1.bias" "n3.b2.weight" "n3.b2.bias"
                   "n3.b2.running_mean" "n3.b2.running_var" "l4.weight" "l4.bias")))
  (assert (bf-same (cdr (assoc "n3.b2.running_var" f)) (cdr (nth 3 (nn-buffers bf-net1)))))
  (let ((net (bf-net)))
    (nn-import net (bf-file "net.safetensors"))
    (assert (bf-same (bf-buffers net) (bf-buffers bf-net1)))
    (assert (bf-same (bf-eval-output net bf-x) (bf-eval-output bf-net1 bf-x))))
  ;; PyTorch's count of batches is read past; a file without the buffers
  ;; (as nn-export wrote before) is refused, naming the file and the tensor
  (save-safetensors (append f (list (cons "b2.num_batches_tracked" (int-matrix))))
                    (bf-file "torch.safetensors"))
  (let ((net (bf-net)))
    (nn-import net (bf-file "torch.safetensors"))
    (assert (bf-same (bf-buffers net) (bf-buffers bf-net1))))
  (save-safetensors (append f (list (cons "c1.num_batches_tracked" (int-matrix))))
                    (bf-file "other.safetensors"))
  (assert-error (nn-import (bf-net) (bf-file "other.safetensors"))
                "tensor \"c1.num_batches_tracked\" is not a parameter of the net")
  (save-safetensors (filter (lambda (p) (not (search "running" (car p)))) f)
                    (bf-file "old.safetensors"))
  (assert-error (nn-import (bf-net) (bf-file "old.safetensors"))
                "old.safetensors: no tensor \"b2.running_mean\" ([4]), a buffer of its module"))

;; ---- checkpoints: a resumed run ends exactly as the uninterrupted one

;; Ten classes of 12x12 byte images: class k has a bright bar at row k+1.
(de bf-split (n)
  (let ((images (ubyte-matrix n 12 12)) (labels (int-matrix n))
        (noise (idx-rand (float-matrix n 12 12) 0 60)))
    (idx-copy noise images)
    (for (i 0 (- n 1))
      (labels i (mod i 10))
      (idx-fill (narrow (select images 0 i) 0 1 (+ (mod i 10) 1)) 250))
    (list images labels)))
(seed 3)
(defvar bf-data (data-table "toy" "made here" '("a" "b" "c" "d" "e" "f" "g" "h" "i" "j")
                            (bf-split 60) (bf-split 30)))

(de bf-recipe (passes &rest pairs)
  "A quiet recipe training a fresh (bf-net) (seed 5) with AdamW on the toy
data for PASSES shuffled passes; PAIRS add keys."
  (seed 5)
  (let ((r (train-recipe 'name "toy" 'net (bf-net) 'opt (nn-adamw 3e-3) 'cost 'ce
                         'data (data-fit bf-data '(1 12 12)) 'passes passes
                         'shuffle t 'quiet t)))
    (while pairs
      (hset r (car pairs) (cadr pairs))
      (setq pairs (cddr pairs)))
    r))

(de bf-evals (r)
  "The losses and misses of both splits after each pass of run R."
  (all ((row (hget r 'metrics))) (list (nth 1 row) (nth 3 row) (nth 6 row) (nth 7 row))))

(defvar bf-straight (train-run (bf-recipe 3 'out (bf-file "straight"))))
(train-run (bf-recipe 1 'out (bf-file "killed")))
(let ((state (checkpoint-state (bf-file "killed"))))
  (assert (equal (checkpoint-fact state 'net-buffers)
                 '(("b2.running_mean" (4)) ("b2.running_var" (4))
                   ("n3.b2.running_mean" (6)) ("n3.b2.running_var" (6))))))
(defvar bf-resumed (train-run (bf-recipe 3 'out (bf-file "killed") 'resume t)))
(assert (bf-same (nn-params (hget bf-straight 'net)) (nn-params (hget bf-resumed 'net))))
(assert (bf-same (bf-buffers (hget bf-straight 'net)) (bf-buffers (hget bf-resumed 'net))))
(assert (equal (bf-evals bf-straight) (bf-evals bf-resumed)))

;; a checkpoint without the buffers (as written before they were kept)
;; still resumes, with the running averages as they were: the run ends
;; elsewhere, which the checks above would see
(train-run (bf-recipe 1 'out (bf-file "old")))
(let* ((file (bf-file "old/checkpoint/state.lsp"))
       (state (read (read-file file)))
       (net (hget (bf-recipe 1) 'net))
       (packed (load-matrix (bf-file "old/checkpoint/tensors-1.idx")))
       (n (nn-nparams net)))
  (write-file file (sprintf "%l\n" (filter (lambda (f) (not (eq (car f) 'net-buffers))) state)))
  (save-matrix (nn-pack (list (narrow packed 0 n 0) (narrow packed 0 (- (idx-nelem packed) n 20) (+ n 20))))
               (bf-file "old/checkpoint/tensors-1.idx")))
(let ((r (train-run (bf-recipe 3 'out (bf-file "old") 'resume t))))
  (assert (= 3 (length (hget r 'metrics))))
  (assert (not (bf-same (bf-buffers (hget bf-straight 'net)) (bf-buffers (hget r 'net))))))
;; a checkpoint of a net with other buffers (as many parameters) is refused
(let ((r (bf-recipe 3 'out (bf-file "killed") 'resume t)))
  (hset r 'net (nn-seq '(1 12 12) (nn-random-flip)
                       (nn-conv 4 3 1 () 1) (nn-batchnorm) (nn-relu) (nn-maxpool 2)
                       (nn-seq '(4 6 6) (nn-conv 6 3 1) (nn-subsample 1) (nn-relu))
                       (nn-linear 10)))
  (assert-error (train-run r) "holds net buffers"))

(data-remove bf-dir)
