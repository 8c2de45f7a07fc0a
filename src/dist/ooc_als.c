/* ooc_als.c — fl_train_out_of_core: ALS with the ratings on disk.
 *
 * Conversion, once per run: the ratings file is parsed in parts small
 * enough for the budget (data/ratings_part.h); each part's ids join the
 * global id maps in order (first appearance in the file, as fl_train
 * numbers them), and its ratings are appended to a file of (user, item,
 * rating) triples while the rows' counts grow. From the counts, one pass
 * over the triples per block of rows writes the by-user and the by-item row
 * files (ooc_rows.h). Training: each half-step reads its side's blocks in
 * turn and solves them with the in-memory ALS's half-step (train/als.h),
 * against the other side's factors, which stay in memory; the same solves
 * over the same ratings in the same order, so the model is fl_train's. The
 * training loss is summed while the item blocks are read (their rows are
 * final by then, and the users' were solved before). Memory: the model
 * (factors, counts, id maps), the row offsets (8 bytes a row) and one
 * block; the seen lists the model file keeps (4 bytes a rating) are read
 * back at the end. */
#include "core/error.h"
#include "core/pool.h"
#include "core/rng.h"
#include "data/ratings_part.h"
#include "dist/ooc_rows.h"
#include "train/init.h"
#include "eval/evaluate.h"
#include "models/model.h"
#include "models/regularizer.h"
#include "train/als.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct ooc_run {
    fl_idmap *users, *items;
    uint32_t *cu, *ci;       /* ratings per user, per item (while converting) */
    size_t cap_u, cap_i;
    size_t n;
    double sum;
    float lo, hi;
    char source[256], triples[4096];
    fl_ooc_side by_user, by_item;
    double *item_sum;
} ooc_run;

static fl_status grow(uint32_t **a, size_t *cap, size_t need, fl_error *err) {
    if (need <= *cap) return FL_OK;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    uint32_t *b = realloc(*a, c * sizeof *b);
    if (!b) return fl_fail(err, FL_ERR_NOMEM, "out of memory counting the ratings");
    memset(b + *cap, 0, (c - *cap) * sizeof *b);
    *a = b, *cap = c;
    return FL_OK;
}

/* The local ids of a part as global indices (new ones appended in order). */
static fl_status globalise(fl_idmap *global, const fl_idmap *local, uint32_t **to, fl_error *err) {
    uint32_t n = fl_idmap_size(local);
    *to = malloc((n ? n : 1) * sizeof **to);
    if (!*to) return fl_fail(err, FL_ERR_NOMEM, "out of memory mapping ids");
    for (uint32_t k = 0; k < n; k++) {
        const char *s = fl_idmap_name(local, k);
        if (fl_idmap_intern(global, s, strlen(s), &(*to)[k]) != FL_OK)
            return fl_fail(err, FL_ERR_NOMEM, "out of memory mapping ids");
    }
    return FL_OK;
}

static fl_status convert(ooc_run *r, const fl_ooc_opts *o, double budget, fl_error *err) {
    struct stat sb;
    if (stat(o->ratings, &sb) != 0)
        return fl_fail(err, FL_ERR_IO, "%s: cannot open: %s", o->ratings, strerror(errno));
    /* A part's parsed ratings take about its text's size again (12-16 bytes
     * a rating), plus the reader's id maps: a third of the budget each. */
    int parts = (int)ceil((double)sb.st_size * 3.0 / budget);
    if (parts < 1) parts = 1;
    const fl_dup_policy dup = o->read ? o->read->duplicates : FL_DUP_ERROR;
    if (parts > 1 && (dup == FL_DUP_LAST || dup == FL_DUP_MEAN))
        return fl_fail(err, FL_ERR_USAGE,
                       "--duplicates last|mean needs the whole file in memory, and out of core "
                       "it is read in %d parts: merge duplicates first, or raise --memory", parts);
    snprintf(r->triples, sizeof r->triples, "%s/factorlens-ooc-%ld.triples", o->work_dir, (long)getpid());
    FILE *f = fopen(r->triples, "wb");
    if (!f) return fl_fail(err, FL_ERR_IO, "%s: cannot create: %s", r->triples, strerror(errno));
    r->users = fl_idmap_new(), r->items = fl_idmap_new();
    r->lo = INFINITY, r->hi = -INFINITY;
    fl_status st = r->users && r->items ? FL_OK : fl_fail(err, FL_ERR_NOMEM, "out of memory");
    for (int p = 0; st == FL_OK && p < parts; p++) {
        fl_dataset *d = NULL;
        uint32_t *tu = NULL, *ti = NULL;
        st = fl_dataset_read_part(o->ratings, o->read, p, parts, &d, err);
        if (st == FL_OK) {
            snprintf(r->source, sizeof r->source, "%s", d->source);
            st = globalise(r->users, d->user_ids, &tu, err);
        }
        if (st == FL_OK) st = globalise(r->items, d->item_ids, &ti, err);
        if (st == FL_OK) st = grow(&r->cu, &r->cap_u, fl_idmap_size(r->users), err);
        if (st == FL_OK) st = grow(&r->ci, &r->cap_i, fl_idmap_size(r->items), err);
        for (size_t k = 0; st == FL_OK && k < d->n_ratings; k++) {
            uint32_t rec[3] = {tu[d->users[k]], ti[d->items[k]], 0};
            memcpy(&rec[2], &d->ratings[k], sizeof rec[2]);
            if (fwrite(rec, sizeof rec, 1, f) != 1)
                st = fl_fail(err, FL_ERR_IO, "%s: cannot write: %s", r->triples, strerror(errno));
            r->cu[rec[0]]++, r->ci[rec[1]]++;
            r->sum += d->ratings[k]; /* in file order, as fl_dataset_mean */
            if (d->ratings[k] < r->lo) r->lo = d->ratings[k];
            if (d->ratings[k] > r->hi) r->hi = d->ratings[k];
        }
        if (st == FL_OK) r->n += d->n_ratings;
        free(tu), free(ti);
        fl_dataset_free(d);
    }
    if (fclose(f) != 0 && st == FL_OK)
        st = fl_fail(err, FL_ERR_IO, "%s: cannot write: %s", r->triples, strerror(errno));
    if (st == FL_OK && r->n == 0) st = fl_fail(err, FL_ERR_DATA, "%s: no ratings to train on", o->ratings);
    if (st != FL_OK) return st;
    /* Row offsets from the counts, then the row files. */
    fl_ooc_side *side[2] = {&r->by_user, &r->by_item};
    const uint32_t *count[2] = {r->cu, r->ci};
    const uint32_t rows[2] = {fl_idmap_size(r->users), fl_idmap_size(r->items)};
    r->item_sum = calloc(rows[1] + 1, sizeof *r->item_sum);
    if (!r->item_sum) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    const uint64_t block = (uint64_t)(budget / 16.0) > 0 ? (uint64_t)(budget / 16.0) : 1;
    for (int s = 0; s < 2; s++) {
        fl_ooc_side *x = side[s];
        x->n_rows = rows[s];
        x->fd = -1;
        x->start = malloc(((size_t)rows[s] + 1) * sizeof *x->start);
        if (!x->start) return fl_fail(err, FL_ERR_NOMEM, "out of memory for the row offsets");
        x->start[0] = 0;
        for (uint32_t k = 0; k < rows[s]; k++) x->start[k + 1] = x->start[k] + count[s][k];
        snprintf(x->path, sizeof x->path, "%s/factorlens-ooc-%ld.by_%s", o->work_dir,
                 (long)getpid(), s == 0 ? "user" : "item");
        st = fl_ooc_side_write(x, r->triples, s == 0, block, s == 1 ? r->item_sum : NULL, err);
        if (st != FL_OK) return st;
        x->fd = open(x->path, O_RDONLY | O_CLOEXEC);
        if (x->fd < 0) return fl_fail(err, FL_ERR_IO, "%s: cannot open: %s", x->path, strerror(errno));
    }
    unlink(r->triples);
    r->triples[0] = '\0';
    free(r->cu), free(r->ci);
    r->cu = r->ci = NULL;
    return FL_OK;
}

static void run_free(ooc_run *r) {
    if (r->triples[0]) unlink(r->triples);
    fl_ooc_side *side[2] = {&r->by_user, &r->by_item};
    for (int s = 0; s < 2; s++) {
        if (side[s]->fd >= 0) close(side[s]->fd);
        if (side[s]->path[0]) unlink(side[s]->path);
        free(side[s]->start);
    }
    fl_idmap_free(r->users), fl_idmap_free(r->items);
    free(r->cu), free(r->ci), free(r->item_sum);
}

/* The model with fl_train's start: counts, means, starting rows (every
 * user's factors, then every item's, from the seed's one stream). */
static fl_status new_model(ooc_run *r, const fl_params *p, fl_model **out, fl_error *err) {
    fl_status st = fl_model_alloc(p, r->users, r->items, out, err);
    if (st != FL_OK) return st;
    fl_model *m = *out;
    const uint32_t nu = m->n_users, ni = m->n_items;
    m->seen_start = malloc(((size_t)nu + 1) * sizeof *m->seen_start);
    m->item_count = malloc(((size_t)ni + 1) * sizeof *m->item_count);
    float *mean = malloc(((size_t)ni + 1) * sizeof *mean);
    m->item_mean = m->item_mean_heap = mean;
    if (!m->seen_start || !m->item_count || !mean)
        return fl_fail(err, FL_ERR_NOMEM, "out of memory recording the training counts");
    memcpy(m->seen_start, r->by_user.start, ((size_t)nu + 1) * sizeof *m->seen_start);
    for (uint32_t i = 0; i < ni; i++) {
        m->item_count[i] = (uint32_t)(r->by_item.start[i + 1] - r->by_item.start[i]);
        mean[i] = m->item_count[i] ? (float)(r->item_sum[i] / m->item_count[i]) : 0.0f;
    }
    m->n_train = r->n;
    m->global_mean = (float)(r->sum / (double)r->n);
    m->offset = m->kind == FL_MODEL_BIASED ? m->global_mean : 0.0f;
    m->rating_lo = r->lo, m->rating_hi = r->hi;
    snprintf(m->source, sizeof m->source, "%s", r->source);
    fl_rng rng; /* the starting rows as fl_train draws them */
    fl_rng_seed(&rng, p->seed);
    const uint64_t base = fl_rng_next(&rng);
    for (uint32_t u = 0; u < nu; u++) fl_init_row(m->P + (size_t)u * m->stride, p->n_factors, p->init_std, base, u);
    for (uint32_t i = 0; i < ni; i++)
        fl_init_row(m->Q + (size_t)i * m->stride, p->n_factors, p->init_std, base, (uint64_t)nu + i);
    return FL_OK;
}

/* One half-step over a side's blocks; with loss, also the squared errors
 * of its ratings once each block is solved (the item side: (col u, row i)). */
static fl_status half(fl_trainer *t, const fl_ooc_side *s, float *X, float *bx, const float *Y,
                      const float *by, uint64_t block, double *loss, fl_rows *rows,
                      fl_ooc_pair **buf, size_t *cap, size_t done0, size_t total, fl_error *err) {
    const fl_model *m = t->m;
    for (uint32_t lo = 0; lo < s->n_rows;) {
        const uint32_t hi = fl_ooc_block_end(s, lo, block);
        fl_status st = fl_ooc_block_read(s, lo, hi, rows, buf, cap, err);
        if (st != FL_OK) return st;
        fl_als_half(t, rows, X + (size_t)lo * m->stride, bx ? bx + lo : NULL, Y, by, hi - lo);
        for (uint32_t x = 0; loss && x < hi - lo; x++)
            for (uint64_t k = rows->start[x]; k < rows->start[x + 1]; k++) {
                double e = (double)fl_predict_index(m, rows->col[k], lo + x) - rows->r[k];
                *loss += e * e;
            }
        const double share = (double)s->start[hi] / (double)(s->start[s->n_rows] ? s->start[s->n_rows] : 1);
        fl_trainer_progress(t, done0 + (size_t)(share * (double)(total / 2)), total);
        lo = hi;
    }
    return FL_OK;
}

fl_status fl_train_out_of_core(const fl_ooc_opts *o, const fl_params *p,
                               const fl_train_hooks *hooks, fl_model **out,
                               fl_train_result *result, fl_error *err) {
    *out = NULL;
    const char *bad = fl_params_check(p);
    if (bad) return fl_fail(err, FL_ERR_USAGE, "%s", bad);
    if (p->solver != FL_SOLVER_ALS || (p->kind != FL_MODEL_DOT && p->kind != FL_MODEL_BIASED))
        return fl_fail(err, FL_ERR_USAGE,
                       "out-of-core training runs ALS for the dot and biased models (--solver als)");
    if (p->valid_fraction > 0)
        return fl_fail(err, FL_ERR_USAGE, "out-of-core training takes no validation split (--valid)");
    if (!o || !o->ratings || !o->work_dir)
        return fl_fail(err, FL_ERR_USAGE, "out-of-core training needs ratings and a work directory");
    const double t0 = now_seconds();
    const double budget = o->memory_bytes > 0 ? o->memory_bytes : 256.0 * (1 << 20);
    const uint64_t block = (uint64_t)(budget / 16.0) > 0 ? (uint64_t)(budget / 16.0) : 1;
    ooc_run r;
    memset(&r, 0, sizeof r);
    r.by_user.fd = r.by_item.fd = -1;
    fl_dataset *test = NULL;
    fl_model *m = NULL;
    fl_trainer t;
    memset(&t, 0, sizeof t);
    fl_rows rows;
    memset(&rows, 0, sizeof rows);
    fl_ooc_pair *buf = NULL;
    size_t cap = 0;
    fl_train_result res;
    memset(&res, 0, sizeof res);
    fl_status st = convert(&r, o, budget, err);
    if (st == FL_OK && o->test) st = fl_dataset_read(o->test, o->read, &test, err);
    fl_params pr = *p;
    int n_threads = p->n_threads ? p->n_threads : fl_cpu_count();
    if (n_threads > 1024) n_threads = 1024;
    if (st == FL_OK && !(t.pool = fl_pool_new(n_threads)))
        st = fl_fail(err, FL_ERR_OTHER, "cannot start %d training threads", n_threads);
    if (st == FL_OK) {
        pr.n_threads = fl_pool_threads(t.pool);
        st = new_model(&r, &pr, &m, err);
    }
    if (st == FL_OK) {
        t.m = m, t.p = &m->params, t.hooks = hooks;
        st = fl_als_ops.init(&t, err);
    }
    for (int e = 1; st == FL_OK && e <= pr.epochs; e++) {
        const double te = now_seconds();
        t.epoch = e;
        double se = 0.0;
        st = half(&t, &r.by_user, m->P, m->bu, m->Q, m->bi, block, NULL, &rows, &buf, &cap, 0, r.n, err);
        if (st == FL_OK)
            st = half(&t, &r.by_item, m->Q, m->bi, m->P, m->bu, block, &se, &rows, &buf, &cap,
                      r.n / 2, r.n, err);
        if (st != FL_OK) break;
        if (t.cancelled) {
            st = fl_fail(err, FL_ERR_CANCELLED, "training was cancelled in epoch %d", e);
            break;
        }
        fl_epoch_report rep = {.epoch = e, .epochs = pr.epochs, .lr = pr.lr};
        rep.solve_seconds = now_seconds() - te;
        rep.train_mse = se / (double)r.n;
        rep.reg_penalty = fl_reg_penalty(m);
        rep.valid_rmse = rep.test_rmse = rep.test_mae = rep.test_mse = NAN;
        if (!isfinite(rep.train_mse) || !isfinite(rep.reg_penalty)) {
            st = fl_fail(err, FL_ERR_DIVERGED, "training diverged in epoch %d: raise --reg", e);
            break;
        }
        fl_metrics mt;
        if (test && test->n_ratings &&
            fl_evaluate_on(t.pool, m, test, FL_UNKNOWN_MEAN, &mt, NULL) == FL_OK)
            rep.test_rmse = mt.rmse, rep.test_mae = mt.mae, rep.test_mse = mt.mse;
        rep.seconds = now_seconds() - te;
        fl_epoch_report *h = realloc(m->history, ((size_t)m->n_history + 1) * sizeof *h);
        if (!h) {
            st = fl_fail(err, FL_ERR_NOMEM, "out of memory recording epoch %d", e);
            break;
        }
        m->history = h;
        h[m->n_history++] = rep;
        res.epochs_run = res.best_epoch = e, res.last = rep;
        if (hooks && hooks->epoch_end && hooks->epoch_end(hooks->ctx, &rep)) break;
    }
    /* The seen lists: the by-user file's columns, read back block by block. */
    if (st == FL_OK && !(m->seen_items = malloc((r.n ? r.n : 1) * sizeof *m->seen_items)))
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory for the model's lists of rated items");
    for (uint32_t lo = 0; st == FL_OK && lo < r.by_user.n_rows;) {
        const uint32_t hi = fl_ooc_block_end(&r.by_user, lo, block);
        st = fl_ooc_block_read(&r.by_user, lo, hi, &rows, &buf, &cap, err);
        if (st == FL_OK)
            memcpy(m->seen_items + r.by_user.start[lo], rows.col,
                   (r.by_user.start[hi] - r.by_user.start[lo]) * sizeof *rows.col);
        /* A pair rated twice in different parts (each part was checked alone). */
        const fl_dup_policy dup = o->read ? o->read->duplicates : FL_DUP_ERROR;
        for (uint32_t x = 0; st == FL_OK && dup == FL_DUP_ERROR && x < hi - lo; x++)
            for (uint64_t k = rows.start[x] + 1; k < rows.start[x + 1]; k++)
                if (rows.col[k] == rows.col[k - 1]) {
                    st = fl_fail(err, FL_ERR_DATA,
                                 "%s: user '%s' rated item '%s' more than once (in different "
                                 "parts of the file, which out-of-core training reads apart): "
                                 "remove the duplicate",
                                 r.source, fl_idmap_name(r.users, lo + x),
                                 fl_idmap_name(r.items, rows.col[k]));
                    break;
                }
        lo = hi;
    }
    if (t.state) fl_als_ops.release(&t);
    fl_pool_free(t.pool);
    fl_rows_free(&rows);
    free(buf);
    fl_dataset_free(test);
    run_free(&r);
    if (st != FL_OK) {
        fl_model_free(m);
        return st;
    }
    res.seconds = now_seconds() - t0;
    m->epochs_run = res.epochs_run;
    m->train_seconds = res.seconds;
    if (result) *result = res;
    *out = m;
    return FL_OK;
}
