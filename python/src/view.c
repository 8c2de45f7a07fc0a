/* view.c — a read-only buffer over a model's factor rows, so numpy arrays
 * (np.asarray(view)) read the model's memory in place instead of copying
 * it. The view holds a reference to the Model object that owns the memory,
 * and numpy holds the view, so the memory outlives every array over it. */
#include "native.h"

typedef struct {
    PyObject_HEAD PyObject *owner;
    float *data;
    Py_ssize_t shape[2];
    Py_ssize_t strides[2]; /* bytes */
} flpy_view;

PyObject *flpy_view_new(PyObject *owner, const float *data, Py_ssize_t rows, Py_ssize_t cols,
                        Py_ssize_t stride) {
    flpy_view *v = PyObject_New(flpy_view, &flpy_view_type);
    if (!v) return NULL;
    Py_INCREF(owner);
    v->owner = owner;
    /* Never written through: getbuffer refuses writable requests. */
    v->data = (float *)data;
    v->shape[0] = rows, v->shape[1] = cols;
    v->strides[0] = stride * (Py_ssize_t)sizeof(float), v->strides[1] = sizeof(float);
    return (PyObject *)v;
}

static void view_dealloc(PyObject *self) {
    flpy_view *v = (flpy_view *)self;
    Py_XDECREF(v->owner);
    PyObject_Free(self);
}

static int view_getbuffer(PyObject *self, Py_buffer *b, int flags) {
    flpy_view *v = (flpy_view *)self;
    if (flags & PyBUF_WRITABLE) {
        PyErr_SetString(PyExc_BufferError, "the model's memory is read-only");
        b->obj = NULL;
        return -1;
    }
    int contiguous = v->shape[0] <= 1 || v->strides[0] == v->shape[1] * (Py_ssize_t)sizeof(float);
    if (!contiguous && (flags & PyBUF_STRIDES) != PyBUF_STRIDES) {
        PyErr_SetString(PyExc_BufferError, "the factor rows are padded: ask for a strided buffer");
        b->obj = NULL;
        return -1;
    }
    b->buf = v->data;
    b->obj = self;
    Py_INCREF(self);
    b->len = v->shape[0] * v->shape[1] * (Py_ssize_t)sizeof(float);
    b->readonly = 1;
    b->itemsize = sizeof(float);
    b->format = (flags & PyBUF_FORMAT) ? "f" : NULL;
    b->ndim = 2;
    b->shape = (flags & PyBUF_ND) == PyBUF_ND ? v->shape : NULL;
    b->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? v->strides : NULL;
    b->suboffsets = NULL;
    b->internal = NULL;
    return 0;
}

static PyBufferProcs view_as_buffer = {.bf_getbuffer = view_getbuffer};

PyTypeObject flpy_view_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "factorlens._native.View",
    .tp_basicsize = sizeof(flpy_view),
    .tp_dealloc = view_dealloc,
    .tp_as_buffer = &view_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Read-only buffer over a model's factor rows (use numpy.asarray).",
};
