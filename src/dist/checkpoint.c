/* checkpoint.c — writing and reading checkpoints (see checkpoint.h). */
#include "dist/checkpoint.h"

#include "core/digest.h"
#include "core/error.h"
#include "io/atomic_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "FLCKPT02"

typedef struct ckpt_header {
    char magic[8];
    int32_t epoch, rank, size, k;
    uint32_t n_users, n_items; /* own rows */
    int32_t biased, n_history;
    uint64_t fingerprint[4];
    uint64_t n_extra;
    int32_t layout, pad;
} ckpt_header;

static void rank_path(char *buf, size_t len, const char *dir, int epoch, int rank, int size) {
    snprintf(buf, len, "%s/ckpt-e%06d-r%04d-of-%04d.bin", dir, epoch, rank, size);
}

/* The manifest's text for epoch (everything resume checks, one per line). */
static void manifest_text(char *buf, size_t len, int epoch, const fl_params *p, int size,
                          const fl_part *pt) {
    snprintf(buf, len,
             "factorlens checkpoint 2\n"
             "epoch %d\n"
             "ranks %d\n"
             "model %s\n"
             "solver %s\n"
             "factors %d\n"
             "epochs %d\n"
             "lr %.9g\n"
             "reg %.9g\n"
             "reg_bias %.9g\n"
             "init_std %.9g\n"
             "seed %llu\n"
             "data %016llx %016llx %016llx %016llx\n",
             epoch, size, fl_model_kind_name(p->kind), fl_solver_name(p->solver), p->n_factors,
             p->epochs, (double)p->lr, (double)p->reg_factors, (double)p->reg_bias, (double)p->init_std,
             (unsigned long long)p->seed, (unsigned long long)pt->fingerprint[0],
             (unsigned long long)pt->fingerprint[1], (unsigned long long)pt->fingerprint[2],
             (unsigned long long)pt->fingerprint[3]);
}

static fl_status write_rows(fl_atomic_file *f, const float *X, uint32_t n, int k, uint32_t stride,
                            fl_sha256 *h, fl_error *err) {
    for (uint32_t x = 0; x < n; x++) {
        const float *row = X + (size_t)x * stride;
        fl_sha256_update(h, row, (size_t)k * sizeof *row);
        fl_status st = fl_atomic_write(f, row, (size_t)k * sizeof *row, err);
        if (st != FL_OK) return st;
    }
    return FL_OK;
}

static fl_status write_part(fl_atomic_file *f, const void *x, size_t n, fl_sha256 *h, fl_error *err) {
    fl_sha256_update(h, x, n);
    return fl_atomic_write(f, x, n, err);
}

static fl_status write_own(fl_coll *d, const char *dir, const fl_part *pt, const fl_ckpt_state *s,
                           fl_error *err) {
    char path[4096];
    rank_path(path, sizeof path, dir, s->epoch, d->rank, d->size);
    ckpt_header hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, MAGIC, 8);
    hd.epoch = s->epoch, hd.rank = d->rank, hd.size = d->size, hd.k = s->k;
    hd.n_users = pt->u_hi - pt->u_lo, hd.n_items = pt->i_hi - pt->i_lo;
    hd.biased = s->bu != NULL;
    hd.n_history = d->rank == 0 ? s->epoch : 0;
    hd.n_extra = s->n_extra;
    hd.layout = s->layout;
    memcpy(hd.fingerprint, pt->fingerprint, sizeof hd.fingerprint);
    fl_sha256 *h = fl_sha256_begin();
    if (!h) return fl_fail(err, FL_ERR_NOMEM, "out of memory writing a checkpoint");
    fl_atomic_file f;
    fl_status st = fl_atomic_open(&f, path, err);
    if (st != FL_OK) {
        char hex[65];
        fl_sha256_end(h, hex);
        return st;
    }
    st = write_part(&f, &hd, sizeof hd, h, err);
    if (st == FL_OK) st = write_rows(&f, s->P, hd.n_users, s->k, s->stride, h, err);
    if (st == FL_OK && s->bu) st = write_part(&f, s->bu, hd.n_users * sizeof(float), h, err);
    if (st == FL_OK) st = write_rows(&f, s->Q, hd.n_items, s->k, s->stride, h, err);
    if (st == FL_OK && s->bi) st = write_part(&f, s->bi, hd.n_items * sizeof(float), h, err);
    if (st == FL_OK && hd.n_history)
        st = write_part(&f, s->history, (size_t)hd.n_history * sizeof *s->history, h, err);
    if (st == FL_OK && s->n_extra)
        st = write_part(&f, s->extra, s->n_extra * sizeof *s->extra, h, err);
    char hex[65];
    fl_sha256_end(h, hex);
    if (st == FL_OK) st = fl_atomic_write(&f, hex, 64, err);
    if (st == FL_OK) return fl_atomic_commit(&f, err);
    fl_atomic_abort(&f);
    return st;
}

fl_status fl_ckpt_write(fl_coll *d, const char *dir, const fl_params *p, const fl_part *pt,
                        const fl_ckpt_state *s, int prev_epoch, fl_error *err) {
    fl_status st = FL_OK;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        st = fl_fail(err, FL_ERR_IO, "%s: cannot create the checkpoint directory: %s", dir,
                     strerror(errno));
    if (st == FL_OK) st = write_own(d, dir, pt, s, err);
    st = fl_coll_agree(d, st, err);
    if (st != FL_OK) return st;
    if (d->rank == 0) {
        char text[1024], path[4096];
        manifest_text(text, sizeof text, s->epoch, p, d->size, pt);
        snprintf(path, sizeof path, "%s/manifest.txt", dir);
        fl_atomic_file f;
        st = fl_atomic_open(&f, path, err);
        if (st == FL_OK) {
            st = fl_atomic_write(&f, text, strlen(text), err);
            if (st == FL_OK)
                st = fl_atomic_commit(&f, err);
            else
                fl_atomic_abort(&f);
        }
    }
    st = fl_coll_agree(d, st, err);
    if (st == FL_OK && prev_epoch > 0 && prev_epoch != s->epoch) {
        char path[4096];
        rank_path(path, sizeof path, dir, prev_epoch, d->rank, d->size);
        unlink(path); /* a leftover file only takes space */
    }
    return st;
}

/* The value of "key" in the manifest text, or NULL. */
static const char *field(const char *text, const char *key) {
    size_t n = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, key, n) == 0 && l[n] == ' ') return l + n + 1;
    return NULL;
}

static size_t line_len(const char *s) {
    const char *e = strchr(s, '\n');
    return e ? (size_t)(e - s) : strlen(s);
}

/* The manifest of this run's epoch e against the one on disk: the first
 * line that differs, as a sentence. */
static fl_status match_manifest(const char *dir, const char *disk, const fl_params *p, int size,
                                const fl_part *pt, int *epoch, fl_error *err) {
    const char *e = field(disk, "epoch");
    if (strncmp(disk, "factorlens checkpoint 2\n", 24) != 0 || !e || sscanf(e, "%d", epoch) != 1 ||
        *epoch < 1)
        return fl_fail(err, FL_ERR_DATA, "%s/manifest.txt: not a factorlens checkpoint manifest", dir);
    char mine[1024];
    manifest_text(mine, sizeof mine, *epoch, p, size, pt);
    static const char *const keys[] = {"ranks", "model", "solver", "factors", "epochs", "lr", "reg",
                                       "reg_bias", "init_std", "seed", "data"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        const char *a = field(mine, keys[k]), *b = field(disk, keys[k]);
        if (b && line_len(a) == line_len(b) && strncmp(a, b, line_len(a)) == 0) continue;
        if (!b) return fl_fail(err, FL_ERR_DATA, "%s/manifest.txt: no '%s' line", dir, keys[k]);
        if (strcmp(keys[k], "data") == 0)
            return fl_fail(err, FL_ERR_DATA,
                           "%s: the checkpoint was written for other ratings (their "
                           "fingerprint differs): resume with the same --ratings and --test",
                           dir);
        return fl_fail(err, FL_ERR_USAGE,
                       "%s: the checkpoint was written with %s %.*s, this run has %.*s: resume "
                       "with the same options%s",
                       dir, keys[k], (int)line_len(b), b, (int)line_len(a), a,
                       strcmp(keys[k], "ranks") == 0 ? " and the same number of processes" : "");
    }
    return FL_OK;
}

static fl_status read_rows(const char **at, float *X, uint32_t n, int k, uint32_t stride) {
    for (uint32_t x = 0; x < n; x++) {
        memcpy(X + (size_t)x * stride, *at, (size_t)k * sizeof *X);
        *at += (size_t)k * sizeof *X;
    }
    return FL_OK;
}

static fl_status read_own(fl_coll *d, const char *dir, const fl_part *pt, fl_ckpt_state *s,
                          fl_error *err) {
    char path[4096];
    rank_path(path, sizeof path, dir, s->epoch, d->rank, d->size);
    FILE *f = fopen(path, "rb");
    if (!f) return fl_fail(err, FL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1)) &&
        fread(buf, 1, (size_t)len, f) != (size_t)len)
        len = -1;
    fclose(f);
    fl_status st = FL_OK;
    ckpt_header hd;
    const uint32_t nu = pt->u_hi - pt->u_lo, ni = pt->i_hi - pt->i_lo;
    const int biased = s->bu != NULL, n_hist = d->rank == 0 ? s->epoch : 0;
    const size_t want = sizeof hd + ((size_t)nu + ni) * (size_t)s->k * sizeof(float) +
                        (biased ? ((size_t)nu + ni) * sizeof(float) : 0) +
                        (size_t)n_hist * sizeof(fl_epoch_report) + s->n_extra * sizeof(float) + 64;
    char hex[65];
    if (!buf || len < 0)
        st = fl_fail(err, FL_ERR_IO, "%s: cannot read", path);
    else if ((size_t)len != want)
        st = fl_fail(err, FL_ERR_DATA, "%s: %ld bytes where %zu were expected: truncated or not "
                     "this run's", path, len, want);
    else if (!fl_sha256_hex(buf, want - 64, hex) || memcmp(hex, buf + want - 64, 64) != 0)
        st = fl_fail(err, FL_ERR_DATA, "%s: checksum mismatch: the file is corrupt", path);
    if (st == FL_OK) {
        memcpy(&hd, buf, sizeof hd);
        if (memcmp(hd.magic, MAGIC, 8) == 0 && hd.layout != s->layout)
            st = fl_fail(err, FL_ERR_USAGE,
                         "%s: the checkpoint's SGD blocks were laid out for another thread count "
                         "(%d blocks a side, this run %d): resume with the same --threads",
                         path, (int)hd.layout, (int)s->layout);
        else if (memcmp(hd.magic, MAGIC, 8) != 0 || hd.epoch != s->epoch || hd.rank != d->rank ||
            hd.size != d->size || hd.k != s->k || hd.n_users != nu || hd.n_items != ni ||
            hd.biased != biased || hd.n_history != n_hist || hd.n_extra != s->n_extra ||
            memcmp(hd.fingerprint, pt->fingerprint, sizeof hd.fingerprint) != 0)
            st = fl_fail(err, FL_ERR_DATA, "%s: written by another run (its header differs)", path);
    }
    if (st == FL_OK) {
        const char *at = buf + sizeof hd;
        read_rows(&at, s->P, nu, s->k, s->stride);
        if (biased) memcpy(s->bu, at, nu * sizeof(float)), at += nu * sizeof(float);
        read_rows(&at, s->Q, ni, s->k, s->stride);
        if (biased) memcpy(s->bi, at, ni * sizeof(float)), at += ni * sizeof(float);
        if (n_hist) {
            s->history = malloc((size_t)n_hist * sizeof *s->history);
            if (!s->history)
                st = fl_fail(err, FL_ERR_NOMEM, "out of memory reading a checkpoint");
            else
                memcpy(s->history, at, (size_t)n_hist * sizeof *s->history);
            at += (size_t)n_hist * sizeof *s->history;
        }
        if (s->n_extra) memcpy(s->extra, at, s->n_extra * sizeof *s->extra);
    }
    free(buf);
    return st;
}

fl_status fl_ckpt_read(fl_coll *d, const char *dir, const fl_params *p, const fl_part *pt,
                       fl_ckpt_state *s, fl_error *err) {
    /* Process 0 reads the manifest and every process gets its text: all
     * resume from the same epoch even without a shared file system view. */
    char text[1024];
    memset(text, 0, sizeof text);
    fl_status st = FL_OK;
    if (d->rank == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/manifest.txt", dir);
        FILE *f = fopen(path, "rb");
        if (!f)
            st = fl_fail(err, errno == ENOENT ? FL_ERR_USAGE : FL_ERR_IO,
                         "%s: no checkpoint to resume from (%s)", dir, strerror(errno));
        else {
            size_t got = fread(text, 1, sizeof text - 1, f);
            text[got] = '\0';
            fclose(f);
        }
    }
    st = fl_coll_agree(d, st, err);
    if (st == FL_OK) st = fl_coll_bcast(d, text, sizeof text, 0, err);
    if (st == FL_OK) st = match_manifest(dir, text, p, d->size, pt, &s->epoch, err);
    if (st == FL_OK) st = read_own(d, dir, pt, s, err);
    return fl_coll_agree(d, st, err);
}
