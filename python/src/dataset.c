/* dataset.c — ratings sets for the binding: read from a file by the
 * library's reader (fl_dataset_read), or built from integer codes and their
 * id names (what pandas.factorize or numpy.unique give), and handed back to
 * Python as arrays. */
#include "native.h"

#include <stdlib.h>
#include <string.h>

PyObject *flpy_dataset_wrap(fl_dataset *d) {
    flpy_dataset *o = PyObject_New(flpy_dataset, &flpy_dataset_type);
    if (!o) {
        fl_dataset_free(d);
        return NULL;
    }
    o->d = d;
    return (PyObject *)o;
}

static void dataset_dealloc(PyObject *self) {
    fl_dataset_free(((flpy_dataset *)self)->d);
    PyObject_Free(self);
}

static int parse_dup(const char *s, fl_dup_policy *out) {
    static const char *const names[] = {"error", "last", "mean", "keep"};
    for (int k = 0; k < 4; k++)
        if (strcmp(s, names[k]) == 0) return *out = (fl_dup_policy)k, 0;
    PyErr_Format(PyExc_ValueError, "duplicates must be 'error', 'last', 'mean' or 'keep', not '%s'",
                 s);
    return -1;
}

/* read_ratings(path, sep, columns, header, skip_bad, keep_times, lo, hi, duplicates) */
PyObject *flpy_read_ratings(PyObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"path",       "sep", "columns", "header",     "skip_bad",
                            "keep_times", "lo",  "hi",      "duplicates", NULL};
    PyObject *path_obj;
    const char *sep = NULL, *columns = NULL, *dup = "error";
    int header = -1, skip_bad = 0, keep_times = 0;
    float lo = 1.0f, hi = 0.0f; /* lo > hi: any finite rating */
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|zzippffs", names, PyUnicode_FSConverter,
                                     &path_obj, &sep, &columns, &header, &skip_bad, &keep_times,
                                     &lo, &hi, &dup))
        return NULL;
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.sep = sep, o.columns = columns, o.header = header, o.skip_bad = skip_bad;
    o.keep_times = keep_times, o.scale_lo = lo, o.scale_hi = hi;
    if (parse_dup(dup, &o.duplicates) < 0) {
        Py_DECREF(path_obj);
        return NULL;
    }
    fl_dataset *d = NULL;
    fl_error err = {0};
    fl_status st;
    const char *path = PyBytes_AS_STRING(path_obj);
    Py_BEGIN_ALLOW_THREADS
    st = fl_dataset_read(path, &o, &d, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (st != FL_OK) return flpy_raise(&err);
    return flpy_dataset_wrap(d);
}

/* The UTF-8 ids of a list of str, checked once each. */
static const char **id_names(PyObject *list, const char *what, Py_ssize_t *n) {
    if (!PyList_Check(list)) {
        PyErr_Format(PyExc_TypeError, "%s names must be a list", what);
        return NULL;
    }
    *n = PyList_GET_SIZE(list);
    const char **out = PyMem_Malloc((size_t)(*n ? *n : 1) * sizeof *out);
    if (!out) return (const char **)PyErr_NoMemory();
    for (Py_ssize_t k = 0; k < *n; k++)
        if (!(out[k] = flpy_id(PyList_GET_ITEM(list, k), what))) {
            PyMem_Free(out);
            return NULL;
        }
    return out;
}

static int get_vector(PyObject *o, Py_buffer *b, const char *fmt, Py_ssize_t itemsize,
                      const char *what) {
    if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (b->itemsize != itemsize || !b->format || strcmp(b->format, fmt) != 0 || b->ndim != 1) {
        PyErr_Format(PyExc_TypeError, "%s must be a one-dimensional buffer of format '%s'", what,
                     fmt);
        PyBuffer_Release(b);
        return -1;
    }
    return 0;
}

/* dataset_from_codes(user_codes u4, user_names, item_codes u4, item_names,
 * ratings f4, source): rating k is by user_names[user_codes[k]] for
 * item_names[item_codes[k]]. Ids get their indices in order of first
 * appearance, as the file reader gives them, whatever the order of the
 * names: the same rows give the same dataset, and so the same model. */
PyObject *flpy_dataset_from_codes(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwnames[] = {"user_codes", "user_names", "item_codes", "item_names",
                              "ratings",    "source",     NULL};
    PyObject *uc_o, *un_o, *ic_o, *in_o, *r_o;
    const char *source = "(in memory)";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOO|s", kwnames, &uc_o, &un_o, &ic_o, &in_o, &r_o,
                                     &source))
        return NULL;
    Py_buffer uc = {0}, ic = {0}, r = {0};
    const char **un = NULL, **in = NULL;
    fl_dataset *d = NULL;
    PyObject *result = NULL;
    Py_ssize_t nu = 0, ni = 0;
    /* "I": numpy's uint32 format; the Python layer passes uint32 arrays. */
    if (get_vector(uc_o, &uc, "I", 4, "user_codes") < 0) return NULL;
    if (get_vector(ic_o, &ic, "I", 4, "item_codes") < 0) goto done;
    if (get_vector(r_o, &r, "f", 4, "ratings") < 0) goto done;
    Py_ssize_t n = uc.len / 4;
    if (ic.len / 4 != n || r.len / 4 != n) {
        PyErr_SetString(PyExc_ValueError, "users, items and ratings differ in length");
        goto done;
    }
    if (!(un = id_names(un_o, "user", &nu)) || !(in = id_names(in_o, "item", &ni))) goto done;
    const uint32_t *ucode = uc.buf, *icode = ic.buf;
    const float *rating = r.buf;
    for (Py_ssize_t k = 0; k < n; k++)
        if (ucode[k] >= (uint32_t)nu || icode[k] >= (uint32_t)ni) {
            PyErr_Format(PyExc_ValueError, "row %zd: a code beyond the id names", k);
            goto done;
        }
    d = fl_dataset_new((size_t)n, 0);
    if (!d) {
        PyErr_NoMemory();
        goto done;
    }
    snprintf(d->source, sizeof d->source, "%s", source);
    fl_error err = {0};
    fl_status st = FL_OK;
    /* The names are UTF-8 owned by the str objects of the lists, which the
     * arguments keep alive and which no other code sees (the Python layer
     * makes them for this call); nothing here touches Python objects. */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < n && st == FL_OK; k++)
        st = fl_dataset_add(d, un[ucode[k]], in[icode[k]], rating[k], 0, &err);
    Py_END_ALLOW_THREADS
    if (st != FL_OK) {
        flpy_raise(&err);
        fl_dataset_free(d);
        goto done;
    }
    result = flpy_dataset_wrap(d);
done:
    PyMem_Free(un);
    PyMem_Free(in);
    if (uc.obj) PyBuffer_Release(&uc);
    if (ic.obj) PyBuffer_Release(&ic);
    if (r.obj) PyBuffer_Release(&r);
    return result;
}

static PyObject *idmap_list(const fl_idmap *ids) {
    uint32_t n = fl_idmap_size(ids);
    PyObject *l = PyList_New(n);
    for (uint32_t k = 0; l && k < n; k++) {
        PyObject *s = PyUnicode_DecodeUTF8(
            fl_idmap_name(ids, k), (Py_ssize_t)strlen(fl_idmap_name(ids, k)), "surrogateescape");
        if (!s) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, k, s);
    }
    return l;
}
/* Shared with model.c through this declaration. */
PyObject *flpy_idmap_list(const fl_idmap *ids);
PyObject *flpy_idmap_list(const fl_idmap *ids) { return idmap_list(ids); }

/* columns() -> (user_codes bytes u4, user_names, item_codes bytes u4,
 * item_names, ratings bytes f4, times bytes u4 or None, source, n_skipped) */
static PyObject *dataset_columns(PyObject *self, PyObject *unused) {
    const fl_dataset *d = ((flpy_dataset *)self)->d;
    Py_ssize_t n = (Py_ssize_t)d->n_ratings;
    PyObject *un = idmap_list(d->user_ids), *in = idmap_list(d->item_ids);
    if (!un || !in) {
        Py_XDECREF(un), Py_XDECREF(in);
        return NULL;
    }
    PyObject *times =
        d->times ? PyBytes_FromStringAndSize((const char *)d->times, n * 4) : Py_NewRef(Py_None);
    return Py_BuildValue("(y#Ny#Ny#NsN)", (const char *)d->users, n * 4, un, (const char *)d->items,
                         n * 4, in, (const char *)d->ratings, n * 4, times, d->source,
                         PyLong_FromSize_t(d->n_skipped));
}

static Py_ssize_t dataset_len(PyObject *self) {
    return (Py_ssize_t)((flpy_dataset *)self)->d->n_ratings;
}

static PyMethodDef dataset_methods[] = {
    {"columns", dataset_columns, METH_NOARGS, "The ratings as codes, id names and values."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods dataset_as_sequence = {.sq_length = dataset_len};

PyTypeObject flpy_dataset_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "factorlens._native.Dataset",
    .tp_basicsize = sizeof(flpy_dataset),
    .tp_dealloc = dataset_dealloc,
    .tp_as_sequence = &dataset_as_sequence,
    .tp_methods = dataset_methods,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Ratings in the library's form (ids mapped to dense indices).",
};
