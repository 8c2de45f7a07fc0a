#!/usr/bin/python3
"""peer_torch_speed.py — the PyTorch peer of bench/speed.c: the same biased model
(global mean + user bias + item bias + <p_u, q_i>) trained by torch.optim.Adam on
shuffled mini-batches of 1024, on the split fl-bench-speed --dump wrote.

Reports rating updates per second per epoch (n_train / the epoch's training seconds,
median over epochs; test evaluation is not timed), the training seconds to reach a
target test RMSE, the final test RMSE and the peak RSS, as one JSON line.

The default is the ordinary PyTorch way: nn.Embedding with dense gradients, so every
step touches the whole tables (Adam's moments too). --sparse uses sparse embedding
gradients with torch.optim.SparseAdam, which touches only the batch's rows.
"""
import argparse
import json
import math
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
from torch import nn


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def load(path):
    with open(path, "rb") as f:
        head = f.read(32)
        if head[:8] != b"FLBENCH1":
            sys.exit(f"{path}: not a fl-bench-speed dump")
        n_users, n_items, n_train, n_test = struct.unpack("<IIQQ", head[8:])
        parts = []
        for n in (n_train, n_test):
            u = np.fromfile(f, dtype="<u4", count=n).astype(np.int64)
            i = np.fromfile(f, dtype="<u4", count=n).astype(np.int64)
            r = np.fromfile(f, dtype="<f4", count=n)
            parts.append((torch.from_numpy(u), torch.from_numpy(i), torch.from_numpy(r)))
    return n_users, n_items, parts[0], parts[1]


class Biased(nn.Module):
    def __init__(self, n_users, n_items, k, mean, sparse):
        super().__init__()
        self.p = nn.Embedding(n_users, k, sparse=sparse)
        self.q = nn.Embedding(n_items, k, sparse=sparse)
        self.bu = nn.Embedding(n_users, 1, sparse=sparse)
        self.bi = nn.Embedding(n_items, 1, sparse=sparse)
        with torch.no_grad():
            self.p.weight.normal_(0, 0.01)
            self.q.weight.normal_(0, 0.01)
            self.bu.weight.zero_()
            self.bi.weight.zero_()
        self.mean = mean

    def forward(self, u, i):
        dot = (self.p(u) * self.q(i)).sum(1)
        return self.mean + self.bu(u).squeeze(1) + self.bi(i).squeeze(1) + dot


def test_rmse(model, u, i, r, bs=1 << 16):
    se = 0.0
    with torch.no_grad():
        for s in range(0, len(r), bs):
            se += float(((model(u[s:s + bs], i[s:s + bs]) - r[s:s + bs]) ** 2).sum())
    return math.sqrt(se / len(r))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--factors", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--bs", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--target", type=float, default=0.0, help="test RMSE to time (0: none)")
    ap.add_argument("--sparse", action="store_true")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    base_rss = rss_mb()  # the interpreter and torch, before any data
    n_users, n_items, (tu, ti, tr), (vu, vi, vr) = load(a.dump)
    model = Biased(n_users, n_items, a.factors, float(tr.mean()), a.sparse)
    opt = (torch.optim.SparseAdam if a.sparse else torch.optim.Adam)(model.parameters(), lr=a.lr)
    n = len(tr)
    rates, rmses, cum, to_target, target_epoch = [], [], 0.0, None, None
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for s in range(0, n, a.bs):
            idx = perm[s:s + a.bs]
            loss = torch.nn.functional.mse_loss(model(tu[idx], ti[idx]), tr[idx])
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
        secs = time.perf_counter() - t0
        cum += secs
        rates.append(n / secs)
        rmse = test_rmse(model, vu, vi, vr)
        rmses.append(rmse)
        if a.verbose:
            print(f"  epoch {epoch}: {secs:.2f} s, test RMSE {rmse:.5f}", file=sys.stderr)
        if to_target is None and a.target > 0 and rmse <= a.target:
            to_target, target_epoch = cum, epoch
    print(json.dumps({
        "peer": "pytorch-adam-sparse" if a.sparse else "pytorch-adam", "factors": a.factors,
        "threads": torch.get_num_threads(), "epochs": a.epochs, "n_train": n, "n_test": len(vr),
        "updates_per_s": statistics.median(rates), "train_s_total": cum,
        "target_rmse": a.target, "epochs_to_target": target_epoch, "train_s_to_target": to_target,
        "final_test_rmse": rmses[-1], "best_test_rmse": min(rmses),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6,
        "base_rss_mb": base_rss}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
