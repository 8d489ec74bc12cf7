#!/usr/bin/env python3
"""Interleaved OLD vs NEW nabla benchmark (no peers).

Runs, in every round, each configuration once with the OLD binary and once with the NEW one;
the order old/new flips every round (ABBA) so a drift in machine load does not favour one
side. Commands are exactly those of bench/compare (nabla-bench, cwd = shared/bench, t1 rows
under `taskset -c 0`, `--threads N`) and of bench/e2e T1 "nabla" row (`/usr/bin/time -v`,
`nabla train --data mnist:... --threads 2 --json --quiet ...`).
Raw records (JSON lines) to --out.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# The shared folder beside the checkout (bench/ab/ → ../../../shared).
SHARED_ROOT = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
)
SHARED = os.path.join(SHARED_ROOT, "bench")
# Folders holding a `nabla` and a `nabla-bench` binary each; set from --old and --new.
BINS = {}


def bench_cfgs(extra):
    c = []
    for t in (1, 2):
        c.append(("W2", t, ["w2", "--threads", str(t)]))
    c.append(("W3", 1, ["w3", "--threads", "1"]))
    for t in (1, 2):
        c.append(("W4", t, ["w4", "--threads", str(t)]))
    if extra:  # supplementary, longer W3 (same net and data; 10x the steps)
        c.append(("W3x", 1, ["w3", "--threads", "1", "--steps", "100000"]))
    return c


def mnist_argv(nabla, model):
    return [nabla, "train", "--data", "mnist:" + os.path.join(SHARED_ROOT, "data", "mnist"), "--hidden", "256,128",
            "--batch-size", "128", "--epochs", "10", "--track-test", "--optimizer", "adam",
            "--lr", "0.001", "--val-split", "0", "--seed", "0", "--threads", "2", "--json",
            "--quiet", "--out", model]


def cpu_busy():
    """Busy jiffies of the whole machine (all CPUs) from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)  # minus idle, iowait


HZ = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count()


def others(b0, wall, usage):
    """Mean number of CPUs kept busy by OTHER processes while ours ran."""
    b1 = cpu_busy()
    mine = usage.ru_utime + usage.ru_stime
    return max(0.0, ((b1[0] - b0[0]) / HZ - mine) / wall)


def popen_wait(argv, cwd):
    with tempfile.TemporaryFile("w+") as of, tempfile.TemporaryFile("w+") as ef:
        b0 = cpu_busy()
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, cwd=cwd, stdout=of, stderr=ef, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        oth = others(b0, wall, usage)
        of.seek(0)
        ef.seek(0)
        return os.waitstatus_to_exitcode(status), of.read(), ef.read(), wall, oth, usage


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_bench(side, w, t, args):
    argv = [os.path.join(BINS[side], "nabla-bench"), *args]
    if t == 1:
        argv = ["taskset", "-c", "0"] + argv
    l0 = load1()
    code, out, err, wall, oth, usage = popen_wait(argv, SHARED)
    if code != 0:
        raise SystemExit(f"FAILED {side} {w} t{t}: {err[-2000:]}")
    rec = json.loads(next(ln for ln in out.splitlines() if ln.strip().startswith("{")))
    rec.update({"side": side, "cfg": f"{w} t{t}" if w != "W3x" else "W3 100k-steps t1", "argv": argv, "process_s": wall,
                "load1_before": l0, "others_cpus": oth,
                "cpu_s": usage.ru_utime + usage.ru_stime})
    return rec


def run_mnist(side, scratch):
    model = os.path.join(scratch, f"model-{side}.safetensors")
    argv = mnist_argv(os.path.join(BINS[side], "nabla"), model)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        l0 = load1()
        code, out, err, wall, oth, _ = popen_wait(["/usr/bin/time", "-v", "-o", tf.name] + argv,
                                                  scratch)
        tv = tf.read()
    if code != 0:
        raise SystemExit(f"FAILED {side} mnist: {err[-2000:]}")
    g = lambda pat: re.search(pat, tv).group(1)  # noqa: E731
    s = json.loads(out[out.index("{"):])
    per = s.get("test_per_epoch") or []
    return {"side": side, "cfg": "MNIST e2e", "argv": argv, "process_s": wall,
            "time_v_wall": g(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)"),
            "peak_rss_mib": int(g(r"Maximum resident set size \(kbytes\): (\d+)")) / 1024,
            "user_s": float(g(r"User time \(seconds\): ([\d.]+)")),
            "sys_s": float(g(r"System time \(seconds\): ([\d.]+)")),
            "load1_before": l0, "others_cpus": oth, "test_acc": s["test"]["accuracy"],
            "internal_s": s.get("seconds"),
            "acc_per_epoch": [e.get("test_accuracy") for e in per],
            "json": s}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True, help="folder with the old nabla and nabla-bench")
    ap.add_argument("--new", required=True, help="folder with the new nabla and nabla-bench")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-mnist", action="store_true")
    ap.add_argument("--extra", action="store_true", help="also a 100000-step W3")
    a = ap.parse_args()
    BINS["old"], BINS["new"] = os.path.abspath(a.old), os.path.abspath(a.new)
    assert shutil.which("taskset")
    with tempfile.TemporaryDirectory(prefix="nabla-perf-") as scratch, open(a.out, "w") as f:
        for r in range(a.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            jobs = [("bench", c) for c in bench_cfgs(a.extra)]
            if not a.no_mnist:
                jobs.append(("mnist", None))
            for kind, c in jobs:
                for side in order:
                    rec = run_bench(side, *c) if kind == "bench" else run_mnist(side, scratch)
                    rec["round"] = r
                    f.write(json.dumps(rec) + "\n")
                    f.flush()
                    key = {"W2": "samples_per_s", "W3": "us_per_step", "W4": "b1_us_median"}
                    v = rec.get(key.get(rec["cfg"][:2], ""), rec.get("process_s"))
                    print(f"[round {r + 1}/{a.rounds}] {rec['cfg']} {side}: {v} "
                          f"(load {rec['load1_before']:.2f}, others {rec['others_cpus']:.2f} CPUs)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
