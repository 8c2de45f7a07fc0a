"""Every Model method and module function on small synthetic data (and on
ml-100k where the numbers are known)."""
import math

import numpy as np
import pandas as pd
import pytest

import factorlens as fl


def test_fit_forms_agree(small):
    a = fl.fit(small, factors=3, epochs=3, threads=1)
    b = fl.fit((small["user"], small["item"], small["rating"]), factors=3, epochs=3, threads=1)
    c = fl.fit(pd.DataFrame(small), factors=3, epochs=3, threads=1)
    for m in (b, c):
        assert np.array_equal(a.user_factors, m.user_factors)
        assert np.array_equal(a.item_bias, m.item_bias)
        assert list(a.user_ids) == list(m.user_ids)


def test_integer_ids(small):
    ints = {"user": np.array([int(s[1:]) for s in small["user"]]),
            "item": np.array([int(s[1:]) for s in small["item"]]), "rating": small["rating"]}
    m = fl.fit(ints, factors=3, epochs=2, threads=1)
    u, i = int(ints["user"][0]), int(ints["item"][0])
    assert m.predict(u, i) == m.predict(str(u), str(i))
    assert all(isinstance(s, str) for s in m.user_ids)


def test_params_reach_the_model(small):
    m = fl.fit(small, model="dot", solver="adam", factors=6, epochs=2, lr=0.01, reg=0.5,
               reg_bias=0.25, init_std=0.05, batch_size=64, threads=1, seed=9, y_range=(0.5, 5.5))
    i = m.info
    assert (i["model"], i["solver"], i["factors"], i["epochs"], i["batch_size"], i["seed"]) == \
        ("dot", "adam", 6, 2, 64, 9)
    assert i["lr"] == pytest.approx(0.01) and i["reg"] == pytest.approx(0.5)
    assert i["y_range"] == (0.5, 5.5)
    nn = fl.fit(small, model="nn", factors=4, epochs=1, layers=[8, 4], dropout=[0.1, 0.2],
                threads=1)
    assert nn.info["layers"] == [8, 4]
    assert nn.info["dropout"] == pytest.approx([0.1, 0.2])


def test_predict_vectorised(small_model):
    m = small_model
    users, items = list(m.user_ids[:5]), list(m.item_ids[:5])
    v = m.predict(users, items)
    assert v.dtype == np.float32 and v.shape == (5,)
    for k in range(5):
        assert v[k] == m.predict(users[k], items[k])
    # one user against many items broadcasts
    assert np.array_equal(m.predict(users[0], items), m.predict([users[0]] * 5, items))
    # the bias-only fallback for an unknown item
    assert math.isfinite(m.predict(users[0], "nobody", unknown="mean"))


def test_evaluate(small, small_model):
    r = small_model.evaluate(small)
    assert set(r) >= {"rmse", "mae", "mse", "n"}
    assert r["n"] == len(small["rating"])
    pred = small_model.predict(small["user"], small["item"]).astype(np.float64)
    err = pred - small["rating"]
    assert r["rmse"] == pytest.approx(math.sqrt((err ** 2).mean()), rel=1e-6)
    assert r["mae"] == pytest.approx(np.abs(err).mean(), rel=1e-6)
    assert r["mse"] == pytest.approx(r["rmse"] ** 2, rel=1e-9)


def test_recommend_excludes_seen_and_is_sorted(small, small_model):
    m = small_model
    user = small["user"][0]
    recs = m.recommend(user, n=5)
    assert len(recs) == 5
    seen = {i for u, i in zip(small["user"], small["item"]) if u == user}
    assert not seen & {i for i, _ in recs}
    scores = [s for _, s in recs]
    assert scores == sorted(scores, reverse=True)
    for item, s in recs:
        assert s == pytest.approx(float(m.predict(user, item)))


def test_similar(small_model):
    m = small_model
    item = m.item_ids[0]
    sims = m.similar(item, n=4)
    assert len(sims) == 4 and item not in [i for i, _ in sims]
    q = m.item_factors.astype(np.float64)
    for other, c in sims:
        a, b = q[0], q[m.item_index(other)]
        assert c == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b), abs=1e-5)


def test_arrays_are_read_only_views(small_model, tmp_path):
    m = small_model
    P, Q = m.user_factors, m.item_factors
    assert P.shape == (len(m.user_ids), 4) and Q.shape == (len(m.item_ids), 4)
    assert P.dtype == np.float32 and not P.flags.writeable
    with pytest.raises(ValueError):
        P[0, 0] = 1.0
    assert not m.user_bias.flags.writeable and m.item_bias.shape == (len(m.item_ids),)
    # A view keeps the model alive after the Model object is gone.
    path = tmp_path / "m.flm"
    m.save(path)
    loaded = fl.load(path)
    view = loaded.item_factors
    expect = view.copy()
    del loaded
    assert np.array_equal(view, expect)
    assert np.array_equal(expect, Q)
    # The views hold the model's numbers: for one user, the difference of two
    # predictions is the difference of item bias + dot product (biased, no
    # y-range; the constant terms cancel), unless clipping to 1..5 intervened.
    u = 0
    p0, p1 = (float(m.predict(m.user_ids[u], m.item_ids[k])) for k in (0, 1))
    if 1 < p0 < 5 and 1 < p1 < 5:
        d2 = (P[u] @ Q[1] + m.item_bias[1]) - (P[u] @ Q[0] + m.item_bias[0])
        assert p1 - p0 == pytest.approx(d2, abs=1e-4)


def test_save_load_round_trip(small_model, tmp_path):
    p = tmp_path / "m.flm"
    small_model.save(p)
    m = fl.load(p)
    assert np.array_equal(m.user_factors, small_model.user_factors)
    assert list(m.item_ids) == list(small_model.item_ids)
    h0, h1 = small_model.history, m.history
    assert list(h1.index) == [1, 2, 3, 4, 5]
    assert np.array_equal(h0["train_mse"].to_numpy(), h1["train_mse"].to_numpy())
    assert (h1["seconds"] == -1).all()


def test_history_has_test_rmse(small):
    half = {k: v[:300] for k, v in small.items()}
    rest = {k: v[300:] for k, v in small.items()}
    seen = []
    m = fl.fit(half, test=rest, factors=3, epochs=4, threads=1, on_epoch=seen.append)
    h = m.history
    assert len(h) == 4 and len(seen) == 4
    assert h["test_rmse"].notna().all() and h["valid_rmse"].isna().all()
    assert h["reg_penalty"].gt(0).all()
    assert h.loc[4, "test_rmse"] == pytest.approx(m.evaluate(rest)["rmse"])
    assert [r["train_mse"] for r in seen] == list(h["train_mse"])


def test_on_epoch_stops(small):
    m = fl.fit(small, epochs=10, threads=1, on_epoch=lambda r: r["epoch"] == 3)
    assert m.info["epochs_run"] == 3 and len(m.history) == 3


def test_fold_in(small, small_model):
    m = small_model
    items, ratings = list(m.item_ids[:6]), [5, 4, 1, 2, 5, 3]
    f, bias, used = m.fold_in_factors(items, ratings)
    assert f.shape == (4,) and used == 6
    scores = m.predict_folded(f, bias)
    assert scores.shape == (len(m.item_ids),)
    recs = m.fold_in(items, ratings, n=5)
    assert len(recs) == 5 and not set(items) & {i for i, _ in recs}
    best = np.delete(np.arange(len(scores)), [m.item_index(i) for i in items])
    assert recs[0][1] == pytest.approx(float(scores[best].max()))
    for item, score in recs:
        assert score == scores[m.item_index(item)]
    # A trained user's own row ranks as recommend does.
    u = m.user_ids[3]
    seen = [i for uu, i in zip(small["user"], small["item"]) if uu == u]
    assert m._m.recommend_folded(m.user_factors[3].tobytes(), float(m.user_bias[3]), seen, 5) \
        == m.recommend(u, 5)
    # unknown items are skipped on request
    _, _, used = m.fold_in_factors(items + ["nothing"], ratings + [3], unknown="skip")
    assert used == 6


def test_evaluate_fold_in(small):
    # Users u0..u9 are new to the model; their first 3 ratings are folded in.
    new = {u for u in small["user"] if u in {f"u{k}" for k in range(10)}}
    keep = np.array([u not in new for u in small["user"]])
    m = fl.fit({k: v[keep] for k, v in small.items()}, factors=4, epochs=5, threads=1, seed=3)
    r = m.evaluate_fold_in(small, 3)
    assert set(r) >= {"n", "n_users", "rmse", "mae", "rmse_baseline", "mae_baseline"}
    assert r["fold_in"] == 3 and r["n_users"] == len(new) and r["n_known_users"] == 30
    # The same protocol by hand with fold_in_factors and predict_folded.
    se = n = 0
    for u in sorted(new):
        rows = [(i, x) for uu, i, x in zip(small["user"], small["item"], small["rating"]) if uu == u]
        f, b, _ = m.fold_in_factors([i for i, _ in rows[:3]], [x for _, x in rows[:3]], unknown="skip")
        p = m.predict_folded(f, b)
        for i, x in rows[3:]:
            if i in set(m.item_ids):
                se += (float(p[m.item_index(i)]) - float(x)) ** 2
                n += 1
    assert r["n"] == n and r["rmse"] == pytest.approx((se / n) ** 0.5, rel=1e-6)
    with pytest.raises(ValueError, match="no rating to score"):
        m.evaluate_fold_in({k: v[keep] for k, v in small.items()}, 3)


def test_read_ratings(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("userId,movieId,rating,timestamp\n7,a,4.5,100\n8,a,3,200\n7,b,1,300\n")
    df = fl.read_ratings(p, times=True)
    assert list(df.columns) == ["user", "item", "rating", "timestamp"]
    assert list(df["user"]) == ["7", "8", "7"] and list(df["item"]) == ["a", "a", "b"]
    assert df["rating"].tolist() == [4.5, 3.0, 1.0] and df["timestamp"].tolist() == [100, 200, 300]
    assert df.attrs["source"] == str(p)
    m = fl.fit(df, factors=2, epochs=1, threads=1)
    assert m.info["source"] == str(p)


def test_fetch_from_factorlens_data(ml100k, monkeypatch):
    import os
    monkeypatch.setenv("FACTORLENS_DATA", os.path.dirname(ml100k))
    d = fl.fetch("ml-100k")
    assert os.path.exists(os.path.join(d, "u.data"))
    assert "ml-100k" in fl.dataset_names()


def test_ml100k_numbers(ml100k):
    m = fl.fit(f"{ml100k}/u1.base", test=f"{ml100k}/u1.test", threads=2, seed=42)
    assert m.evaluate(f"{ml100k}/u1.test")["rmse"] == pytest.approx(0.915177, abs=1e-6)
    assert m.recommend("196", 1)[0][0] == "169"  # Wrong Trousers, as in the README


def test_threads_share_a_model(small, small_model):
    from concurrent.futures import ThreadPoolExecutor
    want = small_model.evaluate(small)
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda _: small_model.evaluate(small), range(16)))
    assert all(g == want for g in got)
