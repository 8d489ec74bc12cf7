"""Recompute a nabla model's forward pass independently and compare with `nabla predict --proba`.

Usage: check_model.py MODEL DATA.csv PREDICTIONS.csv

Reads the safetensors file with numpy only (no torch): the tensors follow torch.nn.Sequential's
state dict (`<index>.weight` of shape [out, in], `<index>.bias`), and nabla's metadata (JSON in
the header under "nabla") gives the activation, the standardisation and the class labels. The
data CSV has a header and numeric feature columns; a column named like the model's target is
dropped. Exits non-zero when a probability differs by more than 1e-5 or a label differs.
"""

import csv
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def activation(name, z):
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "identity":
        return z
    raise SystemExit(f"unknown activation {name}")


def main():
    model_path, data_path, pred_path = sys.argv[1:4]
    tensors = load_file(model_path)
    with safe_open(model_path, framework="numpy") as f:
        meta = json.loads(f.metadata()["nabla"])
    arch = meta["architecture"]
    act = arch["activation"]["kind"]
    with open(data_path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    keep = [i for i, name in enumerate(header) if name != meta.get("target")]
    x = np.array([[float(r[i]) for i in keep] for r in body], dtype=np.float64)
    assert x.shape[1] == arch["inputs"], (x.shape, arch["inputs"])
    std = meta.get("standardization")
    if std:
        x = (x - np.array(std["mean"], dtype=np.float64)) / np.array(std["std"], dtype=np.float64)
    indices = sorted({int(k.split(".")[0]) for k in tensors})
    h = x
    for n, i in enumerate(indices):
        w = tensors[f"{i}.weight"].astype(np.float64)
        b = tensors[f"{i}.bias"].astype(np.float64)
        h = h @ w.T + b
        if n + 1 < len(indices):
            h = activation(act, h)
    if h.shape[1] == 1:
        p1 = 1.0 / (1.0 + np.exp(-h[:, 0]))
        proba = np.stack([1.0 - p1, p1], axis=1)
    else:
        e = np.exp(h - h.max(axis=1, keepdims=True))
        proba = e / e.sum(axis=1, keepdims=True)
    labels = meta["class_labels"]
    with open(pred_path, newline="") as f:
        pred = list(csv.reader(f))
    want_header = ["prediction"] + [f"p_{l}" for l in labels]
    assert pred[0] == want_header, (pred[0], want_header)
    got = np.array([[float(v) for v in r[1:]] for r in pred[1:]], dtype=np.float64)
    assert got.shape == proba.shape, (got.shape, proba.shape)
    worst = float(np.abs(got - proba).max())
    if worst > 1e-5:
        raise SystemExit(f"probabilities differ by {worst}")
    want_labels = [labels[k] for k in proba.argmax(axis=1)]
    got_labels = [r[0] for r in pred[1:]]
    mismatched = [i for i, (a, b) in enumerate(zip(want_labels, got_labels))
                  if a != b and abs(proba[i].max() - np.sort(proba[i])[-2]) > 1e-6]
    if mismatched:
        raise SystemExit(f"labels differ at rows {mismatched[:5]}")
    print(f"ok: {len(body)} rows, largest probability difference {worst:.2e}")


if __name__ == "__main__":
    main()
