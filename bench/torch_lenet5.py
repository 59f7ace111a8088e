#!/usr/bin/python3
"""torch_lenet5.py: bench/lenet5.lsp in PyTorch, for `make bench` to time
beside lush89 (bench/run.sh). The same net (conv 6@5x5, tanh, avgpool 2,
conv 16@5x5, tanh, avgpool 2, conv 120@5x5, tanh, linear 84, tanh, linear
10; 61,706 parameters; weights uniform in +-1/sqrt(fan-in), biases 0), the
same data (Fashion-MNIST's gzip IDX files in $FASHION_MNIST_DIR, default
/usr/share/datasets/fashion-mnist; padded 28->32 with -1, scaled to
[-1, 1]), the cross-entropy, SGD at rate 0.01 one example at a time or
0.05 with momentum 0.9 for batches, a new shuffled order every pass.

    /usr/bin/python3 bench/torch_lenet5.py [--batch B] [--threads T]
                                           [--passes P] [--limit N]

Prints after each pass, as lush89 does,
    time: pass 1 train 2.345 s eval 0.456 s (25586 examples/s)
then the eval lines of both splits.
"""
import argparse
import gzip
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def load_idx_gz(path):
    """The tensor of a gzip IDX file of unsigned bytes (magic 00 00 08 NDIM,
    big-endian dims, data)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, kind, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or kind != 0x08:
        sys.exit(f"torch_lenet5: {path}: not an IDX file of unsigned bytes")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8)
    return data.reshape(dims)


def load_split(folder, prefix, limit):
    """(inputs [N 1 32 32] float in [-1, 1], padded with -1; labels [N] long)."""
    images = load_idx_gz(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"))
    labels = load_idx_gz(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"))
    if limit:
        images, labels = images[:limit], labels[:limit]
    x = images.float() * (2 / 255) - 1
    x = F.pad(x, (2, 2, 2, 2), value=-1).unsqueeze(1)
    return x, labels.long()


def make_net():
    """The benchmark's net, initialised as lush89's (nn-init net 1 0)."""
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),
        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                bound = 1 / (m.weight[0].numel() ** 0.5)
                m.weight.uniform_(-bound, bound)
                m.bias.zero_()
    return net


def evaluate(net, x, y):
    """(mean loss, error percent, misses) of net on x, y."""
    with torch.no_grad():
        loss, misses = 0.0, 0
        for i in range(0, len(x), 1000):
            out = net(x[i:i + 1000])
            loss += F.cross_entropy(out, y[i:i + 1000], reduction="sum").item()
            misses += (out.argmax(1) != y[i:i + 1000]).sum().item()
    return loss / len(x), 100 * misses / len(x), misses


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--passes", type=int, default=1)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--seed", type=int, default=1337)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    folder = os.environ.get("FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
    train_x, train_y = load_split(folder, "train", a.limit)
    test_x, test_y = load_split(folder, "t10k", a.limit)
    net = make_net()
    opt = (torch.optim.SGD(net.parameters(), lr=0.01) if a.batch == 1
           else torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9))
    n = len(train_x)
    for pass_ in range(1, a.passes + 1):
        start = time.perf_counter()
        order = torch.randperm(n)
        for i in range(0, n, a.batch):
            idx = order[i:i + a.batch]
            opt.zero_grad()
            F.cross_entropy(net(train_x[idx]), train_y[idx]).backward()
            opt.step()
        train = time.perf_counter() - start
        start = time.perf_counter()
        evals = [(s, evaluate(net, x, y))
                 for s, x, y in (("train", train_x, train_y), ("test", test_x, test_y))]
        ev = time.perf_counter() - start
        print(f"time: pass {pass_} train {train:.3f} s eval {ev:.3f} s "
              f"({n / train:.0f} examples/s)")
        for s, (loss, err, misses) in evals:
            print(f"eval: split {s:<5}. loss {loss:e}. error {err:.2f}%. misses: {misses}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
