/* recommend.c — top-n lists: items for a user (by predicted rating, unseen
 * only) and items like an item (by cosine of factor vectors). Both keep a
 * size-n min-heap, O(n_items log n). */
#include "core/error.h"
#include "models/model.h"

#include <math.h>
#include <string.h>

/* Min-heap on score; ties broken by index so results are deterministic. */
static int worse(const fl_scored *a, const fl_scored *b) {
    return a->score < b->score || (a->score == b->score && a->index > b->index);
}

static void sift_down(fl_scored *h, size_t n, size_t k) {
    for (;;) {
        size_t l = 2 * k + 1, r = l + 1, s = k;
        if (l < n && worse(&h[l], &h[s])) s = l;
        if (r < n && worse(&h[r], &h[s])) s = r;
        if (s == k) return;
        fl_scored t = h[k];
        h[k] = h[s], h[s] = t;
        k = s;
    }
}

static void offer(fl_scored *h, size_t cap, size_t *n, uint32_t index, float score) {
    fl_scored c = {index, score};
    if (*n < cap) {
        size_t k = (*n)++;
        h[k] = c;
        while (k > 0 && worse(&h[k], &h[(k - 1) / 2])) {
            fl_scored t = h[k];
            h[k] = h[(k - 1) / 2], h[(k - 1) / 2] = t;
            k = (k - 1) / 2;
        }
    } else if (cap > 0 && worse(&h[0], &c)) {
        h[0] = c;
        sift_down(h, *n, 0);
    }
}

/* Heap -> best first. */
static void drain(fl_scored *h, size_t n) {
    for (size_t end = n; end > 1; end--) {
        fl_scored t = h[0];
        h[0] = h[end - 1], h[end - 1] = t;
        sift_down(h, end - 1, 0);
    }
}

fl_status fl_recommend(const fl_model *m, const char *user_id, size_t n, fl_scored *out,
                       size_t *n_out, fl_error *err) {
    *n_out = 0;
    uint32_t u;
    if (!fl_idmap_find(m->user_ids, user_id, strlen(user_id), &u))
        return fl_fail(err, FL_ERR_UNKNOWN_ID,
                       "user '%s' is not in the model (it had no training ratings)", user_id);
    const uint32_t *seen = m->seen_items + m->seen_start[u];
    size_t n_seen = (size_t)(m->seen_start[u + 1] - m->seen_start[u]), s = 0;
    size_t got = 0;
    for (uint32_t i = 0; i < m->n_items; i++) {
        /* seen is ascending, so one merge-like walk skips the rated items. */
        while (s < n_seen && seen[s] < i) s++;
        if (s < n_seen && seen[s] == i) continue;
        offer(out, n, &got, i, fl_predict_index(m, u, i));
    }
    drain(out, got);
    *n_out = got;
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
    size_t got = 0;
    for (uint32_t j = 0; j < m->n_items; j++) {
        if (j == i) continue;
        const float *x = m->Q + (size_t)j * m->stride;
        float nx = norm(x, k);
        if (nx == 0.0f) continue;
        float dot = 0.0f;
        for (uint32_t f = 0; f < k; f++) dot += q[f] * x[f];
        offer(out, n, &got, j, dot / (nq * nx));
    }
    drain(out, got);
    *n_out = got;
    return FL_OK;
}
