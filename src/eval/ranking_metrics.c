/* ranking_metrics.c — fl_evaluate_ranking: precision, recall, NDCG, MAP and
 * hit rate at k, and catalogue coverage, of a model's top-k lists against
 * held-out test items (definitions in factorlens.h).
 *
 * Work: every evaluated user scores every item (n_users x n_items dot
 * products, the whole cost), keeps the best k in a heap (partial selection,
 * O(n_items log k)), and looks its relevant items up in that list. Users are
 * cut into RANK_TASKS fixed ranges run on a pool; each range's sums are
 * added in range order, so the metrics have the same bits on any number of
 * threads. */
#include "core/error.h"
#include "core/pool.h"
#include "models/mf.h"
#include "models/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { RANK_TASKS = 64 };

void fl_rank_opts_default(fl_rank_opts *o) {
    memset(o, 0, sizeof *o);
    o->k = 10;
    o->relevant_min = -INFINITY;
    o->n_threads = 0;
}

typedef struct cand {
    float z;
    uint32_t i;
} cand;

typedef struct part {
    double precision, recall, ndcg, map, hits;
    size_t n_users;
} part;

typedef struct rank_run {
    const fl_model *m;
    int k;
    const size_t *rel_start;   /* [n_users + 1]: user u's relevant items are */
    const uint32_t *rel_items; /* rel_items[rel_start[u] .. rel_start[u+1]), ascending */
    const uint32_t *id_rank;   /* [n_items]: place of the item's id in fl_id_compare order */
    float **scores;            /* per thread: [n_items] */
    cand **heaps;              /* per thread: [k] */
    unsigned char **covered;   /* per thread: [n_items], 1 if in some list */
    const double *discount;    /* [k]: 1 / log2(j + 2) for 0-based place j */
    part parts[RANK_TASKS];
} rank_run;

/* Is a ranked below b? Lower score, or an exact tie and a later id: the
 * order of fl_recommend. */
static inline int worse(const uint32_t *id_rank, cand a, cand b) {
    if (a.z != b.z) return a.z < b.z;
    return id_rank[a.i] > id_rank[b.i];
}

static void sift_down(const uint32_t *id_rank, cand *h, size_t n, size_t k) {
    for (;;) {
        size_t l = 2 * k + 1, r = l + 1, s = k;
        if (l < n && worse(id_rank, h[l], h[s])) s = l;
        if (r < n && worse(id_rank, h[r], h[s])) s = r;
        if (s == k) return;
        cand t = h[k];
        h[k] = h[s], h[s] = t;
        k = s;
    }
}

/* scores[i] = what fl_recommend ranks item i by for user u. For the factor
 * models this is fl_mf_score's expression, inlined so the loop over the
 * items' rows (row-major, stride floats apart, read once in order) runs on
 * fl_mf_dot's vector lanes; memory bandwidth over Q bounds it. */
static void score_user(const fl_model *m, uint32_t u, float *scores) {
    if (m->kind == FL_MODEL_NN) {
        for (uint32_t i = 0; i < m->n_items; i++) scores[i] = fl_predict_unclipped(m, u, i);
        return;
    }
    const float *p = m->P + (size_t)u * m->stride;
    const uint32_t k = m->n_factors;
    const int squash = fl_model_squashes(&m->params);
    for (uint32_t i = 0; i < m->n_items; i++) {
        float z = fl_mf_dot(p, m->Q + (size_t)i * m->stride, k);
        if (fl_kind_mf_biased(m->kind)) z += m->offset + m->bu[u] + m->bi[i];
        scores[i] = squash ? fl_squash(&m->params, z) : z;
    }
}

/* The best min(k, unseen) items for u, best first; returns how many. */
static size_t top_k(const rank_run *r, uint32_t u, const float *scores, cand *h) {
    const fl_model *m = r->m;
    const uint32_t *seen = m->seen_items + m->seen_start[u];
    size_t n_seen = (size_t)(m->seen_start[u + 1] - m->seen_start[u]), s = 0, n = 0;
    const size_t cap = (size_t)r->k;
    for (uint32_t i = 0; i < m->n_items; i++) {
        while (s < n_seen && seen[s] < i) s++; /* seen is ascending: one merge walk */
        if (s < n_seen && seen[s] == i) continue;
        cand c = {scores[i], i};
        if (n < cap) {
            size_t j = n++;
            h[j] = c;
            while (j > 0 && worse(r->id_rank, h[j], h[(j - 1) / 2])) {
                cand t = h[j];
                h[j] = h[(j - 1) / 2], h[(j - 1) / 2] = t;
                j = (j - 1) / 2;
            }
        } else if (worse(r->id_rank, h[0], c)) {
            h[0] = c;
            sift_down(r->id_rank, h, n, 0);
        }
    }
    for (size_t end = n; end > 1; end--) { /* heap -> best first */
        cand t = h[0];
        h[0] = h[end - 1], h[end - 1] = t;
        sift_down(r->id_rank, h, end - 1, 0);
    }
    return n;
}

static int has(const uint32_t *a, size_t n, uint32_t x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && a[lo] == x;
}

static void rank_task(void *ctx, int task, int thread) {
    rank_run *r = ctx;
    const fl_model *m = r->m;
    const uint32_t lo = (uint32_t)((uint64_t)m->n_users * (uint64_t)task / RANK_TASKS);
    const uint32_t hi = (uint32_t)((uint64_t)m->n_users * (uint64_t)(task + 1) / RANK_TASKS);
    part *pt = &r->parts[task];
    memset(pt, 0, sizeof *pt);
    for (uint32_t u = lo; u < hi; u++) {
        size_t n_rel = r->rel_start[u + 1] - r->rel_start[u];
        if (n_rel == 0) continue;
        const uint32_t *rel = r->rel_items + r->rel_start[u];
        score_user(m, u, r->scores[thread]);
        cand *h = r->heaps[thread];
        size_t n = top_k(r, u, r->scores[thread], h);
        double hits = 0, dcg = 0, ap = 0, idcg = 0;
        for (size_t j = 0; j < n; j++) {
            r->covered[thread][h[j].i] = 1;
            if (!has(rel, n_rel, h[j].i)) continue;
            hits += 1;
            dcg += r->discount[j];
            ap += hits / (double)(j + 1);
        }
        size_t ideal = n_rel < (size_t)r->k ? n_rel : (size_t)r->k;
        for (size_t j = 0; j < ideal; j++) idcg += r->discount[j];
        pt->n_users++;
        pt->precision += hits / r->k;
        pt->recall += hits / (double)n_rel;
        pt->ndcg += dcg / idcg;
        pt->map += ap / (double)ideal;
        pt->hits += hits > 0;
    }
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

typedef struct named {
    const char *id;
    uint32_t i;
} named;

static int cmp_by_id(const void *a, const void *b) {
    return fl_id_compare(((const named *)a)->id, ((const named *)b)->id);
}

/* The relevant (user, item) pairs in the model's indices, grouped by user,
 * each user's ascending and without repeats; counts what is left out. */
static fl_status relevant_pairs(const fl_model *m, const fl_dataset *test, float rel_min,
                                size_t **start_out, uint32_t **items_out, fl_rank_metrics *out,
                                fl_error *err) {
    uint32_t n_tu = fl_idmap_size(test->user_ids), n_ti = fl_idmap_size(test->item_ids);
    int64_t *umap = malloc(((size_t)n_tu + 1) * sizeof *umap);
    int64_t *imap = malloc(((size_t)n_ti + 1) * sizeof *imap);
    size_t *start = calloc((size_t)m->n_users + 2, sizeof *start);
    uint32_t *items = malloc((test->n_ratings + 1) * sizeof *items);
    unsigned char *user_seen = calloc((size_t)n_tu + 1, 1);
    if (!umap || !imap || !start || !items || !user_seen) {
        free(umap), free(imap), free(start), free(items), free(user_seen);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory evaluating rankings");
    }
    for (uint32_t k = 0; k < n_tu; k++) {
        const char *s = fl_idmap_name(test->user_ids, k);
        uint32_t x;
        umap[k] = fl_idmap_find(m->user_ids, s, strlen(s), &x) ? (int64_t)x : -1;
    }
    for (uint32_t k = 0; k < n_ti; k++) {
        const char *s = fl_idmap_name(test->item_ids, k);
        uint32_t x;
        imap[k] = fl_idmap_find(m->item_ids, s, strlen(s), &x) ? (int64_t)x : -1;
    }
    /* Two passes of a counting sort by model user: counts, then placement. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t r = 0; r < test->n_ratings; r++) {
            int64_t u = umap[test->users[r]], i = imap[test->items[r]];
            if (u < 0) {
                if (pass == 0 && !user_seen[test->users[r]])
                    user_seen[test->users[r]] = 1, out->n_unknown_users++;
                continue;
            }
            if (!(test->ratings[r] >= rel_min)) continue;
            if (i < 0) {
                out->n_unknown_items += pass == 0;
                continue;
            }
            const uint32_t *seen = m->seen_items + m->seen_start[u];
            if (has(seen, (size_t)(m->seen_start[u + 1] - m->seen_start[u]), (uint32_t)i)) {
                out->n_seen += pass == 0;
                continue;
            }
            if (pass == 0) start[u + 2]++;
            else items[start[u + 1]++] = (uint32_t)i;
        }
        if (pass == 0)
            for (uint32_t u = 0; u < m->n_users; u++) start[u + 2] += start[u + 1];
    }
    /* Now start[u] .. start[u+1] is user u's run; sort each, drop repeats. */
    size_t w = 0;
    for (uint32_t u = 0; u < m->n_users; u++) {
        size_t a = start[u], b = start[u + 1];
        qsort(items + a, b - a, sizeof *items, cmp_u32);
        start[u] = w;
        for (size_t j = a; j < b; j++)
            if (j == a || items[j] != items[j - 1]) items[w++] = items[j];
    }
    start[m->n_users] = w;
    out->n_relevant = w;
    free(umap), free(imap), free(user_seen);
    *start_out = start;
    *items_out = items;
    return FL_OK;
}

fl_status fl_evaluate_ranking(const fl_model *m, const fl_dataset *test, const fl_rank_opts *o,
                              fl_rank_metrics *out, fl_error *err) {
    fl_rank_opts def;
    if (!o) fl_rank_opts_default(&def), o = &def;
    memset(out, 0, sizeof *out);
    out->k = o->k;
    if (!m || !test) return fl_fail(err, FL_ERR_USAGE, "fl_evaluate_ranking needs a model and a test set");
    if (o->k < 1 || o->k > 100000)
        return fl_fail(err, FL_ERR_USAGE, "k must be between 1 and 100000, got %d", o->k);
    if (o->n_threads < 0 || o->n_threads > 1024)
        return fl_fail(err, FL_ERR_USAGE, "thread count must be 0 (all cores) to 1024, got %d",
                       o->n_threads);
    if (!m->seen_items)
        return fl_fail(err, FL_ERR_USAGE, "the model holds no training items to exclude");
    size_t *rel_start = NULL;
    uint32_t *rel_items = NULL;
    fl_status st = relevant_pairs(m, test, o->relevant_min, &rel_start, &rel_items, out, err);
    if (st) return st;
    int n_threads = o->n_threads ? o->n_threads : fl_cpu_count();
    if (n_threads > RANK_TASKS) n_threads = RANK_TASKS;
    rank_run *r = calloc(1, sizeof *r);
    uint32_t *id_rank = malloc(((size_t)m->n_items + 1) * sizeof *id_rank);
    named *order = malloc(((size_t)m->n_items + 1) * sizeof *order);
    double *discount = malloc((size_t)o->k * sizeof *discount);
    float *scores[RANK_TASKS] = {0};
    cand *heaps[RANK_TASKS] = {0};
    unsigned char *covered[RANK_TASKS] = {0};
    fl_pool *pool = NULL;
    int ok = r && id_rank && order && discount;
    for (int t = 0; t < n_threads && ok; t++) {
        scores[t] = malloc(((size_t)m->n_items + 1) * sizeof **scores);
        heaps[t] = malloc((size_t)o->k * sizeof **heaps);
        covered[t] = calloc((size_t)m->n_items + 1, 1);
        ok = scores[t] && heaps[t] && covered[t];
    }
    if (ok && !(pool = fl_pool_new(n_threads))) {
        st = fl_fail(err, FL_ERR_OTHER, "could not start %d threads", n_threads);
    } else if (!ok) {
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory evaluating rankings");
    } else {
        /* Ties go by raw id: one sort up front makes each tie an integer compare. */
        for (uint32_t i = 0; i < m->n_items; i++)
            order[i] = (named){fl_idmap_name(m->item_ids, i), i};
        qsort(order, m->n_items, sizeof *order, cmp_by_id);
        for (uint32_t j = 0; j < m->n_items; j++) id_rank[order[j].i] = j;
        for (int j = 0; j < o->k; j++) discount[j] = 1.0 / log2((double)j + 2.0);
        r->m = m, r->k = o->k, r->rel_start = rel_start, r->rel_items = rel_items;
        r->id_rank = id_rank, r->scores = scores, r->heaps = heaps, r->covered = covered;
        r->discount = discount;
        fl_pool_run(pool, RANK_TASKS, rank_task, r);
        part sum = {0};
        for (int t = 0; t < RANK_TASKS; t++) {
            const part *pt = &r->parts[t];
            sum.precision += pt->precision, sum.recall += pt->recall, sum.ndcg += pt->ndcg;
            sum.map += pt->map, sum.hits += pt->hits, sum.n_users += pt->n_users;
        }
        size_t n_covered = 0;
        for (uint32_t i = 0; i < m->n_items; i++) {
            int any = 0;
            for (int t = 0; t < n_threads && !any; t++) any = covered[t][i];
            n_covered += any;
        }
        double n = (double)sum.n_users;
        out->n_users = sum.n_users;
        out->precision_at_k = n ? sum.precision / n : NAN;
        out->recall_at_k = n ? sum.recall / n : NAN;
        out->ndcg_at_k = n ? sum.ndcg / n : NAN;
        out->map_at_k = n ? sum.map / n : NAN;
        out->hit_rate = n ? sum.hits / n : NAN;
        out->coverage = m->n_items ? (double)n_covered / (double)m->n_items : NAN;
    }
    fl_pool_free(pool);
    for (int t = 0; t < n_threads; t++) free(scores[t]), free(heaps[t]), free(covered[t]);
    free(r), free(id_rank), free(order), free(discount), free(rel_start), free(rel_items);
    return st;
}
