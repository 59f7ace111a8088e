;; prelude.lsp: Lisp definitions loaded at start-up, before any script.
