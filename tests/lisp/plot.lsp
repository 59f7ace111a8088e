;; plot.lsp: lib/plot.lsp: metrics CSV round trips, axis scales, learning
;; curves as well-formed SVG, image grids (layout, scaling, labels) and the
;; PNG files they make. Works in a fresh temporary folder.

;; By path: (libload "plot") would find this file, beside the loading one.
(libload "../../lib/plot")

(defvar pt-dir (sprintf "%s/lush89-plot-%.0f" (or (getenv "TMPDIR") "/tmp")
                        (* 1e9 (clock))))
(mkdir-p pt-dir)
(de pt-file (name) (concat pt-dir "/" name))

(de pt-near (a b) (< (abs (- a b)) 1e-6))

;; ---- CSV

(assert (equal (csv-field 3) "3"))
(assert (equal (csv-field 0.1) "0.1"))
(assert (equal (csv-field "a,b") "\"a,b\""))
(assert (equal (csv-field "say \"hi\"") "\"say \"\"hi\"\"\""))
(assert (equal (csv-field 'sgd) "sgd"))

(csv-write (pt-file "t.csv") '("name" "x") '(("a,b" 1.5) ("q\"r" -2) ("plain" 1e-7)))
(assert (equal (read-file (pt-file "t.csv"))
               "name,x\n\"a,b\",1.5\n\"q\"\"r\",-2\nplain,1e-07\n"))
(assert (equal (csv-read (pt-file "t.csv"))
               '(("name" "x") (("a,b" 1.5) ("q\"r" -2) ("plain" 1e-7)))))

(defvar pt-rows
  '((1 0.0801 10.25 0.0842 11.5 1.25)
    (2 0.0312 4.5 0.0401 6.25 1.2)
    (3 0.0123456789 2.25 0.0333 5.5 1.19)))

(metrics-write (pt-file "m.csv") pt-rows)
(assert (equal (car (read-lines (pt-file "m.csv")))
               "pass,train_loss,train_error,test_loss,test_error,seconds"))
(assert (equal (metrics-read (pt-file "m.csv")) pt-rows))
;; five-column rows get five column names
(metrics-write (pt-file "m5.csv") '((1 0.5 50 0.6 60)))
(assert (equal (read-lines (pt-file "m5.csv"))
               '("pass,train_loss,train_error,test_loss,test_error" "1,0.5,50,0.6,60")))
(write-file (pt-file "empty.csv") "")
(assert-error (csv-read (pt-file "empty.csv")) "empty")

;; ---- axis scales

;; 0..12.3 in about 6 ticks: 12.3/6 = 2.05 rounds up to a step of 5
(let ((s (plot-linear-scale 0 12.3 6)))
  (assert (eq (car s) 'linear))
  (assert (equal (list (nth 1 s) (nth 2 s)) '(0 15)))
  (assert (equal (mapcar cadr (nth 3 s)) '("0" "5" "10" "15"))))
;; 0.013..0.087 in about 5: step 0.02, two decimals
(let ((s (plot-linear-scale 0.013 0.087 5)))
  (assert (pt-near (nth 1 s) 0))
  (assert (pt-near (nth 2 s) 0.1))
  (assert (equal (mapcar cadr (nth 3 s)) '("0.00" "0.02" "0.04" "0.06" "0.08" "0.10"))))
;; one pass: widened by the minimum step to 0..2
(let ((s (plot-linear-scale 1 1 8 1)))
  (assert (equal (mapcar car (nth 3 s)) '(0 1 2))))
;; 0.003..0.09 spans two decades: ticks 1, 2, 5 per decade up to 0.1
(let ((s (plot-log-scale 0.003 0.09)))
  (assert (eq (car s) 'log))
  (assert (equal (mapcar cadr (nth 3 s))
                 '("0.001" "0.002" "0.005" "0.01" "0.02" "0.05" "0.1")))
  (assert (pt-near (plot-scale-fraction s 0.01) 0.5)))
(let ((s (plot-log-scale 1e-5 0.5)))
  (assert (equal (mapcar cadr (nth 3 s)) '("1e-05" "0.0001" "0.001" "0.01" "0.1" "1"))))

;; ---- SVG: a small well-formedness checker

;; The names of the elements of the XML text S in document order, checking
;; that every element is closed in order and that & starts an entity.
;; Returns the list of element names, or () when S is not well formed.
(de pt-xml-elements (s)
  (let ((stack ()) (names ()) (ok t) (i 0) (n (strlen s)))
    (while (and ok (< i n))
      (let ((c (substring s i (+ i 1))))
        (cond ((string= c "<")
               (let* ((close (search ">" s i))
                      (tag (and close (substring s (+ i 1) close))))
                 (cond ((null tag) (setq ok ()))
                       ((string= (substring tag 0 1) "?"))
                       ((string= (substring tag 0 1) "/")
                        (if (and stack (string= (car stack) (substring tag 1)))
                            (setq stack (cdr stack))
                          (setq ok ())))
                       (t (let ((name (car (split (string-trim (if (string= (substring tag (- (strlen tag) 1)) "/")
                                                                   (substring tag 0 (- (strlen tag) 1))
                                                                 tag))))))
                            (setq names (cons name names))
                            (unless (string= (substring tag (- (strlen tag) 1)) "/")
                              (setq stack (cons name stack))))))
                 (setq i (if close close n))))
              ((string= c "&")
               (unless (filter (lambda (e) (string= e (substring s i (min n (+ i (strlen e))))))
                               '("&amp;" "&lt;" "&gt;" "&quot;"))
                 (setq ok ()))))
        (incr i)))
    (and ok (null stack) (reverse names))))

(assert (equal (pt-xml-elements "<a><b x=\"1\"/>t &amp; u</a>") '("a" "b")))
(assert (null (pt-xml-elements "<a><b></a></b>")))
(assert (null (pt-xml-elements "<a>&</a>")))
(assert (null (pt-xml-elements "<a>")))

(de pt-count (name names) (length (filter (lambda (x) (string= x name)) names)))

(de pt-polylines (s)
  "The point lists of the polylines of the SVG text S, as lists of (X Y)."
  (let ((out ()) (at 0))
    (while (setq at (search "points=\"" s at))
      (let* ((from (+ at 8)) (to (search "\"" s from)))
        (setq out (cons (all ((xy (split (substring s from to) " ")))
                          (mapcar string->number (split xy ",")))
                        out))
        (setq at to)))
    (reverse out)))

(plot-curves (pt-file "c.svg") pt-rows "run & <test>")
(let* ((s (read-file (pt-file "c.svg")))
       (names (pt-xml-elements s)))
  (assert names)
  (assert (equal (car names) "svg"))
  (assert (= 4 (pt-count "polyline" names)))
  (assert (= 12 (pt-count "circle" names)))
  (assert (search "run &amp; &lt;test&gt;" s))
  (assert (search ">error (%)<" s))
  ;; the error axis starts at 0 (the x axis, passes 1..3, has no 0)
  (assert (search "font-size=\"11\">0</text>" s))
  (assert (search "train (last 2.25%)" s))
  (assert (search "test (last 5.50%)" s))
  (assert (search "test (last 3.330e-02)" s))
  ;; every point inside the picture; three points per line, x increasing
  (let ((lines (pt-polylines s)))
    (assert (equal (mapcar length lines) '(3 3 3 3)))
    (each ((line lines))
      (assert (< (car (nth 0 line)) (car (nth 1 line)) (car (nth 2 line))))
      (each ((p line))
        (assert (and (> (car p) 0) (< (car p) 922) (> (cadr p) 0) (< (cadr p) 350)))))
    ;; the error panel: train error falls, so its y (downwards) grows
    (let ((train (car lines)))
      (assert (< (cadr (nth 0 train)) (cadr (nth 1 train)) (cadr (nth 2 train)))))))

;; a diverged loss (NaN) leaves its point out; a line of nothing is an error
(plot-curves (pt-file "nan.svg") (list '(1 0.5 50 0.6 60) (list 2 (/ 0 0) 40 0.5 50)))
(let ((s (read-file (pt-file "nan.svg"))))
  (assert (pt-xml-elements s))
  (assert (search "train (last nan)" s))
  (assert (null (search "nan" (substring s 0 (search "train (last nan)" s)))))
  (assert (equal (mapcar length (pt-polylines s)) '(2 2 1 2))))
(assert-error (plot-curves (pt-file "x.svg") ()) "no metrics rows")
(assert-error (plot-lines-svg (pt-file "x.svg") (list (list "y" 'linear (list (list "a" ())))))
              "no finite points")

;; ---- image grids

(assert (equal (matrix->list (plot-zoom [[1 2] [3 4]] 2))
               '((1 1 2 2) (1 1 2 2) (3 3 4 4) (3 3 4 4))))
(assert (= (plot-text-width "7→2" 2) 26))     ; 3 + 1 + 5 + 1 + 3 units
(assert (= (plot-text-width "7>2" 1) 13))
(assert-error (plot-text-width "x" 1) "no glyph")

;; three 2x3 images, zoom 2, 2 columns: tiles 4x6 in cells with 4 pixels
;; between and around: 4 + 2 (4 + 4) rows, 4 + 2 (6 + 4) columns.
(let* ((a (list->matrix '((0 1 2) (3 4 5))))
       (images (list a (idx-dotm0 a 2) (idx-fill (float-matrix 2 3) 7)))
       (c (plot-grid-canvas images () 2 2)))
  (assert (equal (idx-shape c) '(20 24)))
  (assert (= (c 0 0) 1))                       ; white around
  (assert (pt-near (c 3 3) 0.6))               ; gray frame
  (assert (= (c 4 4) 0))                       ; image 0's min is black
  (assert (= (c 5 5) 0))                       ; its pixel drawn 2x2
  (assert (pt-near (c 4 6) 0.2))               ; value 1 of 0..5
  (assert (= (c 7 9) 1))                       ; its max is white
  (assert (= (c 4 14) 0))                      ; image 1 (own range) at column 1
  (assert (= (c 12 4) 0.5))                    ; a flat image is mid-gray
  (assert (= (c 12 14) 1))                     ; no fourth image
  ;; a fixed range for all, and inverted
  (let ((c2 (plot-grid-canvas images () 2 2 '(0 10))))
    (assert (pt-near (c2 4 6) 0.1))
    (assert (pt-near (c2 4 16) 0.2))
    (assert (pt-near (c2 12 4) 0.7)))
  (let ((c3 (plot-grid-canvas images () 2 2 '(10 0))))
    (assert (pt-near (c3 4 6) 0.9)))
  ;; 'symmetric: -M..M with M the largest |value|: 7 -> 1, 0 -> 0.5
  (let ((c4 (plot-grid-canvas (list (idx-neg a) (idx-fill (float-matrix 2 3) 7)) () 2 2 'symmetric)))
    (assert (pt-near (c4 4 4) 0.5))
    (assert (pt-near (c4 4 14) 1))
    (assert (pt-near (c4 6 8) (/ (- 7 5) 14)))))

;; labels: a strip of 7 units under each tile, text centred in black.
;; Tiles 4x6 (scale 1); "-" is 3 wide, its row 2 inked.
(let* ((images (list (float-matrix 2 3) (float-matrix 2 3)))
       (c (plot-grid-canvas images '("-" "1") 2 2 '(0 1))))
  (assert (equal (idx-shape c) '(19 24)))      ; 4 + (4 + 7 + 4) rows
  ;; "-" under tile 0: x = 4 + (6 - 3)/2 = 5, y = 4 + 4 + 1, row 2 inked
  (assert (= (c 11 5) 0))
  (assert (= (c 11 7) 0))
  (assert (= (c 10 5) 1))
  (assert (= (c 11 8) 1)))
;; a label wider than its tile widens every cell
(let ((c (plot-grid-canvas (list (float-matrix 2 2)) '("0123456789") 1 1)))
  (assert (equal (idx-shape c) '(17 47))))     ; 10 glyphs of 3 + 9 gaps = 39
(assert-error (plot-grid-canvas (list [[1 2]] [[1 2]]) '("1")) "1 labels for 2 images")
(assert-error (plot-grid-canvas (list [[1 2]] [[1 2 3]])) "image 1")
(assert-error (plot-grid-canvas ()) "no images")
(assert-error (plot-grid-canvas (list [1 2 3])) "expected an image")
;; [N 1 H W] stacks and lists of [1 H W] inputs give the same picture
(let ((stack (idx-rand (float-matrix 3 1 4 4))))
  (assert (equal (matrix->list (plot-grid-canvas stack () 3 1))
                 (matrix->list (plot-grid-canvas (all ((k (range 3))) (select stack 0 k)) () 3 1)))))

;; ---- PNG files

(de pt-be32 (s at)
  (reduce (lambda (v k) (+ (* v 256) (ord (substring s (+ at k) (+ at k 1))))) '(0 1 2 3) 0))

(de pt-png-size (file)
  "(WIDTH HEIGHT) of the PNG FILE, after checking its signature, that its
first chunk is IHDR and its last IEND."
  (let ((s (read-file file)))
    (and (equal (substring s 0 8) (concat (chr 137) "PNG" (chr 13) (chr 10) (chr 26) (chr 10)))
         (equal (substring s 12 16) "IHDR")
         (equal (substring s (- (strlen s) 8) (- (strlen s) 4)) "IEND")
         (list (pt-be32 s 16) (pt-be32 s 20)))))

(assert (equal (plot-grid (pt-file "g.png") (idx-rand (float-matrix 5 16 16)) '("1→2" "3" "4" "5" "6") 3)
               (pt-file "g.png")))
;; zoom 4: tiles 64, scale 2, strip 14; 2 rows of 3
(assert (equal (pt-png-size (pt-file "g.png")) (list (+ 4 (* 3 68)) (+ 4 (* 2 (+ 64 14 4))))))

;; H1's kernels: 12 of 5x5, zoom 12 (tiles 60, scale 2), labels 0..11, 6 columns
(plot-kernels (pt-file "k.png") (idx-randn (float-matrix 12 5 5)))
(assert (equal (pt-png-size (pt-file "k.png")) (list (+ 4 (* 6 64)) (+ 4 (* 2 (+ 60 14 4))))))

;; misclassified: 5 examples, 2 wrong by their scores
(let ((inputs (idx-rand (float-matrix 5 1 16 16)))
      (labels ['int 0 1 2 3 4])
      (outputs (idx-fill (float-matrix 5 10) -1)))
  (for (i 0 4) (outputs i i 1))
  (outputs 1 1 -1) (outputs 1 7 1)
  (outputs 3 3 -1) (outputs 3 0 1)
  (assert (= 2 (plot-misclassified (pt-file "mis.png") inputs labels outputs)))
  (assert (equal (pt-png-size (pt-file "mis.png")) (list (+ 4 (* 2 68)) (+ 4 64 14 4))))
  (assert (= 2 (plot-misclassified (pt-file "mis1.png") inputs labels outputs 10 1)))
  (assert (equal (pt-png-size (pt-file "mis1.png")) (list (+ 4 68) (+ 4 64 14 4))))
  ;; predicted classes instead of scores; all right: no file
  (assert (= 0 (plot-misclassified (pt-file "none.png") inputs labels labels)))
  (assert (not (file-exists (pt-file "none.png"))))
  (assert (equal (plot-predictions outputs) '(0 7 2 0 4))))

(sys (concat "rm -rf '" pt-dir "'"))
