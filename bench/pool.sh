#!/bin/sh
# pool.sh: builds bench/pool.c (the thread pool's cost per job) against the
# objects of the last `make` and runs it; arguments go to it (THREADS).
cd "$(dirname "$0")/.." || exit 1
make -s lush89 || exit 1
b=build/$(cat build/flavour)
objs=$(ls "$b"/*.o "$b"/interp/*.o "$b"/runtime/*/*.o | grep -v "^$b/main.o$")
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -I. -Iinterp -Iruntime/idx -Iruntime/io \
  -Iruntime/nn -Wall -Wextra -o "$b/pool-bench" bench/pool.c $objs \
  -lreadline -lgc -lpng -lz -lm -lpthread -lutil || exit 1
exec "$b/pool-bench" "$@"
