/* native.h — what the files of the factorlens._native extension share: the
 * object types (a model, a ratings set, a read-only view of model memory)
 * and the mapping of library errors to Python exceptions. The extension is a
 * surface like the CLI: it reaches the library only through factorlens.h. */
#ifndef FLPY_NATIVE_H
#define FLPY_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "factorlens.h"

/* A trained or loaded model. Immutable once made, so methods may drop the
 * GIL and several threads may use one model (the header's contract). */
typedef struct {
    PyObject_HEAD fl_model *m;
} flpy_model;

/* A ratings set in the library's own form (ids mapped to indices). */
typedef struct {
    PyObject_HEAD fl_dataset *d;
} flpy_dataset;

extern PyTypeObject flpy_model_type;
extern PyTypeObject flpy_dataset_type;
extern PyTypeObject flpy_view_type;

/* Exceptions of the module beyond the built-in ones (errors.c). */
extern PyObject *flpy_model_file_error; /* OSError: a corrupt or foreign model file */
extern PyObject *flpy_diverged_error;   /* ArithmeticError: training blew up */

/* Raises the Python exception for a failed library call and returns NULL.
 * An exception already pending (a KeyboardInterrupt that cancelled
 * training) is left as it is. */
PyObject *flpy_raise(const fl_error *err);
int flpy_errors_init(PyObject *module);

/* Wraps m (taking ownership) in a new Model object, or frees it and returns NULL. */
PyObject *flpy_model_wrap(fl_model *m);
PyObject *flpy_dataset_wrap(fl_dataset *d);

/* A read-only buffer over rows x cols floats of owner's memory, rows
 * `stride` floats apart; keeps owner alive (view.c). */
PyObject *flpy_view_new(PyObject *owner, const float *data, Py_ssize_t rows, Py_ssize_t cols,
                        Py_ssize_t stride);

/* "error" / "mean" / "skip" -> policy; -1 with ValueError set otherwise. */
int flpy_policy(const char *name, fl_unknown_policy *out);

/* UTF-8 of a str that is a usable id (non-empty, no NUL or newline, at most
 * FL_MAX_ID_LEN bytes), or NULL with ValueError/TypeError set. what: "user"
 * or "item", for the message. */
const char *flpy_id(PyObject *s, const char *what);

/* Module-level functions defined outside module.c. */
PyObject *flpy_fit(PyObject *self, PyObject *args, PyObject *kw);
PyObject *flpy_read_ratings(PyObject *self, PyObject *args, PyObject *kw);
PyObject *flpy_dataset_from_codes(PyObject *self, PyObject *args, PyObject *kw);

#endif
