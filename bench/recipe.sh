#!/bin/sh
# recipe.sh: times the 1989 recipe. Runs `lush89
# scripts/lecun1989.lsp` (23 passes, evaluation of both splits after each),
# prints seconds per pass, µs per training step and effective GFLOP/s; when
# /usr/bin/python3 has torch, also runs bench/torch_recipe.py (the same
# recipe in PyTorch, 1 thread) for 2 passes and prints the ratio per pass.
# Run from the project's top (make bench does). PASSES=N changes lush89's
# passes, TORCH_PASSES=N PyTorch's. The goals (23 passes in at most 2.5 s,
# at least 25 times PyTorch's speed) are printed beside the measures.
set -e
passes=${PASSES:-23}
torch_passes=${TORCH_PASSES:-2}
out=$(mktemp -d /tmp/lush89-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT

# The data are prepared (or found) first, so that the timing is training only.
./lush89 -e '(libload "data") (setq data-verbose ()) (mnist-load)'

start=$(date +%s.%N)
./lush89 scripts/lecun1989.lsp --quiet --passes "$passes" --out "$out" >"$out/log"
end=$(date +%s.%N)
tail -n 6 "$out/log"

# Multiply-adds (181,540 per training step, 63,660 per forward pass);
# one multiply-add counts as 2 floating-point operations.
recipe=$(sed -n 's/^wall time \([0-9.]*\) s.*/\1/p' "$out/log")
awk -F, -v start="$start" -v end="$end" -v recipe="$recipe" -v passes="$passes" '
  NR > 1 { train += $6 }
  END {
    wall = end - start
    ntrain = 7291; ntest = 2007
    step_flop = 2 * 181540; fwd_flop = 2 * 63660
    total_flop = passes * (ntrain * step_flop + (ntrain + ntest) * fwd_flop)
    printf "machine: %s, %s cores\n", cpu, cores
    printf "lush89: %.2f s for %d passes, training and evaluation of both splits after each (%.2f s for the whole process: start-up, data loading, outputs)%s\n", recipe, passes, wall, (passes == 23 ? sprintf("  goal <= 2.5 s: %s", (recipe <= 2.5 ? "met" : "NOT met")) : "")
    printf "lush89: %.3f s per pass (training %.3f s, evaluation %.3f s)\n", recipe / passes, train / passes, (recipe - train) / passes
    printf "lush89: %.1f us per training step, %.2f GFLOP/s in training, %.2f GFLOP/s overall (%.1f GFLOP)\n", 1e6 * train / (passes * ntrain), passes * ntrain * step_flop / train / 1e9, total_flop / recipe / 1e9, total_flop / 1e9
    printf "%.6f\n", recipe / passes > "'"$out/per_pass"'"
  }' cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
     cores="$(nproc)" "$out/metrics.csv"

if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  /usr/bin/python3 bench/torch_recipe.py --passes "$torch_passes" >"$out/torch" || exit 1
  tail -n 1 "$out/torch"
  torch_pass=$(sed -n 's/.*total \([0-9.]*\) s\/pass.*/\1/p' "$out/torch")
  awk -v t="$torch_pass" -v l="$(cat "$out/per_pass")" 'BEGIN {
    printf "ratio: PyTorch %.3f s per pass / lush89 %.3f s per pass = %.1fx faster  goal >= 25x: %s\n", t, l, t / l, (t / l >= 25 ? "met" : "NOT met") }'
else
  echo "PyTorch comparison skipped: /usr/bin/python3 with torch not found"
fi
