/* training.c — fit: fl_train with the GIL released. The library calls its
 * progress hook on this thread a few hundred times per epoch; the hook takes
 * the GIL back just long enough to run Python's signal handlers, so Ctrl-C
 * raises KeyboardInterrupt in Python and cancels training cleanly (the
 * library frees everything and returns FL_ERR_CANCELLED). */
#include "native.h"

#include <string.h>

typedef struct fit_ctx {
    PyThreadState *ts; /* saved while the library runs */
    PyObject *on_epoch;
    int failed; /* a Python exception is pending */
} fit_ctx;

static int progress_hook(void *ctx, int epoch, int epochs, size_t done, size_t total) {
    fit_ctx *c = ctx;
    PyEval_RestoreThread(c->ts);
    if (PyErr_CheckSignals() < 0) c->failed = 1;
    c->ts = PyEval_SaveThread();
    return c->failed;
}

/* Calls on_epoch(dict); a true result stops training after this epoch. */
static int epoch_hook(void *ctx, const fl_epoch_report *r) {
    fit_ctx *c = ctx;
    if (!c->on_epoch) return 0;
    PyEval_RestoreThread(c->ts);
    int stop = 0;
    PyObject *res = PyObject_CallFunction(
        c->on_epoch, "({s:i,s:i,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d})", "epoch", r->epoch, "epochs",
        r->epochs, "train_mse", r->train_mse, "reg_penalty", r->reg_penalty, "valid_rmse",
        r->valid_rmse, "test_rmse", r->test_rmse, "test_mae", r->test_mae, "test_mse", r->test_mse,
        "lr", r->lr, "seconds", r->seconds);
    if (!res) {
        c->failed = 1;
        stop = 1;
    } else {
        stop = PyObject_IsTrue(res);
        Py_DECREF(res);
        if (stop < 0) c->failed = 1, stop = 1;
    }
    c->ts = PyEval_SaveThread();
    return stop;
}

/* The parameters given in the dict (names as fl_params' fields, checked by
 * the Python layer) over the defaults of kind and solver. */
static int set_params(fl_params *p, PyObject *d) {
    PyObject *key, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &key, &v)) {
        const char *k = PyUnicode_AsUTF8(key);
        if (!k) return -1;
        double x = 0;
        long long i = 0;
        int is_list = strcmp(k, "layers") == 0 || strcmp(k, "dropout") == 0;
        if (is_list) {
            if (!PyList_Check(v) || PyList_GET_SIZE(v) > FL_MAX_LAYERS) {
                PyErr_Format(PyExc_ValueError, "%s must be a list of at most %d values", k,
                             FL_MAX_LAYERS);
                return -1;
            }
        } else if (strcmp(k, "seed") == 0) {
            unsigned long long s = PyLong_AsUnsignedLongLong(v);
            if (PyErr_Occurred()) return -1;
            p->seed = s;
            continue;
        } else if (PyFloat_Check(v)) {
            x = PyFloat_AsDouble(v);
        } else {
            i = PyLong_AsLongLong(v);
            if (PyErr_Occurred()) return -1;
            x = (double)i;
        }
        if (strcmp(k, "n_factors") == 0)
            p->n_factors = (int)i;
        else if (strcmp(k, "epochs") == 0)
            p->epochs = (int)i;
        else if (strcmp(k, "lr") == 0)
            p->lr = (float)x;
        else if (strcmp(k, "reg_factors") == 0)
            p->reg_factors = (float)x;
        else if (strcmp(k, "reg_bias") == 0)
            p->reg_bias = (float)x;
        else if (strcmp(k, "y_lo") == 0)
            p->y_lo = (float)x;
        else if (strcmp(k, "y_hi") == 0)
            p->y_hi = (float)x;
        else if (strcmp(k, "init_std") == 0)
            p->init_std = (float)x;
        else if (strcmp(k, "batch_size") == 0)
            p->batch_size = (int)i;
        else if (strcmp(k, "emb_dropout") == 0)
            p->dropout[0] = (float)x;
        else if (strcmp(k, "n_threads") == 0)
            p->n_threads = (int)i;
        else if (strcmp(k, "valid_fraction") == 0)
            p->valid_fraction = x;
        else if (strcmp(k, "patience") == 0)
            p->patience = (int)i;
        else if (strcmp(k, "layers") == 0) {
            p->n_layers = (int)PyList_GET_SIZE(v);
            for (int l = 0; l < p->n_layers; l++) {
                p->layers[l] = (int)PyLong_AsLong(PyList_GET_ITEM(v, l));
                if (PyErr_Occurred()) return -1;
            }
        } else if (strcmp(k, "dropout") == 0) {
            for (Py_ssize_t l = 0; l < PyList_GET_SIZE(v); l++) {
                p->dropout[l + 1] = (float)PyFloat_AsDouble(PyList_GET_ITEM(v, l));
                if (PyErr_Occurred()) return -1;
            }
        } else {
            PyErr_Format(PyExc_TypeError, "unknown training parameter '%s'", k);
            return -1;
        }
        if ((int)i != i && !PyFloat_Check(v)) {
            PyErr_Format(PyExc_ValueError, "%s is out of range", k);
            return -1;
        }
    }
    return 0;
}

/* fit(train, test or None, kind, solver or None, params: dict, on_epoch or None) -> Model */
PyObject *flpy_fit(PyObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"train", "test", "kind", "solver", "params", "on_epoch", NULL};
    flpy_dataset *train;
    PyObject *test_obj, *params, *on_epoch;
    const char *kind_name, *solver_name;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!OszO!O", names, &flpy_dataset_type, &train,
                                     &test_obj, &kind_name, &solver_name, &PyDict_Type, &params,
                                     &on_epoch))
        return NULL;
    const fl_dataset *test = NULL;
    if (test_obj != Py_None) {
        if (!PyObject_TypeCheck(test_obj, &flpy_dataset_type)) {
            PyErr_SetString(PyExc_TypeError, "test must be a Dataset or None");
            return NULL;
        }
        test = ((flpy_dataset *)test_obj)->d;
    }
    fl_model_kind kind;
    fl_solver solver = FL_SOLVER_DEFAULT;
    if (!fl_model_kind_parse(kind_name, &kind))
        return PyErr_Format(PyExc_ValueError, "model must be 'dot', 'biased' or 'nn', not '%s'",
                            kind_name);
    if (solver_name && !fl_solver_parse(solver_name, &solver))
        return PyErr_Format(PyExc_ValueError, "solver must be 'sgd', 'adam' or 'als', not '%s'",
                            solver_name);
    fl_params p;
    fl_params_init(&p, kind, solver);
    if (set_params(&p, params) < 0) return NULL;
    const char *bad = fl_params_check(&p);
    if (bad) return PyErr_Format(PyExc_ValueError, "%s", bad);

    fit_ctx c = {.on_epoch = on_epoch == Py_None ? NULL : on_epoch};
    fl_train_hooks hooks = {.progress = progress_hook, .epoch_end = epoch_hook, .ctx = &c};
    fl_model *m = NULL;
    fl_train_result res;
    fl_error err = {0};
    /* The datasets are only read, and the Python objects holding them stay
     * referenced by our arguments for the whole call. */
    c.ts = PyEval_SaveThread();
    fl_status st = fl_train(train->d, test, &p, &hooks, &m, &res, &err);
    PyEval_RestoreThread(c.ts);
    if (c.failed) { /* the Python exception (KeyboardInterrupt, on_epoch's) wins */
        fl_model_free(m);
        return NULL;
    }
    if (st != FL_OK) return flpy_raise(&err);
    return flpy_model_wrap(m);
}
