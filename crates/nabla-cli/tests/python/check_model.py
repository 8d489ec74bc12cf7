"""Recompute a nabla classifier's forward pass independently; compare with `nabla predict --proba`.

Usage: check_model.py [--require-torch] MODEL DATA.csv[.gz] PREDICTIONS.csv

The safetensors file is read with the `safetensors` package into numpy arrays. Its tensors are
named like a torch.nn.Sequential state dict (`<index>.weight`, `<index>.bias`, a batch norm's
`<index>.running_mean` ...), and nabla's metadata (JSON in the header under "nabla") lists the
layers (format 2: `input_shape` and `layers`; format 1: a feedforward `architecture`), the
standardisation and the class labels. The data CSV has a header and numeric feature columns; a
column named like the model's target is dropped. Each row is standardised, reshaped to
[N, *input_shape] and passed through the layers in numpy (float64); the outputs become class
probabilities (softmax, or a sigmoid for a single logit) and are compared with the predictions.

When `torch` (and `safetensors.torch`) can be imported, the model is also built as the
equivalent torch.nn.Sequential, every module at its layer's index, loaded with
`load_state_dict(..., strict=True)` from the same file and run in evaluation mode: its
probabilities must match the predictions too. Without torch that part is skipped with a note
(or, with --require-torch, the check fails).

Exits non-zero when a probability differs by more than 1e-5 or a label differs.
"""

import argparse
import csv
import gzip
import json

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

TOLERANCE = 1e-5


# ------------------------------------------------------------------------ layers in numpy
#
# Each takes the layer's description, its tensors (by name, without the index) and the batch,
# and returns the layer's output. Images are [N, C, H, W].


def activation(spec, _params, z):
    act = spec["activation"]
    kind = act["kind"]
    if kind == "relu":
        return np.maximum(z, 0.0)
    if kind == "leaky_relu":
        return np.where(z > 0, z, act["alpha"] * z)
    if kind == "tanh":
        return np.tanh(z)
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if kind == "identity":
        return z
    raise SystemExit(f"unknown activation {kind}")


def linear(spec, params, x):
    w, b = params["weight"], params["bias"]
    expect_shape(w, (spec["out_features"], spec["in_features"]), "linear weight")
    return x @ w.T + b


def dropout(_spec, _params, x):
    return x  # evaluation mode


def windows(x, kernel, stride):
    """Every kernel offset (ky, kx) with the strided view of `x` that it multiplies: element
    [n, c, i, j] of the view is x[n, c, i·sh + ky, j·sw + kx]. The output size is floored."""
    (kh, kw), (sh, sw) = kernel, stride
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    if oh < 1 or ow < 1:
        raise SystemExit(f"kernel {kernel} does not fit an input of {x.shape[1:]}")
    for ky in range(kh):
        for kx in range(kw):
            rows = slice(ky, ky + sh * (oh - 1) + 1, sh)
            cols = slice(kx, kx + sw * (ow - 1) + 1, sw)
            yield ky, kx, x[:, :, rows, cols]


def conv2d(spec, params, x):
    """Cross-correlation with zero padding: y[n, o, i, j] = b[o] +
    Σ_c Σ_ky Σ_kx w[o, c, ky, kx] · x_padded[n, c, i·sh + ky, j·sw + kx]."""
    w, b = params["weight"], params["bias"]
    kh, kw = spec["kernel"]
    expect_shape(w, (spec["out_channels"], spec["in_channels"], kh, kw), "conv2d weight")
    expect_shape(b, (spec["out_channels"],), "conv2d bias")
    ph, pw = spec["padding"]
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    y = 0.0
    for ky, kx, view in windows(padded, spec["kernel"], spec["stride"]):
        y = y + np.einsum("nchw,oc->nohw", view, w[:, :, ky, kx])
    return y + b[None, :, None, None]


def max_pool2d(spec, _params, x):
    views = [view for _, _, view in windows(x, spec["kernel"], spec["stride"])]
    return np.maximum.reduce(views)


def avg_pool2d(spec, _params, x):
    views = [view for _, _, view in windows(x, spec["kernel"], spec["stride"])]
    return np.add.reduce(views) / len(views)


def flatten(_spec, _params, x):
    return x.reshape(x.shape[0], -1)  # C order, as torch.flatten(x, 1)


def batch_norm(spec, params, x):
    """Evaluation mode over axis 1 (features of [N, F], channels of [N, C, H, W])."""
    c = spec["channels"]
    for name in ("weight", "bias", "running_mean", "running_var"):
        expect_shape(params[name], (c,), f"batch_norm {name}")
    per_channel = (1, c) + (1,) * (x.ndim - 2)

    def col(name):
        return params[name].reshape(per_channel)

    scale = col("weight") / np.sqrt(col("running_var") + spec["eps"])
    return (x - col("running_mean")) * scale + col("bias")


# Layer kind (the "layer" tag of the metadata) → (function, the tensors it must have).
LAYERS = {
    "linear": (linear, {"weight", "bias"}),
    "activation": (activation, set()),
    "dropout": (dropout, set()),
    "conv2d": (conv2d, {"weight", "bias"}),
    "max_pool2d": (max_pool2d, set()),
    "avg_pool2d": (avg_pool2d, set()),
    "flatten": (flatten, set()),
    "batch_norm": (
        batch_norm,
        {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"},
    ),
}


def expect_shape(array, shape, what):
    if tuple(array.shape) != tuple(shape):
        raise SystemExit(f"{what} has shape {array.shape}, expected {shape}")


def layer_params(tensors):
    """The file's tensors grouped by layer index: {index: {name: array}}. Names starting with
    "__" (not part of the network) are left out, as nabla does."""
    by_layer = {}
    for key, value in tensors.items():
        if key.startswith("__"):
            continue
        index, name = key.split(".", 1)
        by_layer.setdefault(int(index), {})[name] = value.astype(np.float64)
    return by_layer


def forward(layers, params, x):
    unknown = sorted(set(params) - set(range(len(layers))))
    if unknown:
        raise SystemExit(f"tensors of layers {unknown}, but the model has {len(layers)} layers")
    h = x
    for i, spec in enumerate(layers):
        kind = spec["layer"]
        if kind not in LAYERS:
            raise SystemExit(f"layer {i}: no numpy version of '{kind}'")
        run, names = LAYERS[kind]
        have = params.get(i, {})
        if set(have) != names:
            raise SystemExit(
                f"layer {i} ({kind}) has tensors {sorted(have)}, expected {sorted(names)}")
        h = run(spec, have, h)
    return h


# ------------------------------------------------------------------------ model and data


def model_layers(meta):
    """(input shape, layer list) of format 2, or the feedforward layers of a format 1 file."""
    if meta.get("layers"):
        return meta["input_shape"], meta["layers"]
    arch = meta["architecture"]
    layers, fan_in = [], arch["inputs"]
    for width in arch["hidden"]:
        layers.append({"layer": "linear", "in_features": fan_in, "out_features": width})
        layers.append({"layer": "activation", "activation": arch["activation"]})
        if arch.get("dropout", 0.0) > 0.0:
            layers.append({"layer": "dropout", "p": arch["dropout"]})
        fan_in = width
    layers.append({"layer": "linear", "in_features": fan_in, "out_features": arch["outputs"]})
    if arch["output_activation"]["kind"] != "identity":
        layers.append({"layer": "activation", "activation": arch["output_activation"]})
    return [arch["inputs"]], layers


def read_csv(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        return list(csv.reader(f))


def read_inputs(data_path, meta):
    """The feature rows of the data file, standardised as at training time (float64)."""
    rows = read_csv(data_path)
    header, body = rows[0], rows[1:]
    keep = [i for i, name in enumerate(header) if name != meta.get("target")]
    names = [header[i] for i in keep]
    if meta.get("feature_names") and names != meta["feature_names"]:
        raise SystemExit(f"data columns {names[:5]}… are not the model's features "
                         f"{meta['feature_names'][:5]}…")
    x = np.array([[float(r[i]) for i in keep] for r in body], dtype=np.float64)
    std = meta.get("standardization")
    if std:
        x = (x - np.array(std["mean"], dtype=np.float64)) / np.array(std["std"], dtype=np.float64)
    return x


def probabilities(outputs):
    if outputs.ndim != 2:
        raise SystemExit(f"the network's output has shape {outputs.shape}, "
                         "expected [rows, outputs]")
    if outputs.shape[1] == 1:
        p1 = 1.0 / (1.0 + np.exp(-outputs[:, 0]))
        return np.stack([1.0 - p1, p1], axis=1)
    e = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def read_predictions(pred_path, labels):
    pred = read_csv(pred_path)
    want_header = ["prediction"] + [f"p_{label}" for label in labels]
    if pred[0] != want_header:
        raise SystemExit(f"predictions header {pred[0]}, expected {want_header}")
    got = np.array([[float(v) for v in r[1:]] for r in pred[1:]], dtype=np.float64)
    return [r[0] for r in pred[1:]], got


def compare(what, proba, got, values="probabilities"):
    """The largest |difference| of two tables of `values` (probabilities unless said); exits
    when it is above TOLERANCE."""
    if got.shape != proba.shape:
        raise SystemExit(f"{what}: {proba.shape} {values}, the predictions have {got.shape}")
    worst = float(np.abs(got - proba).max())
    if worst > TOLERANCE:
        row = int(np.abs(got - proba).max(axis=1).argmax())
        raise SystemExit(f"{what}: {values} differ by {worst:.3e} (first worst: row {row})")
    return worst


def check_labels(proba, labels, got_labels):
    """Every predicted label is the most probable class (ties within 1e-6 may go either way)."""
    top2 = np.sort(proba, axis=1)[:, -2:]
    want = [labels[k] for k in proba.argmax(axis=1)]
    mismatched = [i for i, (a, b) in enumerate(zip(want, got_labels))
                  if a != b and top2[i, 1] - top2[i, 0] > 1e-6]
    if mismatched:
        raise SystemExit(f"labels differ at rows {mismatched[:5]}")


# ------------------------------------------------------------------------ PyTorch


def torch_module(nn, spec, rank):
    """The torch module of one layer; `rank` is the rank of its input rows (1 or 3)."""
    kind = spec["layer"]
    if kind == "linear":
        return nn.Linear(spec["in_features"], spec["out_features"])
    if kind == "activation":
        act = spec["activation"]
        simple = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity}
        if act["kind"] == "leaky_relu":
            return nn.LeakyReLU(act["alpha"])
        return simple[act["kind"]]()
    if kind == "dropout":
        return nn.Dropout(spec["p"])
    if kind == "conv2d":
        return nn.Conv2d(spec["in_channels"], spec["out_channels"], tuple(spec["kernel"]),
                         stride=tuple(spec["stride"]), padding=tuple(spec["padding"]))
    if kind == "max_pool2d":
        return nn.MaxPool2d(tuple(spec["kernel"]), stride=tuple(spec["stride"]))
    if kind == "avg_pool2d":
        return nn.AvgPool2d(tuple(spec["kernel"]), stride=tuple(spec["stride"]))
    if kind == "flatten":
        return nn.Flatten()
    if kind == "batch_norm":
        norm = nn.BatchNorm1d if rank == 1 else nn.BatchNorm2d
        return norm(spec["channels"], eps=spec["eps"], momentum=spec["momentum"])
    raise SystemExit(f"no torch module for layer '{kind}'")


def torch_check(model_path, input_shape, layers, x, got, require):
    """Load the file into the equivalent torch.nn.Sequential (strictly) and compare its
    probabilities with the predictions."""
    try:
        import torch
        from safetensors.torch import load_file as load_torch_file
    except ImportError as e:
        if require:
            raise SystemExit(f"--require-torch: {e}")
        print(f"note: PyTorch load check skipped ({e})")
        return
    modules, rank = [], len(input_shape)
    for spec in layers:
        modules.append(torch_module(torch.nn, spec, rank))
        if spec["layer"] in ("flatten", "linear"):
            rank = 1
    model = torch.nn.Sequential(*modules)
    state = {k: v for k, v in load_torch_file(model_path).items() if not k.startswith("__")}
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        inputs = torch.from_numpy(x.astype(np.float32)).reshape(-1, *input_shape)
        outputs = model(inputs).double().numpy()
    worst = compare("torch", probabilities(outputs), got)
    print(f"ok: torch {torch.__version__} nn.Sequential loaded {len(state)} tensors strictly, "
          f"largest probability difference {worst:.2e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--require-torch", action="store_true",
                        help="fail instead of skipping the PyTorch check when torch is missing")
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("predictions")
    args = parser.parse_args()

    with safe_open(args.model, framework="numpy") as f:
        meta = json.loads(f.metadata()["nabla"])
    input_shape, layers = model_layers(meta)
    x = read_inputs(args.data, meta)
    if x.shape[1] != int(np.prod(input_shape)):
        raise SystemExit(f"{x.shape[1]} features, the model takes rows of {input_shape}")
    outputs = forward(layers, layer_params(load_file(args.model)), x.reshape(-1, *input_shape))
    proba = probabilities(outputs)
    labels = meta["class_labels"]
    got_labels, got = read_predictions(args.predictions, labels)
    worst = compare("numpy", proba, got)
    check_labels(proba, labels, got_labels)
    kinds = sorted({spec["layer"] for spec in layers})
    print(f"ok: numpy, {len(x)} rows through {len(layers)} layers ({', '.join(kinds)}), "
          f"largest probability difference {worst:.2e}")
    torch_check(args.model, input_shape, layers, x, got, args.require_torch)


if __name__ == "__main__":
    main()
