"""No call leaks: each runs 1000 times after a warm-up, and neither the
process's resident memory (C allocations: models, datasets) nor Python's
traced allocations may grow by more than a small allowance. One leaked
model of this size is ~10 KB, so 1000 of them would pass 10 MB."""
import gc
import os
import tracemalloc

import pytest

import factorlens as fl
from conftest import synthetic

REPS = 1000


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("leaks")
    data = synthetic(n_users=30, n_items=20, n=300)
    m = fl.fit(data, factors=4, epochs=2, threads=1)
    m.save(d / "m.flm")
    (d / "r.tsv").write_text("".join(f"{u}\t{i}\t{r}\n" for u, i, r in
                                     zip(data["user"], data["item"], data["rating"])))
    return d, data, m


def calls(env):
    d, data, m = env
    u, i = list(m.user_ids[:10]), list(m.item_ids[:10])
    items = list(m.item_ids[:5])

    def expect(exc, fn):
        try:
            fn()
        except exc:
            return
        raise AssertionError("no exception")

    return {
        "fit": lambda: fl.fit(data, factors=4, epochs=1, threads=1),
        "load": lambda: fl.load(d / "m.flm"),
        "save": lambda: m.save(d / "again.flm"),
        "read_ratings": lambda: fl.read_ratings(d / "r.tsv"),
        "predict": lambda: m.predict(u, i),
        "evaluate": lambda: m.evaluate(data),
        "recommend": lambda: m.recommend(u[0], 5),
        "similar": lambda: m.similar(i[0], 5),
        "fold_in": lambda: m.fold_in(items, [5, 4, 3, 2, 1], 5),
        "arrays": lambda: (m.user_factors.sum(), m.item_factors.sum(), m.user_bias, m.item_bias,
                           m.history, m.info),
        "key_error": lambda: expect(KeyError, lambda: m.predict("nobody", i[0])),
        "model_file_error": lambda: expect(OSError, lambda: fl.load(d / "r.tsv")),
        "value_error": lambda: expect(ValueError, lambda: fl.fit(data, factors=0)),
    }


@pytest.mark.parametrize("name", ["fit", "load", "save", "read_ratings", "predict", "evaluate",
                                  "recommend", "similar", "fold_in", "arrays", "key_error",
                                  "model_file_error", "value_error"])
def test_no_leak(env, name):
    fn = calls(env)[name]
    for _ in range(50):
        fn()
    gc.collect()
    tracemalloc.start()
    before_rss = rss_kib()
    before_py = tracemalloc.get_traced_memory()[0]
    for _ in range(REPS):
        fn()
    gc.collect()
    grown_py = tracemalloc.get_traced_memory()[0] - before_py
    grown_rss = rss_kib() - before_rss
    tracemalloc.stop()
    assert grown_py < 64 * 1024, f"{name}: Python allocations grew {grown_py} bytes"
    assert grown_rss < 2048, f"{name}: resident memory grew {grown_rss} KiB"
