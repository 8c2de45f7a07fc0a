"""Fixtures: MovieLens only from $FACTORLENS_DATA, the CLI from $FACTORLENS_CLI
(or PATH), and a small synthetic ratings set. Tests that need the data or the
CLI fail without them, as the C suite's do: a parity test that silently
skipped would prove nothing."""
import os
import shutil

import numpy as np
import pytest

import factorlens as fl


@pytest.fixture(scope="session")
def ml100k():
    data = os.environ.get("FACTORLENS_DATA")
    d = os.path.join(data, "ml-100k") if data else None
    if not d or not os.path.exists(os.path.join(d, "u1.base")):
        pytest.fail("set FACTORLENS_DATA to the folder holding ml-100k/")
    return d


@pytest.fixture(scope="session")
def cli():
    exe = os.environ.get("FACTORLENS_CLI") or shutil.which("factorlens")
    if not exe:
        pytest.fail("set FACTORLENS_CLI to the factorlens binary (build/factorlens)")
    return exe


def synthetic(n_users=40, n_items=30, n=600, seed=1):
    """Ratings from a planted rank-2 model, ids as str 'u..'/'i..', no repeats."""
    rng = np.random.default_rng(seed)
    pairs = rng.choice(n_users * n_items, size=n, replace=False)
    u, i = pairs // n_items, pairs % n_items
    p, q = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    r = np.clip(np.round(3 + (p[u] * q[i]).sum(1) + 0.3 * rng.normal(size=n)), 1, 5)
    return {"user": np.array([f"u{k}" for k in u], dtype=object),
            "item": np.array([f"i{k}" for k in i], dtype=object),
            "rating": r.astype(np.float32)}


@pytest.fixture
def small():
    return synthetic()


@pytest.fixture(scope="session")
def small_model():
    return fl.fit(synthetic(), factors=4, epochs=5, threads=1, seed=3)
