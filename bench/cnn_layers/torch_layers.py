#!/usr/bin/env python3
"""PyTorch's forward and backward time for each layer of the MNIST CNN of bench/e2e.

The network (../shared/bench/e2e/mnist_cnn.py, PyTorch's MNIST example without dropout):
    0 Conv2d(1, 32, 3)  1 ReLU  2 Conv2d(32, 64, 3)  3 ReLU  4 MaxPool2d(2)  5 Flatten
    6 Linear(9216, 128)  7 ReLU  8 Linear(128, 10)
in float32, PyTorch's default initialisation, batch 128 of [1, 28, 28] images, training mode.

Each layer is timed on its own, on the activation it gets in the network (the previous layers'
output for a batch of random pixels in [0, 1]) and a random upstream gradient of its output's
shape:
  forward_ms   y = layer(a) with autograd recording (as in a training step);
  backward_ms  y.backward(dy) alone (the forward is redone, untimed, before every backward):
               ∂E/∂input for every layer but the first (whose input needs no gradient, as in
               training) plus ∂E/∂weight and ∂E/∂bias for the layers that have them.
Medians over --reps timed repetitions after --warmup untimed ones. A last line, "network",
times the whole forward pass plus the cross-entropy loss, and the whole backward pass.

Threads: --threads (default 2) sets OMP_NUM_THREADS / MKL_NUM_THREADS before torch is imported,
and torch.set_num_threads.

    python torch_layers.py [--threads 2] [--batch 128] [--reps 30] [--warmup 5] [--seed 0]

Prints one JSON line per layer on stdout: {"layer", "index", "forward_ms", "backward_ms", ...};
the setup (torch version, CPU, threads) goes to stderr, and at the end the share of the
machine's CPU that other processes used during the run ("others_cpu_pct": quote only quiet
runs).
"""

import argparse
import json
import os
import statistics
import sys
import time


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def cpu_busy_s():
    """Seconds of CPU time the whole machine spent busy so far (all processes, all cores)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal ...
    busy = sum(fields[:3]) + sum(fields[5:8])
    return busy / os.sysconf("SC_CLK_TCK")


def median_ms(fn, reps, warmup, before=None):
    """Median wall time of fn() in milliseconds; before() runs untimed ahead of every call."""
    times = []
    for k in range(warmup + reps):
        state = before() if before else None
        t0 = time.perf_counter()
        fn(state)
        t1 = time.perf_counter()
        if k >= warmup:
            times.append((t1 - t0) * 1e3)
    return statistics.median(times)


def main():
    a = parse()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    import torch
    import torch.nn as nn

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10),
    ).train()
    x = torch.rand(a.batch, 1, 28, 28)
    labels = torch.randint(0, 10, (a.batch,))
    print(json.dumps({
        "setup": {
            "torch": torch.__version__, "threads": torch.get_num_threads(), "batch": a.batch,
            "reps": a.reps, "warmup": a.warmup, "cpu": cpu_name(), "dtype": "float32",
        }
    }), file=sys.stderr)

    t_start, busy_start, own_start = time.perf_counter(), cpu_busy_s(), sum(os.times()[:2])

    # Each layer's input in the network, computed once.
    inputs = []
    with torch.no_grad():
        h = x
        for layer in model:
            inputs.append(h)
            h = layer(h)

    for i, layer in enumerate(model):
        needs_dx = i > 0
        a_in = inputs[i].clone().requires_grad_(needs_dx)
        with torch.no_grad():
            dy = torch.randn_like(layer(a_in))

        def forward(_):
            layer(a_in)

        def fresh():
            for p in layer.parameters():
                p.grad = None
            a_in.grad = None
            return layer(a_in)

        def backward(y):
            y.backward(dy)

        fwd = median_ms(forward, a.reps, a.warmup)
        bwd = median_ms(backward, a.reps, a.warmup, before=fresh)
        print(json.dumps({
            "layer": f"{i} {layer}", "index": i, "forward_ms": round(fwd, 4),
            "backward_ms": round(bwd, 4), "input": list(a_in.shape),
            "output": list(dy.shape),
        }), flush=True)

    lossf = nn.CrossEntropyLoss()

    def net_forward(_):
        lossf(model(x), labels)

    def net_fresh():
        model.zero_grad(set_to_none=True)
        return lossf(model(x), labels)

    def net_backward(loss):
        loss.backward()

    fwd = median_ms(net_forward, a.reps, a.warmup)
    bwd = median_ms(net_backward, a.reps, a.warmup, before=net_fresh)
    print(json.dumps({
        "layer": "network (+ cross-entropy)", "index": None, "forward_ms": round(fwd, 4),
        "backward_ms": round(bwd, 4), "input": list(x.shape), "output": [],
    }), flush=True)

    # How busy the rest of the machine was meanwhile (share of all cores, in %).
    wall = time.perf_counter() - t_start
    busy_end, own = cpu_busy_s(), sum(os.times()[:2]) - own_start
    if busy_start is not None and busy_end is not None:
        others = max(0.0, (busy_end - busy_start) - own)
        share = 100.0 * others / (wall * (os.cpu_count() or 1))
        print(json.dumps({"others_cpu_pct": round(share, 1), "wall_s": round(wall, 2)}),
              file=sys.stderr)


if __name__ == "__main__":
    main()
