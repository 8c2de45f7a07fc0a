/* model.c — the Model type: a trained or loaded fl_model and the calls on
 * it (save, info, ids, factor views, prediction, evaluation, top-n lists,
 * fold-in). The model is immutable, so the slow calls drop the GIL. */
#include "native.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

PyObject *flpy_idmap_list(const fl_idmap *ids); /* dataset.c */

PyObject *flpy_model_wrap(fl_model *m) {
    flpy_model *o = PyObject_New(flpy_model, &flpy_model_type);
    if (!o) {
        fl_model_free(m);
        return NULL;
    }
    o->m = m;
    return (PyObject *)o;
}

static void model_dealloc(PyObject *self) {
    fl_model_free(((flpy_model *)self)->m);
    PyObject_Free(self);
}

static const fl_model *M(PyObject *self) { return ((flpy_model *)self)->m; }

/* load(path) -> Model */
static PyObject *model_load(PyObject *module, PyObject *arg) {
    PyObject *path_obj;
    if (!PyUnicode_FSConverter(arg, &path_obj)) return NULL;
    fl_model *m = NULL;
    fl_error err = {0};
    fl_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fl_model_load(PyBytes_AS_STRING(path_obj), &m, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (st != FL_OK) return flpy_raise(&err);
    return flpy_model_wrap(m);
}
PyMethodDef flpy_load_def = {"load", model_load, METH_O, "load(path) -> Model"};

static PyObject *model_save(PyObject *self, PyObject *arg) {
    PyObject *path_obj;
    if (!PyUnicode_FSConverter(arg, &path_obj)) return NULL;
    fl_error err = {0};
    fl_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fl_model_save(M(self), PyBytes_AS_STRING(path_obj), &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (st != FL_OK) return flpy_raise(&err);
    Py_RETURN_NONE;
}

static PyObject *model_info(PyObject *self, PyObject *unused) {
    fl_model_info in;
    fl_model_get_info(M(self), &in);
    const fl_params *p = &in.params;
    PyObject *layers = PyList_New(p->n_layers), *dropout = PyList_New(p->n_layers);
    for (int l = 0; layers && dropout && l < p->n_layers; l++) {
        PyList_SET_ITEM(layers, l, PyLong_FromLong(p->layers[l]));
        PyList_SET_ITEM(dropout, l, PyFloat_FromDouble(p->dropout[l + 1]));
    }
    PyObject *y_range = p->y_lo < p->y_hi ? Py_BuildValue("(dd)", (double)p->y_lo, (double)p->y_hi)
                                          : Py_NewRef(Py_None);
    return Py_BuildValue(
        "{s:s,s:s,s:i,s:i,s:d,s:d,s:d,s:N,s:d,s:i,s:N,s:N,s:d,s:i,s:K,s:d,s:i,s:I,s:I,s:n,"
        "s:d,s:d,s:d,s:i,s:s,s:s}",
        "model", fl_model_kind_name(in.kind), "solver", fl_solver_name(p->solver), "factors",
        p->n_factors, "epochs", p->epochs, "lr", (double)p->lr, "reg", (double)p->reg_factors,
        "reg_bias", (double)p->reg_bias, "y_range", y_range, "init_std", (double)p->init_std,
        "batch_size", p->batch_size, "layers", layers, "dropout", dropout, "emb_dropout",
        (double)p->dropout[0], "threads", p->n_threads, "seed", (unsigned long long)p->seed,
        "valid", p->valid_fraction, "patience", p->patience, "n_users", in.n_users, "n_items",
        in.n_items, "n_train", (Py_ssize_t)in.n_train, "global_mean", (double)in.global_mean,
        "rating_lo", (double)in.rating_lo, "rating_hi", (double)in.rating_hi, "epochs_run",
        in.epochs_run, "source", in.source, "created", in.created);
}

static PyObject *model_ids(PyObject *self, PyObject *which) {
    int items = PyObject_IsTrue(which);
    if (items < 0) return NULL;
    return flpy_idmap_list(items ? fl_model_item_ids(M(self)) : fl_model_user_ids(M(self)));
}

/* factors(items: bool) -> View over the rows (no copy), or None (no rows) */
static PyObject *model_factors(PyObject *self, PyObject *which) {
    int items = PyObject_IsTrue(which);
    if (items < 0) return NULL;
    const fl_model *m = M(self);
    fl_model_info in;
    fl_model_get_info(m, &in);
    uint32_t n = items ? in.n_items : in.n_users;
    const float *(*row)(const fl_model *, uint32_t) =
        items ? fl_model_item_factors : fl_model_user_factors;
    const float *first = n ? row(m, 0) : NULL;
    if (!first) Py_RETURN_NONE;
    /* Rows are padded while a model trains and packed once loaded: the
     * distance between two rows is the stride either way. */
    Py_ssize_t stride = n > 1 ? row(m, 1) - first : in.params.n_factors;
    return flpy_view_new(self, first, n, in.params.n_factors, stride);
}

/* biases(items: bool) -> bytes of float32 (the header gives values, not memory) */
static PyObject *model_biases(PyObject *self, PyObject *which) {
    int items = PyObject_IsTrue(which);
    if (items < 0) return NULL;
    const fl_model *m = M(self);
    fl_model_info in;
    fl_model_get_info(m, &in);
    uint32_t n = items ? in.n_items : in.n_users;
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n * 4);
    if (!b) return NULL;
    float *out = (float *)PyBytes_AS_STRING(b);
    for (uint32_t k = 0; k < n; k++)
        out[k] = items ? fl_model_item_bias(m, k) : fl_model_user_bias(m, k);
    return b;
}

static PyObject *model_item_counts(PyObject *self, PyObject *unused) {
    const fl_model *m = M(self);
    uint32_t n = fl_idmap_size(fl_model_item_ids(m));
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n * 4);
    if (!b) return NULL;
    uint32_t *out = (uint32_t *)PyBytes_AS_STRING(b);
    for (uint32_t k = 0; k < n; k++) out[k] = fl_model_item_count(m, k);
    return b;
}

/* predict(users: list[str], items: list[str], unknown) -> bytes of float32 */
static PyObject *model_predict(PyObject *self, PyObject *args) {
    PyObject *users, *items;
    const char *pol_name;
    if (!PyArg_ParseTuple(args, "O!O!s", &PyList_Type, &users, &PyList_Type, &items, &pol_name))
        return NULL;
    fl_unknown_policy pol;
    if (flpy_policy(pol_name, &pol) < 0) return NULL;
    if (pol == FL_UNKNOWN_SKIP) {
        PyErr_SetString(PyExc_ValueError, "predict takes unknown='error' or 'mean'");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(users);
    if (PyList_GET_SIZE(items) != n) {
        PyErr_SetString(PyExc_ValueError, "users and items differ in length");
        return NULL;
    }
    PyObject *b = PyBytes_FromStringAndSize(NULL, n * 4);
    if (!b) return NULL;
    float *out = (float *)PyBytes_AS_STRING(b);
    for (Py_ssize_t k = 0; k < n; k++) {
        const char *u = flpy_id(PyList_GET_ITEM(users, k), "user");
        const char *i = u ? flpy_id(PyList_GET_ITEM(items, k), "item") : NULL;
        fl_error err = {0};
        if (!i || fl_predict(M(self), u, i, pol, &out[k], &err) != FL_OK) {
            Py_DECREF(b);
            return i ? flpy_raise(&err) : NULL;
        }
    }
    return b;
}

/* evaluate(dataset, unknown) -> dict */
static PyObject *model_evaluate(PyObject *self, PyObject *args) {
    flpy_dataset *ds;
    const char *pol_name;
    if (!PyArg_ParseTuple(args, "O!s", &flpy_dataset_type, &ds, &pol_name)) return NULL;
    fl_unknown_policy pol;
    if (flpy_policy(pol_name, &pol) < 0) return NULL;
    fl_metrics mt;
    fl_error err = {0};
    fl_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fl_evaluate(M(self), ds->d, pol, &mt, &err);
    Py_END_ALLOW_THREADS
    if (st != FL_OK) return flpy_raise(&err);
    return Py_BuildValue("{s:d,s:d,s:d,s:n,s:n,s:n,s:n}", "rmse", mt.rmse, "mae", mt.mae, "mse",
                         mt.mse, "n", (Py_ssize_t)mt.n, "n_unknown_users",
                         (Py_ssize_t)mt.n_unknown_users, "n_unknown_items",
                         (Py_ssize_t)mt.n_unknown_items, "n_skipped", (Py_ssize_t)mt.n_skipped);
}

/* evaluate_fold_in(dataset, n) -> dict: fl_evaluate_fold_in's counts and errors. */
static PyObject *model_evaluate_fold_in(PyObject *self, PyObject *args) {
    flpy_dataset *ds;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "O!n", &flpy_dataset_type, &ds, &n)) return NULL;
    if (n < 1) {
        PyErr_SetString(PyExc_ValueError, "n must be at least 1");
        return NULL;
    }
    fl_fold_in_metrics r;
    fl_error err = {0};
    fl_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fl_evaluate_fold_in(M(self), ds->d, (size_t)n, &r, &err);
    Py_END_ALLOW_THREADS
    if (st != FL_OK) return flpy_raise(&err);
    return Py_BuildValue("{s:n,s:n,s:d,s:d,s:d,s:d,s:n,s:n,s:n,s:n}", "n", (Py_ssize_t)r.n,
                         "n_users", (Py_ssize_t)r.n_users, "rmse", r.rmse, "mae", r.mae,
                         "rmse_baseline", r.rmse_baseline, "mae_baseline", r.mae_baseline,
                         "fold_in", (Py_ssize_t)r.n_fold, "n_known_users",
                         (Py_ssize_t)r.n_known_users, "n_short_users",
                         (Py_ssize_t)r.n_short_users, "n_unknown_items",
                         (Py_ssize_t)r.n_unknown_items);
}

/* A top-n list as [(item_id, score), ...]. */
static PyObject *scored_list(const fl_model *m, const fl_scored *s, size_t n) {
    PyObject *l = PyList_New((Py_ssize_t)n);
    const fl_idmap *ids = fl_model_item_ids(m);
    for (size_t k = 0; l && k < n; k++) {
        PyObject *t = Py_BuildValue("(sd)", fl_idmap_name(ids, s[k].index), (double)s[k].score);
        if (!t) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)k, t);
    }
    return l;
}

static PyObject *top_n(PyObject *self, PyObject *args, const char *what,
                       fl_status (*fn)(const fl_model *, const char *, size_t, fl_scored *,
                                       size_t *, fl_error *)) {
    PyObject *id_obj;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "Un", &id_obj, &n)) return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "n must not be negative");
        return NULL;
    }
    const char *id = flpy_id(id_obj, what);
    if (!id) return NULL;
    uint32_t n_items = fl_idmap_size(fl_model_item_ids(M(self)));
    size_t cap = (size_t)n < n_items ? (size_t)n : n_items;
    fl_scored *s = PyMem_Malloc((cap ? cap : 1) * sizeof *s);
    if (!s) return PyErr_NoMemory();
    size_t got = 0;
    fl_error err = {0};
    fl_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fn(M(self), id, cap, s, &got, &err);
    Py_END_ALLOW_THREADS
    PyObject *r = st == FL_OK ? scored_list(M(self), s, got) : flpy_raise(&err);
    PyMem_Free(s);
    return r;
}

static PyObject *model_recommend(PyObject *self, PyObject *args) {
    return top_n(self, args, "user", fl_recommend);
}
static PyObject *model_similar(PyObject *self, PyObject *args) {
    return top_n(self, args, "item", fl_similar);
}

/* fold_in(items: list[str], ratings f4 buffer, unknown) -> (factors bytes f4, bias, n_used) */
static PyObject *model_fold_in(PyObject *self, PyObject *args) {
    PyObject *items;
    Py_buffer r;
    const char *pol_name;
    if (!PyArg_ParseTuple(args, "O!y*s", &PyList_Type, &items, &r, &pol_name)) return NULL;
    PyObject *result = NULL, *fb = NULL;
    const char **ids = NULL;
    fl_unknown_policy pol;
    Py_ssize_t n = PyList_GET_SIZE(items);
    if (flpy_policy(pol_name, &pol) < 0) goto done;
    if (r.len != n * 4) {
        PyErr_SetString(PyExc_ValueError, "items and ratings differ in length");
        goto done;
    }
    ids = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *ids);
    if (!ids) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < n; k++)
        if (!(ids[k] = flpy_id(PyList_GET_ITEM(items, k), "item"))) goto done;
    fl_model_info in;
    fl_model_get_info(M(self), &in);
    fb = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)fl_model_fold_in_floats(M(self)) * 4);
    if (!fb) goto done;
    float bias = 0.0f;
    size_t used = 0;
    fl_error err = {0};
    if (fl_fold_in(M(self), ids, r.buf, (size_t)n, pol, (float *)PyBytes_AS_STRING(fb), &bias,
                   &used, &err) != FL_OK) {
        flpy_raise(&err);
        goto done;
    }
    result = Py_BuildValue("(Odn)", fb, (double)bias, (Py_ssize_t)used);
done:
    Py_XDECREF(fb);
    PyMem_Free(ids);
    PyBuffer_Release(&r);
    return result;
}

/* predict_folded(factors f4 buffer, bias) -> bytes f4: every item's score */
static PyObject *model_predict_folded(PyObject *self, PyObject *args) {
    Py_buffer f;
    float bias;
    if (!PyArg_ParseTuple(args, "y*f", &f, &bias)) return NULL;
    fl_model_info in;
    fl_model_get_info(M(self), &in);
    PyObject *b = NULL;
    if (f.len != (Py_ssize_t)in.params.n_factors * 4) {
        PyErr_Format(PyExc_ValueError, "factors must hold %d float32 values", in.params.n_factors);
    } else if ((b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)in.n_items * 4))) {
        float *out = (float *)PyBytes_AS_STRING(b);
        for (uint32_t i = 0; i < in.n_items; i++)
            out[i] = fl_predict_folded(M(self), f.buf, bias, i);
    }
    PyBuffer_Release(&f);
    return b;
}

/* recommend_folded(factors f4 buffer, bias, rated: list[str], n) -> [(item, score)] */
static PyObject *model_recommend_folded(PyObject *self, PyObject *args) {
    Py_buffer fb;
    float bias;
    PyObject *rated;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "y*fO!n", &fb, &bias, &PyList_Type, &rated, &n)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_rated = PyList_GET_SIZE(rated);
    const char **ids = PyMem_Malloc((size_t)(n_rated ? n_rated : 1) * sizeof *ids);
    fl_model_info in;
    fl_model_get_info(M(self), &in);
    size_t cap = n < 0 ? 0 : (size_t)n < in.n_items ? (size_t)n : in.n_items;
    fl_scored *s = PyMem_Malloc((cap ? cap : 1) * sizeof *s);
    if (!ids || !s) {
        PyErr_NoMemory();
        goto done;
    }
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "n must not be negative");
        goto done;
    }
    if (fb.len != (Py_ssize_t)in.params.n_factors * 4) {
        PyErr_Format(PyExc_ValueError, "factors must hold %d float32 values", in.params.n_factors);
        goto done;
    }
    for (Py_ssize_t k = 0; k < n_rated; k++)
        if (!(ids[k] = flpy_id(PyList_GET_ITEM(rated, k), "item"))) goto done;
    size_t got = 0;
    fl_error err = {0};
    if (fl_recommend_folded(M(self), fb.buf, bias, ids, (size_t)n_rated, cap, s, &got, &err) !=
        FL_OK)
        flpy_raise(&err);
    else
        result = scored_list(M(self), s, got);
done:
    PyMem_Free(ids);
    PyMem_Free(s);
    PyBuffer_Release(&fb);
    return result;
}

/* history() -> list of (epoch, train_mse, reg_penalty, valid_rmse, test_rmse,
 * test_mae, test_mse, lr, seconds) */
static PyObject *model_history(PyObject *self, PyObject *unused) {
    size_t n;
    const fl_epoch_report *h = fl_model_history(M(self), &n);
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t k = 0; l && k < n; k++) {
        PyObject *t = Py_BuildValue("(idddddddd)", h[k].epoch, h[k].train_mse, h[k].reg_penalty,
                                    h[k].valid_rmse, h[k].test_rmse, h[k].test_mae, h[k].test_mse,
                                    h[k].lr, h[k].seconds);
        if (!t) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)k, t);
    }
    return l;
}

static PyMethodDef model_methods[] = {
    {"save", model_save, METH_O, "save(path): write the model file atomically."},
    {"info", model_info, METH_NOARGS, "Kind, parameters and sizes as a dict."},
    {"ids", model_ids, METH_O, "ids(items: bool) -> list of raw ids in index order."},
    {"factors", model_factors, METH_O, "factors(items: bool) -> read-only View or None."},
    {"biases", model_biases, METH_O, "biases(items: bool) -> bytes of float32."},
    {"item_counts", model_item_counts, METH_NOARGS, "Training ratings per item, uint32 bytes."},
    {"predict", model_predict, METH_VARARGS, "predict(users, items, unknown) -> float32 bytes."},
    {"evaluate", model_evaluate, METH_VARARGS, "evaluate(dataset, unknown) -> dict."},
    {"evaluate_fold_in", model_evaluate_fold_in, METH_VARARGS,
     "evaluate_fold_in(dataset, n) -> dict."},
    {"recommend", model_recommend, METH_VARARGS, "recommend(user, n) -> [(item, score)]."},
    {"similar", model_similar, METH_VARARGS, "similar(item, n) -> [(item, cosine)]."},
    {"fold_in", model_fold_in, METH_VARARGS, "fold_in(items, ratings, unknown)."},
    {"predict_folded", model_predict_folded, METH_VARARGS,
     "Every item's score for a folded-in user."},
    {"recommend_folded", model_recommend_folded, METH_VARARGS,
     "recommend_folded(factors, bias, rated, n) -> [(item, score)]."},
    {"history", model_history, METH_NOARGS, "The per-epoch reports of training."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject flpy_model_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "factorlens._native.Model",
    .tp_basicsize = sizeof(flpy_model),
    .tp_dealloc = model_dealloc,
    .tp_methods = model_methods,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A trained or loaded factorlens model (use factorlens.Model).",
};
