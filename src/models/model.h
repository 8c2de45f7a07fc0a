/* model.h — the in-memory model shared by every model kind.
 *
 * All parameters live in one block (malloc'd while training, or the mapped
 * model file after fl_model_load). Factor rows are `stride` floats apart:
 * stride = n_factors rounded up to 16 while training (aligned rows for the
 * SIMD kernels), stride = n_factors when mapped from a file. */
#ifndef FL_MODELS_MODEL_H
#define FL_MODELS_MODEL_H

#include "core/file_map.h"
#include "factorlens.h"

#include <math.h>

#define FL_MAX_MODEL_GROUPS 32

typedef struct fl_dense {
    int n_in, n_out;
    float *w;                /* [n_out][n_in] row-major */
    float *b;                /* [n_out] */
} fl_dense;

struct fl_model {
    fl_model_kind kind;
    fl_params params;
    uint32_t n_users, n_items;
    uint32_t n_factors, stride;
    /* prediction = offset + bu[u] + bi[i] + <P[u], Q[i]> (dot/biased), or the
     * net's output (nn); then y_lo + (y_hi - y_lo) * sigmoid(.) if squashing. */
    float offset;
    float global_mean;       /* mean training rating (the bias-only fallback's base) */
    float rating_lo, rating_hi;
    float *P;                /* [n_users][stride] */
    float *Q;                /* [n_items][stride] */
    float *bu, *bi;          /* [n_users], [n_items]; NULL for dot */
    int n_dense;             /* nn: hidden layers + output layer */
    fl_dense dense[FL_MAX_LAYERS + 1];
    fl_idmap *user_ids, *item_ids;
    uint64_t *seen_start;    /* [n_users + 1] offsets into seen_items */
    uint32_t *seen_items;    /* items each user rated in training, ascending */
    uint32_t *item_count;    /* [n_items] training ratings per item */
    /* [n_items] mean training rating per item (0 where item_count is 0), or
     * NULL for a model loaded from a file written before it was kept. Points
     * into the mapping once loaded; item_mean_heap owns it after training. */
    const float *item_mean;
    float *item_mean_heap;
    size_t n_train;
    int epochs_run;
    double train_seconds;
    char source[256];
    char created[32];
    char checksum[65];       /* the file's SHA-256 field once loaded, else "" */
    /* What training reported after each epoch, oldest first (n_history of
     * them; none for a model from a file that predates the history). The
     * file keeps no wall-clock times, so a loaded model's seconds are -1. */
    fl_epoch_report *history;
    int n_history;
    /* storage */
    void *block;             /* malloc'd parameters, or NULL */
    fl_file_map map;         /* the model file, when loaded from one */
    int counts_mapped;       /* seen_start, seen_items, item_count point into map */
    /* fm and svdpp: the feature groups it was trained with (fl_model_group),
     * and per side (0 users, 1 items) the ids without a features row and
     * the rows whose id had no training rating. */
    int n_groups;
    char group_name[FL_MAX_MODEL_GROUPS][48];
    int group_side[FL_MAX_MODEL_GROUPS];
    uint32_t group_size[FL_MAX_MODEL_GROUPS];
    uint32_t n_without[2], n_unused[2];
    /* fm and svdpp: a new user from user side features alone. Row 0 is the
     * user-id group's prior mean (every new user has it), row 1 + j the
     * user feature named uf_names[j]: its averaged vector in the model's
     * item basis (uf_P, n_factors floats a row) and its linear weight. A new
     * user is the sum of its rows, weighted by the features' values. NULL
     * for other kinds and for files written without them. Heap-owned. */
    fl_idmap *uf_names;
    float *uf_P, *uf_b;
    /* fm with item features: feature j (named if_names[j]) and its
     * averaged linear weight if_b[j]: what it adds to a rating by itself,
     * for the report. NULL without item features. */
    fl_idmap *if_names;
    float *if_b;
    /* fm and svdpp: the average training user's and item's rows and biases
     * (heap; NULL for other kinds). An fm user's vector carries what a
     * biased model puts in its bias (the implicit group's sum, say), so an
     * unknown id is predicted as the average one (fl_predict_fallback), and
     * fold-in shrinks towards the average user rather than towards zero. */
    float *mean_user, *mean_item;
    float mean_bu, mean_bi;
    /* fm and svdpp with time_bins (params.time_bins bins): the training
     * period [time_lo, time_hi] (unix seconds) and per item and bin the
     * bin's bias minus the item's latest bin's, which bi already holds (so
     * a prediction without a timestamp uses that bin). Heap; NULL when the
     * model has no time bins. */
    uint32_t time_lo, time_hi;
    float *tb_delta;         /* [n_items][time_bins] */
    void *owned[4];          /* other heap arrays to free */
    /* The compact scan copy of the item side (models/scan_index.h), built
     * when a model is loaded, or NULL: top-n searches use it when present. */
    struct fl_scan_index *scan;
};

/* Kinds that predict offset + bu[u] + bi[i] + <P[u], Q[i]>: biased, and fm
 * and svdpp, whose rows are the per-user and per-item sums of their feature
 * vectors (train/mcmc.c). */
static inline int fl_kind_mf_biased(fl_model_kind k) {
    return k == FL_MODEL_BIASED || k == FL_MODEL_FM || k == FL_MODEL_SVDPP;
}

/* Kinds with a user and an item bias (the implicit kinds have none). */
static inline int fl_kind_has_bias(fl_model_kind k) {
    return fl_kind_mf_biased(k) || k == FL_MODEL_NN;
}

/* fm and svdpp: fold-in's ridge strengths around the average user when
 * training set none of its own (mcmc: --reg and --reg-bias default to
 * these; an sgd model's --reg is a per-rating step penalty, far weaker:
 * fold-in uses these instead). docs/defaults.md has the measurements. */
#define FL_FM_FOLD_IN_REG 40.0f
#define FL_FM_FOLD_IN_REG_BIAS 4.0f

/* The kinds trained by sampling over feature groups (train/mcmc.c). */
static inline int fl_kind_fm(fl_model_kind k) { return k == FL_MODEL_FM || k == FL_MODEL_SVDPP; }

/* The time bin of timestamp t among n equal bins of [lo, hi]; a time
 * outside the period goes to the nearest bin. */
static inline int fl_time_bin(uint32_t lo, uint32_t hi, int n, uint32_t t) {
    if (t <= lo) return 0;
    if (t >= hi) return n - 1;
    int b = (int)((uint64_t)(t - lo) * (uint64_t)n / ((uint64_t)(hi - lo) + 1));
    return b < n ? b : n - 1;
}

/* True if predictions are squashed into (y_lo, y_hi). */
static inline int fl_model_squashes(const fl_params *p) { return p->y_lo < p->y_hi; }

/* Allocates an untrained model of the given shape with zeroed parameters
 * (stride padded for training). Id maps are cloned. */
fl_status fl_model_alloc(const fl_params *p, const fl_idmap *users, const fl_idmap *items,
                         fl_model **out, fl_error *err);
/* The same, pointing at users and items instead of copying them: the model
 * must be given id maps of its own (or NULL ones) before those are freed.
 * fl_train's way to lay the ratings out without a second copy of the ids. */
fl_status fl_model_alloc_sharing_ids(const fl_params *p, fl_idmap *users, fl_idmap *items,
                                     fl_model **out, fl_error *err);
/* Number of floats of all trainable parameters in the block. */
size_t fl_model_param_floats(const fl_params *p, uint32_t n_users, uint32_t n_items,
                             uint32_t stride);
/* Carves the parameter block into P, Q, bu, bi and the dense layers. */
void fl_model_carve(fl_model *m, float *block);
/* fm and svdpp: sets mean_user, mean_item, mean_bu and mean_bi from the
 * model's rows (a no-op for other kinds). */
fl_status fl_model_set_means(fl_model *m, fl_error *err);
/* Records per-user seen items and per-item counts from training data. */
fl_status fl_model_set_seen(fl_model *m, const fl_dataset *train, fl_error *err);
/* Only the counts (seen_start, item_count, n_train); seen_items stays NULL
 * until the caller fills it (SGD builds it from its grid after training, so
 * the ratings are never held twice). */
fl_status fl_model_set_counts(fl_model *m, const fl_dataset *train, fl_error *err);

/* Renumbers users and items: user k afterwards is the one that was
 * user_at[k], item k the one that was item_at[k] (permutations). The id
 * maps, the counts, the seen lists and, with params, the factor rows and
 * biases move with them; without params those are left as they are (a
 * model whose starting values are not written yet). SGD trains on rows in
 * its grid's order, so the model takes that order instead of the solver
 * keeping a copy (train/grid.h). A model whose counts lie in a file
 * mapping cannot be renumbered (FL_ERR_USAGE). */
fl_status fl_model_renumber(fl_model *m, const uint32_t *user_at, const uint32_t *item_at,
                            int params, fl_error *err);

/* Raw (pre-squash) score and its squashed value. Inline, as the clip
 * below: every epoch applies them to every training and test rating. */
static inline float fl_squash(const fl_params *p, float z) {
    if (!fl_model_squashes(p)) return z;
    return p->y_lo + (p->y_hi - p->y_lo) / (1.0f + expf(-z));
}
/* A prediction limited to the rating range seen in training: no rating
 * outside it is ever right, so a prediction beyond it is moved to the
 * nearest end (this only lowers every error). */
static inline float fl_model_clip(const fl_model *m, float y) {
    /* An implicit model's score is a preference, on no rating scale. */
    if (m->rating_lo < m->rating_hi && !fl_model_kind_implicit(m->kind)) {
        if (y < m->rating_lo) return m->rating_lo;
        if (y > m->rating_hi) return m->rating_hi;
    }
    return y;
}

/* fl_predict_index before its clip to the rating range: what top-n lists
 * rank by, since many items may clip to the same end of the scale. */
float fl_predict_unclipped(const fl_model *m, uint32_t u, uint32_t i);

/* Asks for user u's and item i's rows and biases ahead of scoring them.
 * Passes that score many ratings in an order unrelated to the model's rows
 * (the training loss, evaluation) wait on memory for every rating
 * otherwise: prefetching 8 ratings ahead halved the per-epoch scoring time
 * at 5M ratings. */
static inline void fl_model_prefetch(const fl_model *m, uint32_t u, uint32_t i) {
    const char *p = (const char *)(m->P + (size_t)u * m->stride);
    const char *q = (const char *)(m->Q + (size_t)i * m->stride);
    for (size_t c = 0; c < m->n_factors * sizeof(float); c += 64)
        __builtin_prefetch(p + c), __builtin_prefetch(q + c);
    if (m->bu) __builtin_prefetch(m->bu + u), __builtin_prefetch(m->bi + i);
}

#endif
