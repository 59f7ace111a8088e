#!/usr/bin/python3
"""resize_ref.py: PyTorch reference values for idx-resize (developer tool).

    /usr/bin/python3 bench/resize_ref.py          # print the reference cases
    /usr/bin/python3 bench/resize_ref.py --check  # compare ./lush89 to torch

The first form prints, for a few input/output sizes, what
F.interpolate(mode="bilinear", align_corners=False, antialias=False) gives
on the image x[i][j] = ((7 i + 13 j) mod 17) / 16 (exact in float, so C and
Lisp tests rebuild it without a file). Its output was pasted, once, into
tests/c/test_tensor.c and tests/lisp/tensor.lsp; it needs python3-torch.

--check runs random sizes and random images, in float and in double,
through ./lush89 and torch, and prints the largest difference.
"""
import random
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

CASES = [(5, 7, 3, 4), (3, 4, 7, 9), (7, 9, 5, 6), (6, 5, 6, 8), (1, 5, 3, 2),
         (4, 4, 1, 1), (2, 3, 5, 3)]


def image(h, w, dtype=torch.float32):
    return torch.tensor([[((7 * i + 13 * j) % 17) / 16 for j in range(w)]
                         for i in range(h)], dtype=dtype)


def resize(x, oh, ow):
    y = F.interpolate(x[None, None], size=(oh, ow), mode="bilinear",
                      align_corners=False, antialias=False)
    return y[0, 0]


def show(cases):
    for h, w, oh, ow in cases:
        y = resize(image(h, w), oh, ow)
        vals = " ".join("%.9g" % v for v in y.flatten().tolist())
        print("%d %d %d %d: %s" % (h, w, oh, ow, vals))


def check(n):
    worst = 0.0
    rng = random.Random(1989)
    fixed = [(28, 28, 16, 16), (16, 16, 28, 28), (300, 200, 97, 411)]
    for k in range(n):
        if k < 4 * len(fixed):
            h, w, oh, ow = fixed[k // 4]
        else:
            h, w = rng.randint(1, 64), rng.randint(1, 64)
            oh, ow = rng.randint(1, 64), rng.randint(1, 64)
        dtype = torch.float32 if k % 2 == 0 else torch.float64
        scale = 1 if k % 4 < 2 else 255
        # float values: the Lisp side reads them through a float literal
        x = (torch.rand(h, w) * scale).to(dtype)
        kind = "float" if dtype == torch.float32 else "double"
        with tempfile.NamedTemporaryFile("w", suffix=".lsp") as f:
            lits = " ".join("%.17g" % v for v in x.flatten().tolist())
            f.write('(setq x (idx-reshape (copy-matrix [%s] \'%s) %d %d))\n'
                    % (lits, kind, h, w))
            f.write('(each ((v (matrix->list (idx-reshape (copy-matrix '
                    '(idx-resize x %d %d)) -1)))) (printf "%%.17g\\n" v))\n'
                    % (oh, ow))
            f.flush()
            out = subprocess.run(["./lush89", f.name], capture_output=True,
                                 text=True, check=True).stdout.split()
        ours = torch.tensor([float(v) for v in out], dtype=torch.float64)
        ref = resize(x, oh, ow).to(torch.float64).flatten()
        err = ((ours - ref).abs() / max(1.0, scale)).max().item()
        worst = max(worst, err)
    print("%d random cases: largest difference %.3g (relative to the range)"
          % (n, worst))


if __name__ == "__main__":
    if "--check" in sys.argv:
        check(200)
    else:
        show(CASES)
