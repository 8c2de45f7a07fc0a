/* report_parts.c — the numbers behind each part of the explain report (see
 * report_parts.h), shared by the HTML page and the PNG image. */
#include "cli/report_parts.h"
#include "cli/report_pca.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int report_has_biases(const report_data *d) {
    return d->info.kind == FL_MODEL_BIASED || d->info.kind == FL_MODEL_NN ||
           d->info.kind == FL_MODEL_FM || d->info.kind == FL_MODEL_SVDPP;
}

void report_no_biases_note(const report_data *d, char *buf, size_t len) {
    snprintf(buf, len, "%s models have no biases.", fl_model_kind_name(d->info.kind));
}

const char *report_title_of(const report_data *d, uint32_t i) {
    const char *id = fl_idmap_name(fl_model_item_ids(d->m), i);
    const char *t = d->items ? fl_items_title(d->items, id) : NULL;
    return t ? t : id;
}

void report_short_title(const char *t, char *out, size_t max) {
    size_t n = strlen(t);
    if (n <= max) {
        memcpy(out, t, n + 1);
        return;
    }
    n = max - 3;
    while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80) n--;
    memcpy(out, t, n);
    memcpy(out + n, "\xE2\x80\xA6", 4);
}

int report_curves_get(const report_data *d, report_curves *c) {
    memset(c, 0, sizeof *c);
    size_t n;
    const fl_epoch_report *h = fl_model_history(d->m, &n);
    if (!n) return 0;
    double *v = malloc(4 * n * sizeof *v);
    if (!v) return -1;
    int any_valid = 0;
    for (size_t e = 0; e < n; e++) {
        v[e] = h[e].train_mse, v[n + e] = h[e].reg_penalty;
        v[2 * n + e] = h[e].test_rmse, v[3 * n + e] = h[e].valid_rmse;
        c->any_test |= isfinite(h[e].test_rmse), any_valid |= isfinite(h[e].valid_rmse);
    }
    report_series s[4] = {{"training data MSE", "#1f77b4", v},
                          {"regularisation penalty", "#ff7f0e", v + n},
                          {"test RMSE", "#2ca02c", v + 2 * n},
                          {"validation RMSE", "#9467bd", v + 3 * n}};
    memcpy(c->s, s, sizeof s);
    c->n_series = 2;
    if (c->any_test) c->n_series++;
    if (any_valid) c->s[c->n_series++] = s[3];
    c->n = n, c->v = v, c->last = &h[n - 1];
    return 0;
}

void report_curves_free(report_curves *c) {
    free(c->v);
    c->v = NULL;
}

uint32_t *report_eligible_items(const report_data *d, size_t *n) {
    uint32_t ni = d->info.n_items;
    uint32_t *idx = malloc((ni ? ni : 1) * sizeof *idx);
    if (!idx) return NULL;
    *n = 0;
    for (uint32_t i = 0; i < ni; i++)
        if (d->item_count[i] >= (uint32_t)d->min_ratings) idx[(*n)++] = i;
    if (*n < 3)
        for (*n = 0; *n < ni; (*n)++) idx[*n] = (uint32_t)*n;
    return idx;
}

/* qsort's comparators see the arrays they order through these file-scope
 * pointers: the CLI writes one report at a time on one thread. */
static const float *bias_base;
static int by_bias_desc(const void *a, const void *b) {
    float x = bias_base[*(const uint32_t *)a], y = bias_base[*(const uint32_t *)b];
    if (x != y) return x > y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

int report_bias_lists_get(const report_data *d, report_bias_lists *b) {
    memset(b, 0, sizeof *b);
    uint32_t ni = d->info.n_items;
    float *bias = malloc((ni ? ni : 1) * sizeof *bias);
    size_t n = 0;
    uint32_t *idx = report_eligible_items(d, &n);
    if (!bias || !idx) {
        free(bias), free(idx);
        return -1;
    }
    for (uint32_t i = 0; i < ni; i++) bias[i] = fl_model_item_bias(d->m, i);
    bias_base = bias;
    qsort(idx, n, sizeof *idx, by_bias_desc);
    b->n_eligible = n;
    b->shown = n < REPORT_N_LIST ? n : REPORT_N_LIST;
    for (size_t k = 0; k < b->shown; k++) b->high[k] = idx[k], b->low[k] = idx[n - 1 - k];
    free(bias), free(idx);
    return 0;
}

static const uint32_t *count_base;
static const uint32_t *elig_base;
static int by_count_desc(const void *a, const void *b) {
    uint32_t x = count_base[elig_base[*(const size_t *)a]],
             y = count_base[elig_base[*(const size_t *)b]];
    if (x != y) return x > y ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

void report_map_free(report_map *m) {
    free(m->elig), free(m->pc1), free(m->pc2), free(m->label), free(m->text);
    memset(m, 0, sizeof *m);
}

int report_map_get(const report_data *d, report_map *m) {
    memset(m, 0, sizeof *m);
    size_t n = 0;
    m->elig = report_eligible_items(d, &n);
    const float **rows = malloc((n ? n : 1) * sizeof *rows);
    m->pc1 = malloc((n ? n : 1) * sizeof *m->pc1), m->pc2 = malloc((n ? n : 1) * sizeof *m->pc2);
    m->label = calloc(n ? n : 1, sizeof *m->label);
    m->text = malloc((size_t)(d->n_labels ? d->n_labels : 1) * sizeof *m->text);
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    int rc = -1;
    if (!m->elig || !rows || !m->pc1 || !m->pc2 || !m->label || !m->text || !order) goto done;
    for (size_t k = 0; k < n; k++) rows[k] = fl_model_item_factors(d->m, m->elig[k]);
    if (n == 0 || !rows[0]) { /* no factors: m->n stays 0 */
        rc = 0;
        goto done;
    }
    if (report_pca2(rows, n, d->info.params.n_factors, m->pc1, m->pc2, m->explained) < 0) goto done;
    /* The most-rated items get their titles on the map. */
    for (size_t k = 0; k < n; k++) order[k] = k;
    count_base = d->item_count, elig_base = m->elig;
    qsort(order, n, sizeof *order, by_count_desc);
    size_t n_lab = n < (size_t)d->n_labels ? n : (size_t)d->n_labels;
    for (size_t k = 0; k < n_lab; k++) {
        report_short_title(report_title_of(d, m->elig[order[k]]), m->text[k],
                           sizeof m->text[k] - 1);
        m->label[order[k]] = m->text[k];
    }
    snprintf(m->x_label, sizeof m->x_label, "first component (%.0f%% of the variance)",
             100 * m->explained[0]);
    snprintf(m->y_label, sizeof m->y_label, "second component (%.0f%% of the variance)",
             100 * m->explained[1]);
    m->n = n;
    rc = 0;
done:
    free(rows), free(order);
    if (rc < 0) report_map_free(m);
    return rc;
}

static const double *pc_base;
static int by_pc(const void *a, const void *b) {
    double x = pc_base[*(const size_t *)a], y = pc_base[*(const size_t *)b];
    return x < y ? -1 : x > y;
}

size_t report_axis_ends(const report_map *m, const double *pc, uint32_t *low, uint32_t *high,
                        size_t max) {
    size_t n = m->n, *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) return (size_t)-1;
    for (size_t k = 0; k < n; k++) order[k] = k;
    pc_base = pc;
    qsort(order, n, sizeof *order, by_pc);
    size_t e = n < 2 * max ? n / 2 : max;
    for (size_t k = 0; k < e; k++) low[k] = m->elig[order[k]], high[k] = m->elig[order[n - 1 - k]];
    free(order);
    return e;
}

void report_error_colour(double e, char *out, size_t n) {
    double t = fmin(fabs(e) / 2.0, 1.0);
    int r = (int)(t < 0.5 ? 120 + 270 * t : 255);
    int g = (int)(t < 0.5 ? 200 : 200 - 250 * (t - 0.5));
    snprintf(out, n, "rgb(%d,%d,110)", r > 255 ? 255 : r, g < 60 ? 60 : g);
}

static const size_t *active_base;
static int by_active_desc(const void *a, const void *b) {
    size_t x = active_base[*(const uint32_t *)a], y = active_base[*(const uint32_t *)b];
    if (x != y) return x > y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

int report_sheet_get(const report_data *d, report_sheet *s) {
    memset(s, 0, sizeof *s);
    const fl_dataset *r = d->ratings;
    uint32_t nu = fl_idmap_size(r->user_ids), ni = d->info.n_items;
    size_t *active = calloc(nu ? nu : 1, sizeof *active);
    uint32_t *users = malloc((nu ? nu : 1) * sizeof *users);
    uint32_t *items = malloc((ni ? ni : 1) * sizeof *items);
    size_t *cnt = malloc((ni ? ni : 1) * sizeof *cnt);
    if (!active || !users || !items || !cnt) {
        free(active), free(users), free(items), free(cnt);
        return -1;
    }
    for (size_t k = 0; k < r->n_ratings; k++) active[r->users[k]]++;
    for (uint32_t u = 0; u < nu; u++) users[u] = u;
    active_base = active;
    qsort(users, nu, sizeof *users, by_active_desc);
    /* Columns: the most-rated items (training counts); rows: the most active
     * users of the file that the model knows. */
    for (uint32_t i = 0; i < ni; i++) items[i] = i, cnt[i] = d->item_count[i];
    active_base = cnt;
    qsort(items, ni, sizeof *items, by_active_desc);
    s->n_cols = ni < REPORT_N_LIST ? ni : REPORT_N_LIST;
    for (size_t k = 0; k < s->n_cols; k++) s->cols[k] = items[k];
    uint32_t rows_file[REPORT_N_LIST];
    const fl_idmap *mu = fl_model_user_ids(d->m);
    for (uint32_t k = 0; k < nu && s->n_rows < REPORT_N_LIST; k++) {
        const char *id = fl_idmap_name(r->user_ids, users[k]);
        uint32_t mi;
        if (fl_idmap_find(mu, id, strlen(id), &mi))
            rows_file[s->n_rows] = users[k], s->rows[s->n_rows++] = mi;
    }
    /* The real ratings of those cells, from one pass over the file. */
    int in_file[REPORT_N_LIST];
    uint32_t file_item[REPORT_N_LIST];
    for (size_t c = 0; c < s->n_cols; c++) {
        const char *id = fl_idmap_name(fl_model_item_ids(d->m), s->cols[c]);
        in_file[c] = fl_idmap_find(r->item_ids, id, strlen(id), &file_item[c]);
    }
    for (size_t k = 0; k < r->n_ratings; k++)
        for (size_t a = 0; a < s->n_rows; a++) {
            if (r->users[k] != rows_file[a]) continue;
            for (size_t c = 0; c < s->n_cols; c++)
                if (in_file[c] && r->items[k] == file_item[c])
                    s->rating[a][c] = r->ratings[k], s->have[a][c] = 1;
        }
    for (size_t a = 0; a < s->n_rows; a++)
        for (size_t c = 0; c < s->n_cols; c++)
            s->pred[a][c] = fl_predict_index(d->m, s->rows[a], s->cols[c]);
    free(active), free(users), free(items), free(cnt);
    return 0;
}

typedef struct feature_row {
    const char *name;
    double weight;
    size_t group; /* first index of its group's name */
} feature_row;

static size_t group_len(const char *name) {
    const char *eq = strchr(name, '=');
    return eq ? (size_t)(eq - name) : strlen(name);
}

static int by_weight(const void *a, const void *b) {
    const feature_row *x = a, *y = b;
    if (x->weight != y->weight) return x->weight > y->weight ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int by_group_then_weight(const void *a, const void *b) {
    const feature_row *x = a, *y = b;
    if (x->group != y->group) return x->group < y->group ? -1 : 1;
    if (x->weight != y->weight) return x->weight > y->weight ? -1 : 1;
    return strcmp(x->name, y->name);
}

int report_features_get(const report_data *d, int side, report_features *r) {
    memset(r, 0, sizeof *r);
    const uint32_t n = fl_model_n_side_features(d->m, side);
    if (!n) return 0;
    feature_row *rows = malloc(n * sizeof *rows);
    r->name = malloc(n * sizeof *r->name);
    r->weight = malloc(n * sizeof *r->weight);
    if (!rows || !r->name || !r->weight) {
        free(rows);
        report_features_free(r);
        return -1;
    }
    for (uint32_t j = 0; j < n; j++) {
        float w = 0;
        rows[j].name = fl_model_side_feature(d->m, side, j, &w);
        rows[j].weight = w;
        /* A group is named by its first feature's index, so groups keep the
         * order the features file introduced them in. */
        rows[j].group = j;
        for (uint32_t e = 0; e < j; e++)
            if (group_len(rows[e].name) == group_len(rows[j].name) &&
                !strncmp(rows[e].name, rows[j].name, group_len(rows[j].name))) {
                rows[j].group = rows[e].group;
                break;
            }
    }
    /* A long list (a generic file's thousands of tags) keeps its ends: the
     * REPORT_N_FEATURES / 2 heaviest and lightest. */
    size_t keep = n;
    if (n > REPORT_N_FEATURES) {
        qsort(rows, n, sizeof *rows, by_weight);
        memmove(rows + REPORT_N_FEATURES / 2, rows + n - REPORT_N_FEATURES / 2,
                REPORT_N_FEATURES / 2 * sizeof *rows);
        keep = REPORT_N_FEATURES;
    }
    qsort(rows, keep, sizeof *rows, by_group_then_weight);
    for (size_t j = 0; j < keep; j++) r->name[j] = rows[j].name, r->weight[j] = rows[j].weight;
    r->n = keep;
    r->n_all = n;
    free(rows);
    return 0;
}

void report_features_free(report_features *r) {
    free(r->name);
    free(r->weight);
    memset(r, 0, sizeof *r);
}

const char *const report_features_heading[2] = {"User features: what each adds to a rating",
                                                "Item features: what each adds to a rating"};
const char *const report_features_chart[2] = {"The learned weight of each user feature",
                                              "The learned weight of each item feature"};

void report_features_note(int side, char *buf, size_t len) {
    snprintf(buf, len,
             "Each bar is what the feature adds to a predicted rating by itself, averaged over "
             "the samples, before its interactions with the %s side; features of one group "
             "(before '=') are listed together, largest first.",
             side == 0 ? "item" : "user");
}
