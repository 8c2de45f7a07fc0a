#!/usr/bin/python3
"""make_fixtures.py — PyTorch reference outputs for tests/test_reference.c.

Builds a tiny rating problem with random float32 parameters and writes what
the C library must reproduce: predictions, per-rating gradients of the
objective J (mf.h), the nn forward/backward pass, one pass of row-AdaGrad
SGD (train/sgd_kernel.h) and a few full-batch steps of Adam with the
one-cycle schedule (train/adam.c). Gradients come from autograd, so these
fixtures check the C formulas against an independent derivation, not against
themselves.

The models, as the C library defines them:
  dot     z = P[u].Q[i]
  biased  z = offset + bu[u] + bi[i] + P[u].Q[i]
  nn      z = offset + bu[u] + bi[i] + net([P[u]; Q[i]])   (ReLU hidden layers)
  yhat = z, or y_lo + (y_hi - y_lo) sigmoid(z) when y_lo < y_hi.

Run from anywhere with the system Python that has torch:
    /usr/bin/python3 tests/reference/make_fixtures.py
It rewrites the *.json files next to this script; same torch -> same bytes.
"""
import json
import math
import os

import numpy as np
import torch

torch.manual_seed(20240601)
torch.set_default_dtype(torch.float32)

HERE = os.path.dirname(os.path.abspath(__file__))
N_USERS, N_ITEMS, N_RATINGS, K = 7, 6, 25, 4
LAYERS = [8, 4]
REG_F, REG_B = 0.3, 0.2          # for gradients and SGD
# Adam's steps barely depend on a gradient's scale, so its cases regularise
# hard enough for the penalty to decide some steps' direction; a wrong
# penalty term then shows in the parameters.
ADAM_REG_F, ADAM_REG_B = 1.0, 6.0
Y_RANGE = (0.0, 5.5)


def f32(x):
    """Shortest decimal that reads back as the same float32."""
    if torch.is_tensor(x):
        x = float(x.detach())
    return float(np.format_float_positional(np.float32(x), unique=True, trim="-"))


def flat(t):
    return [f32(v) for v in t.detach().reshape(-1).tolist()]


def write(name, obj):
    path = os.path.join(HERE, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# ---------------------------------------------------------------- the problem
# Every user and every item gets at least one rating (so reg shares are finite
# and, in Adam, every row is in every full batch); no (user, item) pair repeats.
pairs = [(u, u % N_ITEMS) for u in range(N_USERS)]
rest = [(u, i) for u in range(N_USERS) for i in range(N_ITEMS) if (u, i) not in pairs]
for j in torch.randperm(len(rest))[: N_RATINGS - len(pairs)].tolist():
    pairs.append(rest[j])
pairs = [pairs[j] for j in torch.randperm(len(pairs)).tolist()]
users = torch.tensor([p[0] for p in pairs])
items = torch.tensor([p[1] for p in pairs])
ratings = torch.randint(1, 6, (N_RATINGS,)).float()
mean = float(ratings.mean())
n_u = torch.bincount(users, minlength=N_USERS).float()
n_i = torch.bincount(items, minlength=N_ITEMS).float()
assert bool((n_u > 0).all()) and bool((n_i > 0).all())
# The regulariser's shares exactly as regularizer.c computes them (in double).
fu = torch.tensor([1.0 / math.sqrt(c) for c in n_u.tolist()])
fi = torch.tensor([1.0 / math.sqrt(c) for c in n_i.tolist()])
bu_share = torch.tensor([1.0 / c for c in n_u.tolist()])
bi_share = torch.tensor([1.0 / c for c in n_i.tolist()])


def rnd(*shape, std=1.0):
    # Round through the JSON representation so torch and C start from the
    # very same float32 values.
    t = torch.randn(*shape) * std
    return torch.tensor(flat(t)).reshape(shape)


P0 = rnd(N_USERS, K, std=0.5)
Q0 = rnd(N_ITEMS, K, std=0.5)
BU0 = rnd(N_USERS, std=0.3)
BI0 = rnd(N_ITEMS, std=0.3)
DENSE0 = []
n_in = 2 * K
for width in LAYERS + [1]:
    a = math.sqrt(6.0 / n_in)
    W = torch.tensor(flat((torch.rand(width, n_in) * 2 - 1) * a)).reshape(width, n_in)
    b = rnd(width, std=0.1)
    DENSE0.append((W, b))
    n_in = width
OFFSET_PLAIN = f32(mean)
OFFSET_SQUASH = f32(math.log((mean - Y_RANGE[0]) / (Y_RANGE[1] - mean)))

problem = {
    "n_users": N_USERS, "n_items": N_ITEMS, "n_factors": K, "layers": LAYERS,
    "users": users.tolist(), "items": items.tolist(), "ratings": flat(ratings),
    "P": flat(P0), "Q": flat(Q0), "bu": flat(BU0), "bi": flat(BI0),
    "dense": [{"W": flat(W), "b": flat(b)} for W, b in DENSE0],
}
write("problem.json", problem)


# ---------------------------------------------------------------- the models
def squash(z, y):
    if y[0] < y[1]:
        return y[0] + (y[1] - y[0]) * torch.sigmoid(z)
    return z


def mf_z(kind, P, Q, bu, bi, offset, u, i):
    z = (P[u] * Q[i]).sum(-1)
    if kind == "biased":
        z = z + offset + bu[u] + bi[i]
    return z


def nn_z(x0, dense, offset):
    """The network's output plus the offset; callers add bu[u] + bi[i]."""
    x = x0
    for l, (W, b) in enumerate(dense):
        x = x @ W.T + b
        if l < len(dense) - 1:
            x = torch.relu(x)
    return x[..., 0] + offset


def clone_params():
    return (P0.clone(), Q0.clone(), BU0.clone(), BI0.clone(),
            [(W.clone(), b.clone()) for W, b in DENSE0])


# ---------------------------------------------------------------- 1. predictions
uu = torch.arange(N_USERS).repeat_interleave(N_ITEMS)
ii = torch.arange(N_ITEMS).repeat(N_USERS)
cases = []
for name, kind, y, offset, clip in [
        ("dot", "dot", (0.0, 0.0), 0.0, (0.0, 0.0)),
        ("biased", "biased", (0.0, 0.0), OFFSET_PLAIN, (0.0, 0.0)),
        ("biased_clip", "biased", (0.0, 0.0), OFFSET_PLAIN, (2.5, 3.5)),
        ("biased_squash", "biased", Y_RANGE, OFFSET_SQUASH, (0.0, 0.0)),
        ("nn", "nn", (0.0, 0.0), OFFSET_PLAIN, (0.0, 0.0)),
        ("nn_squash", "nn", Y_RANGE, OFFSET_SQUASH, (0.0, 0.0))]:
    if kind == "nn":
        z = nn_z(torch.cat([P0[uu], Q0[ii]], 1), DENSE0, offset) + BU0[uu] + BI0[ii]
    else:
        z = mf_z(kind, P0, Q0, BU0, BI0, offset, uu, ii)
    pred = squash(z, y)
    if clip[0] < clip[1]:
        pred = pred.clamp(clip[0], clip[1])
    cases.append({"name": name, "kind": kind, "y_lo": y[0], "y_hi": y[1], "offset": offset,
                  "rating_lo": clip[0], "rating_hi": clip[1], "pred": flat(pred)})
write("predict.json", {"cases": cases})


# ---------------------------------------------------------------- 2. J and its gradient
def mf_J(kind, P, Q, bu, bi, offset, y, u, i, r):
    """Per-rating objective of mf.h."""
    yhat = squash(mf_z(kind, P, Q, bu, bi, offset, u, i), y)
    J = (yhat - r) ** 2 + REG_F * ((P[u] ** 2).sum() * fu[u] + (Q[i] ** 2).sum() * fi[i])
    if kind == "biased":
        J = J + REG_B * (bu[u] ** 2 * bu_share[u] + bi[i] ** 2 * bi_share[i])
    return J


GRAD_RATINGS = [0, 3, 7, 12, 24]
cases = []
for name, kind, y, offset in [("dot", "dot", (0.0, 0.0), 0.0),
                              ("biased", "biased", (0.0, 0.0), OFFSET_PLAIN),
                              ("biased_squash", "biased", Y_RANGE, OFFSET_SQUASH)]:
    out = []
    for n in GRAD_RATINGS:
        P, Q, bu, bi, _ = clone_params()
        for t in (P, Q, bu, bi):
            t.requires_grad_(True)
        u, i, r = int(users[n]), int(items[n]), ratings[n]
        J = mf_J(kind, P, Q, bu, bi, offset, y, u, i, r)
        J.backward()
        gbu = bu.grad[u] if bu.grad is not None else 0.0  # dot has no biases
        gbi = bi.grad[i] if bi.grad is not None else 0.0
        out.append({"rating": n, "J": f32(J), "gP": flat(P.grad[u]), "gQ": flat(Q.grad[i]),
                    "gbu": f32(gbu), "gbi": f32(gbi)})
    cases.append({"name": name, "kind": kind, "y_lo": y[0], "y_hi": y[1], "offset": offset,
                  "reg_factors": REG_F, "reg_bias": REG_B, "grads": out})
write("mf_grad.json", {"cases": cases})

# ---------------------------------------------------------------- 3. nn forward / backward
NN_BATCH = list(range(0, N_RATINGS, 2))  # 13 ratings, users repeat
bu_b, bi_b = users[NN_BATCH], items[NN_BATCH]
dz = rnd(len(NN_BATCH))
x0 = torch.cat([P0[bu_b], Q0[bi_b]], 1).requires_grad_(True)
dense = [(W.clone().requires_grad_(True), b.clone().requires_grad_(True)) for W, b in DENSE0]
z = nn_z(x0, dense, OFFSET_PLAIN) + BU0[bu_b] + BI0[bi_b]
(dz * z).sum().backward()
grad = []
for W, b in dense:
    grad += flat(W.grad) + flat(b.grad)
write("nn_grad.json", {"users": bu_b.tolist(), "items": bi_b.tolist(), "offset": OFFSET_PLAIN,
                       "dz": flat(dz), "z": flat(z), "grad": grad, "gx0": flat(x0.grad)})


# ---------------------------------------------------------------- 4. SGD (row AdaGrad)
def sgd_pass(kind, y, offset, lr):
    """One pass of fl_sgd_step over the ratings in order: the half gradient of
    J from autograd, per-row AdaGrad sums of the mean squared gradient
    (starting at 1) for factor rows, sums of squares for biases."""
    P, Q, bu, bi, _ = clone_params()
    G_u, G_i = torch.ones(N_USERS), torch.ones(N_ITEMS)
    G_bu, G_bi = torch.ones(N_USERS), torch.ones(N_ITEMS)
    for n in range(N_RATINGS):
        u, i, r = int(users[n]), int(items[n]), ratings[n]
        p, q = P[u].clone().requires_grad_(True), Q[i].clone().requires_grad_(True)
        b_u, b_i = bu[u].clone().requires_grad_(True), bi[i].clone().requires_grad_(True)
        yhat = squash((p * q).sum() + offset + b_u + b_i, y)
        half = 0.5 * ((yhat - r) ** 2 + REG_F * ((p ** 2).sum() * fu[u] + (q ** 2).sum() * fi[i])
                      + REG_B * (b_u ** 2 * bu_share[u] + b_i ** 2 * bi_share[i]))
        half.backward()
        with torch.no_grad():
            # The step uses the sums from before this rating (sgd_kernel.h).
            P[u] = p - lr / torch.sqrt(G_u[u]) * p.grad
            Q[i] = q - lr / torch.sqrt(G_i[i]) * q.grad
            G_u[u] += (p.grad ** 2).mean()
            G_i[i] += (q.grad ** 2).mean()
            if kind == "biased":
                bu[u] = b_u - lr / torch.sqrt(G_bu[u]) * b_u.grad
                bi[i] = b_i - lr / torch.sqrt(G_bi[i]) * b_i.grad
                G_bu[u] += b_u.grad ** 2
                G_bi[i] += b_i.grad ** 2
    return P, Q, bu, bi


SGD_LR = 0.05
cases = []
for name, y, offset in [("biased", (0.0, 0.0), OFFSET_PLAIN),
                        ("biased_squash", Y_RANGE, OFFSET_SQUASH)]:
    P, Q, bu, bi = sgd_pass("biased", y, offset, SGD_LR)
    cases.append({"name": name, "kind": "biased", "y_lo": y[0], "y_hi": y[1], "offset": offset,
                  "lr": SGD_LR, "reg_factors": REG_F, "reg_bias": REG_B,
                  "P": flat(P), "Q": flat(Q), "bu": flat(bu), "bi": flat(bi)})
write("sgd.json", {"cases": cases})

# ---------------------------------------------------------------- 5. Adam, full batch
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def one_cycle(lr, step, total):
    """adam.c's schedule: cosine warm-up from lr/25 over the first quarter,
    then cosine annealing to lr/1e4; step is 0-based."""
    x = step / (total - 1) if total > 1 else 1.0
    lo, end = lr / 25.0, lr / 1e4
    if x < 0.25:
        return f32(lo + (lr - lo) * (1.0 - math.cos(math.pi * x / 0.25)) / 2.0)
    yy = (x - 0.25) / 0.75
    return f32(end + (lr - end) * (1.0 + math.cos(math.pi * yy)) / 2.0)


def adam_run(kind, y, offset, lr, epochs):
    """Full-batch Adam: with every row in every batch, adam.c's lazy row
    updates are plain Adam on all parameters. The batch loss is J averaged
    over the batch, plus reg_f |W|^2 / n_train on the nn's dense weights
    (not on the dense biases); the offset is not trained."""
    P, Q, bu, bi, dense = clone_params()
    params = [P, Q] + ([bu, bi] if kind != "dot" else [])
    if kind == "nn":
        for W, b in dense:
            params += [W, b]
    for t in params:
        t.requires_grad_(True)
    mom = [torch.zeros_like(t) for t in params]
    vel = [torch.zeros_like(t) for t in params]
    min_grad = float("inf")
    for step in range(1, epochs + 1):
        if kind == "nn":
            z = nn_z(torch.cat([P[users], Q[items]], 1), dense, offset) + bu[users] + bi[items]
            yhat = squash(z, y)
        else:
            yhat = squash(mf_z(kind, P, Q, bu, bi, offset, users, items), y)
        J = (yhat - ratings) ** 2 + ADAM_REG_F * (
            (P[users] ** 2).sum(1) * fu[users] + (Q[items] ** 2).sum(1) * fi[items])
        if kind != "dot":
            J = J + ADAM_REG_B * (
                bu[users] ** 2 * bu_share[users] + bi[items] ** 2 * bi_share[items])
        loss = J.mean()
        if kind == "nn":
            loss = loss + ADAM_REG_F * sum((W ** 2).sum() for W, _ in dense) / N_RATINGS
        for t in params:
            t.grad = None
        loss.backward()
        lr_t = torch.tensor(one_cycle(lr, step - 1, epochs))
        c1 = 1.0 - torch.tensor(BETA1) ** step
        c2 = 1.0 - torch.tensor(BETA2) ** step
        with torch.no_grad():
            for t, m_, v_ in zip(params, mom, vel):
                g = t.grad
                nz = g[g != 0].abs()
                if nz.numel():
                    min_grad = min(min_grad, float(nz.min()))
                m_.mul_(BETA1).add_((1 - BETA1) * g)
                v_.mul_(BETA2).add_((1 - BETA2) * g * g)
                t.sub_(lr_t * (m_ / c1) / (torch.sqrt(v_ / c2) + EPS))
    # Adam's first steps are lr * sign(g): a gradient near zero would make
    # the fixture depend on rounding. Dead ReLU units give exact zeros, which
    # both sides agree on.
    assert min_grad > 1e-5, f"{kind}: a gradient of {min_grad} is too close to zero"
    return P, Q, bu, bi, dense


ADAM_LR, ADAM_EPOCHS = 0.02, 3
cases = []
# Three epochs with total_steps = 3 take steps at lr/25, 0.75 lr and lr/1e4;
# the extra five-epoch squashed case also passes through the peak lr.
for name, kind, y, offset, epochs in [
        ("biased", "biased", (0.0, 0.0), OFFSET_PLAIN, ADAM_EPOCHS),
        ("nn", "nn", (0.0, 0.0), OFFSET_PLAIN, ADAM_EPOCHS),
        ("biased_squash_5", "biased", Y_RANGE, OFFSET_SQUASH, 5)]:
    P, Q, bu, bi, dense = adam_run(kind, y, offset, ADAM_LR, epochs)
    case = {"name": name, "kind": kind, "y_lo": y[0], "y_hi": y[1], "offset": offset,
            "lr": ADAM_LR, "epochs": epochs, "batch_size": 32,
            "reg_factors": ADAM_REG_F, "reg_bias": ADAM_REG_B, "P": flat(P), "Q": flat(Q)}
    case["bu"], case["bi"] = flat(bu), flat(bi)
    if kind == "nn":
        case["dense"] = [{"W": flat(W), "b": flat(b)} for W, b in dense]
    cases.append(case)
write("adam.json", {"cases": cases})
