;; plot.lsp: the pictures and tables of a training run, all written by Lisp:
;; per-pass metrics as CSV, learning curves as SVG (Lisp writes the text:
;; panels, axes, ticks, legend), and grids of images as PNG with per-tile
;; labels drawn in a tiny bitmap font (kernels, misclassified digits).
;;
;; A metrics row is a list (PASS TRAIN-LOSS TRAIN-ERROR TEST-LOSS TEST-ERROR
;; [SECONDS]), errors in percent: one per pass, in order.
;;   (metrics-write FILE ROWS)          the CSV, rewritten whole each time
;;   (metrics-read FILE)                 the rows back
;;   (plot-curves FILE ROWS [TITLE])     error and loss per pass, as SVG
;;   (plot-lines-svg FILE PANELS [TITLE]) any panels of lines, as SVG
;;   (plot-grid FILE IMAGES [LABELS COLS ZOOM RANGE])  images as one PNG
;;   (plot-kernels FILE WEIGHTS [COLS])  e.g. H1's 12 kernels
;;   (plot-misclassified FILE INPUTS LABELS OUTPUTS [COLS MAX])
;;   (plot-confusion FILE COUNTS NAMES [TITLE])  a confusion matrix, as SVG
;; Every file is written atomically (write-file, save-png).

;; ---- CSV

(defvar metrics-columns
  '("pass" "train_loss" "train_error" "test_loss" "test_error" "seconds")
  "The CSV header of metrics rows; errors are in percent.")

(de csv-field (x)
  "X as one CSV field: numbers in their shortest exact form, strings quoted
(RFC 4180) when they hold a comma, a quote or a line end."
  (cond ((numberp x) (number->string x))
        ((not (stringp x)) (csv-field (sprintf "%s" x)))
        ((or (search "," x) (search "\"" x) (search "\n" x) (search "\r" x))
         (concat "\"" (join (split x "\"") "\"\"") "\""))
        (t x)))

(de csv-write (file header rows)
  "Writes FILE as CSV: the line of column names HEADER (strings), then one
line per row of ROWS (lists of numbers or strings). Atomic. Returns FILE."
  (write-file file
              (join (all ((row (cons header rows)))
                      (concat (join (mapcar csv-field row) ",") "\n"))))
  file)

(de csv-split-line (line)
  "The fields of one CSV line, quotes removed; fields that read as numbers
become numbers."
  (let ((fields ()) (field "") (quoted ()) (i 0) (n (strlen line)))
    (while (< i n)
      (let ((c (substring line i (+ i 1))))
        (cond ((and quoted (string= c "\"") (< (+ i 1) n)
                    (string= (substring line (+ i 1) (+ i 2)) "\""))
               (setq field (concat field "\""))
               (incr i))
              ((string= c "\"") (setq quoted (not quoted)))
              ((and (not quoted) (string= c ","))
               (setq fields (cons field fields) field ""))
              (t (setq field (concat field c)))))
      (incr i))
    (all ((f (reverse (cons field fields))))
      (or (and (> (strlen f) 0) (string->number f)) f))))

(de csv-read (file)
  "Reads the CSV FILE written by csv-write: returns (HEADER ROWS), fields that
read as numbers as numbers. Fields may not span lines."
  (let ((lines (filter (lambda (l) (> (strlen l) 0)) (read-lines file))))
    (unless lines (error "csv-read: %s is empty" file))
    (list (csv-split-line (car lines)) (mapcar csv-split-line (cdr lines)))))

(de metrics-write (file rows)
  "Writes the metrics ROWS (see the top of plot.lsp) to FILE as CSV with the
header metrics-columns (as many columns as the longest row has). Call it
after every pass: the file is rewritten whole, atomically. Returns FILE."
  (let ((width (apply max (cons 5 (mapcar length rows)))))
    (csv-write file (all ((name metrics-columns) (k (range width))) name) rows)))

(de metrics-read (file)
  "The metrics rows of FILE, a CSV written by metrics-write."
  (cadr (csv-read file)))

;; ---- SVG: scales, ticks, panels

(defvar plot-colors '("#1f77b4" "#d62728" "#2ca02c" "#ff7f0e" "#9467bd" "#8c564b")
  "Line colours, in the order of a panel's series.")

(de xml-escape (s)
  "S with & < > \" written as XML entities."
  (let ((out s))
    (each ((pair '(("&" "&amp;") ("<" "&lt;") (">" "&gt;") ("\"" "&quot;"))))
      (setq out (join (split out (car pair)) (cadr pair))))
    out))

(de plot-nice-step (span n)
  "A step of 1, 2 or 5 times a power of ten giving about N ticks over SPAN."
  (let* ((raw (/ span n))
         (e (pow 10 (floor (log10 raw))))
         (f (/ raw e)))
    (* e (cond ((<= f 1) 1) ((<= f 2) 2) ((<= f 5) 5) (t 10)))))

(de plot-linear-scale (lo hi n &optional min-step)
  "A linear axis covering LO..HI with about N ticks, a step no less than
MIN-STEP when given: (linear FROM TO TICKS), FROM and TO rounded out to whole
steps, TICKS a list of (VALUE TEXT)."
  (when (= lo hi)
    (let ((d (max (or min-step 0) (if (= lo 0) 1 (* 0.1 (abs lo))))))
      (setq lo (- lo d) hi (+ hi d))))
  (let* ((step (max (or min-step 0) (plot-nice-step (- hi lo) n)))
         (from (* step (floor (+ (/ lo step) 1e-9))))
         (to (* step (ceil (- (/ hi step) 1e-9))))
         (digits (max 0 (- (floor (+ (log10 step) 1e-9)))))
         (ticks (all ((k (range (+ 1 (round (/ (- to from) step))))))
                  (let ((v (+ from (* k step))))
                    (list v (sprintf "%.*f" digits v))))))
    (list 'linear from to ticks)))

(de plot-log-scale (lo hi)
  "A log10 axis covering LO..HI (both > 0), rounded out to powers of ten:
(log FROM TO TICKS), with ticks at each power, and at 2 and 5 times it when
the axis spans at most two decades."
  (let* ((a (floor (+ (log10 lo) 1e-9)))
         (b (max (+ a 1) (ceil (- (log10 hi) 1e-9))))
         (ticks ()))
    (for (e a b)
      (each ((m (if (<= (- b a) 2) '(1 2 5) '(1))))
        (let ((v (* m (pow 10 e))))
          (when (<= v (* 1.000001 (pow 10 b)))
            (setq ticks (cons (list v (sprintf "%g" v)) ticks))))))
    (list 'log (pow 10 a) (pow 10 b) (reverse ticks))))

(de plot-scale-fraction (scale v)
  "Where V falls on SCALE, from 0 (its FROM) to 1 (its TO)."
  (let ((from (nth 1 scale)) (to (nth 2 scale)))
    (if (eq (car scale) 'log)
        (/ (- (log10 v) (log10 from)) (- (log10 to) (log10 from)))
      (/ (- v from) (- to from)))))

(de plot-finite-p (x)
  "t when X is a number, not NaN nor infinite."
  (and (numberp x) (= x x) (< (abs x) 1e308)))

(de plot-points-bounds (series index)
  "The least and greatest coordinate INDEX (0 for x, 1 for y) over the points
of SERIES, a list of (NAME POINTS)."
  (let ((values (mapcan (lambda (s) (mapcar (lambda (p) (nth index p)) (cadr s)))
                        series)))
    (list (apply min values) (apply max values))))

(de svg-text (x y anchor size text &optional extra)
  "An SVG text element at X Y, anchored start, middle or end."
  (sprintf "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\"%s>%s</text>\n"
           x y anchor size (or extra "") (xml-escape text)))

(de svg-line (x1 y1 x2 y2 stroke &optional width)
  "An SVG line element."
  (sprintf "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"%g\"/>\n"
           x1 y1 x2 y2 stroke (or width 1)))

(de plot-finite-series (series)
  "SERIES without their points whose X or Y is not finite (a diverged loss),
and without the series left with no points."
  (filter (lambda (s) (cadr s))
          (all ((s series))
            (list (car s) (filter (lambda (p) (and (plot-finite-p (car p))
                                                   (plot-finite-p (cadr p))))
                                  (cadr s))))))

(de svg-panel (x0 y0 w h panel xlabel)
  "The SVG elements (a list of strings) of one panel whose plot area is W x H
at X0 Y0. PANEL is (YLABEL SCALE SERIES [XSCALE]): SCALE (of y) and XSCALE
(of x, default 'linear) 'linear or 'log (log falls back to linear when a
value is not positive), SERIES a list of (NAME POINTS),
POINTS a list of (X Y); points that are not finite are left out, and
series of at most 40 points get a dot at each."
  (let* ((ylabel (nth 0 panel))
         (series (plot-finite-series (nth 2 panel)))
         (xb (plot-points-bounds series 0))
         (yb (plot-points-bounds series 1))
         (logp (and (eq (nth 1 panel) 'log) (> (car yb) 0)))
         (xs (if (and (eq (nth 3 panel) 'log) (> (car xb) 0))
                 (plot-log-scale (car xb) (cadr xb))
               (plot-linear-scale (car xb) (cadr xb) 8
                                  (and (integerp (car xb)) (integerp (cadr xb)) 1))))
         (ys (if logp (plot-log-scale (car yb) (cadr yb))
               (plot-linear-scale (min 0 (car yb)) (cadr yb) 6)))
         (px (lambda (x) (+ x0 (* w (plot-scale-fraction xs x)))))
         (py (lambda (y) (- (+ y0 h) (* h (plot-scale-fraction ys y)))))
         (out ()))
    (each ((tick (nth 3 ys)))
      (let ((y (py (car tick))))
        (setq out (list* (svg-line x0 y (+ x0 w) y "#dddddd")
                         (svg-line (- x0 4) y x0 y "#000000")
                         (svg-text (- x0 7) (+ y 4) "end" 11 (cadr tick))
                         out))))
    (each ((tick (nth 3 xs)))
      (let ((x (px (car tick))))
        (setq out (list* (svg-line x (+ y0 h) x (+ y0 h 4) "#000000")
                         (svg-text x (+ y0 h 17) "middle" 11 (cadr tick))
                         out))))
    (setq out (list* (sprintf "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#000000\"/>\n"
                              x0 y0 w h)
                     (svg-text (+ x0 (/ w 2)) (+ y0 h 36) "middle" 12 xlabel)
                     (svg-text (- x0 48) (+ y0 (/ h 2)) "middle" 12
                               (concat ylabel (if logp " (log scale)" ""))
                               (sprintf " transform=\"rotate(-90 %.1f %.1f)\""
                                        (- x0 48) (+ y0 (/ h 2))))
                     out))
    (append (reverse out)
            (all ((s series) (color plot-colors))
              (sprintf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"%s\"/>\n"
                       color (join (all ((p (cadr s)))
                                     (sprintf "%.1f,%.1f" (px (car p)) (py (cadr p))))
                                   " ")))
            (mapcan (lambda (s color)
                      (if (> (length (cadr s)) 40)
                          ()
                        (all ((p (cadr s)))
                          (sprintf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n"
                                   (px (car p)) (py (cadr p)) color))))
                    series plot-colors)
            (svg-legend (+ x0 w) y0 series))))

(de svg-legend (right top series)
  "The SVG elements of a legend of SERIES ((NAME POINTS)...) in the corner
RIGHT TOP of a panel: a line of the series' colour and its name each, on
white over whatever is under it."
  (let* ((longest (apply max (mapcar (lambda (s) (strlen (car s))) series)))
         (lx (- right 36 (* 6.2 longest))))
    (cons (sprintf "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"#ffffff\" fill-opacity=\"0.85\" stroke=\"#bbbbbb\"/>\n"
                   (- lx 6) (+ top 4) (- right lx 2) (+ 6 (* 16 (length series))))
          (mapcan (lambda (s color k)
                    (let ((ly (+ top 18 (* k 16))))
                      (list (svg-line lx (- ly 4) (+ lx 20) (- ly 4) color 2)
                            (svg-text (+ lx 26) ly "start" 11 (car s)))))
                  series plot-colors (range (length series))))))

(de svg-write (file width height title body)
  "Writes FILE, an SVG document WIDTH x HEIGHT on a white background, TITLE
(or ()) centred on top, then the elements of BODY, a list of strings.
Returns FILE."
  (write-file file
              (join (append
                     (list "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                           (sprintf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
                                    width height width height)
                           (sprintf "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n" width height))
                     (if title (list (svg-text (/ width 2) 26 "middle" 15 title)) ())
                     body
                     (list "</svg>\n"))))
  file)

(de plot-lines-svg (file panels &optional title xlabel)
  "Writes FILE, an SVG of PANELS side by side, each (YLABEL SCALE SERIES)
as svg-panel takes: SCALE 'linear or 'log, SERIES a list of (NAME POINTS),
POINTS ((X Y)...). Ticks at round values, a legend in each panel, TITLE
on top, XLABEL (default \"pass\") under each panel. Returns FILE."
  (let* ((pw 360) (ph 250) (left 78) (gap 100) (top (if title 48 24))
         (n (length panels))
         (width (+ left (* n pw) (* (- n 1) gap) 24))
         (height (+ top ph 52))
         (body ()))
    (each ((panel panels) (k (range n)))
      (unless (plot-finite-series (nth 2 panel))
        (error "plot-lines-svg: panel %l has no finite points" (car panel)))
      (setq body (append body (svg-panel (+ left (* k (+ pw gap))) top pw ph panel
                                         (or xlabel "pass")))))
    (svg-write file width height title body)))

(de plot-curves (file rows &optional title)
  "Writes FILE, an SVG of the learning curves of the metrics ROWS (see the
top of plot.lsp): on the left train and test error (%) per pass, on the
right train and test loss per pass (log scale); the legends give the last
pass's values. Returns FILE."
  (unless rows (error "plot-curves: no metrics rows"))
  (let* ((last-row (last rows))
         (series (lambda (name k fmt)
                   (list (if (plot-finite-p (nth k last-row))
                             (sprintf fmt name (nth k last-row))
                           (sprintf "%s (last %s)" name (nth k last-row)))
                         (all ((r rows)) (list (car r) (nth k r)))))))
    (plot-lines-svg file
                    (list (list "error (%)" 'linear
                                (list (series "train" 2 "%s (last %.2f%%)")
                                      (series "test" 4 "%s (last %.2f%%)")))
                          (list "loss" 'log
                                (list (series "train" 1 "%s (last %.3e)")
                                      (series "test" 3 "%s (last %.3e)"))))
                    title)))

;; ---- PNG grids with labels

;; 5-row bitmap glyphs, '#' inked. ">" and the UTF-8 arrow both draw an arrow.
(defvar plot-font
  (htable "0" '("###" "#.#" "#.#" "#.#" "###") "1" '(".#." "##." ".#." ".#." "###")
          "2" '("###" "..#" "###" "#.." "###") "3" '("###" "..#" ".##" "..#" "###")
          "4" '("#.#" "#.#" "###" "..#" "..#") "5" '("###" "#.." "###" "..#" "###")
          "6" '("###" "#.." "###" "#.#" "###") "7" '("###" "..#" "..#" ".#." ".#.")
          "8" '("###" "#.#" "###" "#.#" "###") "9" '("###" "#.#" "###" "..#" "###")
          ">" '("..#.." "...#." "#####" "...#." "..#..")
          "-" '("..." "..." "###" "..." "...") "." '("." "." "." "." "#")
          ":" '("." "#" "." "#" ".") " " '(".." ".." ".." ".." "..")
          "%" '("#.#" "..#" ".#." "#.." "#.#") "?" '("###" "..#" ".##" "..." ".#."))
  "The glyphs plot-grid draws labels with, by character.")

(de plot-glyphs (text)
  "The glyphs of TEXT, a list of plot-font entries; the UTF-8 arrow is >."
  (let ((out ()) (i 0) (n (strlen text)))
    (while (< i n)
      (let* ((arrow (and (<= (+ i 3) n) (string= (substring text i (+ i 3)) "→")))
             (c (if arrow ">" (substring text i (+ i 1))))
             (glyph (hget plot-font c)))
        (unless glyph (error "plot-grid: no glyph for %l in the label %l" c text))
        (setq out (cons glyph out))
        (incr i (if arrow 3 1))))
    (reverse out)))

(de plot-text-width (text scale)
  "The width in pixels of TEXT drawn at SCALE (glyphs one unit apart)."
  (let ((glyphs (plot-glyphs text)))
    (if glyphs
        (* scale (- (reduce + (mapcar (lambda (g) (+ 1 (strlen (car g)))) glyphs)) 1))
      0)))

(de plot-draw-text (canvas text x y scale value)
  "Draws TEXT into the 2-D tensor CANVAS with its top left corner at X Y,
each font unit a SCALE x SCALE square set to VALUE."
  (each ((glyph (plot-glyphs text)))
    (each ((row glyph) (r (range 5)))
      (for (c 0 (- (strlen row) 1))
        (when (string= (substring row c (+ c 1)) "#")
          (idx-fill (narrow (narrow canvas 0 scale (+ y (* r scale))) 1 scale
                            (+ x (* c scale)))
                    value))))
    (incr x (* scale (+ 1 (strlen (car glyph)))))))

(de plot-zoom (image zoom)
  "A new [H*ZOOM W*ZOOM] float tensor: the 2-D IMAGE with each pixel a
ZOOM x ZOOM square (nearest neighbour)."
  (let* ((h (idx-dim image 0)) (w (idx-dim image 1))
         (wide (float-matrix h w zoom))
         (big (float-matrix h zoom (* w zoom))))
    (for (b 0 (- zoom 1)) (idx-copy image (select wide 2 b)))
    (let ((rows (idx-reshape wide h (* w zoom))))
      (for (a 0 (- zoom 1)) (idx-copy rows (select big 1 a))))
    (idx-reshape big (* h zoom) (* w zoom))))

(de plot-image-2d (image)
  "IMAGE as a 2-D tensor: itself, or a copy without its leading dimensions of
size 1 (e.g. a [1 16 16] input)."
  (let ((shape (reverse (idx-shape image))))
    (cond ((= 2 (length shape)) image)
          ((and (> (length shape) 2) (= (idx-nelem image) (* (car shape) (cadr shape))))
           (idx-reshape (copy-matrix image) (cadr shape) (car shape)))
          (t (error "plot-grid: expected an image, got %l" image)))))

(de plot-image-list (images)
  "IMAGES as a list of 2-D tensors: a list of images (see plot-image-2d), or
a tensor whose last two dimensions are the images (e.g. [N 1 16 16] or
[12 5 5])."
  (if (listp images)
      (mapcar plot-image-2d images)
    (let* ((shape (idx-shape images))
           (n (length shape)))
      (when (< n 2) (error "plot-grid: expected images, got %l" images))
      (let ((stack (idx-reshape (copy-matrix images) -1 (nth (- n 2) shape)
                                (nth (- n 1) shape))))
        (all ((k (range (idx-dim stack 0)))) (select stack 0 k))))))

(de plot-tile-range (image value-range)
  "The (LO HI) mapped to black and white for IMAGE: VALUE-RANGE itself when a
list, else IMAGE's own min and max."
  (or value-range (list (idx-inf image) (idx-sup image))))

(de plot-grid-canvas (images &optional labels cols zoom value-range)
  "The picture plot-grid saves, as a float [H W] tensor in [0,1] (0 black,
1 white). See plot-grid for the arguments. Layout: tiles of H*ZOOM x W*ZOOM
in COLS columns, each in a 1-pixel gray frame, 4 white pixels around and
between cells, each label in
black in a strip of 7*S pixels under its tile, S = max(1, round(tile
height/32)),
centred; a cell is as wide as its tile or its widest label."
  (let* ((images (plot-image-list images))
         (n (length images)))
    (when (= n 0) (error "plot-grid: no images"))
    (when (and labels (/= (length labels) n))
      (error "plot-grid: %d labels for %d images" (length labels) n))
    (let* ((h (idx-dim (car images) 0)) (w (idx-dim (car images) 1))
           (zoom (or zoom (max 1 (floor (/ 64 (max h w))))))
           (cols (or cols (ceil (sqrt n))))
           (rows (ceil (/ n cols)))
           (th (* h zoom)) (tw (* w zoom))
           (scale (max 1 (round (/ th 32))))
           (strip (if labels (* 7 scale) 0))
           (cw (apply max (cons tw (mapcar (lambda (l) (plot-text-width l scale)) labels))))
           (chh (+ th strip))
           (pad 4)
           (canvas (idx-fill (float-matrix (+ pad (* rows (+ chh pad)))
                                           (+ pad (* cols (+ cw pad))))
                             1))
           (value-range (if (eq value-range 'symmetric)
                            (let ((m (apply max (mapcar (lambda (im) (idx-sup (idx-abs im)))
                                                        images))))
                              (list (- m) m))
                          value-range)))
      (each ((image images) (k (range n)))
        (unless (equal (idx-shape image) (list h w))
          (error "plot-grid: image %d is %l, the first %l" k (idx-shape image) (list h w)))
        (let* ((y (+ pad (* (div k cols) (+ chh pad))))
               (x (+ pad (* (mod k cols) (+ cw pad))))
               (lohi (plot-tile-range image value-range))
               (span (- (cadr lohi) (car lohi)))
               (unit (if (= span 0)
                         (idx-fill (float-matrix h w) 0.5)
                       (idx-addm0 (idx-dotm0 image (/ 1 span)) (- (/ (car lohi) span))))))
          (let ((tx (+ x (div (- cw tw) 2))))
            (idx-fill (narrow (narrow canvas 0 (+ th 2) (- y 1)) 1 (+ tw 2) (- tx 1)) 0.6)
            (idx-copy (plot-zoom unit zoom) (narrow (narrow canvas 0 th y) 1 tw tx)))
          (when labels
            (let ((label (nth k labels)))
              (plot-draw-text canvas label
                              (+ x (div (- cw (plot-text-width label scale)) 2))
                              (+ y th scale) scale 0)))))
      canvas)))

(de plot-grid (file images &optional labels cols zoom value-range)
  "Writes FILE, a grayscale PNG of IMAGES (a list of 2-D tensors, or a tensor
whose last two dimensions are the images) in COLS columns (default about
the square root of their number), each pixel drawn ZOOM x ZOOM (default:
tiles of about 64 pixels). LABELS, when given, is one string per image,
drawn under it in a bitmap font of digits, space - . : % ? and > or the
arrow → (both draw an arrow), e.g. \"7→2\". VALUE-RANGE maps values to
black..white: () each image its own min..max, (LO HI) all of them (LO > HI
inverts), 'symmetric -M..M with M the largest |value| over all images (0
is mid-gray, for weights). Values outside are clipped. Returns FILE."
  (save-png (plot-grid-canvas images labels cols zoom value-range) file 0 1))

(de plot-kernels (file weights &optional cols)
  "Writes FILE, a PNG of the kernels in WEIGHTS (a tensor whose last two
dimensions are a kernel: H1's [12 5 5]), one tile each, numbered from 0,
on one gray scale symmetric about 0 (white positive, black negative), in
COLS columns (default 6). Returns FILE."
  (let* ((shape (reverse (idx-shape weights)))
         (n (idx-nelem weights))
         (k (* (car shape) (cadr shape))))
    (plot-grid file weights (all ((i (range (div n k)))) (number->string i))
               (or cols 6) () 'symmetric)))

(de plot-predictions (outputs)
  "The predicted classes of OUTPUTS as a list: OUTPUTS is [N] classes, or
[N K] scores whose largest wins."
  (if (= 1 (idx-ndim outputs))
      (matrix->list outputs)
    (all ((i (range (idx-dim outputs 0)))) (idx-indexmax (select outputs 0 i)))))

(de plot-misclassified (file inputs labels outputs &optional cols most)
  "Writes FILE, a PNG of the examples of INPUTS ([N 1 16 16] or [N 16 16],
values in [-1,1], drawn black on white) whose prediction differs from
LABELS ([N] classes), each under the label \"true→predicted\". OUTPUTS is
the net's outputs [N K] (the largest wins) or the predicted classes [N].
At most MOST (default 100) examples, in COLS columns (default 10). Returns
the number of misclassified examples (all of them, drawn or not); with none,
writes no file."
  (let* ((predicted (plot-predictions outputs))
         (images ()) (names ()) (count 0))
    (each ((p predicted) (i (range (length predicted))))
      (let ((truth (labels i)))
        (when (/= p truth)
          (incr count)
          (when (<= count (or most 100))
            (setq images (cons (select inputs 0 i) images))
            (setq names (cons (sprintf "%d→%d" truth p) names))))))
    (when images
      (plot-grid file (reverse images) (reverse names)
                 (min (or cols 10) (length images)) () '(1 -1)))
    count))

;; ---- Confusion matrices

(de plot-confusion (file counts names &optional title)
  "Writes FILE, an SVG of the confusion matrix COUNTS ([K K] counts, rows
the true class, columns the predicted one) with the class NAMES: each cell
shaded by its share of its row (white 0, dark blue 1) and showing its
count, each row's error (its share off the diagonal) on the right, TITLE
on top. Returns FILE."
  (let* ((k (idx-dim counts 0))
         (cell (if (> k 20) 16 40))
         (left (+ 24 (* 7 (apply max (cons 4 (mapcar strlen names))))))
         (top (+ (if title 48 24) (* 6 (apply max (cons 4 (mapcar strlen names))))))
         (width (+ left (* k cell) 90))
         (height (+ top (* k cell) 40))
         (body ()))
    (for (i 0 (- k 1))
      (let ((total (idx-sum (select counts 0 i)))
            (y (+ top (* i cell))))
        (setq body (cons (svg-text (- left 8) (+ y (* 0.6 cell)) "end" 12 (nth i names)) body))
        (for (j 0 (- k 1))
          (let* ((c (counts i j))
                 (share (if (> total 0) (/ c total) 0))
                 (x (+ left (* j cell)))
                 (shade (round (* 255 (- 1 share)))))
            (setq body (cons (sprintf "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,255)\" stroke=\"#cccccc\"/>\n"
                                      x y cell cell shade shade)
                             body))
            (when (and (> c 0) (>= cell 30))
              (setq body (cons (svg-text (+ x (/ cell 2)) (+ y (* 0.6 cell)) "middle" 11
                                         (number->string c)
                                         (if (> share 0.5) " fill=\"#ffffff\"" ""))
                               body)))))
        (setq body (cons (svg-text (+ left (* k cell) 8) (+ y (* 0.6 cell)) "start" 12
                                   (if (> total 0)
                                       (sprintf "%.1f%%" (* 100 (/ (- total (counts i i)) total)))
                                     "-"))
                         body))))
    (for (j 0 (- k 1))
      (let ((x (+ left (* j cell) (/ cell 2))) (y (- top 8)))
        (setq body (cons (svg-text x y "start" 12 (nth j names)
                                   (sprintf " transform=\"rotate(-60 %.1f %.1f)\"" x y))
                         body))))
    (svg-write file width height title
               (append (list (svg-text (- left 8) (- top 8) "end" 11 "true \\ predicted")
                             (svg-text (+ left (* k cell) 8) (- top 8) "start" 11 "error"))
                       (reverse body)))))
