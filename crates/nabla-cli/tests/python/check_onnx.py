"""Check a model written by `nabla export --format onnx` with onnx and onnxruntime, and compare
its outputs with `nabla predict` on the same rows.

Usage: check_onnx.py MODEL.onnx DATA.csv[.gz] PREDICTIONS.csv

The file must pass `onnx.checker.check_model(full_check=True)` (which runs shape inference),
import the default operator set at version 17 or later, and have one float input `input` of
shape [batch, features] and one output, `probabilities` [batch, classes] for a classifier or
`prediction` [batch, outputs] for regression, `batch` being a free dimension. Its
metadata_props give the feature names, the target column and the class labels (JSON lists).

The data CSV has a header; the model's feature columns are taken by name (the target column
and any other are left out) and fed raw, since the graph standardises them itself. The rows
run through onnxruntime twice: all at once and one by one (the batch dimension is free). The
predictions CSV is what `nabla predict --proba` (classifier) or `nabla predict` (regression)
wrote for the same rows.

Exits non-zero when the file is not valid ONNX, or an output differs from the predictions by
more than 1e-5, or a predicted label is not the most probable class.
"""

import argparse
import json

import numpy as np
import onnx
import onnxruntime as ort

from check_model import TOLERANCE, check_labels, compare, read_csv

MIN_OPSET = 17


def check_interface(model):
    """The opset, the input and the output; returns the output's name."""
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets.get("", 0) < MIN_OPSET:
        raise SystemExit(f"default opset {opsets.get('', 0)}, expected {MIN_OPSET} or later")
    graph = model.graph
    if [i.name for i in graph.input] != ["input"]:
        raise SystemExit(f"graph inputs {[i.name for i in graph.input]}, expected ['input']")
    if len(graph.output) != 1 or graph.output[0].name not in ("probabilities", "prediction"):
        raise SystemExit(f"graph outputs {[o.name for o in graph.output]}")
    for value in (graph.input[0], graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        if len(dims) != 2 or dims[0].dim_param != "batch" or dims[1].dim_value < 1:
            raise SystemExit(f"{value.name} has shape {dims}, expected [batch, N]")
    return graph.output[0].name


def read_rows(data_path, features):
    """The named feature columns of the data file, raw, as float32."""
    rows = read_csv(data_path)
    header, body = rows[0], rows[1:]
    missing = [f for f in features if f not in header]
    if missing:
        raise SystemExit(f"the data has no column {missing[0]}")
    keep = [header.index(f) for f in features]
    return np.array([[float(r[i]) for i in keep] for r in body], dtype=np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("predictions")
    args = parser.parse_args()

    model = onnx.load(args.model)
    onnx.checker.check_model(model, full_check=True)
    output = check_interface(model)
    props = {p.key: p.value for p in model.metadata_props}
    features = json.loads(props["feature_names"])
    labels = json.loads(props["class_labels"])
    x = read_rows(args.data, features)

    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    (whole,) = session.run([output], {"input": x})
    one_by_one = np.concatenate([session.run([output], {"input": x[i:i + 1]})[0]
                                 for i in range(len(x))])
    whole, one_by_one = whole.astype(np.float64), one_by_one.astype(np.float64)

    pred = read_csv(args.predictions)
    if output == "probabilities":
        want_header = ["prediction"] + [f"p_{label}" for label in labels]
        if pred[0] != want_header:
            raise SystemExit(f"predictions header {pred[0]}, expected {want_header}")
        got = np.array([[float(v) for v in r[1:]] for r in pred[1:]], dtype=np.float64)
        check_labels(whole, labels, [r[0] for r in pred[1:]])
    else:
        # One column `prediction`, or one `prediction_<target>` per output.
        several = len(pred[0]) > 1 and all(h.startswith("prediction_") for h in pred[0])
        if pred[0] != ["prediction"] and not several:
            raise SystemExit(f"predictions header {pred[0]}, expected ['prediction'] or "
                             "one prediction_<target> column per output")
        got = np.array([[float(v) for v in r] for r in pred[1:]], dtype=np.float64)
    worst = compare("onnxruntime", whole, got, output)
    worst_single = compare("onnxruntime, one row at a time", one_by_one, got, output)
    operators = sorted({node.op_type for node in model.graph.node})
    print(f"ok: onnx {onnx.__version__} checker, onnxruntime {ort.__version__}, "
          f"{len(x)} rows, {output} of width {whole.shape[1]}, operators {', '.join(operators)}; "
          f"largest difference {max(worst, worst_single):.2e} (tolerance {TOLERANCE:.0e})")


if __name__ == "__main__":
    main()
