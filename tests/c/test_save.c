/* test_save.c: cmocka tests of the one atomic save (runtime/io/io.c), as
   write-file and save-matrix use it: writing through symbolic links, the
   kept mode, refusing FIFOs, devices and folders, the names of temporary
   files and the removal of those a killed save left, and failures that
   leave the old file as it was. Each test works in a fresh folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <sys/stat.h>

#include "interp.h"
#include "io.h"
#include "lutest.h"

static char *dir;

static int setup(void **state) {
  (void)state;
  dir = lt_tempdir();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  lt_rmtree(dir);
  free(dir);
  return 0;
}

static const char *in_dir(const char *name) {
  static char paths[8][4096];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, sizeof paths[0], "%s/%s", dir, name);
  return p;
}

/* The content of dir/name (at most 4095 bytes), or NULL. */
static const char *content(const char *name) {
  static char buf[4096];
  FILE *f = fopen(in_dir(name), "rb");
  if (!f)
    return NULL;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  return buf;
}

/* Runs (write-file dir/name text): NULL, or the error message. */
static const char *write_file(const char *name, const char *text) {
  char src[8192];
  snprintf(src, sizeof src, "(write-file \"%s\" \"%s\")", in_dir(name), text);
  LuValue *err;
  return lt_try(src, &err) ? NULL : err->err->message->str.s;
}

static bool is_link(const char *name) {
  struct stat st;
  return lstat(in_dir(name), &st) == 0 && S_ISLNK(st.st_mode);
}

/* Names in dir that contain part. */
static int count_names(const char *part) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    n += strstr(e->d_name, part) != NULL;
  closedir(d);
  return n;
}

/* ---- symbolic links --------------------------------------------------- */

static void test_through_links(void **state) {
  (void)state;
  lt_write(dir, "target", "old", 3);
  assert_int_equal(symlink("target", in_dir("link")), 0);
  assert_null(write_file("link", "new"));
  assert_true(is_link("link"));
  assert_string_equal(content("target"), "new");

  /* a relative link is read from its own folder; a chain is followed */
  assert_int_equal(mkdir(in_dir("sub"), 0755), 0);
  assert_int_equal(symlink("../link", in_dir("sub/up")), 0);
  assert_null(write_file("sub/up", "newer"));
  assert_true(is_link("sub/up") && is_link("link"));
  assert_string_equal(content("target"), "newer");
  assert_int_equal(count_names("lush89-tmp"), 0);

  /* an absolute link; a dangling one gets its target created */
  assert_int_equal(symlink(in_dir("made"), in_dir("dangling")), 0);
  assert_null(write_file("dangling", "made"));
  assert_true(is_link("dangling"));
  assert_string_equal(content("made"), "made");

  assert_int_equal(symlink("loop2", in_dir("loop1")), 0);
  assert_int_equal(symlink("loop1", in_dir("loop2")), 0);
  lt_expect_error(write_file("loop1", "x"), "loop1", "symbolic links");
}

/* ---- modes ------------------------------------------------------------ */

static mode_t mode_of(const char *name) {
  struct stat st;
  assert_int_equal(stat(in_dir(name), &st), 0);
  return st.st_mode & 07777;
}

static void test_keeps_mode(void **state) {
  (void)state;
  const mode_t modes[] = {0600, 0640, 0755, 0400};
  for (int i = 0; i < 4; i++) {
    lt_write(dir, "m", "old", 3);
    assert_int_equal(chmod(in_dir("m"), modes[i]), 0);
    assert_null(write_file("m", "new"));
    assert_int_equal(mode_of("m"), modes[i]);
    assert_string_equal(content("m"), "new");
  }
  /* a new file: 0666 less the umask */
  mode_t old = umask(027);
  const char *msg = write_file("fresh", "x");
  umask(old);
  assert_null(msg);
  assert_int_equal(mode_of("fresh"), 0640);
}

/* ---- what is not a regular file is never replaced --------------------- */

static void test_refuses_special_files(void **state) {
  (void)state;
  assert_int_equal(mkfifo(in_dir("fifo"), 0600), 0);
  lt_expect_error(write_file("fifo", "x"), "fifo", "is a FIFO, not a regular");
  struct stat st;
  assert_int_equal(lstat(in_dir("fifo"), &st), 0);
  assert_true(S_ISFIFO(st.st_mode));

  assert_int_equal(symlink("fifo", in_dir("to-fifo")), 0);
  lt_expect_error(write_file("to-fifo", "x"), "to-fifo", "is a FIFO");

  assert_int_equal(mkdir(in_dir("folder"), 0755), 0);
  lt_expect_error(write_file("folder", "x"), "folder", "is a directory");

  LuValue *err;
  assert_null(lt_try("(write-file \"/dev/null\" \"x\")", &err));
  lt_expect_error(err->err->message->str.s, "write-file: /dev/null",
                  "is a character device");
  assert_int_equal(stat("/dev/null", &st), 0);
  assert_true(S_ISCHR(st.st_mode));
  assert_int_equal(count_names("lush89-tmp"), 0);
}

/* ---- temporary files -------------------------------------------------- */

typedef struct {
  char seen[256]; /* the temporary file's name, seen during the save */
} Peek;

/* LuWriteBody: writes a little, then notes the one temporary file. */
static void peek_body(LuSink *s, void *ud) {
  Peek *p = ud;
  lu_io_sink_write(s, "data", 4);
  DIR *d = opendir(dir);
  for (struct dirent *e; (e = readdir(d));)
    if (strstr(e->d_name, "lush89-tmp"))
      snprintf(p->seen, sizeof p->seen, "%s", e->d_name);
  closedir(d);
}

typedef struct {
  const char *path;
  LuWriteBody body;
  void *ud;
} SaveCall;

static void do_save(void *ud) {
  SaveCall *c = ud;
  lu_io_save("test-save", c->path, false, c->body, c->ud);
}

static const char *save(const char *name, LuWriteBody body, void *ud) {
  SaveCall c = {in_dir(name), body, ud};
  LuValue *err;
  return lu_pcall(do_save, &c, &err) ? NULL : err->err->message->str.s;
}

static void test_temp_names(void **state) {
  (void)state;
  Peek p = {""};
  assert_null(save("x.idx", peek_body, &p));
  char want[64];
  int n = snprintf(want, sizeof want, ".x.idx.lush89-tmp.%ld.", (long)getpid());
  if (strncmp(p.seen, want, (size_t)n) != 0)
    fail_msg("temporary file '%s' is not named '%sXXXXXX'", p.seen, want);
  assert_int_equal(strlen(p.seen), (size_t)n + 6);
  assert_string_equal(content("x.idx"), "data");
  assert_int_equal(count_names("lush89-tmp"), 0);

  /* a name near the 255-byte limit still leaves room for the tag */
  char longname[256];
  memset(longname, 'a', 250);
  longname[250] = 0;
  assert_null(save(longname, peek_body, &p));
  assert_int_equal(count_names("lush89-tmp"), 0);
}

/* A pid that no process has: a child's, after it is reaped. */
static pid_t dead_pid(void) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(0);
  waitpid(pid, NULL, 0);
  return pid;
}

static void kill_body(LuSink *s, void *ud) {
  (void)ud;
  lu_io_sink_write(s, "partial", 7);
  fflush(s->f);
  raise(SIGKILL);
}

static void test_stale_temp_files(void **state) {
  (void)state;
  lt_write(dir, "x", "old", 3);
  /* a save killed halfway leaves its temporary file and the old file */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    save("x", kill_body, NULL);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  assert_int_equal(count_names(".x.lush89-tmp."), 1);
  assert_string_equal(content("x"), "old");

  /* more leftovers: of a dead process, of a live one (pid 1: another
     save in progress), of another file, and a look-alike */
  char name[128];
  snprintf(name, sizeof name, ".x.lush89-tmp.%ld.AbC123", (long)dead_pid());
  lt_write(dir, name, "", 0);
  lt_write(dir, ".x.lush89-tmp.1.LiVe12", "", 0);
  lt_write(dir, ".y.lush89-tmp.999999999.OtHer1", "", 0);
  lt_write(dir, ".x.lush89-tmp.notapid", "", 0);
  assert_null(write_file("x", "new"));
  assert_string_equal(content("x"), "new");
  assert_int_equal(count_names(".x.lush89-tmp."), 2);
  assert_non_null(content(".x.lush89-tmp.1.LiVe12"));
  assert_non_null(content(".x.lush89-tmp.notapid"));
  assert_non_null(content(".y.lush89-tmp.999999999.OtHer1"));
}

/* ---- failures keep the old file --------------------------------------- */

static void test_failures_keep_old(void **state) {
  (void)state;
  /* a write that fails (a file size limit stands in for a full disk) */
  lt_write(dir, "keep", "old", 3);
  char big[3000];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = 0;
  struct rlimit old, small = {1000, 1000};
  getrlimit(RLIMIT_FSIZE, &old);
  small.rlim_max = old.rlim_max;
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &small);
  const char *msg = write_file("keep", big);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, prev);
  lt_expect_error(msg, "write-file: ", "keep: write failed: File too large");
  assert_string_equal(content("keep"), "old");
  assert_int_equal(count_names("lush89-tmp"), 0);

  /* a folder the process may not write to (root may write anywhere) */
  if (geteuid() != 0) {
    assert_int_equal(mkdir(in_dir("ro"), 0755), 0);
    lt_write(dir, "ro/keep", "old", 3);
    assert_int_equal(chmod(in_dir("ro"), 0555), 0);
    lt_expect_error(write_file("ro/keep", "new"), "ro/keep",
                    "Permission denied");
    chmod(in_dir("ro"), 0755);
    assert_string_equal(content("ro/keep"), "old");
  }

  /* no such folder */
  lt_expect_error(write_file("none/x", "new"), "none/x",
                  "cannot create a temporary file: No such file");
}

int main(void) {
  char base;
  lt_start(&base);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_through_links, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keeps_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refuses_special_files, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_temp_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stale_temp_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failures_keep_old, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
