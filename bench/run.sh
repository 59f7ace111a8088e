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
