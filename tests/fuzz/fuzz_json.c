/* fuzz_json.c: libFuzzer on the JSON reader: any bytes as the text of a
   file must parse or raise a Lisp error. */
#include "io_fuzz.h"

#include <stdint.h>

typedef struct {
  const char *text;
  size_t len;
} Job;

static void parse(void *ud) {
  Job *j = ud;
  lu_json_parse(j->text, j->len, "fuzz.json");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1); /* the parser wants a 0 after the text */
  if (!text)
    abort();
  memcpy(text, data, size);
  text[size] = 0;
  Job j = {text, size};
  fz_call(parse, &j);
  free(text);
  return 0;
}
