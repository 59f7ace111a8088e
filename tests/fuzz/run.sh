#!/bin/sh
# make fuzz: sh tests/fuzz/run.sh SECONDS FUZZER...
# Runs each libFuzzer binary build/fuzz/fuzz_NAME for SECONDS on its seed
# corpus tests/fuzz/corpus/NAME; the inputs it finds go to a temporary
# folder, never into the repository. Prints per fuzzer the number of runs
# and any crash, and exits 1 when any fuzzer crashed, hung or failed to
# run; the temporary folder is then kept, with the inputs that did it.
seconds=$1
shift
if [ -z "$seconds" ] || [ $# -eq 0 ]; then
  echo "usage: sh tests/fuzz/run.sh SECONDS FUZZER..." >&2
  exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/lush89-fuzz.XXXXXX")
failed=0
for f in "$@"; do
  name=$(basename "$f")
  name=${name#fuzz_}
  seeds=tests/fuzz/corpus/$name
  mkdir -p "$work/$name/new" "$work/$name/found"
  # -timeout: one input running that long is a hang; the first folder
  # receives new inputs, the seed folder is only read.
  "$f" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/$name/found/" "$work/$name/new" "$seeds" \
    > "$work/$name/log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name/log")
  found=$(ls "$work/$name/found")
  if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    failed=1
    echo "fuzz_$name: ${runs:-?} runs, FAILED (exit $rc)"
    grep -E '^(==[0-9]+==|SUMMARY|.*ERROR|.*runtime error|.*deadly signal|.*timeout)' \
      "$work/$name/log" | head -n 20
    for a in $found; do
      echo "  input: $work/$name/found/$a (run: $f $work/$name/found/$a)"
    done
  else
    echo "fuzz_$name: ${runs:-?} runs, no crash"
  fi
done
[ "$failed" -eq 0 ] && rm -rf "$work"
exit "$failed"
