/* byte_source.c — plain files through read(2), gzip through zlib's gzread.
 * zlib would pass plain files through too, but read(2) avoids one copy.
 * Standard input always goes through gzread: a pipe cannot be peeked at
 * (pread) for the gzip magic, and gzread tells gzip from plain text itself,
 * passing plain bytes through unchanged. */
#include "data/byte_source.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

struct fl_byte_source {
    int fd;
    gzFile gz;
    const char *path;
    uint64_t size; /* of a regular file; 0 when unknown */
    uint64_t read; /* plain files: bytes read so far */
};

const char *fl_source_name(const char *path) {
    return strcmp(path, "-") == 0 ? "(standard input)" : path;
}

static fl_status open_stdin(fl_byte_source **out, fl_error *err) {
    const char *name = fl_source_name("-");
    /* A duplicate, so closing the source leaves the process's stdin open. */
    int fd = dup(STDIN_FILENO);
    if (fd < 0) return fl_fail(err, FL_ERR_IO, "%s: cannot open: %s", name, strerror(errno));
    fl_byte_source *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory", name);
    }
    s->fd = -1;
    s->path = name;
    s->gz = gzdopen(fd, "rb");
    if (!s->gz) {
        close(fd);
        free(s);
        return fl_fail(err, FL_ERR_IO, "%s: cannot open a stream on it", name);
    }
    gzbuffer(s->gz, 1 << 20);
    *out = s;
    return FL_OK;
}

fl_status fl_source_open(const char *path, fl_byte_source **out, fl_error *err) {
    if (strcmp(path, "-") == 0) return open_stdin(out, err);
    struct stat st;
    if (stat(path, &st) != 0)
        return fl_fail(err, FL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return fl_fail(err, FL_ERR_IO, "%s: is a directory, expected a file", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fl_fail(err, FL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[2] = {0, 0};
    ssize_t m = pread(fd, magic, 2, 0);
    fl_byte_source *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory", path);
    }
    s->fd = fd;
    s->path = path;
    if (S_ISREG(st.st_mode)) s->size = (uint64_t)st.st_size;
    if (m == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        s->gz = gzdopen(fd, "rb");
        if (!s->gz) {
            close(fd);
            free(s);
            return fl_fail(err, FL_ERR_IO, "%s: cannot open gzip stream", path);
        }
        gzbuffer(s->gz, 1 << 20);
        s->fd = -1; /* owned by gz now */
    }
    *out = s;
    return FL_OK;
}

fl_status fl_source_read(fl_byte_source *s, char *buf, size_t cap, size_t *got, fl_error *err) {
    *got = 0;
    if (s->gz) {
        unsigned want = cap > (1u << 30) ? (1u << 30) : (unsigned)cap;
        int n = gzread(s->gz, buf, want);
        int zerr = Z_OK;
        const char *msg = gzerror(s->gz, &zerr);
        /* zlib prefixes its own name for the stream ("<fd:3>: "); we name the file. */
        if (msg && strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ": ")) msg = strstr(msg, ": ") + 2;
        if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END))
            return fl_fail(err, FL_ERR_DATA, "%s: corrupt or truncated gzip data (%s)", s->path,
                           msg ? msg : "unknown zlib error");
        *got = (size_t)n;
        return FL_OK;
    }
    for (;;) {
        ssize_t n = read(s->fd, buf, cap);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fl_fail(err, FL_ERR_IO, "%s: read failed: %s", s->path, strerror(errno));
        *got = (size_t)n;
        s->read += (uint64_t)n;
        return FL_OK;
    }
}

void fl_source_position(const fl_byte_source *s, uint64_t *done, uint64_t *total) {
    *total = s->size;
    if (s->gz) {
        z_off_t at = gzoffset(s->gz);
        *done = at > 0 ? (uint64_t)at : 0;
    } else {
        *done = s->read;
    }
}

int fl_source_is_plain(const fl_byte_source *s) { return !s->gz; }

void fl_source_close(fl_byte_source *s) {
    if (!s) return;
    if (s->gz) gzclose(s->gz);
    if (s->fd >= 0) close(s->fd);
    free(s);
}

fl_status fl_source_slurp(const char *path, char **buf, size_t *len, fl_error *err) {
    fl_byte_source *s;
    fl_status st = fl_source_open(path, &s, err);
    if (st) return st;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    while (b) {
        if (n == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) break;
            b = nb;
            cap *= 2;
        }
        size_t got;
        st = fl_source_read(s, b + n, cap - n, &got, err);
        if (st) {
            free(b);
            fl_source_close(s);
            return st;
        }
        if (got == 0) {
            fl_source_close(s);
            b[n] = '\0';
            *buf = b;
            *len = n;
            return FL_OK;
        }
        n += got;
    }
    free(b);
    fl_source_close(s);
    return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory reading the file", path);
}
