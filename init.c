/* init.c: start-up, above both interp/ and runtime/: the one list of
   subsystems to open (interpreter libraries first, then the runtime's), and
   the Ctrl-C handler. Shared by main and the C tests. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "init.h"
#include "interp.h"
#include "io.h"
#include "net.h"
#include "tensor.h"

void lu_init(void *unused) {
  (void)unused;
  lu_value_init();
  lu_core_open();
  lu_object_open();
  lu_list_open();
  lu_string_open();
  lu_number_open();
  lu_hash_open();
  lu_system_open();
  lu_help_open();
  lu_repl_open();
  lu_tensor_open();
  lu_io_open();
  lu_matrix_open();
  lu_npy_open();
  lu_safetensors_open();
  lu_picture_open();
  lu_json_open();
  lu_net_open();
  char prelude[PATH_MAX + 80];
  snprintf(prelude, sizeof prelude, "%s/prelude.lsp", lu_libdir);
  lu_load_file(prelude);
}

void lu_init_in_tree(void) {
  lu_libdir = "lib";
  LuValue *err = NULL;
  if (!lu_pcall(lu_init, NULL, &err)) {
    lu_report(err);
    exit(1);
  }
}

static void sigint(int sig) {
  (void)sig;
  lu_interrupted = 1;
}

void lu_catch_sigint(void) {
  struct sigaction sa = {0};
  sa.sa_handler = sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: select sees EINTR */
}
