/* recommend.c — top-n lists: items for a user, trained or folded in (by
 * predicted rating, rated items left out or not) and items like an item (by
 * cosine of factor vectors). All keep a size-n min-heap: a partial
 * selection, never a sort of the catalogue. The heap is keyed on the unclipped
 * score: clipping to the rating range makes every item above the top of the
 * scale equal, and the list would then follow the order items were first
 * seen instead of the model's preference. */
#include "core/error.h"
#include "eval/fold_in.h"
#include "models/mf.h"
#include "models/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Only decimal digits (and at least one)? */
static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

int fl_id_compare(const char *a, const char *b) {
    int da = all_digits(a), db = all_digits(b);
    if (da != db) return da ? -1 : 1; /* numbers first: one class each keeps the order total */
    if (da) {
        /* By value without converting (ids may exceed 64 bits): fewer
         * significant digits is smaller, then digit by digit. */
        const char *x = a, *y = b;
        while (*x == '0' && x[1]) x++;
        while (*y == '0' && y[1]) y++;
        size_t nx = strlen(x), ny = strlen(y);
        if (nx != ny) return nx < ny ? -1 : 1;
        int c = strcmp(x, y);
        if (c) return c;
    }
    return strcmp(a, b);
}

typedef struct ranking {
    fl_scored *h; /* the caller's output array, used as the heap */
    size_t cap, n;
    const fl_idmap *ids; /* for ties */
} ranking;

/* Is a below b in the final order? Lower raw score, or an exact tie and a
 * later id. */
static int worse(const ranking *r, const fl_scored *a, const fl_scored *b) {
    if (a->raw != b->raw) return a->raw < b->raw;
    return fl_id_compare(fl_idmap_name(r->ids, a->index), fl_idmap_name(r->ids, b->index)) > 0;
}

static void swap(fl_scored *a, fl_scored *b) {
    fl_scored t = *a;
    *a = *b, *b = t;
}

static void sift_down(const ranking *r, size_t n, size_t k) {
    fl_scored *h = r->h;
    for (;;) {
        size_t l = 2 * k + 1, rt = l + 1, s = k;
        if (l < n && worse(r, &h[l], &h[s])) s = l;
        if (rt < n && worse(r, &h[rt], &h[s])) s = rt;
        if (s == k) return;
        swap(&h[k], &h[s]);
        k = s;
    }
}

static void offer(ranking *r, uint32_t index, float raw, float score) {
    fl_scored c = {index, score, raw};
    fl_scored *h = r->h;
    if (r->n < r->cap) {
        size_t k = r->n++;
        h[k] = c;
        while (k > 0 && worse(r, &h[k], &h[(k - 1) / 2])) {
            swap(&h[k], &h[(k - 1) / 2]);
            k = (k - 1) / 2;
        }
    } else if (r->cap > 0 && worse(r, &h[0], &c)) {
        h[0] = c;
        sift_down(r, r->n, 0);
    }
}

/* Heap -> best first. */
static void drain(const ranking *r) {
    for (size_t end = r->n; end > 1; end--) {
        swap(&r->h[0], &r->h[end - 1]);
        sift_down(r, end - 1, 0);
    }
}

/* Scores every item not in exclude (ascending model indices) for one user
 * and keeps the best r->cap. A user is a factor row p with its bias (a
 * trained user's, or a folded-in one's), or, for the nn, the trained user u
 * (p NULL).
 *
 * Dot and biased models score a block of items at a time: Q's rows are
 * contiguous, so the block is one pass over BLOCK * k floats with a 4-lane
 * vector dot product per row (fl_mf_dot, the one fl_predict uses, so the
 * scores are the same bits), bound by memory bandwidth on a large
 * catalogue. Then each score meets the heap's worst first: once the heap
 * is full nearly every item fails that one comparison, so selecting n of N
 * items costs about N comparisons plus O(n log n) heap work for the few
 * that enter. Nothing sorts the catalogue. */
enum { BLOCK = 256 };

static void rank_items(const fl_model *m, uint32_t u, const float *p, float bias,
                       const uint32_t *exclude, size_t n_exclude, ranking *r) {
    size_t s = 0;
    float z[BLOCK];
    /* The biased score is z + offset + bu + bi: the user's constant part
     * added first, as fl_mf_score and fl_predict_folded add it. */
    const float user_part = m->offset + bias;
    for (uint32_t i0 = 0; i0 < m->n_items; i0 += BLOCK) {
        const uint32_t len = m->n_items - i0 < BLOCK ? m->n_items - i0 : BLOCK;
        if (p) {
            const float *q = m->Q + (size_t)i0 * m->stride;
            for (uint32_t j = 0; j < len; j++, q += m->stride) z[j] = fl_mf_dot(p, q, m->n_factors);
            if (fl_kind_mf_biased(m->kind))
                for (uint32_t j = 0; j < len; j++) z[j] += user_part + m->bi[i0 + j];
            for (uint32_t j = 0; j < len; j++) z[j] = fl_squash(&m->params, z[j]);
        } else {
            for (uint32_t j = 0; j < len; j++) z[j] = fl_predict_unclipped(m, u, i0 + j);
        }
        for (uint32_t j = 0; j < len; j++) {
            const uint32_t i = i0 + j;
            /* exclude is ascending, so one merge-like walk skips its items. */
            while (s < n_exclude && exclude[s] < i) s++;
            if (s < n_exclude && exclude[s] == i) continue;
            if (r->n == r->cap && (r->cap == 0 || z[j] < r->h[0].raw)) continue;
            offer(r, i, z[j], fl_model_clip(m, z[j]));
        }
    }
    drain(r);
}

/* A trained user's list, with or without the items they rated. */
static fl_status recommend_user(const fl_model *m, const char *user_id, int exclude_seen,
                                size_t n, fl_scored *out, size_t *n_out, fl_error *err) {
    *n_out = 0;
    uint32_t u;
    if (!fl_idmap_find(m->user_ids, user_id, strlen(user_id), &u))
        return fl_fail(err, FL_ERR_UNKNOWN_ID,
                       "user '%s' is not in the model (it had no training ratings)", user_id);
    const uint32_t *seen = m->seen_items + m->seen_start[u];
    size_t n_seen = exclude_seen ? (size_t)(m->seen_start[u + 1] - m->seen_start[u]) : 0;
    ranking r = {out, n, 0, m->item_ids};
    const int mf = m->kind != FL_MODEL_NN;
    rank_items(m, u, mf ? m->P + (size_t)u * m->stride : NULL, mf && m->bu ? m->bu[u] : 0.0f,
               seen, n_seen, &r);
    *n_out = r.n;
    return FL_OK;
}

fl_status fl_recommend(const fl_model *m, const char *user_id, size_t n, fl_scored *out,
                       size_t *n_out, fl_error *err) {
    return recommend_user(m, user_id, 1, n, out, n_out, err);
}

fl_status fl_recommend_including_seen(const fl_model *m, const char *user_id, size_t n,
                                      fl_scored *out, size_t *n_out, fl_error *err) {
    return recommend_user(m, user_id, 0, n, out, n_out, err);
}

static int by_index(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

fl_status fl_recommend_folded(const fl_model *m, const float *factors, float bias,
                              const char *const *rated_ids, size_t n_rated, size_t n,
                              fl_scored *out, size_t *n_out, fl_error *err) {
    *n_out = 0;
    if (m->kind == FL_MODEL_NN || fl_model_squashes(&m->params))
        return fl_fail(err, FL_ERR_USAGE,
                       "recommendations for a folded-in user need a dot or biased model without "
                       "a y-range, as fl_fold_in does");
    /* The rated items as sorted indices, so one merge-like walk skips them
     * as fl_recommend skips a trained user's. */
    uint32_t *rated = malloc((n_rated ? n_rated : 1) * sizeof *rated);
    if (!rated) return fl_fail(err, FL_ERR_NOMEM, "out of memory ranking items");
    size_t n_known = 0;
    for (size_t k = 0; k < n_rated; k++)
        n_known += (size_t)fl_idmap_find(m->item_ids, rated_ids[k], strlen(rated_ids[k]),
                                         &rated[n_known]);
    qsort(rated, n_known, sizeof *rated, by_index);
    ranking r = {out, n, 0, m->item_ids};
    /* rank_items scores as fl_folded_score does (the same sums in the same
     * order); a dot model has no bias. */
    rank_items(m, 0, factors, fl_kind_mf_biased(m->kind) ? bias : 0.0f, rated, n_known, &r);
    free(rated);
    *n_out = r.n;
    return FL_OK;
}

static float norm(const float *x, uint32_t k) {
    float s = 0.0f;
    for (uint32_t f = 0; f < k; f++) s += x[f] * x[f];
    return sqrtf(s);
}

fl_status fl_similar(const fl_model *m, const char *item_id, size_t n, fl_scored *out,
                     size_t *n_out, fl_error *err) {
    *n_out = 0;
    uint32_t i;
    if (!fl_idmap_find(m->item_ids, item_id, strlen(item_id), &i))
        return fl_fail(err, FL_ERR_UNKNOWN_ID,
                       "item '%s' is not in the model (it had no training ratings)", item_id);
    const uint32_t k = m->n_factors;
    const float *q = m->Q + (size_t)i * m->stride;
    float nq = norm(q, k);
    if (nq == 0.0f)
        return fl_fail(err, FL_ERR_OTHER, "item '%s' has an all-zero factor vector", item_id);
    ranking r = {out, n, 0, m->item_ids};
    for (uint32_t j = 0; j < m->n_items; j++) {
        if (j == i) continue;
        const float *x = m->Q + (size_t)j * m->stride;
        float nx = norm(x, k);
        if (nx == 0.0f) continue;
        float dot = 0.0f;
        for (uint32_t f = 0; f < k; f++) dot += q[f] * x[f];
        float cosine = dot / (nq * nx);
        offer(&r, j, cosine, cosine);
    }
    drain(&r);
    *n_out = r.n;
    return FL_OK;
}
