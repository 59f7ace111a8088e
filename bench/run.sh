#!/bin/sh
# make bench: every benchmark, side by side with Python where there is one.
# Speed is measured here, never in tests.
cd "$(dirname "$0")/.."
echo "== interpreter: lush89 vs $(python3 --version 2>&1)"
./lush89 bench/interp.lsp > /tmp/lush89-bench.$$
if command -v python3 >/dev/null; then
  python3 bench/interp.py > /tmp/python-bench.$$
  join /tmp/lush89-bench.$$ /tmp/python-bench.$$ |
    awk '{ printf "%-8s lush89 %.4f s  python3 %.4f s  ratio %.2f\n", $1, $2, $3, $2 / $3 }'
else
  cat /tmp/lush89-bench.$$
fi
if command -v lua5.4 >/dev/null; then
  echo "== interpreter: lush89 vs $(lua5.4 -v 2>&1 | cut -d' ' -f1-2)"
  lua5.4 bench/interp.lua > /tmp/lua-bench.$$
  join /tmp/lush89-bench.$$ /tmp/lua-bench.$$ |
    awk '{ printf "%-8s lush89 %.4f s  lua5.4 %.4f s  ratio %.2f\n", $1, $2, $3, $2 / $3 }'
  rm -f /tmp/lua-bench.$$
fi
rm -f /tmp/lush89-bench.$$ /tmp/python-bench.$$
for b in bench/tensor.lsp bench/net.lsp bench/recipe.sh; do
  [ -e "$b" ] || continue
  echo "== $b"
  case "$b" in
    *.sh) sh "$b" ;;
    *) ./lush89 "$b" ;;
  esac
done
# The training benchmark side by side: bench/lenet5.lsp and the same net in
# PyTorch (bench/torch_lenet5.py), 1 thread, on the first LIMIT Fashion-MNIST
# images; the ratio is of training examples per second.
limit=${LENET5_LIMIT:-5000}
fashion=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
echo "== bench/lenet5.lsp vs bench/torch_lenet5.py (Fashion-MNIST, --limit $limit, 1 thread)"
if [ ! -d "$fashion" ]; then
  echo "skipped: no Fashion-MNIST in $fashion (Debian: dataset-fashion-mnist)"
elif ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "skipped: /usr/bin/python3 with torch not found"
else
  for batch in 1 64; do
    lush=$(./lush89 bench/lenet5.lsp --batch $batch --threads 1 --limit "$limit" 2>/dev/null |
      sed -n 's/^time: .*(\([0-9]*\) examples\/s)$/\1/p')
    if [ -z "$lush" ]; then
      echo "batch $batch: lush89 cannot train in batches of $batch yet"
      continue
    fi
    torch=$(/usr/bin/python3 bench/torch_lenet5.py --batch $batch --threads 1 --limit "$limit" |
      sed -n 's/^time: .*(\([0-9]*\) examples\/s)$/\1/p')
    awk -v b=$batch -v l="$lush" -v t="$torch" 'BEGIN {
      printf "batch %d: lush89 %d examples/s, PyTorch %d examples/s, ratio %.1fx\n", b, l, t, l / t }'
  done
fi
