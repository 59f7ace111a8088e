/* init.h: start-up of the whole program (init.c). */
#ifndef INIT_H
#define INIT_H

/* Opens every library and loads the prelude (run it under lu_pcall, after
   GC_INIT and lu_error_init). */
void lu_init(void *unused);
/* Ctrl-C sets lu_interrupted. */
void lu_catch_sigint(void);

#endif
