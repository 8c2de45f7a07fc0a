/* error.h — filling an fl_error. Every failing path in the library goes
 * through fl_fail so that the status and the sentence always agree. */
#ifndef FL_CORE_ERROR_H
#define FL_CORE_ERROR_H

#include "factorlens.h"

/* Sets err (if not NULL) and returns code, so callers can `return fl_fail(...)`. */
fl_status fl_fail(fl_error *err, fl_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
