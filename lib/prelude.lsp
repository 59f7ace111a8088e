;; prelude.lsp: Lisp definitions loaded at start-up, before any script.
;; What needs no C lives here.

(dm push (x var)
  "Puts X in front of the list held by the variable VAR; returns the list."
  `(setq ,var (cons ,x ,var)))

(dm pop (var)
  "Removes the first element of the list held by the variable VAR and
returns it."
  `(prog1 (car ,var) (setq ,var (cdr ,var))))
