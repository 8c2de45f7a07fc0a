"""The collaborative-filtering lesson end to end with factorlens from Python:
fit a biased model on MovieLens 100K, read its learning curves, rank movies
by their learned bias, map the item factors with a PCA in numpy, recommend,
and fold in a new user from a handful of ratings.

    python examples/lesson.py        # ml-100k from $FACTORLENS_DATA, the cache, or GroupLens
"""
import numpy as np

import factorlens as fl

# --- data: the u1 split of MovieLens 100K, and the titles
d = fl.fetch("ml-100k")
train = fl.read_ratings(f"{d}/u1.base")
test = fl.read_ratings(f"{d}/u1.test")
titles = {}
with open(f"{d}/u.item", encoding="latin-1") as f:
    for line in f:
        fields = line.split("|")
        titles[fields[0]] = fields[1]
print(f"{len(train)} training and {len(test)} test ratings; "
      f"{train.user.nunique()} users, {train.item.nunique()} movies")

# --- fit: the CLI's defaults (biased, 50 factors, SGD, 20 epochs); the same
# seed and threads give the same model as `factorlens train`, to the bit.
model = fl.fit(train, test=test, factors=50, seed=42, threads=2)
h = model.history
print("\nlearning curves (train_mse is the data loss, reg_penalty the regulariser):")
print(h[["train_mse", "reg_penalty", "test_rmse"]].iloc[[0, 4, 9, 14, 19]].round(4))
print("test:", {k: round(v, 4) for k, v in model.evaluate(test).items() if k in ("rmse", "mae")})

# --- biases: the movies everyone rates above (or below) what their taste predicts
counts = model.item_counts
popular = np.flatnonzero(counts >= 20)
order = popular[np.argsort(model.item_bias[popular])]
print("\nlowest item biases:  ", "; ".join(titles[model.item_ids[i]] for i in order[:5]))
print("highest item biases: ", "; ".join(titles[model.item_ids[i]] for i in order[::-1][:5]))

# --- PCA of the item factors of the 1000 most-rated movies, in numpy
top = np.argsort(-counts.astype(np.int64), kind="stable")[:1000]
Q = model.item_factors[top].astype(np.float64)  # a read-only view of the model's memory
Q -= Q.mean(axis=0)
_, s, vt = np.linalg.svd(Q, full_matrices=False)
pcs = Q @ vt[:2].T
print(f"\nfirst two components explain {100 * s[0]**2 / (s**2).sum():.0f}% and "
      f"{100 * s[1]**2 / (s**2).sum():.0f}% of the variance")
for c in range(2):
    o = np.argsort(pcs[:, c])
    print(f"component {c + 1}: one end  ", "; ".join(titles[model.item_ids[top[k]]] for k in o[:4]))
    print(f"             other end", "; ".join(titles[model.item_ids[top[k]]] for k in o[::-1][:4]))

# --- recommendations for user 196, and the movies most like Star Wars
print("\nfor user 196:")
for item, score in model.recommend("196", n=5):
    print(f"  {score:.2f}  {titles[item]}")
print("like Star Wars (1977):")
for item, cos in model.similar("50", n=5):
    print(f"  {cos:.3f}  {titles[item]}")

# --- a new user: five ratings are enough to fold them in (one ALS row
# against the fixed item factors) and recommend, without retraining.
mine = {"50": 5, "172": 5, "181": 4, "1": 2, "94": 1}  # Star Wars trilogy yes, Toy Story/Home Alone no
print("new user who rated", ", ".join(f"{titles[i]}: {r}" for i, r in mine.items()))
for item, score in model.fold_in(list(mine), list(mine.values()), n=5):
    print(f"  {score:.2f}  {titles[item]}")
