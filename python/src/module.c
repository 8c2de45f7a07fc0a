/* module.c — factorlens._native: the C half of the Python binding (the
 * Python half, factorlens/, turns its bytes and lists into numpy and
 * pandas). fit, load, read_ratings, dataset_from_codes, fetch. */
#include "native.h"

extern PyMethodDef flpy_load_def; /* model.c */

/* fetch(name, cache_dir or None, base_url or None, timeout_seconds) -> directory */
static PyObject *module_fetch(PyObject *self, PyObject *args) {
    const char *name, *cache_dir = NULL, *base_url = NULL;
    long timeout = 0;
    if (!PyArg_ParseTuple(args, "s|zzl", &name, &cache_dir, &base_url, &timeout)) return NULL;
    fl_download_opts o = {.cache_dir = cache_dir, .base_url = base_url, .timeout_seconds = timeout};
    char dir[4096];
    fl_error err = {0};
    fl_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fl_fetch(name, &o, dir, sizeof dir, &err);
    Py_END_ALLOW_THREADS
    if (st != FL_OK) return flpy_raise(&err);
    return PyUnicode_DecodeFSDefault(dir);
}

static PyObject *module_dataset_names(PyObject *self, PyObject *unused) {
    PyObject *l = PyList_New(0);
    for (const char *const *n = fl_dataset_names(); l && *n; n++) {
        PyObject *s = PyUnicode_FromString(*n);
        if (!s || PyList_Append(l, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(l);
            return NULL;
        }
        Py_DECREF(s);
    }
    return l;
}

static PyMethodDef module_methods[] = {
    {"fit", (PyCFunction)(void (*)(void))flpy_fit, METH_VARARGS | METH_KEYWORDS,
     "fit(train, test, kind, solver, params, on_epoch) -> Model"},
    {"read_ratings", (PyCFunction)(void (*)(void))flpy_read_ratings, METH_VARARGS | METH_KEYWORDS,
     "read_ratings(path, ...) -> Dataset"},
    {"dataset_from_codes", (PyCFunction)(void (*)(void))flpy_dataset_from_codes,
     METH_VARARGS | METH_KEYWORDS, "dataset_from_codes(...) -> Dataset"},
    {"fetch", module_fetch, METH_VARARGS, "fetch(name, cache_dir, base_url, timeout) -> directory"},
    {"dataset_names", module_dataset_names, METH_NOARGS, "Names fetch knows."},
    {NULL, NULL, 0, NULL}, /* load is added in init */
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "factorlens._native",
    .m_doc = "The C half of the factorlens binding (use the factorlens package).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    if (PyType_Ready(&flpy_model_type) < 0 || PyType_Ready(&flpy_dataset_type) < 0 ||
        PyType_Ready(&flpy_view_type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    PyObject *load = PyCFunction_NewEx(&flpy_load_def, NULL, NULL);
    if (!load || PyModule_AddObject(m, "load", load) < 0 || flpy_errors_init(m) < 0 ||
        PyModule_AddObjectRef(m, "Model", (PyObject *)&flpy_model_type) < 0 ||
        PyModule_AddObjectRef(m, "Dataset", (PyObject *)&flpy_dataset_type) < 0 ||
        PyModule_AddStringConstant(m, "version", FL_VERSION) < 0) {
        Py_XDECREF(load);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
