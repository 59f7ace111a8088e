#!/bin/sh
# Runs the cmocka suites given as arguments, then every Lisp suite in
# tests/lisp, and ends with one line "N passed, N failed". Exits 1 when
# anything failed.
passed=0
failed=0
# Each run has its own temporary folder, so that runs side by side do not
# share files.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/lush89-tests.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
for t in "$@"; do
  out=$("$t" 2>&1)
  rc=$?
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p')
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p')
  p=${p:-0}
  f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crashed or died
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$f" -ne 0 ]; then
    printf '%s\n' "$out" | grep -v '^\[ *\(RUN\|OK\) *\]'
  fi
  echo "$(basename "$t"): ok $p, failed $f"
done
for s in tests/lisp/*.lsp; do
  [ -e "$s" ] || continue
  out=$(./lush89 tests/harness.lsp "$PWD/$s" 2>&1)
  rc=$?
  last=$(printf '%s\n' "$out" | tail -n 1)
  p=$(printf '%s\n' "$last" | sed -n 's/.*: ok \([0-9]*\), failed [0-9]*$/\1/p')
  f=$(printf '%s\n' "$last" | sed -n 's/.*: ok [0-9]*, failed \([0-9]*\)$/\1/p')
  if [ -z "$p" ]; then # the harness itself did not finish
    printf '%s\n' "$out"
    p=0
    f=1
  elif [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
    printf '%s\n' "$out"
    [ "$f" -eq 0 ] && f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  echo "$s: ok $p, failed $f"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
