;; checkpoint.lsp: the checkpoints of a training run, so that a killed run
;; can continue where it stopped and end as it would have.
;;
;; After pass P, OUT/checkpoint/ holds two files:
;;   tensors-P.idx  one float vector: the net's flat parameters and its
;;                  buffers (as nn-save writes them: batch norm's running
;;                  averages), then each of the optimizer's state buffers
;;                  (nn-optimizer-state: SGD's velocity, AdamW's moments and
;;                  step count), flattened (nn-pack)
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

(de checkpoint-tensors (net opt)
  "What a checkpoint of NET and its optimizer OPT holds, in order: NET's
parameters, its buffers (nn-buffers), OPT's state buffers."
  (cons (nn-params net) (append (nn-buffer-tensors net) (nn-optimizer-state opt net))))

(de checkpoint-save (dir pass net opt facts)
  "Writes the checkpoint of pass PASS of a run into DIR/checkpoint (see the
top of checkpoint.lsp): NET's parameters and buffers, the state of its
optimizer OPT, and FACTS, an alist ((KEY VALUE)...) of what else to keep,
with pass, tensors, nparams, net-buffers, buffers and rand added. Then
removes the tensors of older passes. Returns the state file."
  (let* ((folder (concat dir "/checkpoint"))
         (name (sprintf "tensors-%d.idx" pass)))
    (mkdir-p folder)
    (save-matrix (nn-pack (checkpoint-tensors net opt)) (concat folder "/" name))
    (write-file (concat folder "/state.lsp")
                (sprintf "%l\n" (append (list (list 'pass pass) (list 'tensors name)
                                              (list 'nparams (nn-nparams net))
                                              (list 'net-buffers
                                                    (all ((b (nn-buffers net)))
                                                      (list (car b) (idx-shape (cdr b)))))
                                              (list 'buffers (mapcar idx-shape
                                                                     (nn-optimizer-state opt net)))
                                              (list 'rand (rand-state)))
                                        facts)))
    (each ((f (directory-files folder)))
      (when (and (equal 0 (search "tensors-" f)) (not (equal f name)))
        (delete-file (concat folder "/" f))))
    (concat folder "/state.lsp")))

(de checkpoint-load (dir net opt)
  "Restores the checkpoint of the run folder DIR: NET's parameters and
buffers, the state of its optimizer OPT and the generator's. Returns its
state alist (see checkpoint-save), or () when DIR has none. Raises when the
checkpoint is not of NET and OPT (other numbers of parameters, other
buffers). A checkpoint written before buffers were kept (no net-buffers)
restores all else, with a note on standard error: NET's buffers stay as
they are."
  (let ((state (checkpoint-state dir)))
    (when state
      (let* ((file (concat dir "/checkpoint/" (checkpoint-fact state 'tensors)))
             (buffers (nn-optimizer-state opt net))
             (old (not (assoc 'net-buffers state)))
             (kept (all ((b (nn-buffers net))) (list (car b) (idx-shape (cdr b))))))
        (unless (= (checkpoint-fact state 'nparams) (nn-nparams net))
          (error "checkpoint-load: %s is of a net of %d parameters, this one has %d"
                 file (checkpoint-fact state 'nparams) (nn-nparams net)))
        (unless (or old (equal (checkpoint-fact state 'net-buffers) kept))
          (error "checkpoint-load: %s holds net buffers %l, this net has %l"
                 file (checkpoint-fact state 'net-buffers) kept))
        (unless (equal (checkpoint-fact state 'buffers) (mapcar idx-shape buffers))
          (error "checkpoint-load: %s holds optimizer buffers %l, this optimizer has %l"
                 file (checkpoint-fact state 'buffers) (mapcar idx-shape buffers)))
        (when (and old kept)
          (eprintf "checkpoint-load: %s holds no buffers of the net (batch norm's running averages): the net keeps its own\n"
                   file))
        (nn-unpack (load-matrix file)
                   (if old (cons (nn-params net) buffers) (checkpoint-tensors net opt)))
        (rand-state (checkpoint-fact state 'rand))
        state))))
