/* dist_sgd.c — SGD's epoch over processes: DSGD strata (Gemulla et al.
 * 2011) with the item blocks passed round a ring (dist_run.h).
 *
 * With N processes the ratings fall into N x N blocks (user block, item
 * block), the blocks of part_data.h. Process p keeps its users' rows (and
 * their step sums) for the whole run; in sub-epoch s it holds item block
 * q = (p + s) mod N and updates block (p, q), then sends the item block's
 * rows and step sums to process p - 1 and receives block q + 1 from
 * process p + 1. The N blocks updated at once share no user and no item,
 * so the processes never wait on each other's rows within a sub-epoch;
 * after N sub-epochs every rating was visited once and every process holds
 * its own item block again (checkpoints, the model and the report read the
 * home blocks). Inside a block, the one-process machinery: the block's
 * ratings laid out as a grid of sub-blocks (grid.h, fl_grid_build_placed:
 * the process's user rows keep one order for all its blocks), run by the
 * lock-free scheduler on the process's threads (grid_sched.h) with the
 * SGD kernel (sgd_simd.h) and its per-row AdaGrad steps.
 *
 * Determinism: the grids' shuffles and each epoch's strata orders are
 * drawn from the seed, the rank and the epoch, so the same seed, process
 * count and thread count give the same model, and a resumed run (whose
 * checkpoint keeps the step sums) the same as an uninterrupted one. The
 * model is not the one-process model (updates come in another order) but
 * reaches its accuracy (tests/e2e_dsgd.sh checks within 0.002 RMSE).
 *
 * The report: after the N training sub-epochs the item blocks go round
 * once more, unchanged, and each process scores its users' training
 * ratings (and the test ratings of its users, routed to it once at the
 * start) against each block as it passes, with the rows of the end of the
 * epoch. A lap costs less than sending every process the user rows its
 * items' ratings use, as ALS's report does, wherever the users a process
 * reaches outnumber the items: computed at k=64 on 4 processes, ml-25m 64
 * MB a lap against 127 MB, Netflix 19 MB against 375 MB (ml-100k, with
 * fewer users than items, is the other way round).
 *
 * On the wire per epoch: 2N hops of every item block, (k + 4) floats a row
 * (the factors, then bias, two step sums and penalty share), and the
 * report's sums (docs/capacity.md). */
#include "core/error.h"
#include "dist/dist_run.h"
#include "train/grid.h"
#include "train/grid_sched.h"
#include "train/sgd_simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sgd_dist {
    fl_sgd_row *urow;     /* [own users] bias, step sums, penalty share */
    fl_sgd_row *irow;     /* [own items] the same, at home between epochs */
    fl_grid *grids;       /* [size] block (rank, q) as a grid of sub-blocks */
    fl_grid_sched sched;
    fl_trainer t;         /* the scheduler's: grid, pool, strata rng; no hooks */
    float *cur;           /* the item block held now: rows, stride floats apart */
    fl_sgd_row *cur_rec;  /* its records */
    float *wire_out, *wire_in; /* a block packed as (k + 4) floats a row */
    size_t *sc, *rc;      /* [size] byte counts of a hop */
    fl_sgd_kernel kernel;
    /* Test ratings of own users and known items, by item block: block q's
     * are [test_at[q], test_at[q + 1]) (own user, item within the block). */
    size_t *test_at;
    uint32_t *test_u, *test_i;
    float *test_r;
    float *ubias, *cbias; /* biases as arrays, for scoring (biased model) */
} sgd_dist;

/* A test rating on its way to its user's owner: global indices. */
typedef struct test_trip {
    uint32_t u, i;
    float r;
} test_trip;

static uint32_t block_width(const fl_part *pt, int q) { return pt->item_cut[q + 1] - pt->item_cut[q]; }

/* A stream for (seed, rank, epoch): epoch 0 lays out the grids. */
static void seed_for(fl_rng *rng, uint64_t seed, int rank, int epoch) {
    fl_rng_seed(rng, seed ^ (0x9e3779b97f4a7c15ull * ((uint64_t)(rank + 1) << 32 | (uint32_t)epoch)));
}

static void sub_block(fl_trainer *t, int b, void *ctx) {
    dist_run *r = ctx;
    sgd_dist *s = r->state;
    const fl_grid *g = &t->grid;
    const uint32_t stride = r->view.stride;
    const size_t lo = g->start[b];
    const uint32_t u0 = fl_grid_first(g->n_users, g->nb, b / g->nb);
    const uint32_t i0 = fl_grid_first(g->n_items, g->nb, b % g->nb);
    fl_sgd_job j = {
        .P = r->s.P + (size_t)u0 * stride, .Q = s->cur + (size_t)i0 * stride,
        .stride = (int)stride, .k = r->p.n_factors,
        .urow = s->urow + u0, .irow = s->cur_rec + i0,
        .u = g->u + lo, .i = g->i + lo, .r = g->r + lo, .n = g->start[b + 1] - lo,
        .offset = r->view.offset, .lr = r->p.lr, .reg_f = r->p.reg_factors, .reg_b = r->p.reg_bias,
        .biased = r->p.kind == FL_MODEL_BIASED, .y_lo = r->p.y_lo, .y_hi = r->p.y_hi,
    };
    s->kernel(&j);
}

/* The records from the state in r->s: biases, step sums (extra, after a
 * resume; 1 at the start, so the first steps are exactly lr) and shares. */
static void records_from_state(dist_run *r, int with_sums) {
    sgd_dist *s = r->state;
    const fl_part *pt = &r->pt;
    const uint32_t nu = pt->u_hi - pt->u_lo, ni = pt->i_hi - pt->i_lo;
    for (uint32_t x = 0; x < nu; x++) {
        uint64_t c = pt->by_user.start[x + 1] - pt->by_user.start[x];
        s->urow[x] = (fl_sgd_row){r->s.bu ? r->s.bu[x] : 0.0f, with_sums ? r->s.extra[2 * x] : 1.0f,
                                  with_sums ? r->s.extra[2 * x + 1] : 1.0f,
                                  1.0f / sqrtf(c ? (float)c : 1.0f)};
    }
    const float *ex = r->s.extra + 2 * (size_t)nu;
    for (uint32_t y = 0; y < ni; y++) {
        uint64_t c = pt->by_item.start[y + 1] - pt->by_item.start[y];
        s->irow[y] = (fl_sgd_row){r->s.bi ? r->s.bi[y] : 0.0f, with_sums ? ex[2 * y] : 1.0f,
                                  with_sums ? ex[2 * y + 1] : 1.0f,
                                  1.0f / sqrtf(c ? (float)c : 1.0f)};
    }
}

/* The ratings of this process's users in item block q, as (own user, item
 * within the block) pairs, laid out as a grid. */
static fl_status build_block(dist_run *r, int q, int nb, fl_rng *rng, fl_grid *g, fl_error *err) {
    const fl_part *pt = &r->pt;
    const fl_rows *rows = &pt->by_user;
    const uint32_t lo = pt->item_cut[q], hi = pt->item_cut[q + 1], nu = pt->u_hi - pt->u_lo;
    size_t n = 0;
    for (uint64_t k = 0; k < rows->start[nu]; k++) {
        uint32_t item = pt->need_items[rows->col[k]];
        n += item >= lo && item < hi;
    }
    uint32_t *u = malloc((n ? n : 1) * sizeof *u), *i = malloc((n ? n : 1) * sizeof *i);
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (!u || !i || !v) {
        free(u), free(i), free(v);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory laying out the SGD blocks");
    }
    size_t at = 0;
    for (uint32_t x = 0; x < nu; x++)
        for (uint64_t k = rows->start[x]; k < rows->start[x + 1]; k++) {
            uint32_t item = pt->need_items[rows->col[k]];
            if (item < lo || item >= hi) continue;
            u[at] = x, i[at] = item - lo, v[at++] = fl_rows_rating(rows, k);
        }
    fl_status st = fl_grid_build_placed(nu, hi - lo, u, i, v, n, nb, (int)r->view.stride, r->pool, rng, g, err);
    return st;
}

/* The test ratings of known pairs, held by their items' owners
 * (part_data.h), sent to their users' owners once and grouped there by
 * item block. */
static fl_status route_test(dist_run *r, fl_error *err) {
    sgd_dist *s = r->state;
    const fl_part *pt = &r->pt;
    const int size = r->d.size;
    size_t n = 0;
    for (size_t j = 0; j < pt->n_test_item; j++) n += pt->test_item_user[j] != UINT32_MAX;
    test_trip *out = malloc((n ? n : 1) * sizeof *out), *in = NULL;
    size_t *at = calloc((size_t)size + 1, sizeof *at);
    size_t *sc = calloc((size_t)size, sizeof *sc), *rc = calloc((size_t)size, sizeof *rc);
    s->test_at = calloc((size_t)size + 1, sizeof *s->test_at);
    fl_status st = FL_OK;
    if (!out || !at || !sc || !rc || !s->test_at) st = fl_fail(err, FL_ERR_NOMEM, "out of memory routing the test ratings");
    for (size_t j = 0; st == FL_OK && j < pt->n_test_item; j++)
        if (pt->test_item_user[j] != UINT32_MAX)
            at[fl_part_owner(pt->user_cut, size, pt->need_users[pt->test_item_user[j]]) + 1]++;
    for (int q = 0; st == FL_OK && q < size; q++) sc[q] = at[q + 1] * sizeof *out, at[q + 1] += at[q];
    for (size_t j = 0; st == FL_OK && j < pt->n_test_item; j++) {
        uint32_t u = pt->test_item_user[j];
        if (u == UINT32_MAX) continue;
        u = pt->need_users[u];
        out[at[fl_part_owner(pt->user_cut, size, u)]++] =
            (test_trip){u, pt->i_lo + pt->test_item[j], pt->test_item_r[j]};
    }
    st = fl_coll_agree(&r->d, st, err);
    if (st == FL_OK) st = fl_coll_counts(&r->d, sc, rc, err);
    size_t bytes = 0;
    for (int q = 0; st == FL_OK && q < size; q++) bytes += rc[q];
    const size_t m = bytes / sizeof *in;
    if (st == FL_OK) {
        in = malloc(bytes ? bytes : 1);
        s->test_u = malloc((m ? m : 1) * sizeof *s->test_u);
        s->test_i = malloc((m ? m : 1) * sizeof *s->test_i);
        s->test_r = malloc((m ? m : 1) * sizeof *s->test_r);
        if (!in || !s->test_u || !s->test_i || !s->test_r)
            st = fl_fail(err, FL_ERR_NOMEM, "out of memory routing the test ratings");
    }
    st = fl_coll_agree(&r->d, st, err);
    if (st == FL_OK) st = fl_coll_alltoallv(&r->d, out, sc, in, rc, err);
    if (st == FL_OK) {
        /* Grouped by item block, in the order received within a block. */
        for (size_t j = 0; j < m; j++) s->test_at[fl_part_owner(pt->item_cut, size, in[j].i) + 1]++;
        for (int q = 0; q < size; q++) s->test_at[q + 1] += s->test_at[q];
        memcpy(at, s->test_at, ((size_t)size + 1) * sizeof *at);
        for (size_t j = 0; j < m; j++) {
            const int q = fl_part_owner(pt->item_cut, size, in[j].i);
            const size_t to = at[q]++;
            s->test_u[to] = in[j].u - pt->u_lo;
            s->test_i[to] = in[j].i - pt->item_cut[q];
            s->test_r[to] = in[j].r;
        }
    }
    free(out), free(in), free(at), free(sc), free(rc);
    return st;
}

/* How far the sub-epochs are from even: a sub-epoch lasts as long as its
 * largest block (p, (p + s) mod N), so the epoch's updates take
 * sum_s max_p |block| where n/N would do. Every process's block sizes are
 * summed into one N x N table (each fills its row). */
static fl_status stratum_balance(dist_run *r, fl_error *err) {
    sgd_dist *s = r->state;
    const int size = r->d.size;
    uint64_t *count = calloc((size_t)size * size, sizeof *count);
    if (!count) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    for (int q = 0; q < size; q++) count[(size_t)r->d.rank * size + q] = s->grids[q].n;
    fl_status st = fl_coll_sum_u64(&r->d, count, size * size, err);
    double worst = 0.0;
    for (int sub = 0; st == FL_OK && sub < size; sub++) {
        uint64_t most = 0;
        for (int p = 0; p < size; p++) {
            uint64_t c = count[(size_t)p * size + (p + sub) % size];
            if (c > most) most = c;
        }
        worst += (double)most;
    }
    if (st == FL_OK) r->stratum_imbalance = worst / ((double)r->pt.n_ratings / size);
    free(count);
    return st;
}

static fl_status sgd_init(dist_run *r, fl_error *err) {
    sgd_dist *s = calloc(1, sizeof *s);
    if (!s) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    r->state = s;
    const fl_part *pt = &r->pt;
    const int size = r->d.size, k = r->p.n_factors;
    const uint32_t nu = pt->u_hi - pt->u_lo, ni = pt->i_hi - pt->i_lo;
    uint32_t widest = 0;
    for (int q = 0; q < size; q++)
        if (block_width(pt, q) > widest) widest = block_width(pt, q);
    s->urow = malloc(((size_t)nu + 1) * sizeof *s->urow);
    s->irow = malloc(((size_t)ni + 1) * sizeof *s->irow);
    s->cur_rec = malloc(((size_t)widest + 1) * sizeof *s->cur_rec);
    s->cur = fl_dist_rows_alloc(widest, r->view.stride);
    s->wire_out = malloc(((size_t)widest * (size_t)(k + 4) + 1) * sizeof(float));
    s->wire_in = malloc(((size_t)widest * (size_t)(k + 4) + 1) * sizeof(float));
    s->sc = calloc((size_t)size, sizeof *s->sc), s->rc = calloc((size_t)size, sizeof *s->rc);
    s->grids = calloc((size_t)size, sizeof *s->grids);
    s->ubias = calloc((size_t)nu + 1, sizeof *s->ubias);
    s->cbias = calloc((size_t)widest + 1, sizeof *s->cbias);
    fl_status st = FL_OK;
    if (!s->urow || !s->irow || !s->cur_rec || !s->cur || !s->wire_out || !s->wire_in || !s->sc ||
        !s->rc || !s->grids || !s->ubias || !s->cbias)
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory for the SGD blocks");
    /* One sub-grid size for all of the process's blocks: one schedule. */
    const int nb = fl_grid_size(nu, widest, (int)r->view.stride, fl_pool_threads(r->pool));
    r->s.layout = nb; /* a checkpoint resumes only onto the same sub-grid */
    fl_rng rng;
    seed_for(&rng, r->p.seed, r->d.rank, 0);
    for (int q = 0; st == FL_OK && q < size; q++) st = build_block(r, q, nb, &rng, &s->grids[q], err);
    if (st == FL_OK) st = fl_grid_sched_init(&s->sched, nb, err);
    if (st == FL_OK) {
        s->t.m = &r->view, s->t.p = &r->p, s->t.pool = r->pool;
        s->kernel = fl_sgd_pick(NULL);
        records_from_state(r, 0);
    }
    st = fl_coll_agree(&r->d, st, err);
    if (st == FL_OK) st = route_test(r, err);
    if (st == FL_OK) st = stratum_balance(r, err);
    return st;
}

/* Block q's rows and records (n rows) packed for the wire, and back. */
static void pack(const sgd_dist *s, uint32_t n, int k, uint32_t stride) {
    float *w = s->wire_out;
    for (uint32_t y = 0; y < n; y++, w += k + 4) {
        memcpy(w, s->cur + (size_t)y * stride, (size_t)k * sizeof *w);
        memcpy(w + k, &s->cur_rec[y], sizeof s->cur_rec[y]);
    }
}
static void unpack(sgd_dist *s, uint32_t n, int k, uint32_t stride) {
    const float *w = s->wire_in;
    for (uint32_t y = 0; y < n; y++, w += k + 4) {
        memcpy(s->cur + (size_t)y * stride, w, (size_t)k * sizeof *w);
        memcpy(&s->cur_rec[y], w + k, sizeof s->cur_rec[y]);
    }
}

/* The hop: the block held (q) to process rank - 1, block q + 1 from rank + 1. */
static fl_status hop(dist_run *r, int q, fl_error *err) {
    sgd_dist *s = r->state;
    const fl_part *pt = &r->pt;
    const int size = r->d.size, rank = r->d.rank, k = r->p.n_factors;
    const size_t row_bytes = (size_t)(k + 4) * sizeof(float);
    const int next = (q + 1) % size;
    pack(s, block_width(pt, q), k, r->view.stride);
    memset(s->sc, 0, (size_t)size * sizeof *s->sc);
    memset(s->rc, 0, (size_t)size * sizeof *s->rc);
    s->sc[(rank + size - 1) % size] = block_width(pt, q) * row_bytes;
    s->rc[(rank + 1) % size] = block_width(pt, next) * row_bytes;
    fl_status st = fl_coll_alltoallv(&r->d, s->wire_out, s->sc, s->wire_in, s->rc, err);
    if (st == FL_OK) unpack(s, block_width(pt, next), k, r->view.stride);
    return st;
}

/* Squared errors of this process's training ratings in block q (the block
 * held now) and of its test ratings there, as fl_predict_index scores them. */
static void score_block(dist_run *r, int q, double *sums) {
    sgd_dist *s = r->state;
    const fl_grid *g = &s->grids[q];
    fl_model v = r->view;
    v.P = r->s.P, v.Q = s->cur;
    v.n_users = r->pt.u_hi - r->pt.u_lo, v.n_items = block_width(&r->pt, q);
    if (r->p.kind == FL_MODEL_BIASED) {
        for (uint32_t y = 0; y < v.n_items; y++) s->cbias[y] = s->cur_rec[y].bias;
        v.bu = s->ubias, v.bi = s->cbias;
    }
    double se = 0.0;
    for (int b = 0; b < g->nb * g->nb; b++) {
        const uint32_t u0 = fl_grid_first(g->n_users, g->nb, b / g->nb);
        const uint32_t i0 = fl_grid_first(g->n_items, g->nb, b % g->nb);
        for (size_t j = g->start[b]; j < g->start[b + 1]; j++) {
            double e = (double)fl_predict_index(&v, u0 + g->u[j], i0 + g->i[j]) - g->r[j];
            se += e * e;
        }
    }
    sums[S_TRAIN_SE] += se;
    for (size_t j = s->test_at[q]; j < s->test_at[q + 1]; j++) {
        double e = (double)fl_predict_index(&v, s->test_u[j], s->test_i[j]) - s->test_r[j];
        sums[S_TEST_SE] += e * e, sums[S_TEST_AE] += fabs(e);
    }
}

static fl_status sgd_epoch(dist_run *r, double *sums, fl_error *err) {
    sgd_dist *s = r->state;
    const fl_part *pt = &r->pt;
    const int size = r->d.size, rank = r->d.rank;
    const uint32_t stride = r->view.stride, nu = pt->u_hi - pt->u_lo, ni = pt->i_hi - pt->i_lo;
    seed_for(&s->t.rng, r->p.seed, rank, r->t.epoch);
    memcpy(s->cur, r->s.Q, (size_t)ni * stride * sizeof *s->cur);
    memcpy(s->cur_rec, s->irow, (size_t)ni * sizeof *s->cur_rec);
    fl_status st = FL_OK;
    /* N sub-epochs, each followed by a hop: the last brings the own block home. */
    for (int sub = 0; st == FL_OK && sub < size; sub++) {
        const int q = (rank + sub) % size;
        s->t.grid = s->grids[q];
        fl_grid_sched_epoch(&s->sched, &s->t, sub_block, r);
        memset(&s->t.grid, 0, sizeof s->t.grid); /* the grid stays s->grids[q]'s */
        fl_trainer_progress(&r->t, (size_t)((double)pt->n_ratings * (sub + 1) / size), pt->n_ratings);
        if (size > 1) st = hop(r, q, err);
    }
    /* The scoring lap: the same blocks, unchanged, against the final user rows. */
    for (uint32_t x = 0; x < nu; x++) s->ubias[x] = s->urow[x].bias;
    for (int sub = 0; st == FL_OK && sub < size; sub++) {
        const int q = (rank + sub) % size;
        score_block(r, q, sums);
        if (size > 1) st = hop(r, q, err);
    }
    if (st != FL_OK) return st;
    /* Home again: the own item block, and the state a checkpoint keeps. */
    memcpy(r->s.Q, s->cur, (size_t)ni * stride * sizeof *s->cur);
    memcpy(s->irow, s->cur_rec, (size_t)ni * sizeof *s->irow);
    float *ex = r->s.extra;
    for (uint32_t x = 0; x < nu; x++) {
        if (r->s.bu) r->s.bu[x] = s->urow[x].bias;
        *ex++ = s->urow[x].G, *ex++ = s->urow[x].Gb;
    }
    for (uint32_t y = 0; y < ni; y++) {
        if (r->s.bi) r->s.bi[y] = s->irow[y].bias;
        *ex++ = s->irow[y].G, *ex++ = s->irow[y].Gb;
    }
    return FL_OK;
}

static void sgd_release(dist_run *r) {
    sgd_dist *s = r->state;
    if (!s) return;
    for (int q = 0; s->grids && q < r->d.size; q++) fl_grid_free(&s->grids[q]);
    fl_grid_sched_free(&s->sched);
    free(s->grids), free(s->urow), free(s->irow), free(s->cur), free(s->cur_rec);
    free(s->wire_out), free(s->wire_in), free(s->sc), free(s->rc);
    free(s->test_at), free(s->test_u), free(s->test_i), free(s->test_r), free(s->ubias), free(s->cbias);
    free(s);
    r->state = NULL;
}

static void sgd_resumed(dist_run *r) { records_from_state(r, 1); }

/* 2N hops (training and scoring) of all I item rows, (k + 4) floats each. */
static double sgd_bytes(const dist_run *r) {
    const double N = r->d.size;
    if (N <= 1) return 0;
    return 2.0 * N * (double)r->pt.n_items * 4.0 * (r->p.n_factors + 4);
}

const dist_solver fl_dist_sgd = {sgd_init, sgd_epoch, sgd_release, sgd_resumed, 2, 1, sgd_bytes};
