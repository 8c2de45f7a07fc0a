/* atomic_file.c — temp file + fsync + rename. The temp file sits next to the
 * destination (rename is only atomic within one file system) under a name
 * no other writer uses. */
#include "io/atomic_file.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

fl_status fl_atomic_open(fl_atomic_file *f, const char *dest, fl_error *err) {
    f->fd = -1;
    size_t n = strlen(dest);
    if (n == 0 || n + 40 >= sizeof f->tmp)
        return fl_fail(err, FL_ERR_USAGE, "output path '%s' is empty or too long", dest);
    memcpy(f->dest, dest, n + 1);
    /* open(O_EXCL) with mode 0666 rather than mkstemp: the file then gets the
     * permissions the umask gives any new file, without touching the
     * process-wide umask. The name mixes pid, clock and the struct's address
     * so concurrent writers never collide; EEXIST just means try again. */
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long tag = (unsigned long)ts.tv_nsec ^ ((unsigned long)(uintptr_t)f << 7) ^
                            ((unsigned long)attempt * 2654435761u);
        snprintf(f->tmp, sizeof f->tmp, "%s.tmp%ld.%lx", dest, (long)getpid(), tag);
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (f->fd >= 0) return FL_OK;
        if (errno != EEXIST) break;
    }
    return fl_fail(err, FL_ERR_IO, "cannot create a file next to '%s': %s", dest, strerror(errno));
}

fl_status fl_atomic_write(fl_atomic_file *f, const void *buf, size_t len, fl_error *err) {
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC; /* write(2) returning 0 sets no errno */
            fl_atomic_abort(f);
            return fl_fail(err, FL_ERR_IO, "cannot write '%s': %s", f->dest, strerror(e));
        }
        p += w;
        len -= (size_t)w;
    }
    return FL_OK;
}

fl_status fl_atomic_commit(fl_atomic_file *f, fl_error *err) {
    /* close() runs even when fsync() failed, so the descriptor never leaks. */
    int synced = fsync(f->fd) == 0;
    int e = errno;
    int closed = close(f->fd) == 0;
    if (synced && !closed) e = errno;
    f->fd = -1;
    if (!synced || !closed) {
        fl_atomic_abort(f);
        return fl_fail(err, FL_ERR_IO, "cannot flush '%s' to disk: %s", f->dest, strerror(e));
    }
    if (rename(f->tmp, f->dest) != 0) {
        e = errno;
        fl_atomic_abort(f);
        return fl_fail(err, FL_ERR_IO, "cannot rename onto '%s': %s", f->dest, strerror(e));
    }
    /* The rename itself is durable only once the directory is synced. */
    char dir[4096];
    memcpy(dir, f->dest, sizeof dir);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return FL_OK;
}

void fl_atomic_abort(fl_atomic_file *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    unlink(f->tmp);
}
