#!/usr/bin/python3
"""torch_lecun1989.py: checks lush89's 1989 net against an independent
PyTorch implementation written from the layout described in lib/lecun1989.lsp.

Draws random parameters, inputs and targets, writes them as IDX files, has
lush89 (lecun1989-net, nn-load, nn-fprop, nn-mse, nn-bprop) compute the
outputs and the gradient of the summed MSE with respect to all 9,760
parameters, reads them back and compares them with PyTorch's, in float32
and float64. A developer tool: the project does not need Python.

    /usr/bin/python3 bench/torch_lecun1989.py [--lush89 PATH] [--n N] [--seed S]
    /usr/bin/python3 bench/torch_lecun1989.py --time [--steps K]

With --time, it only times PyTorch on one thread: microseconds per SGD
step (batch of 1: forward, MSE, backward, update) and per forward pass,
for comparison with bench/net.lsp. Exits 0 when lush89 agrees with float64 PyTorch to float precision (output
differences below 1e-5, gradient differences below 1e-4 of the largest
gradient), 1 otherwise.
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

NPARAMS = 9760


def write_idx(path, t):
    t = t.detach().to(torch.float32).contiguous()
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x0D, t.dim()))
        for d in t.shape:
            f.write(struct.pack(">i", d))
        f.write(struct.pack(">%df" % t.numel(), *t.flatten().tolist()))


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    zero, zero2, kind, ndim = struct.unpack(">BBBB", data[:4])
    if zero or zero2 or kind != 0x0D:
        raise ValueError("%s: not an IDX float file" % path)
    dims = struct.unpack(">%di" % ndim, data[4:4 + 4 * ndim])
    n = 1
    for d in dims:
        n *= d
    values = struct.unpack(">%df" % n, data[4 + 4 * ndim:4 + 4 * ndim + 4 * n])
    return torch.tensor(values, dtype=torch.float64).view(*dims)


def lecun1989(p, x):
    """The 1989 net on inputs x [N 1 16 16] with the flat parameters p."""
    w1 = p[0:300].view(12, 1, 5, 5)
    b1 = p[300:1068].view(12, 8, 8)
    w2 = p[1068:3468].view(12, 8, 5, 5)
    b2 = p[3468:3660].view(12, 4, 4)
    w3 = p[3660:9420].view(30, 192)
    b3 = p[9420:9450]
    w4 = p[9450:9750].view(10, 30)
    b4 = p[9750:9760]
    h1 = torch.tanh(F.conv2d(F.pad(x, (2, 2, 2, 2), value=-1.0), w1, stride=2) + b1)
    h1 = F.pad(h1, (2, 2, 2, 2), value=-1.0)
    # H2: maps 0-3 see H1 planes 0-7, maps 4-7 planes 4-11, maps 8-11
    # planes 0-3 and 8-11, each map's 8 kernels in ascending plane order
    a = F.conv2d(h1[:, 0:8], w2[0:4], stride=2)
    b = F.conv2d(h1[:, 4:12], w2[4:8], stride=2)
    c = F.conv2d(torch.cat((h1[:, 0:4], h1[:, 8:12]), dim=1), w2[8:12], stride=2)
    h2 = torch.tanh(torch.cat((a, b, c), dim=1) + b2)
    h3 = torch.tanh(h2.flatten(1) @ w3.T + b3)
    return torch.tanh(h3 @ w4.T + b4)


def random_params(gen):
    """Weights U(-2.4/sqrt(F), 2.4/sqrt(F)) as the paper draws them, biases
    U(-0.5, 0.5) so that they matter too."""
    parts = []
    for n, fan in ((300, 25), (768, 0), (2400, 200), (192, 0), (5760, 192),
                   (30, 0), (300, 30), (10, 0)):
        r = 2.4 / fan ** 0.5 if fan else 0.5
        parts.append((torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1) * r)
    return torch.cat(parts)


LISP = """
(libload "lecun1989")
(defvar net (lecun1989-net t))
(nn-load net "{d}/params.idx")
(defvar xs (load-matrix "{d}/x.idx"))
(defvar ts (load-matrix "{d}/t.idx"))
(defvar ys (float-matrix (idx-dim xs 0) 10))
(defvar dy (float-matrix 10))
(nn-clear-grads net)
(for (e 0 (- (idx-dim xs 0) 1))
  (let ((y (nn-fprop net (select xs 0 e))))
    (idx-copy y (select ys 0 e))
    (nn-mse y (select ts 0 e) dy)
    (nn-bprop net dy)))
(save-matrix ys "{d}/y.idx")
(save-matrix (nn-grads net) "{d}/g.idx")
"""


def time_torch(steps, gen):
    """Microseconds per SGD step and per forward pass, one thread."""
    import time
    torch.set_num_threads(1)
    p = random_params(gen).to(torch.float32).requires_grad_(True)
    xs = torch.rand(steps, 1, 1, 16, 16, generator=gen) * 2 - 1
    ts = torch.rand(steps, 1, 10, generator=gen) * 2 - 1
    opt = torch.optim.SGD([p], lr=0.01)
    best_step = best_fwd = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for x, t in zip(xs, ts):
            opt.zero_grad()
            loss = ((lecun1989(p, x) - t) ** 2).mean()
            loss.backward()
            opt.step()
        best_step = min(best_step, (time.perf_counter() - t0) / steps)
        with torch.no_grad():
            t0 = time.perf_counter()
            for x in xs:
                lecun1989(p, x)
            best_fwd = min(best_fwd, (time.perf_counter() - t0) / steps)
    print("pytorch %s, 1 thread: SGD step %.1f us, forward %.1f us"
          % (torch.__version__, best_step * 1e6, best_fwd * 1e6))
    return 0


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lush_parser(doc, seed):
    """The command line of a comparison with lush89: described by the first
    line of doc, with --lush89 (by default the one at the top of the tree)
    and --seed (default seed)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--lush89", default=os.path.join(ROOT, "lush89"))
    ap.add_argument("--seed", type=int, default=seed)
    return ap


def main():
    ap = lush_parser(__doc__, 1989)
    ap.add_argument("--n", type=int, default=16, help="examples")
    ap.add_argument("--time", action="store_true", help="time PyTorch only")
    ap.add_argument("--steps", type=int, default=500)
    args = ap.parse_args()

    gen = torch.Generator().manual_seed(args.seed)
    if args.time:
        return time_torch(args.steps, gen)
    p64 = random_params(gen)
    x64 = torch.rand(args.n, 1, 16, 16, generator=gen, dtype=torch.float64) * 2 - 1
    t64 = torch.rand(args.n, 10, generator=gen, dtype=torch.float64) * 2 - 1
    # what lush89 reads is float32: round once, then compute in both precisions
    p64, x64, t64 = (v.to(torch.float32).to(torch.float64) for v in (p64, x64, t64))

    results = {}
    for dtype in (torch.float64, torch.float32):
        p = p64.to(dtype).clone().requires_grad_(True)
        y = lecun1989(p, x64.to(dtype))
        loss = ((y - t64.to(dtype)) ** 2).mean(dim=1).sum()
        loss.backward()
        results[dtype] = (y.detach().to(torch.float64), p.grad.to(torch.float64))

    with tempfile.TemporaryDirectory() as d:
        write_idx(os.path.join(d, "params.idx"), p64)
        write_idx(os.path.join(d, "x.idx"), x64)
        write_idx(os.path.join(d, "t.idx"), t64)
        run = subprocess.run([args.lush89, "-e", LISP.format(d=d)], cwd=ROOT,
                             capture_output=True, text=True)
        if run.returncode != 0:
            sys.stderr.write(run.stdout + run.stderr)
            return 1
        y_lush = read_idx(os.path.join(d, "y.idx"))
        g_lush = read_idx(os.path.join(d, "g.idx"))

    y_ref, g_ref = results[torch.float64]
    y_32, g_32 = results[torch.float32]
    scale = g_ref.abs().max().item()
    dy_lush = (y_lush - y_ref).abs().max().item()
    dy_32 = (y_32 - y_ref).abs().max().item()
    dg_lush = (g_lush - g_ref).abs().max().item() / scale
    dg_32 = (g_32 - g_ref).abs().max().item() / scale
    print("%d examples, %d parameters, largest gradient %.3g" % (args.n, g_ref.numel(), scale))
    print("outputs:   lush89 vs torch float64 %.2e   torch float32 vs float64 %.2e" % (dy_lush, dy_32))
    print("gradients: lush89 vs torch float64 %.2e   torch float32 vs float64 %.2e"
          "   (max difference / largest gradient)" % (dg_lush, dg_32))
    ok = g_lush.numel() == NPARAMS and dy_lush < 1e-5 and dg_lush < 1e-4
    print("agree" if ok else "DISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
