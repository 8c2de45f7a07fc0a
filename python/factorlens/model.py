"""factorlens.Model: a trained or loaded model, with numpy in and out."""
import numpy as np

from . import _inputs, _native

_HISTORY_COLUMNS = ["epoch", "train_mse", "reg_penalty", "valid_rmse", "test_rmse", "test_mae",
                    "test_mse", "lr", "seconds"]


class Model:
    """A latent-factor model (dot, biased or nn). Made by factorlens.fit or
    factorlens.load; immutable, so any number of threads may use one model.

    Ids are the raw ids of the training data as str (ints are accepted and
    looked up by their decimal form). An id the model never saw raises
    KeyError, unless a call takes unknown='mean' (the bias-only fallback).
    """

    def __init__(self, native):
        if not isinstance(native, _native.Model):
            raise TypeError("use factorlens.fit or factorlens.load to make a Model")
        self._m = native
        self._info = native.info()
        self._user_ids = None
        self._item_ids = None
        self._item_index = None

    # ------------------------------------------------------------ description
    @property
    def info(self):
        """Kind, parameters, sizes and training source as a dict."""
        return dict(self._info)

    @property
    def kind(self):
        return self._info["model"]

    @property
    def n_factors(self):
        return self._info["factors"]

    def __repr__(self):
        i = self._info
        return (f"<factorlens.Model {i['model']} ({i['solver']}), {i['factors']} factors, "
                f"{i['n_users']} users x {i['n_items']} items, {i['epochs_run']} epochs>")

    def save(self, path):
        """Writes the model file (safetensors, checksummed, atomic)."""
        self._m.save(path)

    # ------------------------------------------------------------ contents
    @property
    def user_ids(self):
        """Raw user ids in the model's index order (row u of user_factors)."""
        if self._user_ids is None:
            self._user_ids = np.array(self._m.ids(False), dtype=object)
            self._user_ids.flags.writeable = False
        return self._user_ids

    @property
    def item_ids(self):
        """Raw item ids in the model's index order (row i of item_factors)."""
        if self._item_ids is None:
            self._item_ids = np.array(self._m.ids(True), dtype=object)
            self._item_ids.flags.writeable = False
        return self._item_ids

    def item_index(self, item):
        """The model's row of a raw item id (KeyError if unknown)."""
        if self._item_index is None:
            self._item_index = {s: k for k, s in enumerate(self.item_ids)}
        return self._item_index[_inputs.id_str(item, "item")]

    @property
    def user_factors(self):
        """[n_users, n_factors] float32, a read-only view of the model's memory
        (the user embeddings for nn)."""
        return self._factors(False)

    @property
    def item_factors(self):
        """[n_items, n_factors] float32, a read-only view of the model's memory."""
        return self._factors(True)

    def _factors(self, items):
        view = self._m.factors(items)
        n = self._info["n_items" if items else "n_users"]
        if view is None:
            return np.zeros((n, self.n_factors), dtype=np.float32)
        return np.asarray(view)

    @property
    def user_bias(self):
        """[n_users] float32 learned user biases (zeros for dot), read-only.
        A copy: the library's header gives bias values, not their memory."""
        return self._biases(False)

    @property
    def item_bias(self):
        """[n_items] float32 learned item biases (zeros for dot), read-only copy."""
        return self._biases(True)

    def _biases(self, items):
        a = np.frombuffer(self._m.biases(items), dtype=np.float32)
        return a  # frombuffer over bytes is read-only

    @property
    def item_counts(self):
        """[n_items] training ratings per item (popularity)."""
        return np.frombuffer(self._m.item_counts(), dtype=np.uint32)

    @property
    def history(self):
        """The learning curves: per epoch train_mse (data loss), reg_penalty,
        valid_rmse, test_rmse, test_mae, test_mse (NaN where not measured),
        lr and seconds (-1 for a loaded model). A DataFrame when pandas is
        installed, else a dict of numpy arrays; empty for model files written
        before factorlens kept the history."""
        rows = self._m.history()
        cols = {c: np.array([r[k] for r in rows], dtype=np.int64 if c == "epoch" else np.float64)
                for k, c in enumerate(_HISTORY_COLUMNS)}
        if _inputs.pd is not None:
            return _inputs.pd.DataFrame(cols).set_index("epoch")
        return cols

    # ------------------------------------------------------------ using it
    def predict(self, users, items, *, unknown="error"):
        """Predicted ratings, vectorised: users and items are ids or equally long
        sequences of ids. Returns a float32 array (a 0-d value for two scalars)."""
        scalar = np.ndim(users) == 0 and np.ndim(items) == 0
        us = _inputs.id_list(users, "user")
        its = _inputs.id_list(items, "item")
        if len(us) == 1 and len(its) > 1:
            us = us * len(its)
        elif len(its) == 1 and len(us) > 1:
            its = its * len(us)
        out = np.frombuffer(self._m.predict(us, its, unknown), dtype=np.float32).copy()
        return out[0] if scalar else out

    def evaluate(self, ratings, *, user="user", item="item", rating="rating", unknown="mean"):
        """RMSE, MAE and MSE on ratings (a DataFrame, dict or tuple as for fit, or
        a file path), as a dict with rmse, mae, mse, n and the unknown counts.
        Unknown ids are predicted from the biases (unknown='mean', as the CLI's
        eval does), or raise (unknown='error'), or are left out ('skip')."""
        from . import _read_any
        ds = _read_any(ratings, user, item, rating, duplicates="keep")
        return self._m.evaluate(ds, unknown)

    def evaluate_fold_in(self, ratings, n, *, user="user", item="item", rating="rating"):
        """The cold-start protocol (the CLI's eval --fold-in N): each user of
        ratings whom the model never saw is folded in from their first n ratings
        (row order) and scored on the rest, beside the bias-only fallback on the
        same ratings. A dict with n, n_users, rmse, mae, rmse_baseline,
        mae_baseline, fold_in and the counts left out (n_known_users,
        n_short_users, n_unknown_items). ValueError when nothing is left to score."""
        from . import _read_any
        ds = _read_any(ratings, user, item, rating, duplicates="keep")
        return self._m.evaluate_fold_in(ds, int(n))

    def recommend(self, user, n=10):
        """The n items with the highest predicted rating that user did not rate
        in training, best first, as a list of (item_id, score)."""
        return self._m.recommend(_inputs.id_str(user, "user"), int(n))

    def similar(self, item, n=10):
        """The n items nearest to item by cosine of their factor vectors, as a
        list of (item_id, cosine)."""
        return self._m.similar(_inputs.id_str(item, "item"), int(n))

    def fold_in_factors(self, items, ratings, *, unknown="error"):
        """A new user's (factors, bias, n_used) from their ratings of items,
        with the items held fixed: a ridge regression shrunk towards zero as
        strongly as the model's own users vary (fl_fold_in; dot and biased models
        without a y-range). unknown='skip' leaves out items the model never saw."""
        its = _inputs.id_list(items, "item")
        rs = np.ascontiguousarray(np.atleast_1d(np.asarray(ratings, dtype=np.float32)))
        if rs.ndim != 1 or len(rs) != len(its):
            raise ValueError("items and ratings differ in length")
        if not np.isfinite(rs).all():
            raise ValueError("ratings must be finite numbers")
        f, bias, used = self._m.fold_in(its, rs.tobytes(), unknown)
        return np.frombuffer(f, dtype=np.float32), bias, used

    def predict_folded(self, factors, bias=0.0):
        """Every item's predicted rating (in item_ids order) for a folded-in
        user, as fl_predict_folded computes it."""
        f = np.ascontiguousarray(factors, dtype=np.float32)
        return np.frombuffer(self._m.predict_folded(f.tobytes(), float(bias)), dtype=np.float32)

    def fold_in(self, items, ratings, n=10, *, unknown="error"):
        """Recommendations for a new user from a few of their ratings, without
        retraining: folds the user in (fold_in_factors) and returns the n best
        items they did not rate, as (item_id, predicted rating), best first,
        ranked as recommend ranks a trained user's items."""
        its = _inputs.id_list(items, "item")
        f, bias, _ = self.fold_in_factors(its, ratings, unknown=unknown)
        if n < 0:
            raise ValueError("n must not be negative")
        return self._m.recommend_folded(f.tobytes(), bias, its, int(n))

