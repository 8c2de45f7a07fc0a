/* ooc_rows.c — row files for out-of-core ALS (see ooc_rows.h). */
#include "dist/ooc_rows.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint32_t fl_ooc_block_end(const fl_ooc_side *s, uint32_t lo, uint64_t max_ratings) {
    uint32_t hi = lo + 1;
    while (hi < s->n_rows && s->start[hi + 1] - s->start[lo] <= max_ratings) hi++;
    return hi;
}

static int by_col(const void *a, const void *b) {
    const fl_ooc_pair *x = a, *y = b;
    return (x->col > y->col) - (x->col < y->col);
}

/* Writes all of buf, or fails. */
static fl_status write_all(int fd, const void *buf, size_t n, const char *path, fl_error *err) {
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fl_fail(err, FL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        p += w, n -= (size_t)w;
    }
    return FL_OK;
}

fl_status fl_ooc_side_write(fl_ooc_side *s, const char *triples, int by_user,
                            uint64_t max_ratings, double *sums, fl_error *err) {
    enum { CHUNK = 1 << 16 };
    FILE *in = fopen(triples, "rb");
    int fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    uint32_t(*t)[3] = malloc(CHUNK * sizeof *t);
    fl_ooc_pair *block = NULL;
    uint64_t *fill = NULL;
    fl_status st = FL_OK;
    if (!in || fd < 0)
        st = fl_fail(err, FL_ERR_IO, "%s: cannot open: %s", !in ? triples : s->path, strerror(errno));
    else if (!t)
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory writing %s", s->path);
    for (uint32_t lo = 0; st == FL_OK && lo < s->n_rows;) {
        const uint32_t hi = fl_ooc_block_end(s, lo, max_ratings);
        const uint64_t base = s->start[lo], nb = s->start[hi] - base;
        free(block), free(fill);
        block = malloc((nb ? nb : 1) * sizeof *block);
        fill = malloc(((size_t)(hi - lo) + 1) * sizeof *fill);
        if (!block || !fill) {
            st = fl_fail(err, FL_ERR_NOMEM, "out of memory writing %s", s->path);
            break;
        }
        for (uint32_t x = lo; x < hi; x++) fill[x - lo] = s->start[x] - base;
        rewind(in);
        size_t got;
        while ((got = fread(t, sizeof *t, CHUNK, in)) > 0)
            for (size_t k = 0; k < got; k++) {
                const uint32_t key = by_user ? t[k][0] : t[k][1];
                if (key < lo || key >= hi) continue;
                fl_ooc_pair pr = {by_user ? t[k][1] : t[k][0], 0.0f};
                memcpy(&pr.r, &t[k][2], sizeof pr.r);
                block[fill[key - lo]++] = pr;
                if (sums) sums[key] += pr.r; /* in file order, as fl_model_set_counts */
            }
        if (ferror(in)) st = fl_fail(err, FL_ERR_IO, "%s: cannot read", triples);
        /* Columns ascending within a row, as fl_rows_build leaves them. */
        for (uint32_t x = lo; st == FL_OK && x < hi; x++)
            qsort(block + (s->start[x] - base), s->start[x + 1] - s->start[x], sizeof *block, by_col);
        if (st == FL_OK) st = write_all(fd, block, nb * sizeof *block, s->path, err);
        lo = hi;
    }
    free(t), free(block), free(fill);
    if (in) fclose(in);
    if (fd >= 0 && close(fd) != 0 && st == FL_OK)
        st = fl_fail(err, FL_ERR_IO, "%s: cannot write: %s", s->path, strerror(errno));
    return st;
}

fl_status fl_ooc_block_read(const fl_ooc_side *s, uint32_t lo, uint32_t hi, fl_rows *rows,
                            fl_ooc_pair **buf, size_t *cap, fl_error *err) {
    const uint64_t base = s->start[lo], nb = s->start[hi] - base;
    if (nb + 1 > *cap || !rows->start) {
        size_t c = nb + 1 > *cap ? nb + 1 : *cap;
        free(*buf), fl_rows_free(rows);
        *buf = malloc(c * sizeof **buf);
        rows->col = malloc(c * sizeof *rows->col);
        rows->r = malloc(c * sizeof *rows->r);
        rows->start = malloc(((size_t)s->n_rows + 1) * sizeof *rows->start);
        *cap = c;
        if (!*buf || !rows->col || !rows->r || !rows->start) {
            *cap = 0;
            return fl_fail(err, FL_ERR_NOMEM, "out of memory reading a block of %s", s->path);
        }
    }
    const size_t bytes = nb * sizeof **buf;
    for (size_t done = 0; done < bytes;) {
        ssize_t got = pread(s->fd, (char *)*buf + done, bytes - done,
                            (off_t)(base * sizeof **buf + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
            return fl_fail(err, FL_ERR_IO, "%s: cannot read: %s", s->path,
                           got < 0 ? strerror(errno) : "the file is shorter than its rows");
        done += (size_t)got;
    }
    rows->n_rows = hi - lo;
    rows->code = NULL;
    for (uint32_t x = lo; x <= hi; x++) rows->start[x - lo] = s->start[x] - base;
    for (uint64_t k = 0; k < nb; k++) rows->col[k] = (*buf)[k].col, rows->r[k] = (*buf)[k].r;
    return FL_OK;
}
