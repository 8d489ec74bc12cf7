#!/usr/bin/env python3
"""Table of an interleave.py raw file: median (min-max) per side, new/old ratio."""
import json
import sys


def med(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def fmt(v):
    a = abs(v)
    if a >= 10000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.4g}"


def cell(xs):
    return f"{fmt(med(xs))} ({fmt(min(xs))}–{fmt(max(xs))})"


ROWS = [  # label, cfg, key, unit note, higher is better
    ("W2 MLP train 784-256-128-10, 1 thread (samples/s)", "W2 t1", "samples_per_s", True),
    ("W2 MLP train 784-256-128-10, 2 threads (samples/s)", "W2 t2", "samples_per_s", True),
    ("W2 process peak RSS, 1 thread (MiB, self-reported)", "W2 t1", "peak_rss_mib", False),
    ("W2 process peak RSS, 2 threads (MiB, self-reported)", "W2 t2", "peak_rss_mib", False),
    ("W3 XOR 2-8-1, 1 thread (µs/step)", "W3 t1", "us_per_step", False),
    ("W3 XOR, 100000 steps (supplementary; µs/step)", "W3 100k-steps t1", "us_per_step", False),
    ("W4 batch-1 latency, 1 thread (µs, median of passes)", "W4 t1", "b1_us_median", False),
    ("W4 batch-1 latency, 2 threads (µs, median of passes)", "W4 t2", "b1_us_median", False),
    ("W4 batch-1024, 1 thread (samples/s)", "W4 t1", "b1024_samples_per_s", True),
    ("W4 batch-1024, 2 threads (samples/s)", "W4 t2", "b1024_samples_per_s", True),
    ("MNIST `nabla train` whole process, 2 threads (s)", "MNIST e2e", "process_s", False),
    ("MNIST `nabla train` user+sys CPU (s)", "MNIST e2e", "cpu_s", False),
    ("MNIST `nabla train` peak RSS (MiB, /usr/bin/time -v)", "MNIST e2e", "peak_rss_mib", False),
]


def table(recs, quiet=None):
    """quiet: keep only the rounds where BOTH sides of a configuration ran with other
    processes using less than `quiet` CPUs on average."""
    print("| workload | old median (min–max) | new median (min–max) | new/old ratio "
          "| paired new/old per round: median (min–max) | rounds |")
    print("|---|---|---|---|---|---|")
    for label, cfg, key, hib in ROWS:
        pairs = {}
        for r in recs:
            if r["cfg"] == cfg and r.get(key) is not None:
                pairs.setdefault((r.get("file"), r["round"]), {})[r["side"]] = r
        pairs = [p for p in pairs.values() if len(p) == 2]
        if quiet is not None:
            pairs = [p for p in pairs if all(p[s].get("others_cpus", 9) < quiet for s in p)]
        if not pairs:
            print(f"| {label} | - | - | - | - | 0 |")
            continue
        o = [p["old"][key] for p in pairs]
        n = [p["new"][key] for p in pairs]
        pr = [p["new"][key] / p["old"][key] for p in pairs]
        ratio = med(n) / med(o)
        better = "better" if (ratio > 1) == hib else "worse"
        if abs(ratio - 1) < 0.01:
            better = "≈ same"
        print(f"| {label} | {cell(o)} | {cell(n)} | {ratio:.3f} ({better}) | "
              f"{med(pr):.3f} ({min(pr):.3f}–{max(pr):.3f}) | {len(pairs)} |")
    print()


def main(*paths):
    recs = []
    for path in paths:
        for ln in open(path):
            if ln.strip():
                r = json.loads(ln)
                r["file"] = path
                recs.append(r)
    for r in recs:
        if r["cfg"] == "MNIST e2e":
            r["cpu_s"] = r["user_s"] + r["sys_s"]
    rounds = len({(r["file"], r["round"]) for r in recs})
    print(f"{rounds} rounds, old/new interleaved (order flipped every round)\n")
    print("#### All rounds\n")
    table(recs)
    if all("others_cpus" in r for r in recs):
        print("#### Quieter rounds only (both runs of the pair: other processes < 0.5 CPU "
              "on average)\n")
        table(recs, quiet=0.5)
        oc = [r["others_cpus"] for r in recs]
        print(f"CPUs used by other processes during each of our processes (of {2}): median "
              f"{med(oc):.2f}, min {min(oc):.2f}, max {max(oc):.2f}\n")
    loads = [r["load1_before"] for r in recs]
    print(f"1-min load average before each process: median {med(loads):.2f}, "
          f"min {min(loads):.2f}, max {max(loads):.2f}\n")
    # result checks
    print("### Result figures (first round; 'varies' if not identical across rounds)\n")
    checks = [("W2 t1", ["first25_mean_loss", "first100_mean_loss", "last_epoch_mean_loss",
                         "final_full_loss", "final_acc"]),
              ("W2 t2", ["first25_mean_loss", "first100_mean_loss", "last_epoch_mean_loss",
                         "final_full_loss", "final_acc"]),
              ("W3 t1", ["sse_after_1000", "final_sse"]),
              ("W3 100k-steps t1", ["sse_after_1000", "final_sse"]),
              ("W4 t1", ["out1_sum"]), ("W4 t2", ["out1_sum"]),
              ("MNIST e2e", ["test_acc", "acc_per_epoch"])]
    print("| config | figure | old | new | equal |")
    print("|---|---|---|---|---|")
    for cfg, keys in checks:
        for k in keys:
            vals = {}
            for side in ("old", "new"):
                vs = [json.dumps(r.get(k)) for r in recs if r["cfg"] == cfg and r["side"] == side]
                if not vs:
                    continue
                vals[side] = vs[0] if len(set(vs)) == 1 else f"varies: {sorted(set(vs))}"
            if len(vals) == 2:
                print(f"| {cfg} | {k} | {vals['old']} | {vals['new']} | "
                      f"{'yes' if vals['old'] == vals['new'] else 'NO'} |")
    print()


if __name__ == "__main__":
    main(*sys.argv[1:])
