#!/usr/bin/env python3
"""ranking_metrics.py — an independent numpy implementation of the ranking
metrics of `factorlens eval --ranking` (precision, recall, NDCG, MAP at k, hit
rate, coverage), written from the definitions in include/factorlens.h, not
from the C code. It reads the model file itself (safetensors, numpy only),
the training file (for the items each user rated, excluded from the lists) and
the test file (for the relevant items), ranks every unrated item by the
model's score in float64 (ties by id: numeric ids by value, then others
bytewise), and prints the metrics as one JSON object.

Usage: ranking_metrics.py MODEL TRAIN TEST [-k K] [--relevant-min R]
(files of user, item, rating[, timestamp] lines split by tab, comma or blanks;
a first line naming its columns is skipped). tests/e2e_ranking.sh compares
its output with the C library's.
"""
import argparse
import json
import math
import re
import struct

import numpy as np


def read_model(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    types = {"F32": "<f4", "U32": "<u4", "U64": "<u8", "U8": "u1"}
    data = raw[8 + n:]
    t = {}
    for name, d in header.items():
        b, e = d["data_offsets"]
        t[name] = np.frombuffer(data[b:e], dtype=types[d["dtype"]]).reshape(d["shape"])
    ids = lambda k: t[k].tobytes().decode().split("\n") if t[k].size else []
    return meta, t, ids("user_ids"), ids("item_ids")


def read_ratings(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f):
            fields = [x for x in re.split(r"::|\t|,|;|\||\s+", line.strip()) if x != ""]
            if len(fields) < 3:
                continue
            try:
                r = float(fields[2])
            except ValueError:
                if n == 0:
                    continue  # a header
                raise
            rows.append((fields[0], fields[1], r))
    return rows


def id_key(s):
    # numeric ids first, by value (equal values by their digits), then bytewise
    return (0, int(s), s) if s.isdigit() else (1, 0, s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--relevant-min", type=float, default=-math.inf)
    a = ap.parse_args()
    meta, t, users, items = read_model(a.model)
    kind = meta["kind"]
    uix = {u: k for k, u in enumerate(users)}
    iix = {i: k for k, i in enumerate(items)}
    P = t["user_factors"].astype(np.float64)
    Q = t["item_factors"].astype(np.float64)
    n_items = len(items)
    # Tie order: the item's place among all ids sorted by id_key.
    place = np.empty(n_items, dtype=np.int64)
    place[sorted(range(n_items), key=lambda k: id_key(items[k]))] = np.arange(n_items)

    rated = {}
    for u, i, _ in read_ratings(a.train):
        rated.setdefault(u, set()).add(i)
    relevant = {}
    for u, i, r in read_ratings(a.test):
        if u not in uix or not (r >= a.relevant_min) or i not in iix:
            continue
        if i in rated.get(u, ()):
            continue
        relevant.setdefault(u, set()).add(iix[i])

    k = a.k
    disc = 1.0 / np.log2(np.arange(k) + 2.0)
    prec, rec, ndcg, ap_, hit = [], [], [], [], []
    covered = set()
    for u, rel in relevant.items():
        x = uix[u]
        z = Q @ P[x]
        if kind == "biased":
            z = z + float(meta["offset"]) + float(t["user_bias"][x]) + t["item_bias"].astype(np.float64)
        excl = np.array([iix[i] for i in rated.get(u, ()) if i in iix], dtype=np.int64)
        cand = np.setdiff1d(np.arange(n_items), excl)
        order = np.lexsort((place[cand], -z[cand]))  # by score desc, then id
        top = cand[order[:k]]
        covered.update(top.tolist())
        hits = np.array([i in rel for i in top], dtype=np.float64)
        n_rel = len(rel)
        ideal = min(k, n_rel)
        prec.append(hits.sum() / k)
        rec.append(hits.sum() / n_rel)
        ndcg.append((hits * disc[:len(hits)]).sum() / disc[:ideal].sum())
        cum = np.cumsum(hits)
        ap_.append((hits * cum / np.arange(1, len(hits) + 1)).sum() / ideal)
        hit.append(float(hits.sum() > 0))
    out = {
        "k": k,
        "n_users": len(relevant),
        "precision_at_k": float(np.mean(prec)),
        "recall_at_k": float(np.mean(rec)),
        "ndcg_at_k": float(np.mean(ndcg)),
        "map_at_k": float(np.mean(ap_)),
        "hit_rate": float(np.mean(hit)),
        "coverage": len(covered) / n_items,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
