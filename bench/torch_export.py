#!/usr/bin/python3
"""torch_export.py: checks that nets exported by lush89's nn-export load
into equivalent PyTorch models, and that nn-import reads back what PyTorch
writes.

For each of four nets (the 1989 net, whose H2 has a connection table;
LeNet-5 as built in 1998, with trainable subsampling, the Table I
connections of C3 and an RBF output; a modern net with a full conv,
max pooling and a residual block; a net with batch norm after a conv and
after a linear layer), lush89 draws random parameters and batch norm
running averages, writes them with nn-export and runs the net on random
inputs in evaluation mode. The file is read here (by
safetensors.torch.load_file when the safetensors package is installed,
else by struct + json + torch.frombuffer with its checks) into a PyTorch
model written from the layers' definitions, in evaluation mode, by
load_state_dict(strict=True): its state_dict names must be the file's
(batch norm's num_batches_tracked, which lush89 does not keep, is filled
in by PyTorch). Then the parameters and running averages are changed here,
written as a safetensors file by the writer below, read by nn-import, and
the outputs compared again.

    /usr/bin/python3 bench/torch_export.py [--lush89 PATH] [--n N] [--seed S]

Prints the largest absolute difference of the outputs per net and
direction; exits 0 when each is below 1e-5 of the largest output (or of
1), 1 otherwise. A developer
tool: the project does not need Python.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_lecun1989 import lush_parser, read_idx, write_idx  # noqa: E402


# ---- safetensors, as the reference library reads and writes it ----------

def load_safetensors(path):
    """The tensors of a safetensors file, as safetensors.torch.load_file
    gives them; without that package, read here after the reference
    checks: F32 only, sizes that match the shapes, data covered exactly."""
    try:
        from safetensors.torch import load_file
        return load_file(path)
    except ImportError:
        pass
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    assert all(isinstance(v, str) for v in meta.values()), meta
    buf = bytearray(data[8 + n:])
    at, out = 0, {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, end = info["data_offsets"]
        assert info["dtype"] == "F32", (name, info)
        count = 1
        for d in info["shape"]:
            count *= d
        assert begin == at and end - begin == 4 * count, (name, info)
        at = end
        t = torch.frombuffer(buf, dtype=torch.float32, offset=begin, count=count) \
            if count else torch.zeros(0)
        out[name] = t.reshape(info["shape"]).clone()
    assert at == len(buf), "bytes after the last tensor"
    return out


def save_safetensors(tensors, path):
    """Writes tensors (a state_dict) as F32 safetensors, as
    safetensors.torch.save_file would but for the int64 num_batches_tracked
    of batch norm, left out: lush89 reads no I64 and keeps no such count."""
    tensors = {k: v for k, v in tensors.items() if not k.endswith(".num_batches_tracked")}
    header, at = {"__metadata__": {"format": "pt"}}, 0
    for name, t in tensors.items():
        size = 4 * t.numel()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [at, at + size]}
        at += size
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for t in tensors.values():
            f.write(t.detach().to(torch.float32).contiguous().numpy().tobytes())


# ---- The layers, from their definitions ----------------------------------

def stanh(x):
    return 1.7159 * torch.tanh(2.0 / 3.0 * x)


class UnitBiasConv(nn.Module):
    """A conv padded with a value, one bias per output unit (1989)."""

    def __init__(self, cin, cout, k, stride, pad, padval, out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, k, k))
        self.bias = nn.Parameter(torch.empty(cout, out, out))
        self.stride, self.pad, self.padval = stride, pad, padval

    def forward(self, x):
        x = F.pad(x, (self.pad,) * 4, value=self.padval)
        return F.conv2d(x, self.weight, stride=self.stride) + self.bias


class Subsample(nn.Module):
    """LeNet-5's S-layers: window mean times a coefficient plus a bias."""

    def __init__(self, planes, k):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(planes))
        self.bias = nn.Parameter(torch.empty(planes))
        self.k = k

    def forward(self, x):
        return F.avg_pool2d(x, self.k) * self.weight[:, None, None] + self.bias[:, None, None]


class RBF(nn.Module):
    """y_i = sum_j (x_j - c_ij)^2."""

    def __init__(self, n, m):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n, m))

    def forward(self, x):
        return ((x[:, None, :] - self.weight[None]) ** 2).sum(-1)


class Lecun1989(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = UnitBiasConv(1, 12, 5, 2, 2, -1.0, 8)
        self.c2 = UnitBiasConv(12, 12, 5, 2, 2, -1.0, 4)
        self.l3 = nn.Linear(192, 30)
        self.l4 = nn.Linear(30, 10)

    def forward(self, x):
        x = torch.tanh(self.c2(torch.tanh(self.c1(x))))
        return torch.tanh(self.l4(torch.tanh(self.l3(x.flatten(1)))))


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = Subsample(6, 2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.s4 = Subsample(16, 2)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.l6 = nn.Linear(120, 84)
        self.r7 = RBF(10, 84)

    def forward(self, x):
        x = stanh(self.s2(stanh(self.c1(x))))
        x = stanh(self.s4(stanh(self.c3(x))))
        x = stanh(self.c5(x)).flatten(1)
        return self.r7(stanh(self.l6(x)))


class Residual(nn.Module):
    def __init__(self, planes):
        super().__init__()
        self.c1 = nn.Conv2d(planes, planes, 3, padding=1)

    def forward(self, x):
        return x + self.c1(x)


class Modern(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, padding=1)
        self.r2 = Residual(8)
        self.l3 = nn.Linear(512, 10)

    def forward(self, x):
        x = self.r2(F.max_pool2d(F.relu(self.c1(x)), 2))
        return F.log_softmax(self.l3(x.flatten(1)), dim=1)


class BatchNormed(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 3, padding=1)
        self.b2 = nn.BatchNorm2d(6)
        self.l3 = nn.Linear(6 * 8 * 8, 16)
        self.b4 = nn.BatchNorm1d(16)
        self.l5 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b2(self.c1(x))), 2)
        return self.l5(F.relu(self.b4(self.l3(x.flatten(1)))))


def table_i():
    """LeNet-5's C3 connections (Table I of the 1998 paper), (in out)."""
    sets = [[(o + k) % 6 for k in range(3)] for o in range(6)]
    sets += [[(o + k) % 6 for k in range(4)] for o in range(6)]
    sets += [[0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5], list(range(6))]
    return "'(%s)" % " ".join("(%d %d)" % (i, o) for o, s in enumerate(sets) for i in s)


NETS = [
    ("lecun1989", (1, 16, 16), "(lecun1989-net t)", Lecun1989),
    ("lenet5", (1, 32, 32),
     "(nn-seq '(1 32 32) (nn-conv 6 5 1) (nn-stanh) (nn-subsample 2) (nn-stanh)"
     " (nn-conv 16 5 1 %s) (nn-stanh) (nn-subsample 2) (nn-stanh)"
     " (nn-conv 120 5 1) (nn-stanh) (nn-linear 84) (nn-stanh)"
     " (nn-rbf (float-matrix 10 84) t))" % table_i(), LeNet5),
    ("modern", (1, 16, 16),
     "(nn-seq '(1 16 16) (nn-conv 8 3 1 () 1) (nn-relu) (nn-maxpool 2)"
     " (nn-residual (nn-conv 8 3 1 () 1)) (nn-linear 10) (nn-logsoftmax))",
     Modern),
    ("batchnorm", (1, 16, 16),
     "(nn-seq '(1 16 16) (nn-conv 6 3 1 () 1) (nn-batchnorm) (nn-relu) (nn-maxpool 2)"
     " (nn-linear 16) (nn-batchnorm) (nn-relu) (nn-linear 10))", BatchNormed),
]

LISP = """
(libload "lecun1989")
(seed {seed})
(defvar net {net})
(nn-mode net 'eval)
(if {export}
    (progn (idx-rand (nn-params net) -0.5 0.5)
           (each ((b (nn-buffers net))) (idx-rand (cdr b) 0.5 1.5))
           (nn-export net "{d}/lush.safetensors"))
  (nn-import net "{d}/torch.safetensors"))
(defvar xs (load-matrix "{d}/x.idx"))
(defvar ys (apply float-matrix (cons (idx-dim xs 0) (nn-shape net))))
(for (e 0 (- (idx-dim xs 0) 1))
  (idx-copy (nn-fprop net (select xs 0 e)) (select ys 0 e)))
(save-matrix ys "{d}/y.idx")
"""


def lush(args, d, net, export):
    src = LISP.format(seed=args.seed, net=net, d=d, export="t" if export else "()")
    run = subprocess.run([args.lush89, "-e", src], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(run.stdout + run.stderr)
    return read_idx(os.path.join(d, "y.idx")).to(torch.float32)


def check(args, name, shape, net, model_class, gen, d):
    """The largest output differences lush89 -> PyTorch and back."""
    x = torch.rand((args.n,) + shape, generator=gen) * 2 - 1
    write_idx(os.path.join(d, "x.idx"), x)
    y_lush = lush(args, d, net, True)
    model = model_class().eval()
    state = load_safetensors(os.path.join(d, "lush.safetensors"))
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        out = (model(x) - y_lush).abs().max().item()
        # PyTorch's turn: other weights and running averages, written
        # here, read by nn-import
        for p in list(model.parameters()) + list(model.buffers()):
            if p.is_floating_point():
                p.mul_(0.5 + torch.rand(p.shape, generator=gen))
        # a table conv keeps its absent connections at 0
        params = dict(model.named_parameters())
        for k, v in state.items():
            if k in params:
                params[k].masked_fill_(v == 0, 0)
        save_safetensors(dict(model.state_dict()), os.path.join(d, "torch.safetensors"))
        back = (model(x) - lush(args, d, net, False)).abs().max().item()
    scale = max(1.0, y_lush.abs().max().item())
    print("%-10s %2d tensors, outputs up to %7.3g: lush89 -> torch %.2e, "
          "torch -> lush89 %.2e" % (name, len(state), scale, out, back))
    return max(out, back) / scale


def main():
    ap = lush_parser(__doc__, 1998)
    ap.add_argument("--n", type=int, default=32, help="examples per net")
    args = ap.parse_args()
    gen = torch.Generator().manual_seed(args.seed)
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        for name, shape, net, model_class in NETS:
            worst = max(worst, check(args, name, shape, net, model_class, gen, d))
    ok = worst < 1e-5
    print("agree" if ok else "DISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
