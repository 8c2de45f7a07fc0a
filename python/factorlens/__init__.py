"""factorlens: a recommender engine for explicit ratings, from Python.

    import factorlens as fl
    train = fl.read_ratings(fl.fetch("ml-100k") + "/u1.base")
    test = fl.read_ratings(fl.fetch("ml-100k") + "/u1.test")
    m = fl.fit(train, test=test, factors=50, seed=42)
    m.history                     # train_mse, reg_penalty, test_rmse per epoch
    m.evaluate(test)              # {'rmse': ..., 'mae': ..., 'mse': ..., 'n': ...}
    m.recommend("196", n=5)       # [(item_id, predicted rating), ...]

Everything runs in the C library (libfactorlens, linked into the extension):
the same seed and thread count give the same model, bit for bit, as
`factorlens train`. Training releases the GIL; Ctrl-C cancels it.
"""
import os

import numpy as np

from . import _inputs, _native
from ._native import DivergedError, ModelFileError
from .model import Model

__version__ = _native.version
__all__ = ["fit", "load", "read_ratings", "fetch", "dataset_names", "Model", "ModelFileError",
           "DivergedError"]

# Keyword -> the library's fl_params field, with the CLI's option names
# ("--reg-bias" is reg_bias=...).
_PARAMS = {
    "factors": "n_factors", "epochs": "epochs", "lr": "lr", "reg": "reg_factors",
    "reg_bias": "reg_bias", "init_std": "init_std", "batch_size": "batch_size",
    "layers": "layers", "dropout": "dropout", "emb_dropout": "emb_dropout",
    "valid": "valid_fraction", "patience": "patience", "threads": "n_threads", "seed": "seed",
}
_INT_PARAMS = {"factors", "epochs", "batch_size", "patience", "threads", "seed"}


def _check_path(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such file or directory", path)
    return path


def _read_any(ratings, user, item, rating, duplicates="error", source=None):
    """A _native.Dataset from a path or from in-memory ratings."""
    if isinstance(ratings, (str, os.PathLike)):
        return _native.read_ratings(_check_path(ratings), duplicates=duplicates)
    return _inputs.dataset(ratings, user, item, rating, source=source, duplicates=duplicates)


def _native_params(params):
    out = {}
    for k, v in params.items():
        if k == "y_range":
            if v is None or v == "none":
                out["y_lo"] = out["y_hi"] = 0.0
            else:
                lo, hi = (float(x) for x in v)
                if not lo < hi:
                    raise ValueError("y_range is (lo, hi) with lo < hi, or None")
                out["y_lo"], out["y_hi"] = lo, hi
            continue
        if k not in _PARAMS:
            raise TypeError(f"fit() got an unexpected parameter {k!r} (known: "
                            f"{', '.join(sorted(list(_PARAMS) + ['y_range', 'solver']))})")
        if k in ("layers", "dropout"):
            v = [int(x) if k == "layers" else float(x) for x in v]
        elif k in _INT_PARAMS:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{k} must be an int, not {type(v).__name__}")
            v = int(v)
            if v < 0:
                raise ValueError(f"{k} must not be negative")
        else:
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise TypeError(f"{k} must be a number, not {type(v).__name__}")
            v = float(v)
        out[_PARAMS[k]] = v
    if "dropout" in out and "layers" in out and len(out["dropout"]) != len(out["layers"]):
        raise ValueError(f"dropout gives {len(out['dropout'])} values for "
                         f"{len(out['layers'])} hidden layers")
    return out


def fit(ratings, *, user="user", item="item", rating="rating", test=None, model="biased",
        solver=None, duplicates="error", source=None, on_epoch=None, **params):
    """Trains a model and returns it.

    ratings: a pandas DataFrame (columns named by user=, item=, rating=), a
    dict of numpy arrays, a (users, items, ratings) tuple, or a ratings file
    path (read as the CLI reads it). Ids may be str or int. test: ratings in
    any of those forms, evaluated after each epoch, never learned from.
    model: 'dot', 'biased' or 'nn'; solver: 'sgd', 'adam' or 'als' (default:
    the model's own). params are the CLI's train options: factors, epochs,
    lr, reg, reg_bias, y_range=(lo, hi), init_std, batch_size, layers,
    dropout, emb_dropout, valid, patience, threads (0: all cores), seed.
    duplicates='keep' trains on repeated (user, item) pairs instead of
    raising ValueError. source names the data in the model file (default: the
    path, or a DataFrame's attrs['source'] as read_ratings sets it).
    on_epoch(report: dict) is called after each epoch; a true result stops.

    The GIL is released while the library trains; Ctrl-C raises
    KeyboardInterrupt and no model is made.
    """
    native_params = _native_params(params)
    train = _read_any(ratings, user, item, rating, duplicates=duplicates, source=source)
    test_ds = None if test is None else _read_any(test, user, item, rating, duplicates="keep")
    return Model(_native.fit(train, test_ds, model, solver, native_params, on_epoch))


def load(path):
    """A model from a file written by Model.save or `factorlens train --out`.
    OSError if it cannot be read, ModelFileError (an OSError) if it is corrupt."""
    return Model(_native.load(_check_path(path)))


def read_ratings(path, *, sep=None, columns=None, header=None, skip_bad=False, times=False,
                 scale=None, duplicates="error"):
    """Reads a ratings file as the CLI does (u.data, ratings.dat, ratings.csv,
    any delimited file, gzip or plain) into a DataFrame with columns user,
    item, rating (and timestamp with times=True); ids are str, in file order.
    Without pandas: a dict of numpy arrays. sep/columns/header as the CLI's
    --sep/--columns/--header (None: detect); scale=(lo, hi) refuses ratings
    outside it; duplicates: 'error', 'last', 'mean' or 'keep'."""
    lo, hi = (1.0, 0.0) if scale is None else (float(scale[0]), float(scale[1]))
    hdr = -1 if header is None else int(bool(header))
    ds = _native.read_ratings(_check_path(path), sep, columns, hdr, bool(skip_bad), bool(times),
                              lo, hi, duplicates)
    ucodes, unames, icodes, inames, values, tbytes, source, n_skipped = ds.columns()
    users = np.array(unames, dtype=object)[np.frombuffer(ucodes, dtype=np.uint32)]
    items = np.array(inames, dtype=object)[np.frombuffer(icodes, dtype=np.uint32)]
    cols = {"user": users, "item": items, "rating": np.frombuffer(values, dtype=np.float32).copy()}
    if tbytes is not None:
        cols["timestamp"] = np.frombuffer(tbytes, dtype=np.uint32).copy()
    if _inputs.pd is None:
        return cols
    df = _inputs.pd.DataFrame(cols)
    df.attrs["source"] = source
    df.attrs["n_skipped"] = n_skipped
    return df


def fetch(name="ml-100k", *, cache_dir=None, base_url=None, timeout=0):
    """The directory holding dataset name ('ml-100k', 'ml-latest-small', ...):
    from $FACTORLENS_DATA, the cache (cache_dir, default ~/.cache/factorlens),
    or downloaded (from base_url, default GroupLens) with every file's SHA-256
    checked and unpacked atomically, as `factorlens download` does. A
    corrupt archive raises ValueError, a failed download ConnectionError."""
    return _native.fetch(name, None if cache_dir is None else os.fspath(cache_dir), base_url,
                         int(timeout))


def dataset_names():
    """The names fetch knows."""
    return _native.dataset_names()
