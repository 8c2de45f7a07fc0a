"""Turning what users hand to factorlens (a pandas DataFrame, a dict or tuple
of numpy arrays, lists, scalars) into what the C library takes: ids as str,
ratings as float32, and ratings sets as integer codes plus id names."""
import numbers

import numpy as np

from . import _native

try:
    import pandas as pd
except ImportError:  # pandas is optional; DataFrames need it, dicts of arrays do not
    pd = None


def id_str(x, what):
    """One raw id as the library's string: ints become their decimal form."""
    if isinstance(x, str):
        return x
    if isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    raise TypeError(f"a {what} id must be a str or an int, not {type(x).__name__}")


def id_list(xs, what):
    """A list of str ids from a scalar, a sequence, a numpy array or a Series."""
    if isinstance(xs, (str, numbers.Integral, np.integer)):
        return [id_str(xs, what)]
    arr = np.asarray(xs)
    if arr.ndim != 1:
        raise ValueError(f"{what} ids must be one-dimensional")
    if arr.dtype.kind in "iu":
        return [str(v) for v in arr.tolist()]
    if arr.dtype.kind == "U":
        return arr.tolist()
    if arr.dtype.kind == "S":
        return [v.decode() for v in arr.tolist()]
    if arr.dtype.kind == "O":
        return [id_str(v, what) for v in arr.tolist()]
    raise TypeError(f"{what} ids must be str or int, not {arr.dtype} (floats are not ids)")


def _codes(col, what):
    """(uint32 codes, list of str names) for a column of ids; codes index names."""
    if pd is not None and isinstance(col, pd.Series) and isinstance(col.dtype, pd.CategoricalDtype):
        codes = np.asarray(col.cat.codes)
        if (codes < 0).any():
            raise ValueError(f"the {what} column has missing values")
        names = id_list(col.cat.categories.to_numpy(), what)
        return codes.astype(np.uint32), names
    arr = np.asarray(col)
    if arr.ndim != 1:
        raise ValueError(f"the {what} column must be one-dimensional")
    if arr.dtype.kind == "f":
        raise TypeError(f"{what} ids must be str or int, not {arr.dtype} (floats are not ids)")
    if arr.dtype.kind == "O" and pd is not None:
        codes, uniques = pd.factorize(arr)  # first appearance order, no sorting of mixed types
        if (codes < 0).any():
            raise ValueError(f"the {what} column has missing values")
        return codes.astype(np.uint32), id_list(np.asarray(uniques, dtype=object), what)
    uniques, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.uint32).ravel(), id_list(uniques, what)


def columns(ratings, user, item, rating):
    """The three columns of a ratings table given as a DataFrame, a dict of
    arrays, or a (users, items, ratings) tuple."""
    if isinstance(ratings, tuple):
        if len(ratings) != 3:
            raise ValueError("a ratings tuple is (users, items, ratings)")
        return ratings
    if pd is not None and isinstance(ratings, pd.DataFrame) or isinstance(ratings, dict):
        missing = [c for c in (user, item, rating) if c not in ratings]
        if missing:
            have = list(ratings.columns if hasattr(ratings, "columns") else ratings.keys())
            raise ValueError(f"ratings have no column {missing[0]!r} (columns: {have}); "
                             "name them with user=, item=, rating=")
        return ratings[user], ratings[item], ratings[rating]
    raise TypeError("ratings must be a pandas DataFrame, a dict of arrays, a (users, items, "
                    f"ratings) tuple or a file path, not {type(ratings).__name__}")


def dataset(ratings, user="user", item="item", rating="rating", source=None,
            duplicates="error"):
    """A _native.Dataset from any accepted form of ratings."""
    if isinstance(ratings, _native.Dataset):
        return ratings
    us, its, rs = columns(ratings, user, item, rating)
    ucodes, unames = _codes(us, "user")
    icodes, inames = _codes(its, "item")
    values = np.asarray(rs)
    if values.dtype.kind not in "iuf":
        raise TypeError(f"ratings must be numbers, not {values.dtype}")
    values = np.ascontiguousarray(values, dtype=np.float32)
    if not (len(ucodes) == len(icodes) == len(values)):
        raise ValueError("users, items and ratings differ in length")
    if not np.isfinite(values).all():
        k = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"rating {k} is not a finite number")
    if duplicates != "keep":
        key = ucodes.astype(np.uint64) << np.uint64(32) | icodes.astype(np.uint64)
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        if (counts > 1).any():
            k = int(first[np.flatnonzero(counts > 1)[0]])
            raise ValueError(f"user {unames[ucodes[k]]!r} rated item {inames[icodes[k]]!r} more "
                             "than once; pass duplicates='keep' to train on every copy")
    if source is None:
        attrs = getattr(ratings, "attrs", None)
        source = attrs.get("source") if attrs else None
    return _native.dataset_from_codes(ucodes, unames, icodes, inames, values,
                                      source or "(in memory)")
