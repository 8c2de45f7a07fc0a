/* model.c — model life cycle (alloc, carve, free), shared accessors and the
 * prediction dispatch by kind. */
#include "models/model.h"

#include "core/error.h"
#include "core/memory.h"
#include "data/idmap.h"
#include "models/mf.h"
#include "models/nn.h"
#include "models/scan_index.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROW_ALIGN 16 /* floats: one 64-byte cache line, one AVX-512 vector */

static uint32_t padded(uint32_t k) { return (k + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN; }

size_t fl_model_param_floats(const fl_params *p, uint32_t n_users, uint32_t n_items,
                             uint32_t stride) {
    size_t n = ((size_t)n_users + n_items) * stride;
    if (fl_kind_has_bias(p->kind)) n += (size_t)n_users + n_items;
    if (p->kind == FL_MODEL_NN) {
        int in = 2 * p->n_factors;
        for (int l = 0; l <= p->n_layers; l++) {
            int out = l < p->n_layers ? p->layers[l] : 1;
            n += (size_t)in * out + out;
            in = out;
        }
    }
    return n;
}

void fl_model_carve(fl_model *m, float *block) {
    float *p = block;
    m->P = p, p += (size_t)m->n_users * m->stride;
    m->Q = p, p += (size_t)m->n_items * m->stride;
    m->bu = m->bi = NULL;
    m->n_dense = 0;
    if (fl_kind_has_bias(m->kind)) {
        m->bu = p, p += m->n_users;
        m->bi = p, p += m->n_items;
    }
    if (m->kind == FL_MODEL_NN) {
        int in = 2 * (int)m->n_factors;
        m->n_dense = m->params.n_layers + 1;
        for (int l = 0; l < m->n_dense; l++) {
            int out = l < m->params.n_layers ? m->params.layers[l] : 1;
            m->dense[l].n_in = in;
            m->dense[l].n_out = out;
            m->dense[l].w = p, p += (size_t)in * out;
            m->dense[l].b = p, p += out;
            in = out;
        }
    }
}

static fl_status model_new(const fl_params *p, const fl_idmap *users, const fl_idmap *items,
                           int share_ids, fl_model **out, fl_error *err) {
    /* Checked before anything is allocated, so a model that cannot fit is
     * refused with the figures instead of failing (or swapping) halfway. */
    uint32_t n_users = fl_idmap_size(users), n_items = fl_idmap_size(items);
    double need = (double)fl_model_param_floats(p, n_users, n_items, padded((uint32_t)p->n_factors)) *
                  sizeof(float);
    fl_status st = fl_memory_check(need, "the model", err);
    if (st != FL_OK) return st;
    fl_model *m = calloc(1, sizeof *m);
    if (!m) return fl_fail(err, FL_ERR_NOMEM, "out of memory allocating the model");
    m->kind = p->kind;
    m->params = *p;
    m->n_users = n_users;
    m->n_items = n_items;
    m->n_factors = (uint32_t)p->n_factors;
    m->stride = padded(m->n_factors);
    size_t n = fl_model_param_floats(p, m->n_users, m->n_items, m->stride);
    /* SGD hits a block's rows at random: on 2 MiB pages they need a handful
     * of TLB entries instead of hundreds, so a large block starts on one. */
    const size_t huge = (size_t)2 << 20;
    const size_t align = n * sizeof(float) >= huge ? huge : 64;
    size_t bytes = (n * sizeof(float) + align - 1) / align * align;
    m->block = aligned_alloc(align, bytes ? bytes : align);
    m->user_ids = share_ids ? (fl_idmap *)users : fl_idmap_clone(users);
    m->item_ids = share_ids ? (fl_idmap *)items : fl_idmap_clone(items);
    if (!m->block || !m->user_ids || !m->item_ids) {
        if (share_ids) m->user_ids = m->item_ids = NULL;
        fl_model_free(m);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory: the model needs %.1f MiB",
                       (double)bytes / (1 << 20));
    }
    fl_memory_zero(m->block, bytes); /* not written: resident once training writes it */
    fl_memory_prefer_huge(m->block, bytes);
    fl_model_carve(m, m->block);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(m->created, sizeof m->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    *out = m;
    return FL_OK;
}

fl_status fl_model_alloc(const fl_params *p, const fl_idmap *users, const fl_idmap *items,
                         fl_model **out, fl_error *err) {
    return model_new(p, users, items, 0, out, err);
}

fl_status fl_model_alloc_sharing_ids(const fl_params *p, fl_idmap *users, fl_idmap *items,
                                     fl_model **out, fl_error *err) {
    return model_new(p, users, items, 1, out, err);
}

void fl_model_free(fl_model *m) {
    if (!m) return;
    free(m->block);
    fl_scan_index_free(m->scan);
    fl_file_map_close(&m->map);
    for (int k = 0; k < 4; k++) free(m->owned[k]);
    if (!m->counts_mapped) {
        free(m->seen_start);
        free(m->seen_items);
        free(m->item_count);
    }
    free(m->item_mean_heap);
    free(m->history);
    fl_idmap_free(m->uf_names);
    free(m->uf_P), free(m->uf_b);
    fl_idmap_free(m->if_names);
    free(m->if_b);
    free(m->mean_user), free(m->mean_item), free(m->tb_delta);
    fl_idmap_free(m->user_ids);
    fl_idmap_free(m->item_ids);
    free(m);
}

fl_status fl_model_set_counts(fl_model *m, const fl_dataset *d, fl_error *err) {
    free(m->seen_start);
    free(m->seen_items);
    free(m->item_count);
    m->seen_items = NULL;
    m->seen_start = calloc((size_t)m->n_users + 1, sizeof *m->seen_start);
    m->item_count = calloc(m->n_items ? m->n_items : 1, sizeof *m->item_count);
    if (!m->seen_start || !m->item_count)
        return fl_fail(err, FL_ERR_NOMEM, "out of memory recording the training counts");
    free(m->item_mean_heap);
    m->item_mean = m->item_mean_heap = NULL;
    /* Sums in double: a float sum of a popular item's ratings drifts. */
    double *sum = calloc(m->n_items ? m->n_items : 1, sizeof *sum);
    float *mean = malloc((m->n_items ? m->n_items : 1) * sizeof *mean);
    if (!sum || !mean) {
        free(sum), free(mean);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory recording the training counts");
    }
    for (size_t k = 0; k < d->n_ratings; k++) {
        m->seen_start[d->users[k] + 1]++;
        m->item_count[d->items[k]]++;
        sum[d->items[k]] += d->ratings[k];
    }
    for (uint32_t i = 0; i < m->n_items; i++)
        mean[i] = m->item_count[i] ? (float)(sum[i] / m->item_count[i]) : 0.0f;
    free(sum);
    m->item_mean = m->item_mean_heap = mean;
    for (uint32_t u = 0; u < m->n_users; u++) m->seen_start[u + 1] += m->seen_start[u];
    m->n_train = d->n_ratings;
    return FL_OK;
}

fl_status fl_model_set_seen(fl_model *m, const fl_dataset *d, fl_error *err) {
    fl_status st = fl_model_set_counts(m, d, err);
    if (st != FL_OK) return st;
    m->seen_items = malloc((d->n_ratings ? d->n_ratings : 1) * sizeof *m->seen_items);
    if (!m->seen_items) return fl_fail(err, FL_ERR_NOMEM, "out of memory recording the training items");
    /* Fill by counting sort on item then stable bucket by user: each user's
     * list comes out ascending without a comparison sort. */
    uint64_t *item_start = calloc((size_t)m->n_items + 1, sizeof *item_start);
    uint32_t *by_item = malloc((d->n_ratings ? d->n_ratings : 1) * sizeof *by_item);
    uint64_t *fill = malloc(((size_t)m->n_users + 1) * sizeof *fill);
    if (!item_start || !by_item || !fill) {
        free(item_start), free(by_item), free(fill);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory recording the training items");
    }
    for (uint32_t i = 0; i < m->n_items; i++) item_start[i + 1] = item_start[i] + m->item_count[i];
    for (size_t k = 0; k < d->n_ratings; k++) by_item[item_start[d->items[k]]++] = (uint32_t)k;
    memcpy(fill, m->seen_start, ((size_t)m->n_users + 1) * sizeof *fill);
    for (size_t j = 0; j < d->n_ratings; j++) {
        uint32_t k = by_item[j];
        m->seen_items[fill[d->users[k]]++] = d->items[k];
    }
    free(item_start), free(by_item), free(fill);
    return FL_OK;
}

float fl_predict_unclipped(const fl_model *m, uint32_t u, uint32_t i) {
    float z = m->kind == FL_MODEL_NN ? fl_nn_score(m, u, i) : fl_mf_score(m, u, i);
    return fl_squash(&m->params, z);
}

float fl_predict_index(const fl_model *m, uint32_t u, uint32_t i) {
    return fl_model_clip(m, fl_predict_unclipped(m, u, i));
}

float fl_model_user_bias(const fl_model *m, uint32_t u) {
    return (m->bu && u < m->n_users) ? m->bu[u] : 0.0f;
}
float fl_model_item_bias(const fl_model *m, uint32_t i) {
    return (m->bi && i < m->n_items) ? m->bi[i] : 0.0f;
}
const float *fl_model_item_factors(const fl_model *m, uint32_t i) {
    return i < m->n_items ? m->Q + (size_t)i * m->stride : NULL;
}
const float *fl_model_user_factors(const fl_model *m, uint32_t u) {
    return u < m->n_users ? m->P + (size_t)u * m->stride : NULL;
}
uint32_t fl_model_item_count(const fl_model *m, uint32_t i) {
    return (m->item_count && i < m->n_items) ? m->item_count[i] : 0;
}
const fl_epoch_report *fl_model_history(const fl_model *m, size_t *n_epochs) {
    *n_epochs = m->history ? (size_t)m->n_history : 0;
    return *n_epochs ? m->history : NULL;
}
const fl_idmap *fl_model_user_ids(const fl_model *m) { return m->user_ids; }
const char *fl_model_checksum(const fl_model *m) { return m->checksum; }
float fl_model_item_mean(const fl_model *m, uint32_t i) {
    if (!m->item_mean || i >= m->n_items || !m->item_count || !m->item_count[i]) return NAN;
    return m->item_mean[i];
}
const fl_idmap *fl_model_item_ids(const fl_model *m) { return m->item_ids; }
uint32_t fl_model_n_side_features(const fl_model *m, int side) {
    if (side == 0) return m->uf_b && m->uf_names ? fl_idmap_size(m->uf_names) : 0;
    return side == 1 && m->if_b && m->if_names ? fl_idmap_size(m->if_names) : 0;
}
const char *fl_model_side_feature(const fl_model *m, int side, uint32_t j, float *weight) {
    if (j >= fl_model_n_side_features(m, side)) return NULL;
    /* uf_b's row 0 is the user-id group's prior mean; feature j is row 1 + j. */
    *weight = side == 0 ? m->uf_b[1 + j] : m->if_b[j];
    return fl_idmap_name(side == 0 ? m->uf_names : m->if_names, j);
}
size_t fl_model_fold_in_floats(const fl_model *m) { return m->n_factors; }

void fl_model_get_info(const fl_model *m, fl_model_info *o) {
    memset(o, 0, sizeof *o);
    o->kind = m->kind;
    o->params = m->params;
    o->n_users = m->n_users;
    o->n_items = m->n_items;
    o->n_train = m->n_train;
    o->global_mean = m->global_mean;
    o->rating_lo = m->rating_lo;
    o->rating_hi = m->rating_hi;
    o->epochs_run = m->epochs_run;
    o->train_seconds = m->train_seconds;
    memcpy(o->source, m->source, sizeof o->source);
    memcpy(o->created, m->created, sizeof o->created);
}

int fl_model_n_groups(const fl_model *m) { return m->n_groups; }
const char *fl_model_group(const fl_model *m, int g, int *side, uint32_t *n_features) {
    if (g < 0 || g >= m->n_groups) return NULL;
    if (side) *side = m->group_side[g];
    if (n_features) *n_features = m->group_size[g];
    return m->group_name[g];
}
void fl_model_feature_rows(const fl_model *m, int side, uint32_t *without, uint32_t *unused) {
    int s = side ? 1 : 0;
    *without = m->n_without[s], *unused = m->n_unused[s];
}

fl_status fl_model_set_means(fl_model *m, fl_error *err) {
    if (!fl_kind_fm(m->kind)) return FL_OK;
    const uint32_t k = m->n_factors;
    double *acc = calloc(2 * (size_t)k + 1, sizeof *acc);
    free(m->mean_user), free(m->mean_item);
    m->mean_user = malloc(((size_t)k + 1) * sizeof *m->mean_user);
    m->mean_item = malloc(((size_t)k + 1) * sizeof *m->mean_item);
    if (!acc || !m->mean_user || !m->mean_item) {
        free(acc);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for the model's average rows");
    }
    double bu = 0.0, bi = 0.0;
    for (uint32_t u = 0; u < m->n_users; u++) {
        for (uint32_t f = 0; f < k; f++) acc[f] += m->P[(size_t)u * m->stride + f];
        bu += m->bu[u];
    }
    for (uint32_t i = 0; i < m->n_items; i++) {
        for (uint32_t f = 0; f < k; f++) acc[k + f] += m->Q[(size_t)i * m->stride + f];
        bi += m->bi[i];
    }
    const double nu = m->n_users ? m->n_users : 1, ni = m->n_items ? m->n_items : 1;
    for (uint32_t f = 0; f < k; f++)
        m->mean_user[f] = (float)(acc[f] / nu), m->mean_item[f] = (float)(acc[k + f] / ni);
    m->mean_bu = (float)(bu / nu), m->mean_bi = (float)(bi / ni);
    free(acc);
    return FL_OK;
}

/* Moves row at[k] of `rows` (n rows of `width` bytes) to row k, in place:
 * each cycle of the permutation is followed once, through one spare row. */
static void permute_rows(unsigned char *rows, size_t width, const uint32_t *at, uint32_t n,
                         unsigned char *done, unsigned char *spare) {
    memset(done, 0, ((size_t)n + 7) / 8);
    for (uint32_t start = 0; start < n; start++) {
        if (done[start / 8] >> (start % 8) & 1) continue;
        memcpy(spare, rows + (size_t)start * width, width);
        uint32_t k = start;
        for (;;) {
            done[k / 8] |= (unsigned char)(1u << (k % 8));
            const uint32_t from = at[k];
            if (from == start) break;
            memcpy(rows + (size_t)k * width, rows + (size_t)from * width, width);
            k = from;
        }
        memcpy(rows + (size_t)k * width, spare, width);
    }
}

/* out[k] = in[at[k]] for n 32-bit values (the counts and means). */
static fl_status permute_u32(uint32_t *a, const uint32_t *at, uint32_t n) {
    uint32_t *t = malloc((n ? n : 1) * sizeof *t);
    if (!t) return FL_ERR_NOMEM;
    for (uint32_t k = 0; k < n; k++) t[k] = a[at[k]];
    memcpy(a, t, (size_t)n * sizeof *t);
    free(t);
    return FL_OK;
}

/* The users' lists in the new order, their items renumbered and ascending. */
static fl_status renumber_seen(fl_model *m, const uint32_t *user_at, const uint32_t *item_pos) {
    const uint32_t nu = m->n_users;
    uint64_t *start = malloc(((size_t)nu + 1) * sizeof *start);
    uint32_t *items = m->seen_items ? malloc((m->seen_start[nu] ? m->seen_start[nu] : 1) * sizeof *items) : NULL;
    if (!start || (m->seen_items && !items)) {
        free(start), free(items);
        return FL_ERR_NOMEM;
    }
    start[0] = 0;
    for (uint32_t k = 0; k < nu; k++) {
        const uint32_t u = user_at[k];
        const uint64_t from = m->seen_start[u], len = m->seen_start[u + 1] - from;
        start[k + 1] = start[k] + len;
        if (!items) continue;
        uint32_t *list = items + start[k];
        for (uint64_t j = 0; j < len; j++) { /* insertion: lists are short, and mostly a few */
            const uint32_t v = item_pos ? item_pos[m->seen_items[from + j]] : m->seen_items[from + j];
            uint64_t at = j;
            for (; at > 0 && list[at - 1] > v; at--) list[at] = list[at - 1];
            list[at] = v;
        }
    }
    free(m->seen_start), free(m->seen_items);
    m->seen_start = start, m->seen_items = items;
    return FL_OK;
}

fl_status fl_model_renumber(fl_model *m, const uint32_t *user_at, const uint32_t *item_at,
                            int params, fl_error *err) {
    if (m->counts_mapped || m->map.addr)
        return fl_fail(err, FL_ERR_USAGE, "a model loaded from a file cannot be renumbered");
    const uint32_t nu = m->n_users, ni = m->n_items;
    const uint32_t widest = nu > ni ? nu : ni;
    uint32_t *item_pos = malloc(((size_t)ni + 1) * sizeof *item_pos);
    unsigned char *done = malloc(((size_t)widest + 8) / 8);
    unsigned char *spare = malloc((size_t)m->stride * sizeof(float) + sizeof(float));
    fl_status st = item_pos && done && spare ? FL_OK : FL_ERR_NOMEM;
    if (st == FL_OK) {
        for (uint32_t k = 0; k < ni; k++) item_pos[item_at[k]] = k;
        st = fl_idmap_renumber(m->user_ids, user_at);
    }
    if (st == FL_OK) st = fl_idmap_renumber(m->item_ids, item_at);
    if (st == FL_OK && m->seen_start) st = renumber_seen(m, user_at, item_pos);
    if (st == FL_OK && m->item_count) st = permute_u32(m->item_count, item_at, ni);
    if (st == FL_OK && m->item_mean_heap) /* floats moved as their bits */
        st = permute_u32((uint32_t *)(void *)m->item_mean_heap, item_at, ni);
    if (st == FL_OK && params) {
        const size_t row = (size_t)m->stride * sizeof(float);
        if (m->P) permute_rows((unsigned char *)m->P, row, user_at, nu, done, spare);
        if (m->Q) permute_rows((unsigned char *)m->Q, row, item_at, ni, done, spare);
        if (m->bu) permute_rows((unsigned char *)m->bu, sizeof(float), user_at, nu, done, spare);
        if (m->bi) permute_rows((unsigned char *)m->bi, sizeof(float), item_at, ni, done, spare);
    }
    free(item_pos), free(done), free(spare);
    /* A failure part way leaves ids and rows out of step: the model is not
     * to be used (training fails with it). */
    return st == FL_OK ? FL_OK : fl_fail(err, st, "out of memory renumbering the model");
}
