/* init.h: start-up of the whole program (init.c). */
#ifndef INIT_H
#define INIT_H

/* Opens every library and loads the prelude (run it under lu_pcall, after
   GC_INIT and lu_error_init). */
void lu_init(void *unused);
/* lu_init under lu_pcall, with lib/ taken from the current folder (the top
   of the tree), for the C tests and the fuzzers: an error is reported and
   exits 1. */
void lu_init_in_tree(void);
/* Ctrl-C sets lu_interrupted. */
void lu_catch_sigint(void);

#endif
