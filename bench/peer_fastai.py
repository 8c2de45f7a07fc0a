#!/usr/bin/python3
"""peer_fastai.py — the fastai collaborative-filtering lesson recipe, re-implemented in
plain PyTorch (no fastai import), as the accuracy and speed peer of bench/accuracy.sh.

Recipe (fastai 2.x, `collab_learner(dls, n_factors=50, y_range=(0, 5.5))` or
`collab_learner(dls, use_nn=True, layers=[100, 50], y_range=(0, 5.5))`, then
`fit_one_cycle(5, 5e-3, wd=0.1)` with batch size 64):
  * vocabularies are built on the training ratings, index 0 is "#na#": a test id the
    training set never saw maps there (as fastai's Categorify does);
  * dot model (EmbeddingDotBias): user/item factor and bias embeddings, all initialised
    trunc-normal std 0.01, sigmoid_range(dot + b_u + b_i, 0, 5.5);
  * nn model (EmbeddingNN = TabularModel with no continuous inputs): embedding widths by
    fastai's emb_sz_rule, then Linear(no bias) -> ReLU -> BatchNorm for each hidden layer
    (lin_first, BatchNorm bias starting at 1e-3), Linear(50, 1), sigmoid_range(0, 5.5);
  * Adam with fastai's defaults (betas 0.9/0.99, eps 1e-5) and decoupled weight decay
    0.1 (AdamW); fastai exempts BatchNorm and Linear-bias parameters from it
    (wd_bn_bias=False), so does this script;
  * one-cycle: over all iterations, lr cosine from lr/25 up to lr in the first 25%, then
    cosine down to lr/1e5; momentum (beta1) cosine 0.95 -> 0.85 -> 0.95 likewise;
  * shuffled batches of 64, the last partial batch dropped; MSE loss; the test set is
    evaluated after every epoch, as fastai's validation does (included in the time).

Prints one JSON object per line; the last is the summary (test_rmse, test_mse, seconds).
"""
import argparse
import json
import math
import sys
import time

import numpy as np
import torch
from torch import nn


def read_ratings(path):
    """user, item, rating from a tab/comma/'::' separated file, header skipped."""
    users, items, ratings = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if "::" in line:
                parts = line.split("::")
            elif "\t" in line:
                parts = line.split("\t")
            else:
                parts = line.split(",")
            try:
                r = float(parts[2])
            except ValueError:
                continue  # header
            users.append(parts[0])
            items.append(parts[1])
            ratings.append(r)
    return users, items, np.asarray(ratings, dtype=np.float32)


def vocab(ids):
    """fastai's CategoryMap: sorted unique values after '#na#' at index 0."""
    try:
        uniq = sorted(set(ids), key=int)
    except ValueError:
        uniq = sorted(set(ids))
    return {v: k + 1 for k, v in enumerate(uniq)}, len(uniq) + 1


def encode(ids, table):
    return torch.tensor([table.get(v, 0) for v in ids], dtype=torch.long)


def trunc_normal_(t, std=0.01):
    # fastai's trunc_normal_: a standard normal folded into (-2, 2), then scaled.
    with torch.no_grad():
        return t.normal_().fmod_(2).mul_(std)


def embedding(n, width):
    e = nn.Embedding(n, width)
    trunc_normal_(e.weight)
    return e


def sigmoid_range(x, lo, hi):
    return torch.sigmoid(x) * (hi - lo) + lo


class EmbeddingDotBias(nn.Module):
    def __init__(self, n_factors, n_users, n_items, y_range):
        super().__init__()
        self.y_range = y_range
        self.u_weight = embedding(n_users, n_factors)
        self.i_weight = embedding(n_items, n_factors)
        self.u_bias = embedding(n_users, 1)
        self.i_bias = embedding(n_items, 1)

    def forward(self, u, i):
        dot = (self.u_weight(u) * self.i_weight(i)).sum(1)
        res = dot + self.u_bias(u).squeeze(1) + self.i_bias(i).squeeze(1)
        return sigmoid_range(res, *self.y_range)


def emb_sz_rule(n_cat):
    return min(600, round(1.6 * n_cat**0.56))


class EmbeddingNN(nn.Module):
    def __init__(self, n_users, n_items, layers, y_range):
        super().__init__()
        self.y_range = y_range
        self.u_emb = embedding(n_users, emb_sz_rule(n_users))
        self.i_emb = embedding(n_items, emb_sz_rule(n_items))
        blocks, width = [], self.u_emb.embedding_dim + self.i_emb.embedding_dim
        for out in layers:
            bn = nn.BatchNorm1d(out)
            with torch.no_grad():
                bn.weight.fill_(1.0)
                bn.bias.fill_(1e-3)
            blocks += [nn.Linear(width, out, bias=False), nn.ReLU(inplace=True), bn]
            width = out
        blocks.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*blocks)

    def forward(self, u, i):
        x = torch.cat([self.u_emb(u), self.i_emb(i)], 1)
        return sigmoid_range(self.layers(x).squeeze(1), *self.y_range)


def no_decay_params(model):
    """fastai's bn_bias_params: BatchNorm parameters and Linear biases."""
    out = []
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            out += list(m.parameters())
        elif isinstance(m, nn.Linear) and m.bias is not None:
            out.append(m.bias)
    return out


def cos_between(start, end, pos):
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def one_cycle(pct, pct_start, start, middle, end):
    if pct < pct_start:
        return cos_between(start, middle, pct / pct_start)
    return cos_between(middle, end, (pct - pct_start) / (1 - pct_start))


def evaluate(model, u, i, r, bs=4096):
    model.eval()
    se = 0.0
    with torch.no_grad():
        for s in range(0, len(r), bs):
            p = model(u[s:s + bs], i[s:s + bs])
            se += float(((p - r[s:s + bs]) ** 2).sum())
    model.train()
    mse = se / max(1, len(r))
    return math.sqrt(mse), mse


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--model", choices=["dot", "nn"], default="dot")
    ap.add_argument("--factors", type=int, default=50)
    ap.add_argument("--layers", default="100,50")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--y-range", default="0,5.5")
    ap.add_argument("--threads", type=int, default=0, help="0: torch's default")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    y_range = tuple(float(v) for v in a.y_range.split(","))

    tu, ti, tr = read_ratings(a.train)
    vu, vi, vr = read_ratings(a.test)
    umap, n_users = vocab(tu)
    imap, n_items = vocab(ti)
    train_u, train_i, train_r = encode(tu, umap), encode(ti, imap), torch.from_numpy(tr)
    test_u, test_i, test_r = encode(vu, umap), encode(vi, imap), torch.from_numpy(vr)

    if a.model == "dot":
        model = EmbeddingDotBias(a.factors, n_users, n_items, y_range)
    else:
        model = EmbeddingNN(n_users, n_items, [int(w) for w in a.layers.split(",")], y_range)
    exempt = {id(p) for p in no_decay_params(model)}
    groups = [
        {"params": [p for p in model.parameters() if id(p) not in exempt], "weight_decay": a.wd},
        {"params": [p for p in model.parameters() if id(p) in exempt], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    opt = torch.optim.AdamW(groups, lr=a.lr / 25, betas=(0.95, 0.99), eps=1e-5)

    n = len(train_r)
    n_batches = n // a.bs  # fastai drops the last partial training batch
    n_iter = n_batches * a.epochs
    it = 0
    t0 = time.perf_counter()
    rmse = mse = float("nan")
    for epoch in range(1, a.epochs + 1):
        te = time.perf_counter()
        perm = torch.randperm(n)
        se = 0.0
        for b in range(n_batches):
            pct = it / n_iter
            lr = one_cycle(pct, 0.25, a.lr / 25, a.lr, a.lr / 1e5)
            mom = one_cycle(pct, 0.25, 0.95, 0.85, 0.95)
            for g in opt.param_groups:
                g["lr"] = lr
                g["betas"] = (mom, 0.99)
            idx = perm[b * a.bs:(b + 1) * a.bs]
            pred = model(train_u[idx], train_i[idx])
            loss = torch.nn.functional.mse_loss(pred, train_r[idx])
            opt.zero_grad(set_to_none=False)  # fastai keeps and zeroes the gradient buffers
            loss.backward()
            opt.step()
            se += float(loss.detach()) * len(idx)
            it += 1
        rmse, mse = evaluate(model, test_u, test_i, test_r)
        print(json.dumps({"epoch": epoch, "train_loss": se / (n_batches * a.bs), "test_rmse": rmse,
                          "test_mse": mse, "seconds": time.perf_counter() - te}), flush=True)
    seconds = time.perf_counter() - t0
    print(json.dumps({"peer": "fastai-recipe-pytorch", "model": a.model, "epochs": a.epochs,
                      "n_train": n, "n_test": len(test_r), "n_users": n_users - 1,
                      "n_items": n_items - 1, "threads": torch.get_num_threads(),
                      "test_rmse": rmse, "test_mse": mse, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
