/* error.c — status names, exit codes and the formatted error sentence. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

fl_status fl_fail(fl_error *err, fl_status code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int fl_status_exit_code(fl_status s) {
    return (s >= FL_OK && s <= FL_ERR_MODEL_FILE) ? (int)s : 1;
}

const char *fl_status_name(fl_status s) {
    switch (s) {
    case FL_OK: return "ok";
    case FL_ERR_OTHER: return "error";
    case FL_ERR_USAGE: return "usage error";
    case FL_ERR_UNKNOWN_ID: return "unknown id";
    case FL_ERR_DATA: return "bad input data";
    case FL_ERR_MODEL_FILE: return "bad model file";
    case FL_ERR_IO: return "i/o error";
    case FL_ERR_NOMEM: return "out of memory";
    case FL_ERR_NETWORK: return "network error";
    case FL_ERR_DIVERGED: return "training diverged";
    case FL_ERR_CANCELLED: return "cancelled";
    }
    return "error";
}
