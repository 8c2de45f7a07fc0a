/* model_file.c — fl_model_save / fl_model_load: models as safetensors files
 * (layout in docs/model-format.md). Save streams the rows twice, once into
 * SHA-256 and once into the temp file, so the checksum can sit in the header;
 * load maps the file read-only and checks every byte before trusting it. */
#include "core/digest.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "models/model.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <locale.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* safetensors is little-endian; tensors are used in place, never swapped. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "model files are little-endian and mapped in place; big-endian hosts are not supported"
#endif

#define FORMAT_NAME "factorlens"
#define FORMAT_VERSION "1"
#define DATA_ALIGN 64 /* the data section starts on a cache line: every tensor is aligned */
#define HEX_LEN 64
/* seen_start, factors and biases (4), item_mean, seen_items, item_count, the ids (2), dense layers */
#define MAX_TENSORS (13 + 2 * (FL_MAX_LAYERS + 1))

/* ---------------------------------------------------------------- shared */

/* Mirrors fl_model_carve: biased and nn carry user and item biases. */
static int has_bias(fl_model_kind k) { return fl_kind_has_bias(k); }

typedef enum dtype { DT_U64 = 0, DT_F32, DT_U32, DT_U8 } dtype;
static const char *const dtype_names[] = {"U64", "F32", "U32", "U8"};
static const size_t dtype_sizes[] = {8, 4, 4, 1};

/* One tensor as the format defines it: name, type, shape. On save `src`
 * says where its bytes come from; on load `begin`/`end` where they are. */
typedef struct tensor {
    char name[32];
    dtype dt;
    int ndim;
    uint64_t shape[2];
    uint64_t begin, end; /* byte offsets into the data section */
    /* save: a rows x cols matrix of 4/8-byte elements, rows `stride`
     * elements apart (a vector is one row), or an id map joined by '\n'. */
    const void *src;
    uint64_t rows, cols, stride;
    const fl_idmap *ids;
} tensor;

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

/* ---------------------------------------------------------------- save */

/* Where bytes go: SHA-256 in the first pass, the temp file in the second. */
typedef struct sink {
    fl_sha256 *hash;
    fl_atomic_file *file;
    unsigned char buf[1 << 16];
    size_t len;
    fl_status st;
    fl_error *err;
} sink;

static void sink_flush(sink *s) {
    if (s->st == FL_OK && s->len) {
        if (s->hash) fl_sha256_update(s->hash, s->buf, s->len);
        else s->st = fl_atomic_write(s->file, s->buf, s->len, s->err);
    }
    s->len = 0;
}

static void sink_put(sink *s, const void *p, size_t n) {
    const unsigned char *b = p;
    while (n > 0 && s->st == FL_OK) {
        size_t room = sizeof s->buf - s->len;
        size_t take = n < room ? n : room;
        memcpy(s->buf + s->len, b, take);
        s->len += take, b += take, n -= take;
        if (s->len == sizeof s->buf) sink_flush(s);
    }
}

static uint64_t ids_bytes(const fl_idmap *ids) {
    uint32_t n = fl_idmap_size(ids);
    uint64_t total = n ? n - 1 : 0;
    for (uint32_t k = 0; k < n; k++) total += strlen(fl_idmap_name(ids, k));
    return total;
}

static void put_tensor(sink *s, const tensor *t) {
    if (t->ids) {
        uint32_t n = fl_idmap_size(t->ids);
        for (uint32_t k = 0; k < n; k++) {
            if (k) sink_put(s, "\n", 1);
            const char *name = fl_idmap_name(t->ids, k);
            sink_put(s, name, strlen(name));
        }
        return;
    }
    size_t es = dtype_sizes[t->dt];
    const unsigned char *p = t->src;
    /* Rows are written one by one: in a training model they are `stride`
     * apart with padding the file must not contain. */
    for (uint64_t r = 0; r < t->rows && t->cols; r++)
        sink_put(s, p + (size_t)(r * t->stride) * es, (size_t)t->cols * es);
}

static void put_file(sink *s, const char *header, size_t header_len, const tensor *t, int n_t) {
    unsigned char len8[8];
    uint64_t hl = header_len;
    memcpy(len8, &hl, 8);
    sink_put(s, len8, 8);
    sink_put(s, header, header_len);
    for (int k = 0; k < n_t; k++) put_tensor(s, &t[k]);
    sink_flush(s);
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
    char zeros[HEX_LEN + 1];
    memset(zeros, '0', HEX_LEN);
    zeros[HEX_LEN] = '\0';
    bad |= set_str(o, "checksum", zeros); /* filled in once the file's hash is known */
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The header text, padded with spaces so 8 + its length is a multiple of
 * DATA_ALIGN; *checksum_at is where the 64 placeholder zeros are. */
static char *build_header(const fl_model *m, tensor *t, int n_t, size_t *len, size_t *checksum_at) {
    json_t *root = json_object();
    json_t *meta = metadata(m);
    int bad = !root || !meta || json_object_set_new(root, "__metadata__", meta);
    uint64_t off = 0;
    for (int k = 0; k < n_t && !bad; k++) {
        uint64_t nbytes = t[k].ids ? ids_bytes(t[k].ids)
                                   : t[k].rows * t[k].cols * dtype_sizes[t[k].dt];
        if (t[k].ids) t[k].shape[0] = nbytes;
        t[k].begin = off, t[k].end = off += nbytes;
        json_t *shape = json_array();
        for (int d = 0; d < t[k].ndim && shape; d++)
            bad |= json_array_append_new(shape, json_integer((json_int_t)t[k].shape[d]));
        json_t *e = json_pack("{s:s, s:o, s:[I,I]}", "dtype", dtype_names[t[k].dt], "shape", shape,
                              "data_offsets", (json_int_t)t[k].begin, (json_int_t)t[k].end);
        bad |= json_object_set_new(root, t[k].name, e);
    }
    char *text = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text) return NULL;
    size_t n = strlen(text);
    size_t padded = (8 + n + DATA_ALIGN - 1) / DATA_ALIGN * DATA_ALIGN - 8;
    char *h = malloc(padded + 1);
    if (h) {
        memcpy(h, text, n);
        memset(h + n, ' ', padded - n);
        h[padded] = '\0';
        /* In compact JSON every '"' inside a string value is escaped, so this
         * key-value text can only be the checksum entry itself. */
        const char *key = strstr(h, "\"checksum\":\"0000000000000000");
        *checksum_at = key ? (size_t)(key - h) + strlen("\"checksum\":\"") : 0;
        *len = padded;
        if (!key) free(h), h = NULL;
    }
    free(text);
    return h;
}

fl_status fl_model_save(const fl_model *m, const char *path, fl_error *err) {
    tensor t[MAX_TENSORS + 2];
    int n_t = model_tensors(m, t);
    char why[256];
    const char *problem = save_problem(m, t, n_t, why, sizeof why);
    if (problem)
        return fl_fail(err, FL_ERR_USAGE, "cannot save the model to '%s': %s", path, problem);

    c_numeric loc;
    c_numeric_enter(&loc);
    size_t header_len = 0, checksum_at = 0;
    char *header = build_header(m, t, n_t, &header_len, &checksum_at);
    c_numeric_leave(&loc);
    sink *s = calloc(1, sizeof *s);
    if (!header || !s) {
        free(header), free(s);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory writing the header of '%s'", path);
    }
    s->err = err;

    /* Pass 1: hash with the placeholder zeros in place, as the reader will. */
    s->hash = fl_sha256_begin();
    if (!s->hash) {
        free(header), free(s);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory hashing '%s'", path);
    }
    put_file(s, header, header_len, t, n_t);
    char hex[HEX_LEN + 1];
    fl_sha256_end(s->hash, hex);
    memcpy(header + checksum_at, hex, HEX_LEN);

    /* Pass 2: the same bytes, now with the checksum, into the temp file. */
    fl_atomic_file f;
    fl_status st = fl_atomic_open(&f, path, err);
    if (st == FL_OK) {
        s->hash = NULL;
        s->file = &f;
        put_file(s, header, header_len, t, n_t);
        st = s->st; /* a failed write has already removed the temp file */
        if (st == FL_OK) st = fl_atomic_commit(&f, err);
    }
    free(header);
    free(s);
    return st;
}

/* ---------------------------------------------------------------- load */

typedef struct loader {
    const char *path;
    const unsigned char *base;
    size_t size;
    uint64_t header_len, data_off, data_len;
    json_t *root, *meta;
    tensor t[MAX_TENSORS];
    int n_t;
    fl_error *err;
    char why[256];
    char checksum[HEX_LEN + 1]; /* the verified checksum, kept for fl_model_checksum */
} loader;

#define BAD(ld, ...) fl_fail((ld)->err, FL_ERR_MODEL_FILE, __VA_ARGS__)

static tensor *find_tensor(loader *ld, const char *name) {
    for (int k = 0; k < ld->n_t; k++)
        if (strcmp(ld->t[k].name, name) == 0) return &ld->t[k];
    return NULL;
}

static int get_uint(json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static fl_status read_tensor_entry(loader *ld, const char *name, json_t *e) {
    const char *path = ld->path;
    if (ld->n_t == MAX_TENSORS) return BAD(ld, "%s: the header lists too many tensors", path);
    if (strlen(name) >= sizeof ld->t[0].name)
        return BAD(ld, "%s: unexpected tensor '%.40s...'", path, name);
    if (!json_is_object(e) || json_object_size(e) != 3)
        return BAD(ld, "%s: tensor '%s' must have exactly dtype, shape and data_offsets", path,
                   name);
    tensor *t = &ld->t[ld->n_t];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    json_t *dt = json_object_get(e, "dtype"), *shape = json_object_get(e, "shape"),
           *offs = json_object_get(e, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs))
        return BAD(ld, "%s: tensor '%s' must have exactly dtype, shape and data_offsets", path,
                   name);
    int known = 0;
    for (int d = DT_U64; d <= DT_U8; d++)
        if (strcmp(json_string_value(dt), dtype_names[d]) == 0) t->dt = (dtype)d, known = 1;
    if (!known)
        return BAD(ld, "%s: tensor '%s' has dtype '%.16s', which factorlens does not use", path,
                   name, json_string_value(dt));
    size_t nd = json_array_size(shape);
    if (nd < 1 || nd > 2) return BAD(ld, "%s: tensor '%s' must have 1 or 2 dimensions", path, name);
    t->ndim = (int)nd;
    uint64_t elems = 1;
    for (size_t d = 0; d < nd; d++) {
        if (!get_uint(json_array_get(shape, d), &t->shape[d]) || t->shape[d] > UINT32_MAX)
            return BAD(ld, "%s: tensor '%s' has an invalid shape", path, name);
        elems *= t->shape[d]; /* two factors under 2^32: no overflow */
    }
    if (json_array_size(offs) != 2 || !get_uint(json_array_get(offs, 0), &t->begin) ||
        !get_uint(json_array_get(offs, 1), &t->end) || t->end < t->begin)
        return BAD(ld, "%s: tensor '%s' has invalid data_offsets", path, name);
    if (elems > UINT64_MAX / 8 || elems * dtype_sizes[t->dt] != t->end - t->begin)
        return BAD(ld, "%s: tensor '%s' has %llu bytes but its shape needs %llu", path, name,
                   (unsigned long long)(t->end - t->begin),
                   (unsigned long long)(elems * dtype_sizes[t->dt]));
    ld->n_t++;
    return FL_OK;
}

static int by_begin(const void *a, const void *b) {
    const tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Length prefix, JSON, tensor table, and the tensors tiling the data section. */
static fl_status read_layout(loader *ld) {
    const char *path = ld->path;
    memcpy(&ld->header_len, ld->base, 8);
    /* Every safetensors header is a JSON object, so a file whose ninth byte
     * is not '{' is something else (a ratings file passed by mistake): say
     * so rather than quoting its text read as a length. */
    if (ld->size > 8 && ld->base[8] != '{')
        return BAD(ld, "%s: not a factorlens model file (no safetensors header)", path);
    if (ld->header_len > ld->size - 8)
        return BAD(ld, "%s: truncated: header says %llu bytes but the file has %zu", path,
                   (unsigned long long)(ld->header_len + 8 < ld->header_len ? UINT64_MAX
                                                                             : ld->header_len + 8),
                   ld->size);
    if (ld->header_len < 2)
        return BAD(ld, "%s: not a factorlens model file (header of %llu bytes)", path,
                   (unsigned long long)ld->header_len);
    ld->data_off = 8 + ld->header_len;
    ld->data_len = ld->size - ld->data_off;
    json_error_t je;
    ld->root = json_loadb((const char *)ld->base + 8, ld->header_len, JSON_REJECT_DUPLICATES, &je);
    if (!ld->root)
        return BAD(ld, "%s: the header is not valid JSON (%s at byte %d)", path, je.text,
                   8 + je.position);
    if (!json_is_object(ld->root)) return BAD(ld, "%s: the header is not a JSON object", path);
    const char *key;
    json_t *v;
    json_object_foreach(ld->root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            ld->meta = v;
            continue;
        }
        fl_status st = read_tensor_entry(ld, key, v);
        if (st) return st;
    }
    if (!json_is_object(ld->meta))
        return BAD(ld, "%s: the header has no __metadata__ object; not a factorlens model", path);
    const char *mk;
    json_object_foreach(ld->meta, mk, v) {
        if (!json_is_string(v))
            return BAD(ld, "%s: metadata '%.60s' is not a string", path, mk);
    }

    tensor sorted[MAX_TENSORS];
    memcpy(sorted, ld->t, (size_t)ld->n_t * sizeof *sorted);
    qsort(sorted, (size_t)ld->n_t, sizeof *sorted, by_begin);
    uint64_t at = 0;
    for (int k = 0; k < ld->n_t; k++) {
        if (sorted[k].begin != at)
            return BAD(ld, "%s: tensor '%s' starts at byte %llu of the data but the previous "
                           "one ends at %llu (holes and overlaps are not allowed)",
                       path, sorted[k].name, (unsigned long long)sorted[k].begin,
                       (unsigned long long)at);
        at = sorted[k].end;
    }
    if (at > ld->data_len)
        return BAD(ld, "%s: truncated: the tensors need %llu bytes after the header but the file "
                       "has %llu",
                   path, (unsigned long long)at, (unsigned long long)ld->data_len);
    if (at < ld->data_len)
        return BAD(ld, "%s: %llu bytes of unexpected data after the last tensor", path,
                   (unsigned long long)(ld->data_len - at));
    return FL_OK;
}

/* SHA-256 of the whole file with the checksum's 64 characters read as '0's. */
static fl_status verify_checksum(loader *ld) {
    const char *path = ld->path;
    json_t *c = json_object_get(ld->meta, "checksum");
    const char *hex = json_string_value(c);
    if (!hex) return BAD(ld, "%s: metadata has no checksum", path);
    if (strlen(hex) != HEX_LEN || strspn(hex, "0123456789abcdef") != HEX_LEN)
        return BAD(ld, "%s: the checksum is not 64 lowercase hex digits", path);
    const char *h = (const char *)ld->base + 8;
    size_t n = ld->header_len, at = 0, found = 0;
    for (size_t k = 0; k + HEX_LEN <= n; k++)
        if (h[k] == hex[0] && memcmp(h + k, hex, HEX_LEN) == 0) found++, at = 8 + k;
    if (found != 1)
        return BAD(ld, "%s: the checksum must appear exactly once, unescaped, in the header", path);
    char zeros[HEX_LEN], got[HEX_LEN + 1];
    memset(zeros, '0', HEX_LEN);
    fl_sha256 *s = fl_sha256_begin();
    if (!s) return fl_fail(ld->err, FL_ERR_NOMEM, "out of memory verifying '%s'", path);
    fl_sha256_update(s, ld->base, at);
    fl_sha256_update(s, zeros, HEX_LEN);
    fl_sha256_update(s, ld->base + at + HEX_LEN, ld->size - at - HEX_LEN);
    fl_sha256_end(s, got);
    if (memcmp(got, hex, HEX_LEN) != 0)
        return BAD(ld, "%s: checksum mismatch: the file is corrupt or was modified", path);
    memcpy(ld->checksum, hex, HEX_LEN + 1);
    return FL_OK;
}

/* ---- metadata values: strict text forms, as the writer prints them */

static fl_status meta_str(loader *ld, const char *key, const char **out) {
    *out = json_string_value(json_object_get(ld->meta, key));
    if (!*out) return BAD(ld, "%s: metadata key '%s' is missing", ld->path, key);
    return FL_OK;
}

static int parse_int(const char *s, long long lo, long long hi, long long *out) {
    const char *p = s + (*s == '-');
    if (*p < '0' || *p > '9') return 0;
    long long v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (LLONG_MAX - 9) / 10) return 0;
        v = v * 10 + (*p - '0');
    }
    if (*p) return 0;
    if (*s == '-') v = -v;
    if (v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static int parse_u64(const char *s, uint64_t *out) {
    if (*s < '0' || *s > '9') return 0;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (*s) return 0;
    *out = v;
    return 1;
}

static int parse_double(const char *s, double *out) {
    if (!*s || !strchr("-.0123456789", *s)) return 0; /* no spaces, '+', "inf", "nan" */
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static int parse_float(const char *s, float *out) {
    if (!*s || !strchr("-.0123456789", *s)) return 0;
    char *end;
    float v = strtof(s, &end);
    if (*end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static fl_status meta_int(loader *ld, const char *key, long long lo, long long hi, int *out) {
    const char *s;
    long long v;
    fl_status st = meta_str(ld, key, &s);
    if (st) return st;
    if (!parse_int(s, lo, hi, &v))
        return BAD(ld, "%s: metadata '%s' = '%.40s' is not an integer in [%lld, %lld]", ld->path,
                   key, s, lo, hi);
    *out = (int)v;
    return FL_OK;
}

static fl_status meta_float(loader *ld, const char *key, float *out) {
    const char *s;
    fl_status st = meta_str(ld, key, &s);
    if (st) return st;
    if (!parse_float(s, out))
        return BAD(ld, "%s: metadata '%s' = '%.40s' is not a finite number", ld->path, key, s);
    return FL_OK;
}

static fl_status meta_double(loader *ld, const char *key, double *out) {
    const char *s;
    fl_status st = meta_str(ld, key, &s);
    if (st) return st;
    if (!parse_double(s, out))
        return BAD(ld, "%s: metadata '%s' = '%.40s' is not a finite number", ld->path, key, s);
    return FL_OK;
}

static fl_status meta_u64(loader *ld, const char *key, uint64_t *out) {
    const char *s;
    fl_status st = meta_str(ld, key, &s);
    if (st) return st;
    if (!parse_u64(s, out))
        return BAD(ld, "%s: metadata '%s' = '%.40s' is not a non-negative integer", ld->path, key,
                   s);
    return FL_OK;
}

/* A comma-separated list ("" is empty) of at most max ints or floats. */
static fl_status meta_list(loader *ld, const char *key, int max, int *ints, float *floats,
                           int *count) {
    const char *s;
    fl_status st = meta_str(ld, key, &s);
    if (st) return st;
    *count = 0;
    while (*s) {
        char item[64];
        size_t n = strcspn(s, ",");
        if (*count == max || n == 0 || n >= sizeof item)
            return BAD(ld, "%s: metadata '%s' is not a list of at most %d numbers", ld->path, key,
                       max);
        memcpy(item, s, n);
        item[n] = '\0';
        long long v;
        int ok = ints ? parse_int(item, INT32_MIN, INT32_MAX, &v) : parse_float(item, &floats[*count]);
        if (!ok) return BAD(ld, "%s: metadata '%s' has a bad entry '%s'", ld->path, key, item);
        if (ints) ints[*count] = (int)v;
        ++*count;
        s += n;
        if (*s == ',' && !*++s)
            return BAD(ld, "%s: metadata '%s' ends with a comma", ld->path, key);
    }
    return FL_OK;
}

static fl_status read_history(loader *ld, fl_model *m);

/* The feature groups set_groups wrote. */
static fl_status read_groups(loader *ld, fl_model *m) {
    const char *s, *path = ld->path;
    fl_status st = meta_str(ld, "groups", &s);
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
        if (!parse_int(num, 0, UINT32_MAX, &count))
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
        if ((st = meta_str(ld, keys[k], &s))) return st;
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
    if ((st = meta_str(ld, "format", &s))) return st;
    if (strcmp(s, FORMAT_NAME) != 0)
        return BAD(ld, "%s: not a factorlens model (format is '%.40s')", path, s);
    if ((st = meta_str(ld, "format_version", &s))) return st;
    if (strcmp(s, FORMAT_VERSION) != 0)
        return BAD(ld, "%s: model format version '%.20s' is not supported (this factorlens reads "
                       "version " FORMAT_VERSION ")",
                   path, s);
    fl_params *p = &m->params;
    memset(p, 0, sizeof *p);
    if ((st = meta_str(ld, "kind", &s))) return st;
    if (!fl_model_kind_parse(s, &p->kind))
        return BAD(ld, "%s: unknown model kind '%.40s'", path, s);
    if ((st = meta_str(ld, "solver", &s))) return st;
    if (!fl_solver_parse(s, &p->solver)) return BAD(ld, "%s: unknown solver '%.40s'", path, s);
    int n_dropout;
    if ((st = meta_int(ld, "n_factors", 1, 4096, &p->n_factors)) ||
        (st = meta_int(ld, "epochs", INT32_MIN, INT32_MAX, &p->epochs)) ||
        (st = meta_float(ld, "lr", &p->lr)) ||
        (st = meta_float(ld, "reg_factors", &p->reg_factors)) ||
        (st = meta_float(ld, "reg_bias", &p->reg_bias)) ||
        (st = meta_float(ld, "y_lo", &p->y_lo)) || (st = meta_float(ld, "y_hi", &p->y_hi)) ||
        (st = meta_int(ld, "y_auto", 0, 1, &p->y_auto)) ||
        (st = meta_float(ld, "init_std", &p->init_std)) ||
        (st = meta_int(ld, "batch_size", INT32_MIN, INT32_MAX, &p->batch_size)) ||
        (st = meta_list(ld, "layers", FL_MAX_LAYERS, p->layers, NULL, &p->n_layers)) ||
        (st = meta_list(ld, "dropout", FL_MAX_LAYERS + 1, NULL, p->dropout, &n_dropout)) ||
        (st = meta_int(ld, "n_threads", INT32_MIN, INT32_MAX, &p->n_threads)) ||
        (st = meta_u64(ld, "seed", &p->seed)) ||
        (st = meta_double(ld, "valid_fraction", &p->valid_fraction)) ||
        (st = meta_int(ld, "patience", INT32_MIN, INT32_MAX, &p->patience)))
        return st;
    if (fl_model_kind_implicit(p->kind) &&
        ((st = meta_float(ld, "alpha", &p->alpha)) ||
         (st = meta_float(ld, "positive_min", &p->positive_min))))
        return st;
    if (fl_kind_fm(p->kind) &&
        ((st = meta_int(ld, "burn_in", 0, INT32_MAX, &p->burn_in)) ||
         (st = meta_int(ld, "ensemble_rank", 1, 4096, &p->ensemble_rank)) ||
         (st = meta_int(ld, "implicit", 0, 3, &p->implicit)) || (st = read_groups(ld, m))))
        return st;
    if (n_dropout != p->n_layers + 1)
        return BAD(ld, "%s: metadata 'dropout' needs %d values (one more than 'layers')", path,
                   p->n_layers + 1);
    const char *pc = fl_params_check(p);
    if (pc) return BAD(ld, "%s: invalid parameters: %s", path, pc);
    m->kind = p->kind;
    uint64_t n_train;
    if ((st = meta_float(ld, "offset", &m->offset)) ||
        (st = meta_float(ld, "global_mean", &m->global_mean)) ||
        (st = meta_float(ld, "rating_lo", &m->rating_lo)) ||
        (st = meta_float(ld, "rating_hi", &m->rating_hi)) ||
        (st = meta_u64(ld, "n_train", &n_train)) ||
        (st = meta_int(ld, "epochs_run", 0, INT32_MAX, &m->epochs_run)))
        return st;
    m->train_seconds = -1.0; /* not recorded in files */
    if (n_train > SIZE_MAX) return BAD(ld, "%s: n_train is too large", path);
    m->n_train = (size_t)n_train;
    if ((st = meta_str(ld, "source", &s))) return st;
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
    fl_status st = meta_str(ld, history_keys[0].key, &s);
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
        if ((st = meta_str(ld, history_keys[k].key, &s))) return st;
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
            else if (!parse_double(item, &v))
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

/* Each expected tensor is present with the right dtype, shape and alignment,
 * and nothing else is; returns its address in the mapping through *at. */
static fl_status expect(loader *ld, const char *name, dtype dt, int ndim, uint64_t d0, uint64_t d1,
                        const void **at, int *used) {
    tensor *t = find_tensor(ld, name);
    if (!t) return BAD(ld, "%s: tensor '%s' is missing", ld->path, name);
    used[t - ld->t] = 1;
    if (t->dt != dt)
        return BAD(ld, "%s: tensor '%s' has dtype %s, expected %s", ld->path, name,
                   dtype_names[t->dt], dtype_names[dt]);
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
        if (ndim == 2)
            return BAD(ld, "%s: tensor '%s' should have shape [%llu, %llu]", ld->path, name,
                       (unsigned long long)d0, (unsigned long long)d1);
        return BAD(ld, "%s: tensor '%s' should have shape [%llu]", ld->path, name,
                   (unsigned long long)d0);
    }
    if ((ld->data_off + t->begin) % dtype_sizes[dt] != 0)
        return BAD(ld, "%s: tensor '%s' is not aligned to %zu bytes in the file (pad the header "
                       "so the data starts at a multiple of 64)",
                   ld->path, name, dtype_sizes[dt]);
    *at = ld->base + ld->data_off + t->begin;
    return FL_OK;
}

static fl_status check_finite(loader *ld, const char *name, const float *p, uint64_t n) {
    for (uint64_t k = 0; k < n; k++)
        if (!isfinite(p[k]))
            return BAD(ld, "%s: tensor '%s' holds a value that is not finite at element %llu",
                       ld->path, name, (unsigned long long)k);
    return FL_OK;
}

/* Rebuilds an id map from n ids joined by '\n'. */
static fl_status read_ids(loader *ld, const char *name, uint32_t n, fl_idmap **out) {
    tensor *t = find_tensor(ld, name);
    const char *p = (const char *)ld->base + ld->data_off + t->begin;
    const char *end = p + (t->end - t->begin);
    fl_idmap *ids = fl_idmap_new();
    if (!ids) return fl_fail(ld->err, FL_ERR_NOMEM, "out of memory reading '%s'", ld->path);
    *out = ids;
    if (n == 0) {
        if (p != end) return BAD(ld, "%s: tensor '%s' should be empty", ld->path, name);
        return FL_OK;
    }
    for (uint32_t k = 0; k < n; k++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        if ((k + 1 < n) != (nl != NULL))
            return BAD(ld, "%s: tensor '%s' does not hold exactly %u ids", ld->path, name, n);
        size_t len = (size_t)(stop - p);
        if (memchr(p, '\0', len) || len > FL_MAX_ID_LEN)
            return BAD(ld, "%s: id %u in '%s' has a NUL byte or is longer than %d bytes", ld->path,
                       k, name, FL_MAX_ID_LEN);
        uint32_t idx;
        fl_status st = fl_idmap_intern(ids, p, len, &idx);
        if (st == FL_ERR_NOMEM)
            return fl_fail(ld->err, FL_ERR_NOMEM, "out of memory reading '%s'", ld->path);
        if (st || idx != k)
            return BAD(ld, "%s: id '%.*s' appears twice in '%s'", ld->path, (int)(len > 64 ? 64 : len),
                       p, name);
        p = nl ? nl + 1 : end;
    }
    return FL_OK;
}

/* fm: the optional rows for new users from features, copied to the heap. */
static fl_status read_feature_rows(loader *ld, fl_model *m, int *used) {
    tensor *t = find_tensor(ld, "user_feature_factors");
    if (!t) return FL_OK;
    if (t->ndim != 2 || t->shape[0] < 1 || t->shape[0] > UINT32_MAX)
        return BAD(ld, "%s: tensor 'user_feature_factors' has a bad shape", ld->path);
    const uint64_t rows = t->shape[0], k = m->n_factors;
    const void *P, *b;
    fl_status st;
    if ((st = expect(ld, "user_feature_factors", DT_F32, 2, rows, k, &P, used)) ||
        (st = expect(ld, "user_feature_bias", DT_F32, 1, rows, 0, &b, used)) ||
        (st = check_finite(ld, "user_feature_factors", P, rows * k)) ||
        (st = check_finite(ld, "user_feature_bias", b, rows)))
        return st;
    tensor *names = find_tensor(ld, "user_feature_names");
    if (rows > 1 && !names) return BAD(ld, "%s: tensor 'user_feature_names' is missing", ld->path);
    if (names) {
        if (names->dt != DT_U8 || names->ndim != 1)
            return BAD(ld, "%s: tensor 'user_feature_names' must be one-dimensional U8", ld->path);
        used[names - ld->t] = 1;
        if ((st = read_ids(ld, "user_feature_names", (uint32_t)(rows - 1), &m->uf_names))) return st;
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

/* Everything beyond the layout: metadata, shapes, values; fills m. */
static fl_status read_model(loader *ld, fl_model *m) {
    fl_status st = read_metadata(ld, m);
    if (st) return st;
    const char *path = ld->path;
    const fl_params *p = &m->params;
    tensor *uf = find_tensor(ld, "user_factors"), *itf = find_tensor(ld, "item_factors");
    if (!uf || !itf)
        return BAD(ld, "%s: tensor '%s' is missing", path, uf ? "item_factors" : "user_factors");
    if (uf->shape[0] >= UINT32_MAX || itf->shape[0] >= UINT32_MAX)
        return BAD(ld, "%s: too many users or items", path);
    m->n_users = (uint32_t)uf->shape[0];
    m->n_items = (uint32_t)itf->shape[0];
    m->n_factors = m->stride = model_columns(p);
    uint64_t nu = m->n_users, ni = m->n_items, k = m->n_factors;

    int used[MAX_TENSORS] = {0};
    const void *at;
    const void *seen_start, *seen_items, *item_count;
    if ((st = expect(ld, "user_factors", DT_F32, 2, nu, k, &at, used))) return st;
    m->P = (float *)at;
    if ((st = expect(ld, "item_factors", DT_F32, 2, ni, k, &at, used))) return st;
    m->Q = (float *)at;
    if ((st = check_finite(ld, "user_factors", m->P, nu * k)) ||
        (st = check_finite(ld, "item_factors", m->Q, ni * k)))
        return st;
    if (has_bias(m->kind)) {
        if ((st = expect(ld, "user_bias", DT_F32, 1, nu, 0, &at, used))) return st;
        m->bu = (float *)at;
        if ((st = expect(ld, "item_bias", DT_F32, 1, ni, 0, &at, used))) return st;
        m->bi = (float *)at;
        if ((st = check_finite(ld, "user_bias", m->bu, nu)) ||
            (st = check_finite(ld, "item_bias", m->bi, ni)))
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
            if ((st = expect(ld, nm, DT_F32, 2, (uint64_t)out, (uint64_t)in, &at, used))) return st;
            d->w = (float *)at;
            if ((st = check_finite(ld, nm, d->w, (uint64_t)out * (uint64_t)in))) return st;
            snprintf(nm, sizeof nm, "dense.%d.bias", l);
            if ((st = expect(ld, nm, DT_F32, 1, (uint64_t)out, 0, &at, used))) return st;
            d->b = (float *)at;
            if ((st = check_finite(ld, nm, d->b, (uint64_t)out))) return st;
            in = out;
        }
    }
    /* Optional: files written before item means were kept load without. */
    if (find_tensor(ld, "item_mean")) {
        if ((st = expect(ld, "item_mean", DT_F32, 1, ni, 0, &at, used)) ||
            (st = check_finite(ld, "item_mean", at, ni)))
            return st;
        m->item_mean = at;
    }
    if (fl_kind_fm(m->kind) && (st = read_feature_rows(ld, m, used))) return st;
    if ((st = expect(ld, "seen_start", DT_U64, 1, nu + 1, 0, &seen_start, used)) ||
        (st = expect(ld, "seen_items", DT_U32, 1, m->n_train, 0, &seen_items, used)) ||
        (st = expect(ld, "item_count", DT_U32, 1, ni, 0, &item_count, used)))
        return st;
    tensor *u_ids = find_tensor(ld, "user_ids"), *i_ids = find_tensor(ld, "item_ids");
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
    if ((st = read_ids(ld, "user_ids", m->n_users, &m->user_ids)) ||
        (st = read_ids(ld, "item_ids", m->n_items, &m->item_ids)))
        return st;
    return FL_OK;
}

static fl_status load_mapped(loader *ld, fl_model *m) {
    fl_status st = read_layout(ld);
    if (!st) st = verify_checksum(ld);
    if (!st) {
        c_numeric loc;
        c_numeric_enter(&loc);
        st = read_model(ld, m);
        c_numeric_leave(&loc);
    }
    return st;
}

fl_status fl_model_load(const char *path, fl_model **out, fl_error *err) {
    *out = NULL;
    /* O_NONBLOCK: a FIFO given by mistake must not hang the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fl_fail(err, FL_ERR_IO, "cannot open model file '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return fl_fail(err, FL_ERR_IO, "cannot read model file '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        if (S_ISDIR(sb.st_mode))
            return fl_fail(err, FL_ERR_IO, "%s: is a directory, expected a model file", path);
        return fl_fail(err, FL_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size < 8) {
        close(fd);
        if (sb.st_size == 0)
            return fl_fail(err, FL_ERR_MODEL_FILE, "%s: the file is empty; not a model", path);
        return fl_fail(err, FL_ERR_MODEL_FILE,
                       "%s: truncated: %lld bytes, too short for the 8-byte header length", path,
                       (long long)sb.st_size);
    }
    if ((unsigned long long)sb.st_size > SIZE_MAX) {
        close(fd);
        return fl_fail(err, FL_ERR_NOMEM, "%s: too large to map", path);
    }
    size_t size = (size_t)sb.st_size;
    fl_file_map map;
    int e = fl_file_map_open(fd, size, &map);
    close(fd);
    if (e) return fl_fail(err, FL_ERR_IO, "cannot map model file '%s': %s", path, strerror(e));

    loader *ld = calloc(1, sizeof *ld);
    fl_model *m = calloc(1, sizeof *m);
    if (!ld || !m) {
        free(ld), free(m);
        fl_file_map_close(&map);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory loading '%s'", path);
    }
    ld->path = path, ld->base = map.addr, ld->size = size, ld->err = err;
    m->map = map; /* fl_model_free unmaps from here on */
    fl_status st = load_mapped(ld, m);
    if (!st) memcpy(m->checksum, ld->checksum, sizeof m->checksum);
    json_decref(ld->root);
    free(ld);
    if (st) {
        fl_model_free(m);
        return st;
    }
    struct tm tm;
    time_t mtime = sb.st_mtime;
    if (gmtime_r(&mtime, &tm)) strftime(m->created, sizeof m->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    *out = m;
    return FL_OK;
}
