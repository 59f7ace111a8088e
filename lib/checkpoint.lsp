;; checkpoint.lsp: the checkpoints of a training run, so that a killed run
;; can continue where it stopped and end as it would have.
;;
;; After pass P, OUT/checkpoint/ holds two files:
;;   tensors-P.idx  one float vector: the net's flat parameters (as nn-save
;;                  writes them), then each of the optimizer's state buffers
;;                  (nn-optimizer-state: SGD's velocity, AdamW's moments and
;;                  step count), flattened
;;   state.lsp      what else the run needs, one readable alist: the pass,
;;                  the tensor file, the buffers' shapes, the generator's
;;                  state (rand-state), the run's name and data set, the
;;                  metrics rows so far and the seconds spent
;; state.lsp is written after the tensors (atomically, as every file here)
;; and the tensors of earlier passes are removed only after it: a run killed
;; at any moment leaves a whole checkpoint. Two files, so that checkpointing
;; a pass costs two synchronous writes however many buffers there are.

(libload "nn")

(de checkpoint-state (dir)
  "The state alist of the checkpoint in the run folder DIR (see the top of
checkpoint.lsp), or () when there is none."
  (let ((file (concat dir "/checkpoint/state.lsp")))
    (and (file-exists file) (read (read-file file)))))

(de checkpoint-fact (state key)
  "The value of KEY in the checkpoint STATE (see checkpoint-state)."
  (cadr (assoc key state)))

(de checkpoint-save (dir pass net opt facts)
  "Writes the checkpoint of pass PASS of a run into DIR/checkpoint (see the
top of checkpoint.lsp): NET's parameters, the state of its optimizer OPT,
and FACTS, an alist ((KEY VALUE)...) of what else to keep, with pass,
tensors, nparams, buffers and rand added. Then removes the tensors of
older passes. Returns the state file."
  (let* ((folder (concat dir "/checkpoint"))
         (name (sprintf "tensors-%d.idx" pass))
         (buffers (nn-optimizer-state opt net))
         (all-tensors (cons (nn-params net) buffers))
         (packed (float-matrix (apply + (mapcar idx-nelem all-tensors))))
         (at 0))
    (mkdir-p folder)
    (each ((m all-tensors))
      (idx-copy m (idx-reshape (narrow packed 0 (idx-nelem m) at) (idx-shape m)))
      (incr at (idx-nelem m)))
    (save-matrix packed (concat folder "/" name))
    (write-file (concat folder "/state.lsp")
                (sprintf "%l\n" (append (list (list 'pass pass) (list 'tensors name)
                                              (list 'nparams (nn-nparams net))
                                              (list 'buffers (mapcar idx-shape buffers))
                                              (list 'rand (rand-state)))
                                        facts)))
    (each ((f (directory-files folder)))
      (when (and (equal 0 (search "tensors-" f)) (not (equal f name)))
        (delete-file (concat folder "/" f))))
    (concat folder "/state.lsp")))

(de checkpoint-load (dir net opt)
  "Restores the checkpoint of the run folder DIR: NET's parameters, the
state of its optimizer OPT and the generator's. Returns its state alist
(see checkpoint-save), or () when DIR has none. Raises when the checkpoint
is not of NET and OPT (other numbers of parameters, other buffers)."
  (let ((state (checkpoint-state dir)))
    (when state
      (let* ((file (concat dir "/checkpoint/" (checkpoint-fact state 'tensors)))
             (buffers (nn-optimizer-state opt net))
             (packed (load-matrix file))
             (at 0))
        (unless (= (checkpoint-fact state 'nparams) (nn-nparams net))
          (error "checkpoint-load: %s is of a net of %d parameters, this one has %d"
                 file (checkpoint-fact state 'nparams) (nn-nparams net)))
        (unless (equal (checkpoint-fact state 'buffers) (mapcar idx-shape buffers))
          (error "checkpoint-load: %s holds optimizer buffers %l, this optimizer has %l"
                 file (checkpoint-fact state 'buffers) (mapcar idx-shape buffers)))
        (each ((m (cons (nn-params net) buffers)))
          (idx-copy (idx-reshape (narrow packed 0 (idx-nelem m) at) (idx-shape m)) m)
          (incr at (idx-nelem m)))
        (rand-state (checkpoint-fact state 'rand))
        state))))
