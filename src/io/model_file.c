/* model_file.c — fl_model_save / fl_model_load: each model kind's schema
 * (which tensors and metadata keys it has, their shapes and invariants;
 * docs/model-format.md) over the container of io/safetensors.h, which
 * writes, maps and checks the file. Adding a kind touches this file only. */
#include "core/error.h"
#include "io/safetensors.h"
#include "models/model.h"
#include "models/scan_index.h"

#include <jansson.h>
#include <locale.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FORMAT_NAME "factorlens"
#define FORMAT_VERSION "1"

/* Mirrors fl_model_carve: biased and nn carry user and item biases. */
static int has_bias(fl_model_kind k) { return fl_kind_has_bias(k); }

/* The model's tensors in file order: decreasing element size, so that with
 * the data section 64-aligned every element is naturally aligned. */
static int model_tensors(const fl_model *m, tensor *t) {
    int n = 0;
#define ADD(nm, d, r, c, s, p, nd)                                                          \
    do {                                                                                    \
        memset(&t[n], 0, sizeof t[n]);                                                      \
        snprintf(t[n].name, sizeof t[n].name, "%s", nm);                                    \
        t[n].dt = d, t[n].rows = r, t[n].cols = c, t[n].stride = s, t[n].src = p;            \
        t[n].ndim = nd;                                                                     \
        if (nd == 2) t[n].shape[0] = r, t[n].shape[1] = c;                                  \
        else t[n].shape[0] = (uint64_t)(r) * (c);                                           \
        n++;                                                                                \
    } while (0)
    uint64_t k = m->n_factors;
    ADD("seen_start", DT_U64, 1, (uint64_t)m->n_users + 1, 0, m->seen_start, 1);
    ADD("user_factors", DT_F32, m->n_users, k, m->stride, m->P, 2);
    ADD("item_factors", DT_F32, m->n_items, k, m->stride, m->Q, 2);
    if (has_bias(m->kind)) {
        ADD("user_bias", DT_F32, 1, m->n_users, 0, m->bu, 1);
        ADD("item_bias", DT_F32, 1, m->n_items, 0, m->bi, 1);
    }
    if (m->kind == FL_MODEL_NN) {
        for (int l = 0; l < m->n_dense && l <= FL_MAX_LAYERS; l++) {
            char nm[32];
            const fl_dense *d = &m->dense[l];
            snprintf(nm, sizeof nm, "dense.%d.weight", l);
            ADD(nm, DT_F32, (uint64_t)d->n_out, (uint64_t)d->n_in, (uint64_t)d->n_in, d->w, 2);
            snprintf(nm, sizeof nm, "dense.%d.bias", l);
            ADD(nm, DT_F32, 1, (uint64_t)d->n_out, 0, d->b, 1);
        }
    }
    if (m->item_mean) ADD("item_mean", DT_F32, 1, m->n_items, 0, m->item_mean, 1);
    /* fm: rows for new users described by user features (fl_user_from_features). */
    const uint64_t uf_rows = m->uf_P ? 1 + (uint64_t)fl_idmap_size(m->uf_names) : 0;
    if (uf_rows) {
        ADD("user_feature_factors", DT_F32, uf_rows, k, k, m->uf_P, 2);
        ADD("user_feature_bias", DT_F32, 1, uf_rows, 0, m->uf_b, 1);
    }
    /* fm: each item side feature's weight (the report shows them). */
    const uint64_t if_n = m->if_b ? fl_idmap_size(m->if_names) : 0;
    if (if_n) ADD("item_feature_bias", DT_F32, 1, if_n, 0, m->if_b, 1);
    /* fm with --time-bins: per item and bin, the bias beside item_bias's. */
    if (m->tb_delta) {
        const uint64_t nb = (uint64_t)m->params.time_bins;
        ADD("item_time_bias", DT_F32, m->n_items, nb, nb, m->tb_delta, 2);
    }
    ADD("seen_items", DT_U32, 1, (uint64_t)m->n_train, 0, m->seen_items, 1);
    ADD("item_count", DT_U32, 1, m->n_items, 0, m->item_count, 1);
#undef ADD
    memset(&t[n], 0, sizeof t[n]);
    snprintf(t[n].name, sizeof t[n].name, "user_ids");
    t[n].dt = DT_U8, t[n].ndim = 1, t[n].ids = m->user_ids, n++;
    memset(&t[n], 0, sizeof t[n]);
    snprintf(t[n].name, sizeof t[n].name, "item_ids");
    t[n].dt = DT_U8, t[n].ndim = 1, t[n].ids = m->item_ids, n++;
    if (uf_rows > 1) {
        memset(&t[n], 0, sizeof t[n]);
        snprintf(t[n].name, sizeof t[n].name, "user_feature_names");
        t[n].dt = DT_U8, t[n].ndim = 1, t[n].ids = m->uf_names, n++;
    }
    if (if_n) {
        memset(&t[n], 0, sizeof t[n]);
        snprintf(t[n].name, sizeof t[n].name, "item_feature_names");
        t[n].dt = DT_U8, t[n].ndim = 1, t[n].ids = m->if_names, n++;
    }
    return n;
}

/* Training-item record invariants, checked before saving and after loading:
 * offsets start at 0, never decrease and end at n_train; each user's items
 * are valid and ascending; item_count agrees with seen_items. NULL if fine. */
static const char *check_seen(const uint64_t *start, uint32_t n_users, const uint32_t *items,
                              uint64_t n_train, const uint32_t *count, uint32_t n_items,
                              char *why, size_t why_len) {
    if (start[0] != 0) return "seen_start[0] is not 0";
    for (uint32_t u = 0; u < n_users; u++)
        if (start[u + 1] < start[u] || start[u + 1] > n_train) {
            snprintf(why, why_len, "seen_start decreases or passes n_train at user %u", u);
            return why;
        }
    if (start[n_users] != n_train) {
        snprintf(why, why_len, "seen_start ends at %llu but n_train is %llu",
                 (unsigned long long)start[n_users], (unsigned long long)n_train);
        return why;
    }
    uint32_t *tally = calloc(n_items ? n_items : 1, sizeof *tally);
    if (!tally) return "out of memory";
    const char *bad = NULL;
    for (uint32_t u = 0; u < n_users && !bad; u++)
        for (uint64_t j = start[u]; j < start[u + 1]; j++) {
            if (items[j] >= n_items) {
                snprintf(why, why_len, "seen_items[%llu] = %u is not an item index (%u items)",
                         (unsigned long long)j, items[j], n_items);
                bad = why;
                break;
            }
            if (j > start[u] && items[j] < items[j - 1]) {
                snprintf(why, why_len, "seen_items of user %u are not ascending", u);
                bad = why;
                break;
            }
            tally[items[j]]++;
        }
    for (uint32_t i = 0; i < n_items && !bad; i++)
        if (tally[i] != count[i]) {
            snprintf(why, why_len, "item_count[%u] is %u but seen_items lists the item %u times", i,
                     count[i], tally[i]);
            bad = why;
        }
    free(tally);
    return bad;
}

/* Runs with the "C" numeric locale on this thread only (uselocale), so that
 * "%.9g" and strtof mean the same thing whatever the host program chose. */
typedef struct c_numeric {
    locale_t c, old;
} c_numeric;

static void c_numeric_enter(c_numeric *s) {
    s->c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    s->old = s->c ? uselocale(s->c) : (locale_t)0;
}
static void c_numeric_leave(c_numeric *s) {
    if (!s->c) return;
    uselocale(s->old);
    freelocale(s->c);
}

static int all_finite(const tensor *t) {
    const float *p = t->src;
    for (uint64_t r = 0; r < t->rows; r++)
        for (uint64_t c = 0; c < t->cols; c++)
            if (!isfinite(p[r * t->stride + c])) return 0;
    return 1;
}

/* Columns of the factor tensors: the factors, or for fm and svdpp the rank
 * of the samples' averaged interactions (docs/model-format.md). */
static uint32_t model_columns(const fl_params *p) {
    return (uint32_t)(fl_kind_fm(p->kind) ? p->ensemble_rank : p->n_factors);
}

/* What is wrong with m that would make its file unloadable, or NULL. */
static const char *save_problem(const fl_model *m, const tensor *t, int n_t, char *why,
                                size_t why_len) {
    if (m->kind < FL_MODEL_DOT || m->kind > FL_MODEL_SVDPP || m->params.kind != m->kind)
        return "the model kind is invalid";
    const char *pc = fl_params_check(&m->params);
    if (pc) {
        snprintf(why, why_len, "its parameters are invalid (%s)", pc);
        return why;
    }
    if (m->n_factors != model_columns(&m->params) || m->stride < m->n_factors)
        return "its factor shape disagrees with its parameters";
    if (!m->user_ids || !m->item_ids || fl_idmap_size(m->user_ids) != m->n_users ||
        fl_idmap_size(m->item_ids) != m->n_items)
        return "its id maps do not match its user and item counts";
    if (!m->seen_start || !m->seen_items || !m->item_count)
        return "it has no record of its training items (fl_model_set_seen was not called)";
    if (has_bias(m->kind) != (m->bu != NULL && m->bi != NULL))
        return "its biases disagree with its kind";
    if (m->kind == FL_MODEL_NN && m->n_dense != m->params.n_layers + 1)
        return "its dense layers disagree with its parameters";
    const fl_idmap *maps[2] = {m->user_ids, m->item_ids};
    for (int s = 0; s < 2; s++)
        for (uint32_t k = 0; k < fl_idmap_size(maps[s]); k++)
            if (strchr(fl_idmap_name(maps[s], k), '\n')) {
                snprintf(why, why_len, "%s id %u contains a newline", s ? "item" : "user", k);
                return why;
            }
    for (int k = 0; k < n_t; k++)
        if (t[k].dt == DT_F32 && !all_finite(&t[k])) {
            snprintf(why, why_len, "tensor %s holds a value that is not finite", t[k].name);
            return why;
        }
    float scalars[4] = {m->offset, m->global_mean, m->rating_lo, m->rating_hi};
    for (int k = 0; k < 4; k++)
        if (!isfinite(scalars[k])) return "its offset, mean or rating range is not finite";
    if (m->epochs_run < 0) return "its epoch count is invalid";
    return check_seen(m->seen_start, m->n_users, m->seen_items, m->n_train, m->item_count,
                      m->n_items, why, why_len);
}

static int set_str(json_t *o, const char *key, const char *val) {
    return json_object_set_new(o, key, json_string(val));
}

static int set_fmt(json_t *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_fmt(json_t *o, const char *key, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return set_str(o, key, buf);
}

/* A metadata string from a fixed char array that may not be UTF-8 (paths
 * are bytes on POSIX): bytes jansson refuses become '?'. */
static int set_text(json_t *o, const char *key, const char *text, size_t cap) {
    char buf[257];
    size_t n = strnlen(text, cap < sizeof buf ? cap : sizeof buf - 1);
    memcpy(buf, text, n);
    buf[n] = '\0';
    json_t *s = json_stringn(buf, n);
    if (!s) {
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)buf[k] >= 0x80) buf[k] = '?';
        s = json_stringn(buf, n);
    }
    return json_object_set_new(o, key, s);
}

/* The learning curves: one metadata key per measure, each a comma-separated
 * list with one value per epoch run, "nan" where nothing was measured (no
 * test or validation set). Metadata rather than a tensor, because readers
 * ignore metadata keys they do not know but refuse unknown tensors: older
 * factorlens versions still load these files. Wall-clock seconds are left
 * out so that the same seed and threads give the same bytes. */
typedef struct history_key {
    const char *key;
    size_t offset; /* of the double in fl_epoch_report */
} history_key;

static const history_key history_keys[] = {
    {"history_train_mse", offsetof(fl_epoch_report, train_mse)},
    {"history_reg_penalty", offsetof(fl_epoch_report, reg_penalty)},
    {"history_valid_rmse", offsetof(fl_epoch_report, valid_rmse)},
    {"history_test_rmse", offsetof(fl_epoch_report, test_rmse)},
    {"history_test_mae", offsetof(fl_epoch_report, test_mae)},
    {"history_test_mse", offsetof(fl_epoch_report, test_mse)},
    {"history_lr", offsetof(fl_epoch_report, lr)},
};
#define N_HISTORY_KEYS (sizeof history_keys / sizeof history_keys[0])

static double *history_field(fl_epoch_report *r, const history_key *k) {
    return (double *)((char *)r + k->offset);
}

static int set_history(json_t *o, const fl_model *m) {
    if (m->n_history <= 0) return 0;
    int bad = 0;
    size_t cap = (size_t)m->n_history * 26 + 1; /* "%.17g" is at most 24 characters, + ',' */
    char *list = malloc(cap);
    if (!list) return -1;
    for (size_t k = 0; k < N_HISTORY_KEYS && !bad; k++) {
        size_t len = 0;
        for (int e = 0; e < m->n_history; e++) {
            double v = *history_field(&m->history[e], &history_keys[k]);
            if (e) list[len++] = ',';
            if (isfinite(v)) len += (size_t)snprintf(list + len, cap - len, "%.17g", v);
            else len += (size_t)snprintf(list + len, cap - len, "nan");
        }
        list[len] = '\0';
        bad |= set_str(o, history_keys[k].key, list);
    }
    free(list);
    return bad;
}

/* fm and svdpp: the feature groups as lines "<u|i> <name> <count>", then
 * the ids without a features row and the rows left out, per side. */
static int set_groups(json_t *o, const fl_model *m) {
    size_t cap = (size_t)m->n_groups * 80 + 1, len = 0;
    char *text = malloc(cap);
    if (!text) return 1;
    text[0] = '\0';
    for (int g = 0; g < m->n_groups; g++)
        len += (size_t)snprintf(text + len, cap - len, "%s%c %s %u", g ? "\n" : "",
                                m->group_side[g] ? 'i' : 'u', m->group_name[g], m->group_size[g]);
    int bad = set_str(o, "groups", text);
    free(text);
    bad |= set_fmt(o, "without_features", "%u,%u", m->n_without[0], m->n_without[1]);
    bad |= set_fmt(o, "unused_features", "%u,%u", m->n_unused[0], m->n_unused[1]);
    return bad;
}

static json_t *metadata(const fl_model *m) {
    const fl_params *p = &m->params;
    json_t *o = json_object();
    if (!o) return NULL;
    char list[FL_MAX_LAYERS * 24 + 8] = "";
    int bad = 0;
    bad |= set_str(o, "format", FORMAT_NAME);
    bad |= set_str(o, "format_version", FORMAT_VERSION);
    bad |= set_str(o, "kind", fl_model_kind_name(m->kind));
    bad |= set_fmt(o, "n_factors", "%d", p->n_factors);
    bad |= set_fmt(o, "epochs", "%d", p->epochs);
    bad |= set_fmt(o, "lr", "%.9g", (double)p->lr);
    bad |= set_fmt(o, "reg_factors", "%.9g", (double)p->reg_factors);
    bad |= set_fmt(o, "reg_bias", "%.9g", (double)p->reg_bias);
    bad |= set_fmt(o, "y_lo", "%.9g", (double)p->y_lo);
    bad |= set_fmt(o, "y_hi", "%.9g", (double)p->y_hi);
    bad |= set_fmt(o, "y_auto", "%d", p->y_auto);
    bad |= set_fmt(o, "init_std", "%.9g", (double)p->init_std);
    bad |= set_fmt(o, "batch_size", "%d", p->batch_size);
    int n_layers = p->n_layers < 0 ? 0 : p->n_layers > FL_MAX_LAYERS ? FL_MAX_LAYERS : p->n_layers;
    for (int l = 0; l < n_layers; l++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", l ? "," : "",
                 p->layers[l]);
    bad |= set_str(o, "layers", list);
    list[0] = '\0';
    for (int l = 0; l <= n_layers; l++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%.9g", l ? "," : "",
                 (double)p->dropout[l]);
    bad |= set_str(o, "dropout", list);
    bad |= set_fmt(o, "n_threads", "%d", p->n_threads);
    bad |= set_fmt(o, "seed", "%llu", (unsigned long long)p->seed);
    bad |= set_str(o, "solver", fl_solver_name(p->solver));
    bad |= set_fmt(o, "valid_fraction", "%.17g", p->valid_fraction);
    bad |= set_fmt(o, "patience", "%d", p->patience);
    /* The implicit kinds' own settings; other kinds' files stay as they were. */
    if (fl_model_kind_implicit(m->kind)) {
        bad |= set_fmt(o, "alpha", "%.9g", (double)p->alpha);
        bad |= set_fmt(o, "positive_min", "%.9g", (double)p->positive_min);
    }
    /* fm and svdpp's own settings and feature groups. */
    if (fl_kind_fm(m->kind)) {
        bad |= set_fmt(o, "burn_in", "%d", p->burn_in);
        bad |= set_fmt(o, "ensemble_rank", "%d", p->ensemble_rank);
        bad |= set_fmt(o, "implicit", "%d", p->implicit);
        bad |= set_groups(o, m);
        /* Only with time bins, so files without them stay as they were. */
        if (p->time_bins > 0) {
            bad |= set_fmt(o, "time_bins", "%d", p->time_bins);
            bad |= set_fmt(o, "time_lo", "%u", m->time_lo);
            bad |= set_fmt(o, "time_hi", "%u", m->time_hi);
        }
    }
    bad |= set_fmt(o, "offset", "%.9g", (double)m->offset);
    bad |= set_fmt(o, "global_mean", "%.9g", (double)m->global_mean);
    bad |= set_fmt(o, "rating_lo", "%.9g", (double)m->rating_lo);
    bad |= set_fmt(o, "rating_hi", "%.9g", (double)m->rating_hi);
    bad |= set_fmt(o, "n_train", "%llu", (unsigned long long)m->n_train);
    bad |= set_fmt(o, "epochs_run", "%d", m->epochs_run);
    bad |= set_text(o, "source", m->source, sizeof m->source);
    bad |= set_history(o, m);
    /* No wall-clock time (creation date, training seconds) goes in: the same
     * seed and thread count must give a byte-identical file. The creation
     * date shown after loading is the file's modification time. */
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

fl_status fl_model_save(const fl_model *m, const char *path, fl_error *err) {
    return fl_model_save_progress(m, path, NULL, NULL, err);
}

fl_status fl_model_save_progress(const fl_model *m, const char *path,
                                 int (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
                                 fl_error *err) {
    tensor t[FL_ST_MAX_TENSORS];
    int n_t = model_tensors(m, t);
    char why[256];
    const char *problem = save_problem(m, t, n_t, why, sizeof why);
    if (problem)
        return fl_fail(err, FL_ERR_USAGE, "cannot save the model to '%s': %s", path, problem);
    c_numeric loc;
    c_numeric_enter(&loc);
    json_t *meta = metadata(m);
    c_numeric_leave(&loc);
    if (!meta) return fl_fail(err, FL_ERR_NOMEM, "out of memory writing the header of '%s'", path);
    const fl_st_progress told = {progress, ctx};
    return fl_st_write(path, meta, t, n_t, &told, err);
}

static fl_status read_history(loader *ld, fl_model *m);

/* The feature groups set_groups wrote. */
static fl_status read_groups(loader *ld, fl_model *m) {
    const char *s, *path = ld->path;
    fl_status st = fl_st_meta_str(ld, "groups", &s);
    if (st) return st;
    m->n_groups = 0;
    while (*s) {
        const char *end = strchr(s, '\n');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *sp1 = memchr(s, ' ', len), *sp2 = NULL;
        for (size_t k = len; k > 0 && !sp2; k--)
            if (s[k - 1] == ' ') sp2 = s + k - 1;
        char num[16];
        size_t nlen = sp2 ? len - (size_t)(sp2 + 1 - s) : 0, name_len = sp2 && sp1 ? (size_t)(sp2 - sp1 - 1) : 0;
        long long count;
        if (m->n_groups == FL_MAX_MODEL_GROUPS || len < 5 || (s[0] != 'u' && s[0] != 'i') ||
            sp1 != s + 1 || sp2 == sp1 || name_len == 0 || name_len >= sizeof m->group_name[0] ||
            nlen == 0 || nlen >= sizeof num)
            return BAD(ld, "%s: metadata 'groups' is malformed", path);
        memcpy(num, sp2 + 1, nlen), num[nlen] = '\0';
        if (!fl_st_parse_int(num, 0, UINT32_MAX, &count))
            return BAD(ld, "%s: metadata 'groups' is malformed", path);
        int g = m->n_groups++;
        m->group_side[g] = s[0] == 'i';
        memcpy(m->group_name[g], sp1 + 1, name_len), m->group_name[g][name_len] = '\0';
        m->group_size[g] = (uint32_t)count;
        s += len + (end ? 1 : 0);
    }
    const char *keys[2] = {"without_features", "unused_features"};
    uint32_t *dst[2] = {m->n_without, m->n_unused};
    for (int k = 0; k < 2; k++) {
        if ((st = fl_st_meta_str(ld, keys[k], &s))) return st;
        unsigned a, b;
        int used = 0;
        if (sscanf(s, "%u,%u%n", &a, &b, &used) != 2 || s[used])
            return BAD(ld, "%s: metadata '%s' is malformed", path, keys[k]);
        dst[k][0] = a, dst[k][1] = b;
    }
    return FL_OK;
}

/* The model's scalars and parameters from __metadata__. */
static fl_status read_metadata(loader *ld, fl_model *m) {
    const char *path = ld->path, *s;
    fl_status st;
    if ((st = fl_st_meta_str(ld, "format", &s))) return st;
    if (strcmp(s, FORMAT_NAME) != 0)
        return BAD(ld, "%s: not a factorlens model (format is '%.40s')", path, s);
    if ((st = fl_st_meta_str(ld, "format_version", &s))) return st;
    if (strcmp(s, FORMAT_VERSION) != 0)
        return BAD(ld, "%s: model format version '%.20s' is not supported (this factorlens reads "
                       "version " FORMAT_VERSION ")",
                   path, s);
    fl_params *p = &m->params;
    memset(p, 0, sizeof *p);
    if ((st = fl_st_meta_str(ld, "kind", &s))) return st;
    if (!fl_model_kind_parse(s, &p->kind))
        return BAD(ld, "%s: unknown model kind '%.40s'", path, s);
    if ((st = fl_st_meta_str(ld, "solver", &s))) return st;
    if (!fl_solver_parse(s, &p->solver)) return BAD(ld, "%s: unknown solver '%.40s'", path, s);
    int n_dropout;
    if ((st = fl_st_meta_int(ld, "n_factors", 1, 4096, &p->n_factors)) ||
        (st = fl_st_meta_int(ld, "epochs", INT32_MIN, INT32_MAX, &p->epochs)) ||
        (st = fl_st_meta_float(ld, "lr", &p->lr)) ||
        (st = fl_st_meta_float(ld, "reg_factors", &p->reg_factors)) ||
        (st = fl_st_meta_float(ld, "reg_bias", &p->reg_bias)) ||
        (st = fl_st_meta_float(ld, "y_lo", &p->y_lo)) || (st = fl_st_meta_float(ld, "y_hi", &p->y_hi)) ||
        (st = fl_st_meta_int(ld, "y_auto", 0, 1, &p->y_auto)) ||
        (st = fl_st_meta_float(ld, "init_std", &p->init_std)) ||
        (st = fl_st_meta_int(ld, "batch_size", INT32_MIN, INT32_MAX, &p->batch_size)) ||
        (st = fl_st_meta_list(ld, "layers", FL_MAX_LAYERS, p->layers, NULL, &p->n_layers)) ||
        (st = fl_st_meta_list(ld, "dropout", FL_MAX_LAYERS + 1, NULL, p->dropout, &n_dropout)) ||
        (st = fl_st_meta_int(ld, "n_threads", INT32_MIN, INT32_MAX, &p->n_threads)) ||
        (st = fl_st_meta_u64(ld, "seed", &p->seed)) ||
        (st = fl_st_meta_double(ld, "valid_fraction", &p->valid_fraction)) ||
        (st = fl_st_meta_int(ld, "patience", INT32_MIN, INT32_MAX, &p->patience)))
        return st;
    if (fl_model_kind_implicit(p->kind) &&
        ((st = fl_st_meta_float(ld, "alpha", &p->alpha)) ||
         (st = fl_st_meta_float(ld, "positive_min", &p->positive_min))))
        return st;
    if (fl_kind_fm(p->kind) &&
        ((st = fl_st_meta_int(ld, "burn_in", 0, INT32_MAX, &p->burn_in)) ||
         (st = fl_st_meta_int(ld, "ensemble_rank", 1, 4096, &p->ensemble_rank)) ||
         (st = fl_st_meta_int(ld, "implicit", 0, 3, &p->implicit)) || (st = read_groups(ld, m))))
        return st;
    if (fl_kind_fm(p->kind) && json_object_get(ld->meta, "time_bins")) {
        uint64_t lo, hi;
        if ((st = fl_st_meta_int(ld, "time_bins", 1, 10000, &p->time_bins)) ||
            (st = fl_st_meta_u64(ld, "time_lo", &lo)) || (st = fl_st_meta_u64(ld, "time_hi", &hi)))
            return st;
        if (lo > hi || hi > UINT32_MAX)
            return BAD(ld, "%s: metadata 'time_lo' and 'time_hi' are not a period", path);
        m->time_lo = (uint32_t)lo, m->time_hi = (uint32_t)hi;
    }
    if (n_dropout != p->n_layers + 1)
        return BAD(ld, "%s: metadata 'dropout' needs %d values (one more than 'layers')", path,
                   p->n_layers + 1);
    const char *pc = fl_params_check(p);
    if (pc) return BAD(ld, "%s: invalid parameters: %s", path, pc);
    m->kind = p->kind;
    uint64_t n_train;
    if ((st = fl_st_meta_float(ld, "offset", &m->offset)) ||
        (st = fl_st_meta_float(ld, "global_mean", &m->global_mean)) ||
        (st = fl_st_meta_float(ld, "rating_lo", &m->rating_lo)) ||
        (st = fl_st_meta_float(ld, "rating_hi", &m->rating_hi)) ||
        (st = fl_st_meta_u64(ld, "n_train", &n_train)) ||
        (st = fl_st_meta_int(ld, "epochs_run", 0, INT32_MAX, &m->epochs_run)))
        return st;
    m->train_seconds = -1.0; /* not recorded in files */
    if (n_train > SIZE_MAX) return BAD(ld, "%s: n_train is too large", path);
    m->n_train = (size_t)n_train;
    if ((st = fl_st_meta_str(ld, "source", &s))) return st;
    if (strlen(s) >= sizeof m->source)
        return BAD(ld, "%s: metadata 'source' is longer than %zu bytes", path,
                   sizeof m->source - 1);
    memcpy(m->source, s, strlen(s) + 1);
    return read_history(ld, m);
}

/* The learning curves, if the file has them (set_history): all of the keys
 * or none, each with the same number of values. */
static fl_status read_history(loader *ld, fl_model *m) {
    const char *path = ld->path;
    size_t n_present = 0;
    for (size_t k = 0; k < N_HISTORY_KEYS; k++)
        n_present += json_object_get(ld->meta, history_keys[k].key) != NULL;
    if (n_present == 0) return FL_OK; /* written before the history existed */
    if (n_present != N_HISTORY_KEYS)
        return BAD(ld, "%s: metadata has %zu of the %zu history_* keys (all or none)", path,
                   n_present, N_HISTORY_KEYS);
    const char *s;
    fl_status st = fl_st_meta_str(ld, history_keys[0].key, &s);
    if (st) return st;
    size_t n = 1;
    for (const char *c = s; *c; c++) n += *c == ',';
    if (n > INT32_MAX) return BAD(ld, "%s: the history is too long", path);
    m->history = calloc(n, sizeof *m->history);
    if (!m->history) return fl_fail(ld->err, FL_ERR_NOMEM, "out of memory loading '%s'", path);
    m->n_history = (int)n;
    for (size_t e = 0; e < n; e++) {
        m->history[e].epoch = (int)e + 1;
        m->history[e].epochs = m->params.epochs;
        m->history[e].seconds = m->history[e].solve_seconds = -1.0;
    }
    for (size_t k = 0; k < N_HISTORY_KEYS; k++) {
        if ((st = fl_st_meta_str(ld, history_keys[k].key, &s))) return st;
        size_t e = 0;
        for (;;) {
            char item[64];
            size_t len = strcspn(s, ",");
            double v;
            if (e == n || len == 0 || len >= sizeof item)
                return BAD(ld, "%s: metadata '%s' is not a list of %zu numbers", path,
                           history_keys[k].key, n);
            memcpy(item, s, len);
            item[len] = '\0';
            if (strcmp(item, "nan") == 0) v = NAN;
            else if (!fl_st_parse_double(item, &v))
                return BAD(ld, "%s: metadata '%s' has a bad entry '%s'", path,
                           history_keys[k].key, item);
            *history_field(&m->history[e++], &history_keys[k]) = v;
            s += len;
            if (!*s) break;
            s++;
        }
        if (e != n)
            return BAD(ld, "%s: metadata '%s' has %zu values but history_train_mse has %zu", path,
                       history_keys[k].key, e, n);
    }
    return FL_OK;
}

/* fm: the optional rows for new users from features, copied to the heap. */
static fl_status read_feature_rows(loader *ld, fl_model *m, int *used) {
    tensor *t = fl_st_find(ld, "user_feature_factors");
    if (!t) return FL_OK;
    if (t->ndim != 2 || t->shape[0] < 1 || t->shape[0] > UINT32_MAX)
        return BAD(ld, "%s: tensor 'user_feature_factors' has a bad shape", ld->path);
    const uint64_t rows = t->shape[0], k = m->n_factors;
    const void *P, *b;
    fl_status st;
    if ((st = fl_st_expect(ld, "user_feature_factors", DT_F32, 2, rows, k, &P, used)) ||
        (st = fl_st_expect(ld, "user_feature_bias", DT_F32, 1, rows, 0, &b, used)) ||
        (st = fl_st_check_finite(ld, "user_feature_factors", P, rows * k)) ||
        (st = fl_st_check_finite(ld, "user_feature_bias", b, rows)))
        return st;
    tensor *names = fl_st_find(ld, "user_feature_names");
    if (rows > 1 && !names) return BAD(ld, "%s: tensor 'user_feature_names' is missing", ld->path);
    if (names) {
        if (names->dt != DT_U8 || names->ndim != 1)
            return BAD(ld, "%s: tensor 'user_feature_names' must be one-dimensional U8", ld->path);
        used[names - ld->t] = 1;
        if ((st = fl_st_read_ids(ld, "user_feature_names", (uint32_t)(rows - 1), &m->uf_names))) return st;
    } else if (!(m->uf_names = fl_idmap_new())) {
        return fl_fail(ld->err, FL_ERR_NOMEM, "out of memory reading '%s'", ld->path);
    }
    m->uf_P = malloc(rows * k * sizeof *m->uf_P);
    m->uf_b = malloc(rows * sizeof *m->uf_b);
    if (!m->uf_P || !m->uf_b) return fl_fail(ld->err, FL_ERR_NOMEM, "out of memory reading '%s'", ld->path);
    memcpy(m->uf_P, P, rows * k * sizeof *m->uf_P);
    memcpy(m->uf_b, b, rows * sizeof *m->uf_b);
    return FL_OK;
}

/* fm: the optional weights of the item side features, copied to the heap
 * (files written before they were kept have none). */
static fl_status read_item_feature_weights(loader *ld, fl_model *m, int *used) {
    tensor *t = fl_st_find(ld, "item_feature_bias");
    if (!t) return FL_OK;
    if (t->ndim != 1 || t->shape[0] < 1 || t->shape[0] > UINT32_MAX)
        return BAD(ld, "%s: tensor 'item_feature_bias' has a bad shape", ld->path);
    const uint64_t n = t->shape[0];
    const void *b;
    fl_status st;
    if ((st = fl_st_expect(ld, "item_feature_bias", DT_F32, 1, n, 0, &b, used)) ||
        (st = fl_st_check_finite(ld, "item_feature_bias", b, n)))
        return st;
    tensor *names = fl_st_find(ld, "item_feature_names");
    if (!names || names->dt != DT_U8 || names->ndim != 1)
        return BAD(ld, "%s: tensor 'item_feature_names' is missing or not one-dimensional U8",
                   ld->path);
    used[names - ld->t] = 1;
    if ((st = fl_st_read_ids(ld, "item_feature_names", (uint32_t)n, &m->if_names))) return st;
    if (!(m->if_b = malloc(n * sizeof *m->if_b)))
        return fl_fail(ld->err, FL_ERR_NOMEM, "out of memory reading '%s'", ld->path);
    memcpy(m->if_b, b, n * sizeof *m->if_b);
    return FL_OK;
}

/* Everything beyond the layout: metadata, shapes, values; fills m. */
static fl_status read_model(loader *ld, fl_model *m) {
    fl_status st = read_metadata(ld, m);
    if (st) return st;
    const char *path = ld->path;
    const fl_params *p = &m->params;
    tensor *uf = fl_st_find(ld, "user_factors"), *itf = fl_st_find(ld, "item_factors");
    if (!uf || !itf)
        return BAD(ld, "%s: tensor '%s' is missing", path, uf ? "item_factors" : "user_factors");
    if (uf->shape[0] >= UINT32_MAX || itf->shape[0] >= UINT32_MAX)
        return BAD(ld, "%s: too many users or items", path);
    m->n_users = (uint32_t)uf->shape[0];
    m->n_items = (uint32_t)itf->shape[0];
    m->n_factors = m->stride = model_columns(p);
    uint64_t nu = m->n_users, ni = m->n_items, k = m->n_factors;

    int used[FL_ST_MAX_TENSORS] = {0};
    const void *at;
    const void *seen_start, *seen_items, *item_count;
    if ((st = fl_st_expect(ld, "user_factors", DT_F32, 2, nu, k, &at, used))) return st;
    m->P = (float *)at;
    if ((st = fl_st_expect(ld, "item_factors", DT_F32, 2, ni, k, &at, used))) return st;
    m->Q = (float *)at;
    if ((st = fl_st_check_finite(ld, "user_factors", m->P, nu * k)) ||
        (st = fl_st_check_finite(ld, "item_factors", m->Q, ni * k)))
        return st;
    if (has_bias(m->kind)) {
        if ((st = fl_st_expect(ld, "user_bias", DT_F32, 1, nu, 0, &at, used))) return st;
        m->bu = (float *)at;
        if ((st = fl_st_expect(ld, "item_bias", DT_F32, 1, ni, 0, &at, used))) return st;
        m->bi = (float *)at;
        if ((st = fl_st_check_finite(ld, "user_bias", m->bu, nu)) ||
            (st = fl_st_check_finite(ld, "item_bias", m->bi, ni)))
            return st;
    }
    if (m->kind == FL_MODEL_NN) {
        m->n_dense = p->n_layers + 1;
        int in = 2 * p->n_factors;
        for (int l = 0; l < m->n_dense; l++) {
            int out = l < p->n_layers ? p->layers[l] : 1;
            char nm[32];
            fl_dense *d = &m->dense[l];
            d->n_in = in, d->n_out = out;
            snprintf(nm, sizeof nm, "dense.%d.weight", l);
            if ((st = fl_st_expect(ld, nm, DT_F32, 2, (uint64_t)out, (uint64_t)in, &at, used))) return st;
            d->w = (float *)at;
            if ((st = fl_st_check_finite(ld, nm, d->w, (uint64_t)out * (uint64_t)in))) return st;
            snprintf(nm, sizeof nm, "dense.%d.bias", l);
            if ((st = fl_st_expect(ld, nm, DT_F32, 1, (uint64_t)out, 0, &at, used))) return st;
            d->b = (float *)at;
            if ((st = fl_st_check_finite(ld, nm, d->b, (uint64_t)out))) return st;
            in = out;
        }
    }
    /* Optional: files written before item means were kept load without. */
    if (fl_st_find(ld, "item_mean")) {
        if ((st = fl_st_expect(ld, "item_mean", DT_F32, 1, ni, 0, &at, used)) ||
            (st = fl_st_check_finite(ld, "item_mean", at, ni)))
            return st;
        m->item_mean = at;
    }
    if (fl_kind_fm(m->kind) && ((st = read_feature_rows(ld, m, used)) ||
                                (st = read_item_feature_weights(ld, m, used))))
        return st;
    if (p->time_bins > 0) {
        const uint64_t nb = (uint64_t)p->time_bins;
        if ((st = fl_st_expect(ld, "item_time_bias", DT_F32, 2, ni, nb, &at, used)) ||
            (st = fl_st_check_finite(ld, "item_time_bias", at, ni * nb)))
            return st;
        if (!(m->tb_delta = malloc(ni * nb * sizeof *m->tb_delta + 1)))
            return fl_fail(ld->err, FL_ERR_NOMEM, "out of memory reading '%s'", path);
        memcpy(m->tb_delta, at, ni * nb * sizeof *m->tb_delta);
    }
    if ((st = fl_model_set_means(m, ld->err))) return st;
    if ((st = fl_st_expect(ld, "seen_start", DT_U64, 1, nu + 1, 0, &seen_start, used)) ||
        (st = fl_st_expect(ld, "seen_items", DT_U32, 1, m->n_train, 0, &seen_items, used)) ||
        (st = fl_st_expect(ld, "item_count", DT_U32, 1, ni, 0, &item_count, used)))
        return st;
    tensor *u_ids = fl_st_find(ld, "user_ids"), *i_ids = fl_st_find(ld, "item_ids");
    if (!u_ids || !i_ids)
        return BAD(ld, "%s: tensor '%s' is missing", path, u_ids ? "item_ids" : "user_ids");
    used[u_ids - ld->t] = used[i_ids - ld->t] = 1;
    if (u_ids->dt != DT_U8 || i_ids->dt != DT_U8 || u_ids->ndim != 1 || i_ids->ndim != 1)
        return BAD(ld, "%s: tensors 'user_ids' and 'item_ids' must be one-dimensional U8", path);
    for (int t = 0; t < ld->n_t; t++)
        if (!used[t])
            return BAD(ld, "%s: unexpected tensor '%s' for a %s model", path, ld->t[t].name,
                       fl_model_kind_name(m->kind));

    const char *why = check_seen(seen_start, m->n_users, seen_items, m->n_train, item_count,
                                 m->n_items, ld->why, sizeof ld->why);
    if (why) return BAD(ld, "%s: inconsistent training items: %s", path, why);
    /* Used in place like the factors (expect checked their alignment): the
     * load copies nothing but the id maps, so processes serving one file
     * share all of its pages. Nothing writes them after training. */
    m->seen_start = (uint64_t *)seen_start;
    m->seen_items = (uint32_t *)seen_items;
    m->item_count = (uint32_t *)item_count;
    m->counts_mapped = 1;
    if ((st = fl_st_read_ids(ld, "user_ids", m->n_users, &m->user_ids)) ||
        (st = fl_st_read_ids(ld, "item_ids", m->n_items, &m->item_ids)))
        return st;
    return FL_OK;
}

fl_status fl_model_load(const char *path, fl_model **out, fl_error *err) {
    *out = NULL;
    loader *ld = calloc(1, sizeof *ld);
    fl_model *m = calloc(1, sizeof *m);
    if (!ld || !m) {
        free(ld), free(m);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory loading '%s'", path);
    }
    time_t mtime;
    fl_status st = fl_st_open(path, ld, &m->map, &mtime, err);
    if (st) {
        free(ld), free(m);
        return st;
    }
    /* fl_model_free unmaps from here on. */
    c_numeric loc;
    c_numeric_enter(&loc);
    st = read_model(ld, m);
    c_numeric_leave(&loc);
    if (!st) memcpy(m->checksum, ld->checksum, sizeof m->checksum);
    fl_st_close(ld);
    free(ld);
    if (st) {
        fl_model_free(m);
        return st;
    }
    struct tm tm;
    if (gmtime_r(&mtime, &tm)) strftime(m->created, sizeof m->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* The compact scan copy of the item side, for top-n searches: built
     * here, once, so that a loaded model stays immutable (and shareable
     * between threads) from now on. The file stays mapped; this is the only
     * copy of anything, and only of the item side, at a quarter of its size. */
    if ((st = fl_scan_index_attach(m, FL_SCAN_INDEX_MIN_ITEMS, err)) != FL_OK) {
        fl_model_free(m);
        return st;
    }
    *out = m;
    return FL_OK;
}
