#!/usr/bin/env python3
"""PyTorch side of bench/compare's W2 scaling study: the W2 MLP training loop (ReLU MLP, softmax
cross-entropy, SGD lr 0.05 momentum 0.9, batches in index order) with configurable hidden
widths, batch size and number of samples. Data and initial weights come from the shared
splitmix64 streams of ../shared/bench/common.py (seed 1 inputs, seed 2 teacher, seeds 100+2l /
101+2l for layer l), so nabla-bench w2 --hidden ... --batch ... --samples ... trains the same
network on the same data. One warm-up epoch, then --epochs timed epochs; prints one JSON line.

Run with the peers' virtualenv interpreter; --shared points at the shared bench folder.
"""
import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    sys.path.insert(0, a.shared)
    from common import set_thread_env

    set_thread_env(a.threads)
    import numpy as np
    import torch
    from common import D_IN, splitmix_uniform

    if a.threads:
        torch.set_num_threads(a.threads)
    hidden = [int(h) for h in a.hidden.split(",")]
    dims = [D_IN] + hidden + [10]
    n = a.samples
    x = splitmix_uniform(1, n * D_IN).astype(np.float32).reshape(n, D_IN)
    teacher = splitmix_uniform(2, D_IN * 10, -1.0, 1.0).reshape(D_IN, 10)
    y = np.argmax((x.astype(np.float64) - 0.5) @ teacher, axis=1).astype(np.int64)
    layers = []
    for l in range(len(dims) - 1):
        lin = torch.nn.Linear(dims[l], dims[l + 1])
        bound = 1.0 / np.sqrt(dims[l])
        w = splitmix_uniform(100 + 2 * l, dims[l] * dims[l + 1], -bound, bound).astype(np.float32)
        b = splitmix_uniform(101 + 2 * l, dims[l + 1], -bound, bound).astype(np.float32)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.reshape(dims[l], dims[l + 1]).T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if l + 2 < len(dims):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    times, first, last = [], [], 0.0
    for ep in range(1 + a.epochs):
        t0 = time.perf_counter()
        total = 0.0
        for s in range(0, n, a.batch):
            e = min(n, s + a.batch)
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(tx[s:e]), ty[s:e])
            loss.backward()
            opt.step()
            li = loss.item()
            total += li * (e - s)
            if ep == 0 and len(first) < 25:
                first.append(li)
        dt = time.perf_counter() - t0
        last = total / n
        if ep:
            times.append(dt)
    times_sorted = sorted(times)
    med = times_sorted[len(times) // 2] if len(times) % 2 else 0.5 * (
        times_sorted[len(times) // 2 - 1] + times_sorted[len(times) // 2])
    print(json.dumps({
        "workload": "W2", "peer": "torch", "threads": a.threads, "hidden": hidden,
        "batch": a.batch, "samples": n, "epochs": a.epochs,
        "samples_per_s": round(n / med, 1), "epoch_s": [round(t, 4) for t in times],
        "first25_mean_loss": round(sum(first) / len(first), 7) if len(first) == 25 else None,
        "last_epoch_mean_loss": round(last, 6), "version": torch.__version__,
        "pid": os.getpid(),
    }), flush=True)


if __name__ == "__main__":
    sys.exit(main())
