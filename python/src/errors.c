/* errors.c — library statuses as Python exceptions: an unknown id is a
 * KeyError, bad arguments and bad data a ValueError, files an OSError
 * (a corrupt model file the OSError subclass ModelFileError), memory a
 * MemoryError, the network a ConnectionError. */
#include "native.h"

#include <string.h>

PyObject *flpy_model_file_error;
PyObject *flpy_diverged_error;

PyObject *flpy_raise(const fl_error *err) {
    if (PyErr_Occurred()) return NULL; /* e.g. the KeyboardInterrupt that cancelled training */
    const char *msg = err->msg[0] ? err->msg : fl_status_name(err->code);
    PyObject *type;
    switch (err->code) {
    case FL_ERR_UNKNOWN_ID:
        type = PyExc_KeyError;
        break;
    case FL_ERR_USAGE:
    case FL_ERR_DATA:
        type = PyExc_ValueError;
        break;
    case FL_ERR_MODEL_FILE:
        type = flpy_model_file_error;
        break;
    case FL_ERR_IO:
        type = PyExc_OSError;
        break;
    case FL_ERR_NOMEM:
        type = PyExc_MemoryError;
        break;
    case FL_ERR_NETWORK:
        type = PyExc_ConnectionError;
        break;
    case FL_ERR_DIVERGED:
        type = flpy_diverged_error;
        break;
    case FL_ERR_CANCELLED:
        type = PyExc_KeyboardInterrupt;
        break;
    default:
        type = PyExc_RuntimeError;
        break;
    }
    PyErr_SetString(type, msg);
    return NULL;
}

int flpy_errors_init(PyObject *module) {
    flpy_model_file_error = PyErr_NewExceptionWithDoc(
        "factorlens.ModelFileError",
        "A model file that is corrupt, truncated, of another format version, or not a model.",
        PyExc_OSError, NULL);
    flpy_diverged_error = PyErr_NewExceptionWithDoc(
        "factorlens.DivergedError",
        "Training diverged (the loss or the parameters stopped being finite): lower lr.",
        PyExc_ArithmeticError, NULL);
    if (!flpy_model_file_error || !flpy_diverged_error) return -1;
    if (PyModule_AddObjectRef(module, "ModelFileError", flpy_model_file_error) < 0 ||
        PyModule_AddObjectRef(module, "DivergedError", flpy_diverged_error) < 0)
        return -1;
    return 0;
}

int flpy_policy(const char *name, fl_unknown_policy *out) {
    if (strcmp(name, "error") == 0)
        *out = FL_UNKNOWN_ERROR;
    else if (strcmp(name, "mean") == 0)
        *out = FL_UNKNOWN_MEAN;
    else if (strcmp(name, "skip") == 0)
        *out = FL_UNKNOWN_SKIP;
    else {
        PyErr_Format(PyExc_ValueError, "unknown must be 'error', 'mean' or 'skip', not '%s'", name);
        return -1;
    }
    return 0;
}

const char *flpy_id(PyObject *s, const char *what) {
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "a %s id must be a str or an int, not %.60s", what,
                     Py_TYPE(s)->tp_name);
        return NULL;
    }
    Py_ssize_t len;
    const char *u = PyUnicode_AsUTF8AndSize(s, &len);
    if (!u) return NULL;
    /* The model file joins ids with newlines, and C strings end at NUL. */
    if (len == 0 || len > FL_MAX_ID_LEN || strlen(u) != (size_t)len ||
        memchr(u, '\n', (size_t)len)) {
        PyErr_Format(
            PyExc_ValueError,
            "%s id %R is not usable: ids are 1 to %d bytes of UTF-8 with no newline or NUL", what,
            s, FL_MAX_ID_LEN);
        return NULL;
    }
    return u;
}
