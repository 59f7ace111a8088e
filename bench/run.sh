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
# PyTorch (bench/torch_lenet5.py) on the first LENET5_LIMIT Fashion-MNIST
# images of each split, in training examples per second of the second
# pass: the first warms both up (threads, allocations, caches).
# PyTorch runs at 1 and 2 threads and counts at its better one; so does
# lush89 at batch 64 (batch 1 has one example per step to spread: 1
# thread). The goals are printed beside the measures. A run longer than
# LENET5_TIMEOUT seconds is stopped and shown as such: PyTorch's threads
# can spin for minutes when other processes share the cores.
limit=${LENET5_LIMIT:-5000}
timeout=${LENET5_TIMEOUT:-30}
fashion=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
echo "== bench/lenet5.lsp vs bench/torch_lenet5.py (Fashion-MNIST, --limit $limit, training examples/s of pass 2)"
if [ ! -d "$fashion" ]; then
  echo "skipped: no Fashion-MNIST in $fashion (Debian: dataset-fashion-mnist)"
elif ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "skipped: /usr/bin/python3 with torch not found"
else
  # rate PROGRAM... : the examples/s of the time line PROGRAM prints, or 0
  rate() {
    r=$(timeout "$timeout" "$@" --limit "$limit" --passes 2 2>/dev/null | sed -n 's/^time: pass 2 .*(\([0-9]*\) examples\/s)$/\1/p')
    echo "${r:-0}"
  }
  lush_b1=$(rate ./lush89 bench/lenet5.lsp --batch 1 --threads 1)
  lush_b64_t1=$(rate ./lush89 bench/lenet5.lsp --batch 64 --threads 1)
  lush_b64_t2=$(rate ./lush89 bench/lenet5.lsp --batch 64 --threads 2)
  torch_b1_t1=$(rate /usr/bin/python3 bench/torch_lenet5.py --batch 1 --threads 1)
  torch_b1_t2=$(rate /usr/bin/python3 bench/torch_lenet5.py --batch 1 --threads 2)
  torch_b64_t1=$(rate /usr/bin/python3 bench/torch_lenet5.py --batch 64 --threads 1)
  torch_b64_t2=$(rate /usr/bin/python3 bench/torch_lenet5.py --batch 64 --threads 2)
  awk -v limit="$timeout" -v l1="$lush_b1" -v l64a="$lush_b64_t1" -v l64b="$lush_b64_t2" \
      -v t1a="$torch_b1_t1" -v t1b="$torch_b1_t2" -v t64a="$torch_b64_t1" -v t64b="$torch_b64_t2" '
    function best(a, b) { return a > b ? a : b }
    function threads(a, b) { return a >= b ? "1 thread" : "2 threads" }
    function ratio(x, y) { return y > 0 ? x / y : 0 }
    function verdict(x, goal) { return x >= goal ? "met" : "NOT met" }
    function shown(x) { return x > 0 ? sprintf("%d", x) : sprintf("over %d s", limit) }
    function line(batch, l, lt, ta, tb, goal,   t, r) {
      t = best(ta, tb); r = ratio(l, t)
      printf "batch %2d: lush89 %s (%s), PyTorch %s (%s; 1 thread %s, 2 threads %s): %.1fx  goal >= %dx: %s\n",
        batch, shown(l), lt, shown(t), threads(ta, tb), shown(ta), shown(tb), r, goal, verdict(r, goal)
    }
    BEGIN {
      line(1, l1, "1 thread", t1a, t1b, 15)
      line(64, best(l64a, l64b), threads(l64a, l64b), t64a, t64b, 3)
      s = ratio(l64b, l64a)
      printf "lush89 batch 64: 1 thread %s, 2 threads %s: speed-up %.2fx  goal >= 1.7x: %s\n",
        shown(l64a), shown(l64b), s, verdict(s, 1.7)
    }'
fi
