/* atomic_file.h — every file factorlens writes goes through here: bytes go
 * to a temp file in the destination's directory, which is fsync'd and then
 * renamed over the destination (and the directory fsync'd), so a crash at
 * any point leaves either the old complete file or the new complete file. */
#ifndef FL_IO_ATOMIC_FILE_H
#define FL_IO_ATOMIC_FILE_H

#include "factorlens.h"

typedef struct fl_atomic_file {
    int fd;
    char tmp[4096];
    char dest[4096];
} fl_atomic_file;

fl_status fl_atomic_open(fl_atomic_file *f, const char *dest, fl_error *err);
fl_status fl_atomic_write(fl_atomic_file *f, const void *buf, size_t len, fl_error *err);
/* fsync, close, rename over dest, fsync the directory. On failure the temp
 * file is removed and dest is untouched. */
fl_status fl_atomic_commit(fl_atomic_file *f, fl_error *err);
/* Closes and removes the temp file; safe after a failed write. */
void fl_atomic_abort(fl_atomic_file *f);

#endif
