#!/usr/bin/python3
"""torch_layers.py: checks lush89's pooling, batch-norm, sigmoid, leaky-relu
and RBF modules (and the 'rbf cost) against PyTorch on random inputs.

For each case it draws an input, an output gradient and parameters, writes
them as IDX files, has lush89 run the module alone in a net (nn-fprop,
nn-bprop), reads back the output, the
input gradient, the parameter gradients (and batch norm's running
averages) and compares them with PyTorch in float64:
MaxPool2d, AvgPool2d, BatchNorm2d (training on one example [1 C H W], and
evaluation), BatchNorm1d in evaluation (what lush89 does for one vector),
Sigmoid, LeakyReLU, the squared Euclidean distances of LeNet-5's RBF
layer, and the value of its cost. A developer tool: the project does not
need Python.

    /usr/bin/python3 bench/torch_layers.py [--lush89 PATH] [--seed S]

Prints the largest difference of each quantity (relative to its largest
magnitude) per case; exits 0 when all are below 1e-5, 1 otherwise.
"""
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_lecun1989 import ROOT, lush_parser, read_idx, write_idx  # noqa: E402


def batchnorm(cls, train):
    """A reference for nn-batchnorm: PyTorch's cls (BatchNorm1d or 2d) set
    to the parameters p (weights then biases) and running stats, in training
    mode when train."""
    def run(x, p, stats):
        c = x.shape[0]
        m = cls(c, momentum=0.1, eps=1e-5).double()
        with torch.no_grad():
            m.weight.copy_(p[:c])
            m.bias.copy_(p[c:])
            m.running_mean.copy_(stats[0])
            m.running_var.copy_(stats[1])
        m.train(train)
        y = m(x.unsqueeze(0)).squeeze(0)
        return y, [m.weight, m.bias], [m.running_mean, m.running_var]
    return run


def plain(f):
    return lambda x, p, stats: (f(x), [], [])


def rbf(x, p, stats):
    c = p.view(10, -1).clone().requires_grad_(True)
    y = ((x.flatten().unsqueeze(0) - c) ** 2).sum(dim=1)
    return y, [c], []


def pool_case(kind, f, k, stride, shape):
    """The case of nn-KINDpool of size k (and stride, when not None) against
    PyTorch's f."""
    more = (stride,) if stride else ()
    name = "%spool %d" % (kind, k) + (" stride %d" % stride if stride else "")
    lisp = "(nn-%spool %s)" % (kind, " ".join(str(v) for v in (k,) + more))
    return (name, lisp, shape, 0, False, plain(lambda x: f(x, k, *more)))


# name, module (Lisp), input shape, parameters (0: none), has running
# averages, PyTorch
CASES = [pool_case(kind, f, *row)
         for kind, f in (("max", F.max_pool2d), ("avg", F.avg_pool2d))
         for row in ((2, None, (4, 9, 11)), (3, 1, (3, 8, 7)),
                     (3, 2, (2, 11, 9)))] + [
    ("batchnorm train [C H W]", "(nn-batchnorm)", (6, 5, 7), 12, True,
     batchnorm(torch.nn.BatchNorm2d, True)),
    ("batchnorm eval [C H W]", "(nn-batchnorm)", (6, 5, 7), 12, True,
     batchnorm(torch.nn.BatchNorm2d, False)),
    ("batchnorm vector", "(nn-batchnorm)", (20,), 40, True,
     batchnorm(torch.nn.BatchNorm1d, False)),
    ("sigmoid", "(nn-sigmoid)", (3, 50), 0, False, plain(torch.sigmoid)),
    ("leaky-relu", "(nn-leaky-relu)", (3, 50), 0, False,
     plain(lambda x: F.leaky_relu(x, 0.01))),
    ("leaky-relu 0.2", "(nn-leaky-relu 0.2)", (3, 50), 0, False,
     plain(lambda x: F.leaky_relu(x, 0.2))),
    ("rbf trainable", "(nn-rbf (float-matrix 10 84) t)", (84,), 840, False, rbf),
]

LISP = """
(let ((net (nn-seq '{shape} {module})) (d "{d}"))
  (when {np} (idx-copy (load-matrix (concat d "/p.idx")) (nn-params net)))
  (when {stats}
    (let ((s (nn-batchnorm-stats (car (nn-modules net)))))
      (idx-copy (load-matrix (concat d "/m.idx")) (car s))
      (idx-copy (load-matrix (concat d "/v.idx")) (cadr s))))
  (nn-mode net '{mode})
  (nn-clear-grads net)
  (save-matrix (nn-fprop net (load-matrix (concat d "/x.idx"))) (concat d "/y.idx"))
  (save-matrix (nn-bprop net (load-matrix (concat d "/dy.idx"))) (concat d "/dx.idx"))
  (when {np} (save-matrix (copy-matrix (nn-grads net)) (concat d "/g.idx")))
  (when {stats}
    (let ((s (nn-batchnorm-stats (car (nn-modules net)))))
      (save-matrix (car s) (concat d "/m2.idx"))
      (save-matrix (cadr s) (concat d "/v2.idx")))))
"""

def rel(a, b):
    scale = max(b.abs().max().item(), 1e-12)
    return (a - b).abs().max().item() / scale


def run_case(lush89, root, case, gen):
    """Returns the list of (quantity, relative difference) of one case."""
    name, module, shape, np_, has_stats, fn = case
    f32 = lambda t: t.to(torch.float32).to(torch.float64)  # what lush89 reads
    x = f32(torch.rand(*shape, generator=gen, dtype=torch.float64) * 4 - 2)
    p = f32(torch.rand(max(np_, 1), generator=gen, dtype=torch.float64) * 2 - 0.5)
    half = max(np_ // 2, 1)
    stats = [f32(torch.rand(half, generator=gen, dtype=torch.float64) - 0.5),
             f32(torch.rand(half, generator=gen, dtype=torch.float64) + 0.5)]
    x_ref = x.clone().requires_grad_(True)
    y, params, run_stats = fn(x_ref, p, [s.clone() for s in stats])
    dy = f32(torch.rand(*y.shape, generator=gen, dtype=torch.float64) * 2 - 1)
    y.backward(dy)
    mode = "eval" if "eval" in name else "train"
    with tempfile.TemporaryDirectory() as d:
        write_idx(os.path.join(d, "x.idx"), x)
        write_idx(os.path.join(d, "dy.idx"), dy)
        write_idx(os.path.join(d, "p.idx"), p)
        write_idx(os.path.join(d, "m.idx"), stats[0])
        write_idx(os.path.join(d, "v.idx"), stats[1])
        lisp = LISP.format(shape="(%s)" % " ".join(map(str, shape)), module=module,
                           d=d, np="t" if np_ else "()",
                           stats="t" if has_stats else "()", mode=mode)
        r = subprocess.run([lush89, "-e", lisp], cwd=root, capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout + r.stderr)
            return [("run", float("inf"))]
        out = [("output", rel(read_idx(os.path.join(d, "y.idx")), y.detach())),
               ("input grad", rel(read_idx(os.path.join(d, "dx.idx")), x_ref.grad))]
        if np_:
            g = torch.cat([q.grad.flatten() for q in params])
            out.append(("param grads", rel(read_idx(os.path.join(d, "g.idx")), g)))
        if has_stats:
            out.append(("running mean", rel(read_idx(os.path.join(d, "m2.idx")), run_stats[0])))
            out.append(("running var", rel(read_idx(os.path.join(d, "v2.idx")), run_stats[1])))
    return out


def rbf_cost(lush89, root, gen, n=10, j=1.0):
    """The 'rbf cost of penalties y (one example, through nn-evaluate on an
    identity net) against y[cls] + log(exp(-j) + sum exp(-y)) computed by
    PyTorch; its derivatives are checked in the tests."""
    y = (torch.rand(n, generator=gen, dtype=torch.float64) * 20).to(torch.float32)
    y = y.to(torch.float64)
    cls = 3
    loss = y[cls] + torch.logsumexp(torch.cat([torch.tensor([-j], dtype=torch.float64), -y]), 0)
    with tempfile.TemporaryDirectory() as d:
        write_idx(os.path.join(d, "y.idx"), y)
        lisp = """
(let* ((y (load-matrix "{d}/y.idx"))
       (net (nn-seq '({n}) (nn-linear {n}))))
  (idx-clear (nn-params net))
  (for (i 0 {last}) ((nn-params net) (+ (* i {n}) i) 1))
  (let ((l (car (nn-evaluate net (idx-reshape y '(1 {n})) [{cls}] 'rbf)))
        (out (float-matrix 1)))
    (out 0 l)
    (save-matrix out "{d}/l.idx")))
""".format(d=d, n=n, last=n - 1, cls=cls)
        r = subprocess.run([lush89, "-e", lisp], cwd=root, capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout + r.stderr)
            return float("inf")
        return abs(read_idx(os.path.join(d, "l.idx"))[0].item() - loss.item()) / abs(loss.item())


def main():
    ap = lush_parser(__doc__, 1998)
    args = ap.parse_args()
    gen = torch.Generator().manual_seed(args.seed)
    worst = 0.0
    print("largest |lush89 - torch float64| / largest |torch|")
    for case in CASES:
        diffs = run_case(args.lush89, ROOT, case, gen)
        worst = max([worst] + [v for _, v in diffs])
        print("%-26s %s" % (case[0], "  ".join("%s %.1e" % q for q in diffs)))
    c = rbf_cost(args.lush89, ROOT, gen)
    worst = max(worst, c)
    print("%-26s loss %.1e" % ("rbf cost (LeNet-5 eq. 9)", c))
    ok = worst < 1e-5
    print("agree" if ok else "DISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
