;; obd.lsp: pruning a trained net, after LeCun, Denker and Solla, "Optimal
;; Brain Damage" (1990), beside deletion by magnitude. Each step deletes a
;; fraction of the live parameters, those of least saliency, then retrains
;; the rest a few passes; a deleted parameter is held at exactly zero by the
;; net's mask (nn-mask). The saliency of parameter k is
;;     s_k = h_kk u_k^2 / 2
;; with u_k its value and h_kk its diagonal second derivative (the
;; Gauss-Newton diagonal that bbprop computes) averaged over the training
;; set: the cost's rise, to second order, when u_k goes to zero. Deletion
;; by magnitude ranks by |u_k| instead. obd-main is scripts/obd.lsp:
;;   (obd-schedule 9760 0.2 0.05)     the live counts, step by step
;;   (obd-saliency net inputs targets 'mse)   s_k for every parameter
;;   (obd-prune r 'obd schedule)      prune recipe R's net along it

(libload "lecun1989")

;; ---- The schedule and the saliencies ------------------------------------------

(de obd-check-fractions (who step keep)
  "Raises, naming WHO, unless 0 < STEP < 1 and 0 < KEEP <= 1."
  (unless (and (> step 0) (< step 1))
    (error "%s: the step %g is not a fraction in (0, 1)" who step))
  (unless (and (> keep 0) (<= keep 1))
    (error "%s: keep %g is not a fraction in (0, 1]" who keep)))

(de obd-schedule (total step keep)
  "The live parameter counts of a pruning of TOTAL parameters: TOTAL first,
then each count STEP (a fraction, 0 < STEP < 1) fewer than the one before
(rounded, at least one fewer), the last one the round of KEEP TOTAL (0 <
KEEP <= 1, at least 1)."
  (obd-check-fractions "obd-schedule" step keep)
  (let* ((floor-count (max 1 (round (* keep total))))
         (counts (list total)))
    (while (> (car counts) floor-count)
      (let ((live (car counts)))
        (setq counts (cons (max floor-count (- live (max 1 (round (* step live)))))
                           counts))))
    (reverse counts)))

(de obd-hessian (net inputs targets cost)
  "The diagonal second derivatives h_kk of COST ('mse or 'ce) on NET's
parameters, averaged over all the examples of INPUTS and TARGETS, as a new
vector: the Gauss-Newton estimate of nn-sdlm-estimate, whose side effect on
NET's rate factors is undone."
  (let ((rates (copy-matrix (nn-rates net))))
    (nn-sdlm-estimate net (nn-sdlm 0 1) inputs targets (idx-dim inputs 0) cost)
    (idx-copy rates (nn-rates net))
    (copy-matrix (nn-hessian net))))

(de obd-saliency (net inputs targets cost)
  "The OBD saliency s_k = h_kk u_k^2 / 2 of each of NET's parameters u_k, h_kk
as obd-hessian computes it, as a new vector."
  (let ((u (nn-params net)))
    (idx-dotm0 (idx-mul (obd-hessian net inputs targets cost) (idx-mul u u)) 0.5)))

(de obd-magnitude (net)
  "The magnitude |u_k| of each of NET's parameters, as a new vector."
  (idx-abs (nn-params net)))

(de obd-delete (net scores count)
  "Deletes the COUNT live parameters of NET with the least SCORES (a vector,
one per parameter; ties go to the lower index) by clearing them in NET's
mask (made all ones when NET has none), which zeroes them. Returns the new
mask."
  (let* ((mask (obd-live-mask net))
         (live (filter (lambda (k) (= 1 (mask k))) (range (nn-nparams net))))
         (order (sort (all ((k live)) (cons (scores k) k))
                      (lambda (a b) (< (car a) (car b))))))
    (when (> count (length live))
      (error "obd-delete: %d parameters to delete, %d live" count (length live)))
    (each ((p order) (i (range count)))
      (mask (cdr p) 0))
    (nn-mask net mask)))

;; ---- Pruning a recipe's net -----------------------------------------------------

(de obd-errors (r)
  "The train and test error (percent) of recipe R's net on its data, as a
list."
  (all ((split '(train test)))
    (cadr (train-evaluate r split))))

(de obd-scores (r method)
  "The scores by which METHOD ('obd or 'magnitude) deletes recipe R's
parameters, the least first."
  (let ((data (hget r 'data)) (cost (hget r 'cost)))
    (if (eq method 'obd)
        (obd-saliency (hget r 'net) (train-inputs data 'train)
                      (train-targets data 'train cost) cost)
      (obd-magnitude (hget r 'net)))))

(de obd-prune (r method schedule retrain)
  "Prunes recipe R's net by METHOD ('obd or 'magnitude) along SCHEDULE (see
obd-schedule): for each count after the first, deletes the least-scored
live parameters down to it, then retrains RETRAIN passes of R (its
before-pass function first, as train-run does). Returns one row (live
train-error test-error) per count, the first the net as given. Prints a
line per step unless R is quiet."
  (let ((rows (list (cons (car schedule) (obd-errors r)))))
    (each ((live (cdr schedule)))
      (obd-delete (hget r 'net) (obd-scores r method)
                  (- (car (car rows)) live))
      (for (pass 1 retrain)
        (when (hget r 'before-pass) ((hget r 'before-pass) pass))
        (train-pass r pass))
      (setq rows (cons (cons live (obd-errors r)) rows))
      (unless (hget r 'quiet)
        (printf "%s: %d parameters live: train error %.2f%%, test error %.2f%%\n"
                method live (nth 1 (car rows)) (nth 2 (car rows)))
        (flush)))
    (reverse rows)))

(defvar obd-columns
  '("kept" "params" "obd_train_error" "obd_test_error" "mag_train_error" "mag_test_error")
  "The columns of obd.csv: the fraction of the parameters kept, their count,
then the train and test errors (percent) after deletion by saliency and
by magnitude.")

(de obd-rows (total obd mag)
  "The rows of obd.csv (see obd-columns) from the rows of obd-prune by
saliency, OBD, and by magnitude, MAG, of a net of TOTAL parameters."
  (all ((a obd) (b mag))
    (list (/ (car a) total) (car a) (nth 1 a) (nth 2 a) (nth 1 b) (nth 2 b))))

(de obd-reach (rows column margin)
  "The fewest parameters (the params of a row of ROWS, see obd-columns)
reached before the error in COLUMN (its index) first rises more than MARGIN
points above the first row's."
  (let ((limit (+ margin (nth column (car rows)))) (reach (nth 1 (car rows))))
    (each ((row rows))
      (if (> (nth column row) limit)
          (setq limit -1)              ; risen: no later row counts
        (when (>= limit 0) (setq reach (nth 1 row)))))
    reach))

(de obd-table (rows)
  "Prints the table of ROWS (see obd-columns), then how far each method
prunes before its test error rises by more than half a point."
  (let ((total (nth 1 (car rows))))
    (printf "\n%7s %7s %22s %22s\n" "" "" "OBD (saliency)" "magnitude")
    (printf "%7s %7s %11s %10s %11s %10s\n" "kept" "params" "train" "test" "train" "test")
    (each ((row rows))
      (printf "%6.2f%% %7d %10.2f%% %9.2f%% %10.2f%% %9.2f%%\n"
              (* 100 (car row)) (nth 1 row) (nth 2 row) (nth 3 row) (nth 4 row) (nth 5 row)))
    (each ((m '(("OBD" 3) ("magnitude" 5))))
      (let ((reach (obd-reach rows (cadr m) 0.5)))
        (printf "%s: down to %d of %d parameters (%.1f%%) before the test error rises more than 0.5 points\n"
                (car m) reach total (/ (* 100 reach) total))))))

(de obd-live-mask (net)
  "NET's mask, or all ones when it has none."
  (or (nn-mask net) (idx-fill (float-matrix (nn-nparams net)) 1)))

(de obd-layers (net mask)
  "For each module of NET with parameters, in order, (PLACE LIVE TOTAL):
its 1-based place in NET, how many of its TOTAL parameters MASK leaves
live. () unless these modules hold NET's flat vector in this order (not
so with a module used twice or a net nested in a container)."
  (let ((at 0) (out ()))
    (each ((m (nn-modules net)) (place (range 1 (+ 1 (nn-nmodules net)))))
      (let ((w (try (nn-weights m) (catch e ())))) ; Lisp modules have none
        (when w
          (let* ((b (nn-biases m))
                 (k (+ (idx-nelem w) (if b (idx-nelem b) 0))))
            (when (<= (+ at k) (nn-nparams net))
              (setq out (cons (list place (idx-sum (narrow mask 0 k at)) k) out)))
            (setq at (+ at k))))))
    (if (= at (nn-nparams net)) (reverse out) ())))

(de obd-layers-table (obd mag)
  "Prints the live parameters of each layer under the masks of both
methods, OBD and MAG being obd-layers of them; nothing when either is ()."
  (when (and obd mag)
    (printf "\nlive parameters by layer at the last step:\n%-6s %9s %10s %8s\n"
            "layer" "OBD" "magnitude" "of")
    (each ((a obd) (b mag))
      (printf "%-6d %9d %10d %8d\n" (car a) (cadr a) (cadr b) (nth 2 a)))))

(de obd-plot (file rows title)
  "Writes FILE, an SVG of the test error against the parameters kept (log
scale) of both methods in ROWS (see obd-columns). Returns FILE."
  (plot-lines-svg file
                  (list (list "test error (%)" 'linear
                              (list (list "OBD (saliency)"
                                          (all ((r rows)) (list (nth 1 r) (nth 3 r))))
                                    (list "magnitude"
                                          (all ((r rows)) (list (nth 1 r) (nth 5 r)))))
                              'log))
                  title "parameters kept (log scale)"))

;; ---- The script ------------------------------------------------------------------

(de obd-options (args)
  "The parsed command line of scripts/obd.lsp (see train-options)."
  (train-options
   args (concat "usage: lush89 scripts/obd.lsp [OPTION]...\n"
                "Prunes the 1989 net by Optimal Brain Damage and by magnitude; outputs go to\n"
                "out/obd unless --out says otherwise.")
   '(("passes" 23) ("out" "out/obd"))
   `(("params" file () "start from this trained net (nn-save) instead of training one")
     ("step" number 0.2 "fraction of the live parameters deleted at each step")
     ("keep" number 0.05 "stop when this fraction of the parameters is left")
     ("retrain" int 2 "training passes after each deletion")
     ("optimizer" ("sgd" "sdlm") "sgd" "the recipe's optimizer, for training and retraining"))))

(de obd-main (args)
  "The command line of scripts/obd.lsp: parses ARGS, trains the 1989 net
with its recipe (or loads --params), prunes copies of it by saliency and by
magnitude along the same schedule, writes obd.csv, obd.svg and start.idx
(the starting net) to --out and prints the table. Returns the rows of
obd.csv."
  (let* ((opts (obd-options args))
         (data (progn (when (hget opts "resume")
                        (error "obd: --resume: a pruning run cannot resume"))
                      (obd-check-fractions "obd" (hget opts "step") (hget opts "keep"))
                      (train-data opts '(1 16 16))))
         (out (hget opts "out")))
    (seed (hget opts "seed"))
    (let* ((r (train-configure (lecun1989-recipe data (hget opts "optimizer")
                                                 (hget opts "lr") (hget opts "passes"))
                               opts))
           (net (hget r 'net))
           (schedule (obd-schedule (nn-nparams net) (hget opts "step") (hget opts "keep"))))
      (hset r 'out ())
      (hset r 'no-table t)
      (unless (hget r 'quiet) (nn-summary net))
      (if (hget opts "params")
          (nn-load net (hget opts "params"))
        (train-run r))
      (hset r 'passes (hget opts "retrain")) ; what a progress bar counts
      (mkdir-p out)
      (nn-save net (concat out "/start.idx"))
      (let* ((start (copy-matrix (nn-params net)))
             (obd (obd-prune r 'obd schedule (hget opts "retrain")))
             (obd-mask (obd-live-mask net))
             (mag (progn (nn-mask net ())
                         (idx-copy start (nn-params net))
                         (obd-prune r 'magnitude schedule (hget opts "retrain"))))
             (rows (obd-rows (car schedule) obd mag)))
        (csv-write (concat out "/obd.csv") obd-columns rows)
        (obd-plot (concat out "/obd.svg") rows
                  (sprintf "pruning the 1989 net: %g%% a step, %d passes after each"
                           (* 100 (hget opts "step")) (hget opts "retrain")))
        (obd-table rows)
        (obd-layers-table (obd-layers net obd-mask) (obd-layers net (obd-live-mask net)))
        (printf "outputs in %s/: obd.csv obd.svg start.idx\n" out)
        rows))))
