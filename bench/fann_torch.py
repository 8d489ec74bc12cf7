"""PyTorch reference of bench/fann: an MLP of the given layer sizes trained with Adam on one FANN
set, printing its test predictions as JSON (bench/fann computes the MSE on FANN's scale from
them, with the same function as for nabla).

The network: Linear layers of the given widths with ReLU between them, PyTorch's default
initialisation; Adam lr 1e-3 (PyTorch's defaults), constant; the given epochs and batch size,
rows reshuffled every epoch; every training row (no validation split). Inputs, and regression
targets, are standardised with the training rows' mean and population standard deviation
(1 where it is 0), as nabla does. Classes: one logit with binary cross-entropy when --outputs is
1, softmax cross-entropy otherwise; the class of a row is its hot output (a single output: 1 is
class 1, anything else class 0).

    python fann_torch.py --train X.train.gz --test X.test.gz --task classification \
        --hidden 256,128 --outputs 3 --epochs 49 --batch-size 32
"""
import argparse
import gzip
import json

import torch


def read_fann(path):
    with gzip.open(path, "rt") if path.endswith(".gz") else open(path) as f:
        tokens = f.read().split()
    n, ni, no = (int(t) for t in tokens[:3])
    vals = torch.tensor([float(t) for t in tokens[3:]], dtype=torch.float64).reshape(n, ni + no)
    return vals[:, :ni].float(), vals[:, ni:].float()


def standardise(train, *others):
    mean = train.mean(0)
    std = train.std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return [(t - mean) / std for t in (train,) + others], mean, std


def labels_of(y):
    if y.shape[1] == 1:
        return (y[:, 0] == 1.0).long()
    return y.argmax(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--task", choices=["classification", "regression"], required=True)
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--outputs", type=int, required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    xtr, ytr = read_fann(a.train)
    xte, _ = read_fann(a.test)
    (xtr, xte), _, _ = standardise(xtr, xte)
    classify = a.task == "classification"
    if classify:
        target = labels_of(ytr)
        loss_fn = (torch.nn.BCEWithLogitsLoss() if a.outputs == 1
                   else torch.nn.CrossEntropyLoss())
    else:
        (target,), ymean, ystd = standardise(ytr)
        loss_fn = torch.nn.MSELoss()
    widths = [xtr.shape[1]] + [int(h) for h in a.hidden.split(",") if h] + [a.outputs]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    n = xtr.shape[0]
    for _ in range(a.epochs):
        order = torch.randperm(n)
        for lo in range(0, n, a.batch_size):
            idx = order[lo:lo + a.batch_size]
            out = net(xtr[idx])
            t = target[idx]
            if classify and a.outputs == 1:
                loss = loss_fn(out[:, 0], t.float())
            else:
                loss = loss_fn(out, t)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        out = net(xte)
        if classify and a.outputs == 1:
            s = torch.sigmoid(out[:, 0:1])
            pred = torch.cat([1 - s, s], 1)
        elif classify:
            pred = torch.softmax(out, 1)
        else:
            pred = out * ystd + ymean
    print(json.dumps({"pred": pred.tolist()}))


if __name__ == "__main__":
    main()
