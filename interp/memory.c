/* memory.c: how much memory this process may use. Not physical memory
   alone: in a container or under ulimit the kernel kills a process that
   grows past its limit instead of failing its allocation, so allocations
   are checked against the smallest limit that applies. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "interp.h"

/* The number in the file at path ("max" is no limit), or SIZE_MAX. */
static size_t read_limit(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return SIZE_MAX;
  unsigned long long n;
  bool ok = fscanf(f, "%llu", &n) == 1;
  fclose(f);
  return ok && n < SIZE_MAX ? (size_t)n : SIZE_MAX;
}

/* The smallest limit in file of the cgroup at path under the hierarchy
   mounted at root, and of its ancestors (each one's limit applies; a
   container may see only the part of the path below its own root). */
static size_t cgroup_file_limit(const char *root, const char *path,
                                const char *file) {
  char dir[1024], name[1200];
  snprintf(dir, sizeof dir, "%s", path);
  size_t limit = SIZE_MAX;
  for (;;) {
    snprintf(name, sizeof name, "%s%s/%s", root, dir, file);
    size_t n = read_limit(name);
    limit = n < limit ? n : limit;
    char *slash = strrchr(dir, '/');
    if (!slash)
      return limit;
    *slash = 0;
  }
}

/* The memory limit of this process's cgroup: v2's memory.max, or v1's
   memory.limit_in_bytes; SIZE_MAX when there is none. */
static size_t cgroup_limit(void) {
  FILE *f = fopen("/proc/self/cgroup", "r");
  if (!f)
    return SIZE_MAX;
  size_t limit = SIZE_MAX, n;
  char line[1200];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *path = strchr(line, ':');
    path = path ? strchr(path + 1, ':') : NULL;
    if (!path)
      continue;
    *path++ = 0;
    if (strcmp(line, "0:") == 0) /* v2: "0::/path" */
      n = cgroup_file_limit("/sys/fs/cgroup", path, "memory.max");
    else if (strstr(line, "memory")) /* v1: "N:memory:/path" */
      n = cgroup_file_limit("/sys/fs/cgroup/memory", path,
                            "memory.limit_in_bytes");
    else
      continue;
    limit = n < limit ? n : limit;
  }
  fclose(f);
  return limit;
}

static size_t rlimit_of(int resource) {
  struct rlimit rl;
  if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
      rl.rlim_cur >= SIZE_MAX)
    return SIZE_MAX;
  return (size_t)rl.rlim_cur;
}

size_t lu_memory_limit(void) {
  static size_t limit;
  if (limit)
    return limit;
  size_t n[] = {(size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE),
                cgroup_limit(), rlimit_of(RLIMIT_AS), rlimit_of(RLIMIT_DATA)};
  limit = SIZE_MAX;
  for (size_t i = 0; i < sizeof n / sizeof *n; i++)
    limit = n[i] > 0 && n[i] < limit ? n[i] : limit;
  return limit;
}
