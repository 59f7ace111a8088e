;; checkpoint.lsp: the checkpoints of a training run, so that a killed run
;; can continue where it stopped and end as it would have.
;;
;; After pass P, OUT/checkpoint/pass-P/ holds
;;   params.idx   the net's flat parameter vector (nn-save)
;;   opt-K.idx    the optimizer's state buffers, K = 0, 1, ...
;;                (nn-optimizer-state: SGD's velocity, AdamW's moments and
;;                step count)
;;   state.lsp    what else the run needs, one readable alist: the pass,
;;                the generator's state (rand-state), the run's name and
;;                data set, the number of parameters, the metrics rows so
;;                far and the seconds spent
;; state.lsp is written last (atomically, as every file here), and the
;; folders of earlier passes are removed only after it: a run killed at
;; any moment leaves at least one whole checkpoint.

(libload "nn")
(libload "data")

(de checkpoint-folders (dir)
  "The checkpoint folders of the run folder DIR that hold a state.lsp, as
(PASS FOLDER) pairs, latest first."
  (let ((root (concat dir "/checkpoint")))
    (sort (filter (lambda (p) (file-exists (concat (cadr p) "/state.lsp")))
                  (all ((name (if (file-exists root) (directory-files root) ())))
                    (let ((pass (and (= 0 (search "pass-" name))
                                     (string->number (substring name 5)))))
                      (list (or pass -1) (concat root "/" name)))))
          (lambda (a b) (> (car a) (car b))))))

(de checkpoint-save (dir pass net opt facts)
  "Writes the checkpoint of pass PASS of a run into DIR/checkpoint/pass-PASS
(see the top of checkpoint.lsp): NET's parameters, the state of its
optimizer OPT, and FACTS, an alist ((KEY VALUE)...) of what else to keep,
with pass, rand, nparams and opt-state (the number of buffers) added. Then
removes the run's older checkpoints. Returns the folder."
  (let ((folder (sprintf "%s/checkpoint/pass-%d" dir pass))
        (state (nn-optimizer-state opt net)))
    (mkdir-p folder)
    (nn-save net (concat folder "/params.idx"))
    (each ((m state) (k (range (length state))))
      (save-matrix m (sprintf "%s/opt-%d.idx" folder k)))
    (write-file (concat folder "/state.lsp")
                (sprintf "%l\n" (append (list (list 'pass pass) (list 'rand (rand-state))
                                               (list 'nparams (nn-nparams net))
                                               (list 'opt-state (length state)))
                                         facts)))
    (each ((old (cdr (checkpoint-folders dir))))
      (data-remove (cadr old)))
    folder))

(de checkpoint-fact (state key)
  "The value of KEY in the checkpoint STATE (see checkpoint-load)."
  (cadr (assoc key state)))

(de checkpoint-load (dir net opt)
  "Restores the latest checkpoint of the run folder DIR: NET's parameters,
the state of its optimizer OPT and the generator's. Returns its state
alist (see checkpoint-save), or () when DIR has none. Raises when the
checkpoint is not of NET and OPT (another number of parameters or of
optimizer buffers)."
  (let ((latest (car (checkpoint-folders dir))))
    (when latest
      (let* ((folder (cadr latest))
             (state (read (read-file (concat folder "/state.lsp"))))
             (saved (checkpoint-fact state 'opt-state))
             (buffers (nn-optimizer-state opt net)))
        (unless (= (checkpoint-fact state 'nparams) (nn-nparams net))
          (error "checkpoint-load: %s is of a net of %d parameters, this one has %d"
                 folder (checkpoint-fact state 'nparams) (nn-nparams net)))
        (unless (= saved (length buffers))
          (error "checkpoint-load: %s holds %d optimizer buffers, this optimizer has %d"
                 folder saved (length buffers)))
        (nn-load net (concat folder "/params.idx"))
        (each ((m buffers) (k (range saved)))
          (idx-copy (load-matrix (sprintf "%s/opt-%d.idx" folder k)) m))
        (rand-state (checkpoint-fact state 'rand))
        state))))
