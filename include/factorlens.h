/* factorlens.h — the whole public API of libfactorlens.
 *
 * A recommender engine for explicit ratings: load ratings, map raw ids to dense
 * indices, fit latent factors (+ biases, or a small neural net), evaluate,
 * predict, recommend, save and load models. The library never prints and never
 * exits: every call that can fail returns an fl_status and, when given an
 * fl_error, fills it with one sentence the caller can show; calls that only
 * answer yes or no (fl_idmap_find, fl_model_kind_parse, fl_solver_parse)
 * return 1 or 0. No global mutable state: all randomness comes from explicit
 * seeds, and objects are independent.
 *
 * Threads. No call changes anything outside the objects it is given: no
 * process-wide setting (OpenBLAS's thread count included), no signal
 * handler, no environment variable, no current directory. Hence:
 *   - Calls on different objects may run at the same time from any threads,
 *     trainings included.
 *   - A model (fl_model) is immutable once fl_train or fl_model_load has
 *     returned it: any number of threads may use one model at once through
 *     the calls that take it as `const fl_model *` (fl_predict,
 *     fl_predict_index, fl_predict_folded, fl_recommend,
 *     fl_recommend_including_seen, fl_recommend_folded, fl_recommend_with,
 *     fl_recommend_folded_with, fl_similar,
 *     fl_evaluate, fl_evaluate_ranking, fl_evaluate_fold_in, fl_fold_in,
 *     fl_model_save, fl_model_get_info and the accessors, fl_model_history
 *     included). Only fl_model_free needs it
 *     exclusively, after every such call has returned.
 *   - The same holds for datasets, id maps, items and users: reading
 *     (a const pointer) is shared, changing (fl_dataset_add, fl_idmap_intern,
 *     fl_train_owned, the *_free calls) is exclusive.
 *   - fl_train, fl_evaluate_ranking and fl_dataset_read start their own
 *     threads (n_threads, 0 = all cores) and join them before they return, as do
 *     fl_recommend_with and fl_recommend_folded_with when their options ask
 *     for more than one thread (their lists do not depend on the number);
 *     every other call runs on the caller's thread.
 *     Callbacks (fl_train_hooks, fl_download_opts, fl_read_opts.progress)
 *     run on the calling thread.
 */
#ifndef FACTORLENS_H
#define FACTORLENS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_VERSION "0.1.0"

/* Marks what the shared library exports: everything declared here and
 * nothing else (the library is built with hidden visibility). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define FL_API __attribute__((visibility("default")))
#else
#define FL_API
#endif

/* ---------------------------------------------------------------- errors */

/* Status codes. The first six double as the CLI's exit codes. */
typedef enum fl_status {
    FL_OK = 0,
    FL_ERR_OTHER = 1,        /* anything not listed below */
    FL_ERR_USAGE = 2,        /* invalid argument or parameter */
    FL_ERR_UNKNOWN_ID = 3,   /* a user or item id the model never saw */
    FL_ERR_DATA = 4,         /* malformed or unusable input data */
    FL_ERR_MODEL_FILE = 5,   /* model file corrupt, truncated or of another version */
    FL_ERR_IO = 6,           /* open/read/write failed */
    FL_ERR_NOMEM = 7,        /* allocation failed or would exceed memory */
    FL_ERR_NETWORK = 8,      /* download failed */
    FL_ERR_DIVERGED = 9,     /* training diverged (loss not finite) */
    FL_ERR_CANCELLED = 10    /* a callback asked to stop */
} fl_status;

typedef struct fl_error {
    fl_status code;
    char msg[512]; /* one sentence, naming file and line where there is one */
} fl_error;

/* The CLI exit code for a status: 0..5 as is, everything else 1. */
FL_API int fl_status_exit_code(fl_status s);
FL_API const char *fl_status_name(fl_status s);

/* ---------------------------------------------------------------- id maps */

/* Raw ids (strings as they appear in the file) <-> dense indices 0..n-1. */
typedef struct fl_idmap fl_idmap;

FL_API fl_idmap *fl_idmap_new(void);
FL_API void fl_idmap_free(fl_idmap *m);
/* Index of id, inserting it if new. Fails only on allocation or an id over
 * FL_MAX_ID_LEN bytes. */
#define FL_MAX_ID_LEN 255
FL_API fl_status fl_idmap_intern(fl_idmap *m, const char *id, size_t len, uint32_t *index);
/* 1 and *index set if id is known, else 0. */
FL_API int fl_idmap_find(const fl_idmap *m, const char *id, size_t len, uint32_t *index);
FL_API const char *fl_idmap_name(const fl_idmap *m, uint32_t index);
FL_API uint32_t fl_idmap_size(const fl_idmap *m);
/* A deep copy, or NULL when out of memory. */
FL_API fl_idmap *fl_idmap_clone(const fl_idmap *m);

/* ---------------------------------------------------------------- ratings */

/* Observed ratings in structure-of-arrays form, 12 bytes per rating (+4 with
 * timestamps). Indices refer to the dataset's own id maps. */
typedef struct fl_dataset {
    size_t n_ratings;
    uint32_t *users;   /* [n_ratings] dense user index */
    uint32_t *items;   /* [n_ratings] dense item index */
    float *ratings;    /* [n_ratings] */
    uint32_t *times;   /* [n_ratings] unix seconds, or NULL when not read */
    fl_idmap *user_ids;
    fl_idmap *item_ids;
    size_t n_skipped;  /* malformed lines skipped (only with skip_bad) */
    char first_skipped[256]; /* the first skipped line's message */
    char source[256];  /* file it came from, for messages and model info */
    /* Ratings far outside the range most of the file uses (a -3 among 1-5
     * stars), counted by the reader when no scale was given; they are kept.
     * usual_lo..usual_hi is that range; first_outside names the first one
     * as "file:line: rating -3". Files under 20 ratings or with over 256
     * distinct values (no scale to speak of) are not judged. */
    size_t n_outside;
    float usual_lo, usual_hi;
    char first_outside[256];
    size_t capacity;   /* entries allocated in each array (the library's bookkeeping) */
    /* The file's own format, as the reader found it, so fl_dataset_write can
     * write a part of it the same way: the separator ("" for runs of
     * blanks), and the header's names of the user, item, rating (and
     * timestamp) columns, or "" when the file had no header. Datasets built
     * in memory have both empty (fl_dataset_write then uses a tab). */
    char sep[8];
    char header[4][64];
} fl_dataset;

typedef enum fl_dup_policy { FL_DUP_ERROR = 0, FL_DUP_LAST, FL_DUP_MEAN, FL_DUP_KEEP } fl_dup_policy;

typedef struct fl_read_opts {
    const char *sep;     /* field separator; NULL detects "::", tab, ',', ';', '|' or spaces */
    const char *columns; /* e.g. "user,item,rating,timestamp" ('_' skips a column); NULL:
                            from a header's names if there is one, else that order */
    int header;          /* -1 detect (first line's rating field not numeric), 0 no, 1 yes */
    int skip_bad;        /* 1: skip and count malformed lines instead of failing */
    int keep_times;      /* 1: keep timestamps (needed for temporal splits) */
    float scale_lo;      /* accepted rating range; lo > hi means any finite value */
    float scale_hi;
    fl_dup_policy duplicates;
    /* Called every few MiB while fl_dataset_read reads, with the bytes of the
     * file read so far (of a gzip file: compressed bytes) and its size (0
     * when unknown: standard input, a pipe); nonzero stops reading with
     * FL_ERR_CANCELLED. NULL (the default): none. */
    int (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* Threads parsing a plain (not gzip) file, each its own byte range of
     * whole lines: 0 (the default) all cores, at most one per MiB of file;
     * 1 the calling thread alone. The dataset is the same whatever the
     * count: ids indexed in order of first appearance, the same arrays, the
     * same messages. progress is still called on the calling thread. */
    int n_threads;
} fl_read_opts;

FL_API void fl_read_opts_default(fl_read_opts *o);
/* Reads a delimited ratings file (gzip-compressed or plain). */
FL_API fl_status fl_dataset_read(const char *path, const fl_read_opts *o, fl_dataset **out, fl_error *err);
/* Same, from memory; name is used in messages. */
FL_API fl_status fl_dataset_parse(const char *name, const char *buf, size_t len, const fl_read_opts *o,
                           fl_dataset **out, fl_error *err);
/* One user's ratings from a file without a user column: lines "item,rating"
 * (e.g. a new user's ratings for fl_fold_in). Separator, header line (one
 * naming item and rating columns, which may then come in any order),
 * quoting, blank lines, compression, "-" for standard input, o's scale,
 * duplicates and skip_bad, and "file:line" errors as fl_dataset_read; o's
 * columns, if given, name item and rating and no user. Every rating gets
 * user_id, so the result is one user's dataset, in the file's order. */
FL_API fl_status fl_dataset_read_user(const char *path, const char *user_id, const fl_read_opts *o,
                                      fl_dataset **out, fl_error *err);
FL_API void fl_dataset_free(fl_dataset *d);
/* An empty dataset with room for capacity ratings (it grows as needed), or
 * NULL when out of memory. with_times: keep a timestamp per rating. */
FL_API fl_dataset *fl_dataset_new(size_t capacity, int with_times);
/* Appends one rating, mapping the raw ids (new ids get the next index).
 * time is ignored unless the dataset keeps timestamps. */
FL_API fl_status fl_dataset_add(fl_dataset *d, const char *user_id, const char *item_id,
                                float rating, uint32_t time, fl_error *err);
FL_API float fl_dataset_mean(const fl_dataset *d);
/* Writes d as a delimited file in the format it was read from (d->sep and
 * d->header): columns user, item, rating, and timestamp when d has times;
 * ratings printed so they read back bit for bit; ids holding the separator
 * or a quote are quoted (RFC 4180). Reading the file back with the same
 * options gives the same ratings in the same order. */
FL_API fl_status fl_dataset_write(const fl_dataset *d, const char *path, fl_error *err);

/* Splits. Each returns two new datasets that share no memory with d (id maps
 * are copied so both halves keep the full id space). */
FL_API fl_status fl_split_holdout(const fl_dataset *d, double test_fraction, uint64_t seed,
                           fl_dataset **train, fl_dataset **test, fl_error *err);
FL_API fl_status fl_split_fold(const fl_dataset *d, int n_folds, int fold, uint64_t seed,
                        fl_dataset **train, fl_dataset **test, fl_error *err);
/* Per user, a random test_fraction of their ratings (rounded, at most all
 * but one) go to test: the usual protocol for ranking metrics. A user with
 * one rating stays in train. */
FL_API fl_status fl_split_per_user(const fl_dataset *d, double test_fraction, uint64_t seed,
                                   fl_dataset **train, fl_dataset **test, fl_error *err);
/* Per user, the latest test_fraction of their ratings (by timestamp) go to test. */
FL_API fl_status fl_split_temporal(const fl_dataset *d, double test_fraction,
                            fl_dataset **train, fl_dataset **test, fl_error *err);

/* Synthetic ratings with known ground truth: a planted rank-`rank` model
 * (user/item factors ~ N(0, 1/sqrt(rank)) plus biases) and Gaussian noise,
 * users and items drawn with Zipf-like popularity (exponent zipf; 0 uniform),
 * clipped and rounded to half stars in [lo, hi]. No (user, item) pair repeats.
 * Same options + seed -> same dataset. Ids are "u<index>" and "i<index>". */
typedef struct fl_synth_opts {
    uint32_t n_users, n_items;
    size_t n_ratings;
    int rank;
    float noise_std;
    double zipf;
    float lo, hi;
    uint64_t seed;
} fl_synth_opts;

FL_API void fl_synth_opts_default(fl_synth_opts *o); /* 1000 users, 1700 items, 100k ratings, rank 8 */
FL_API fl_status fl_synth_generate(const fl_synth_opts *o, fl_dataset **out, fl_error *err);

/* ---------------------------------------------------------------- side information */

#define FL_MAX_GENRES 32
typedef struct fl_items {
    uint32_t n;
    fl_idmap *ids;        /* raw item id -> row */
    char **titles;        /* UTF-8 (u.item's Latin-1 is converted) */
    int *years;           /* release year or 0 */
    uint32_t *genres;     /* bitmask over genre_names */
    int n_genres;
    char *genre_names[FL_MAX_GENRES];
} fl_items;

typedef struct fl_users {
    uint32_t n;
    fl_idmap *ids;
    int *ages;
    char *genders;        /* 'M', 'F', or '?' */
    char **occupations;
    char **zips;
} fl_users;

/* u.item (pipe, Latin-1) or movies.csv (UTF-8, quoted), detected from the content. */
FL_API fl_status fl_items_read(const char *path, fl_items **out, fl_error *err);
FL_API void fl_items_free(fl_items *it);
FL_API const char *fl_items_title(const fl_items *it, const char *item_id); /* NULL if absent */
/* u.user */
FL_API fl_status fl_users_read(const char *path, fl_users **out, fl_error *err);
FL_API void fl_users_free(fl_users *us);

/* Side features for a factorization machine, keyed by raw user or item id.
 * Read from u.user (age in buckets, gender, occupation, zip's first digit),
 * u.item or movies.csv (genres, release decade), ml-1m's users.dat and
 * movies.dat, or the generic form of `id,feature[,value]` lines (value 1
 * when absent; the feature's group is its name up to '=', or the whole name).
 * Every feature belongs to a group; groups get their own priors. Bad lines
 * and duplicate (id, feature) pairs (duplicate ids in the fixed formats) fail
 * with file:line (FL_ERR_DATA). Inside the library features are dense
 * indices in order of first appearance: raw ids never matter. */
typedef struct fl_features fl_features;
FL_API fl_status fl_features_read(const char *path, fl_features **out, fl_error *err);
FL_API void fl_features_free(fl_features *f);
/* Ids with a row, features, groups; a group's name and feature count. */
FL_API uint32_t fl_features_n_ids(const fl_features *f);
FL_API uint32_t fl_features_n_features(const fl_features *f);
FL_API int fl_features_n_groups(const fl_features *f);
FL_API const char *fl_features_group(const fl_features *f, int g, uint32_t *n_features);

/* ---------------------------------------------------------------- models */

/* dot, biased and nn model ratings. ials and bpr model implicit feedback:
 * trained on which items each user rated (all ratings, or those >=
 * positive_min), their score <P[u], Q[i]> is a preference for ranking, not a
 * rating (fl_evaluate refuses them; use fl_evaluate_ranking).
 *   ials: weighted ALS (Hu, Koren & Volinsky 2008), confidence 1 + alpha * r
 *         on rated items, weight 1 on every other, rows by conjugate gradient;
 *   bpr:  BPR-MF (Rendle et al. 2009), SGD on (user, rated, unrated) triples. */
typedef enum fl_model_kind {
    FL_MODEL_DOT = 0,
    FL_MODEL_BIASED = 1,
    FL_MODEL_NN = 2,
    FL_MODEL_IALS = 3,
    FL_MODEL_BPR = 4,
    /* fm: a factorization machine over feature groups (user id, item id,
     * side features joined by id, the implicit groups); svdpp: biased MF
     * plus the user's implicit group (SVD++). Both train by Gibbs sampling
     * (FL_SOLVER_MCMC) and, once trained, predict like a biased model over
     * per-user and per-item vectors (docs/model-format.md). */
    FL_MODEL_FM = 5,
    FL_MODEL_SVDPP = 6
} fl_model_kind;
typedef enum fl_solver {
    FL_SOLVER_SGD = 0,
    FL_SOLVER_ADAM = 1,
    FL_SOLVER_ALS = 2,
    /* Bayesian training by Gibbs sampling (fm, svdpp): Normal-Gamma
     * hyper-priors per feature group, no regularisation to tune; the model
     * averages the kept samples after burn-in. epochs = samples drawn. */
    FL_SOLVER_MCMC = 3
} fl_solver;
/* For fl_params_init: the kind's own default solver. Not an enumerator, so
 * switches over fl_solver stay exhaustive without it. */
#define FL_SOLVER_DEFAULT ((fl_solver)-1)

#define FL_MAX_LAYERS 8

typedef struct fl_params {
    fl_model_kind kind;
    fl_solver solver;
    int n_factors;
    int epochs;
    float lr;               /* initial learning rate */
    float reg_factors;      /* L2 strength on factors / embeddings / weights */
    float reg_bias;         /* L2 strength on biases */
    float y_lo, y_hi;       /* sigmoid squashing into (y_lo, y_hi); disabled when y_lo >= y_hi */
    int y_auto;             /* 1: squash into the training ratings' range widened by 10% of
                               its span at each end (y_lo, y_hi are then set from the data) */
    float init_std;         /* factors start ~ N(0, init_std^2) */
    int batch_size;         /* adam and nn */
    int n_layers;           /* nn: hidden layer widths */
    int layers[FL_MAX_LAYERS];
    float dropout[FL_MAX_LAYERS + 1]; /* nn: [0] on the embeddings, [l+1] after hidden layer l */
    int n_threads;          /* 0: all cores; a trained model records the count it used */
    uint64_t seed;
    double valid_fraction;  /* >0: hold out this share of train for early stopping */
    int patience;           /* epochs without validation improvement before stopping */
    float alpha;            /* ials: confidence 1 + alpha * rating of a rated item */
    float positive_min;     /* ials, bpr: ratings >= this are the positives (the rest are
                               dropped before training); -FLT_MAX (default): all */
    /* fm, svdpp (mcmc): the first burn_in samples are not averaged; the
     * model averages all the others, their interactions reduced (while
     * sampling) to a users x items matrix of rank ensemble_rank, the width of
     * the saved model's factor rows (docs/model-format.md). A trained model
     * records the rank it got (at most min(users, items)). */
    int burn_in;
    int ensemble_rank;
    /* fm, svdpp: implicit feature groups, FL_IMPLICIT_* bits: the items the
     * user rated (SVD++), the users who rated the item ("flipped"). */
    int implicit;
    /* fm, svdpp: timeSVD++'s item bias per time bin, b_i,Bin(t): the
     * training ratings' period cut into time_bins equal bins (0: off; the
     * ratings need timestamps). A rating with a timestamp is predicted with
     * its bin (the nearest one outside the period); one without (predict,
     * recommend) with the item's latest bin that has training ratings. */
    int time_bins;
} fl_params;

#define FL_IMPLICIT_USER_ITEMS 1 /* each user's rated items, weight 1/sqrt(count) */
#define FL_IMPLICIT_ITEM_USERS 2 /* each item's raters, weight 1/sqrt(count) */

/* 1 for the implicit-feedback kinds (ials, bpr), whose scores rank items. */
FL_API int fl_model_kind_implicit(fl_model_kind k);

/* Every default for a kind and a solver in one call (FL_SOLVER_DEFAULT: the
 * kind's own, sgd for dot, biased and bpr, adam for nn, als for ials). See
 * docs/defaults.md. */
FL_API void fl_params_init(fl_params *p, fl_model_kind kind, fl_solver solver);
/* fl_params_init(p, kind, FL_SOLVER_DEFAULT). */
FL_API void fl_params_default(fl_params *p, fl_model_kind kind);
/* Deprecated: after fl_params_default, switches to solver's lr, reg and
 * epochs; fl_params_init does both at once. Kept for existing callers. */
FL_API void fl_params_default_solver(fl_params *p, fl_solver solver)
    __attribute__((deprecated("use fl_params_init(p, kind, solver)")));
/* NULL if p is usable, else a sentence saying what is wrong. */
FL_API const char *fl_params_check(const fl_params *p);

FL_API const char *fl_model_kind_name(fl_model_kind k);
FL_API const char *fl_solver_name(fl_solver s);
FL_API int fl_model_kind_parse(const char *s, fl_model_kind *out);
FL_API int fl_solver_parse(const char *s, fl_solver *out);

typedef struct fl_model fl_model;

/* What training reports after each epoch. Data loss and penalty are separate:
 * train_mse is the plain mean squared error on the training ratings, and
 * reg_penalty is the regulariser's value per rating; the optimiser minimises
 * their sum, which is *not* an MSE. */
typedef struct fl_epoch_report {
    int epoch;              /* 1-based */
    int epochs;
    double train_mse;
    double reg_penalty;
    double valid_rmse;      /* NAN without a validation split */
    double test_rmse;       /* NAN without a test set */
    double test_mae;
    double test_mse;
    double seconds;         /* this epoch, wall clock, evaluation included */
    double solve_seconds;   /* the solver's pass over the ratings alone */
    double lr;              /* learning rate used this epoch */
} fl_epoch_report;

typedef struct fl_train_hooks {
    /* Called on the thread that called fl_train, with done/total ratings of this epoch,
     * at most a few hundred times per epoch. Return nonzero to cancel. */
    int (*progress)(void *ctx, int epoch, int epochs, size_t done, size_t total);
    /* Called after each epoch. Return nonzero to stop after this epoch. */
    int (*epoch_end)(void *ctx, const fl_epoch_report *r);
    void *ctx;
    /* Called on the same thread for the work around the epochs, which takes
     * seconds on tens of millions of ratings: phase "preparing" (before the
     * first epoch: laying the ratings out for the solver, starting the
     * model) and "finishing" (after the last: listing each user's items),
     * with done/total work units of that phase (total is fixed within a
     * phase; done reaches it at the phase's end). Return nonzero to cancel.
     * NULL: none. */
    int (*phase)(void *ctx, const char *phase, size_t done, size_t total);
} fl_train_hooks;

/* Summary of a finished training run. */
typedef struct fl_train_result {
    int epochs_run;
    int best_epoch;         /* with early stopping: the epoch whose model is kept */
    fl_epoch_report last;
    double seconds;
} fl_train_result;

/* Trains a model on train; test (may be NULL) is only evaluated, never
 * learned from. Test ids unknown to train are predicted by the bias-only
 * fallback and counted. */
FL_API fl_status fl_train(const fl_dataset *train, const fl_dataset *test, const fl_params *p,
                   const fl_train_hooks *hooks, fl_model **out, fl_train_result *result,
                   fl_error *err);
/* Like fl_train, but train's rating arrays may become the solver's working
 * copy instead of being duplicated, which halves peak memory on large data.
 * On return (success or not) train holds no ratings (n_ratings is 0); its id
 * maps and source remain (the same ids, numbered as the model numbers them:
 * SGD and BPR number users and items in their grid's random order). */
FL_API fl_status fl_train_owned(fl_dataset *train, const fl_dataset *test, const fl_params *p,
                         const fl_train_hooks *hooks, fl_model **out, fl_train_result *result,
                         fl_error *err);
/* fl_train with side features for an fm model (either may be NULL; other
 * kinds refuse features). Users and items of train without a row are
 * allowed (only their id and implicit groups describe them); rows whose id
 * train lacks are left out. Both are counted in the model's feature groups
 * (fl_model_group). */
FL_API fl_status fl_train_features(const fl_dataset *train, const fl_dataset *test,
                                   const fl_params *p, const fl_features *user_features,
                                   const fl_features *item_features, const fl_train_hooks *hooks,
                                   fl_model **out, fl_train_result *result, fl_error *err);
FL_API void fl_model_free(fl_model *m);

/* ---------------------------------------------------------------- using a model */

typedef enum fl_unknown_policy {
    FL_UNKNOWN_ERROR = 0,   /* unknown user or item: FL_ERR_UNKNOWN_ID */
    FL_UNKNOWN_MEAN = 1,    /* fall back to global mean + the known side's bias */
    FL_UNKNOWN_SKIP = 2     /* (evaluation) leave the rating out */
} fl_unknown_policy;

typedef struct fl_model_info {
    fl_model_kind kind;
    fl_params params;
    uint32_t n_users, n_items;
    size_t n_train;         /* ratings it was trained on */
    float global_mean;
    float rating_lo, rating_hi; /* range seen in training */
    int epochs_run;
    double train_seconds;   /* -1 for a loaded model: files hold no wall-clock times */
    char source[256];       /* training file */
    char created[32];       /* ISO-8601 UTC: training time, or the file's mtime once loaded */
} fl_model_info;

FL_API void fl_model_get_info(const fl_model *m, fl_model_info *out);
FL_API const fl_idmap *fl_model_user_ids(const fl_model *m);
FL_API const fl_idmap *fl_model_item_ids(const fl_model *m);

/* Prediction by raw ids: a rating, or for ials and bpr a preference score
 * (higher is preferred; unknown ids under FL_UNKNOWN_MEAN score 0). */
FL_API fl_status fl_predict(const fl_model *m, const char *user_id, const char *item_id,
                     fl_unknown_policy pol, float *out, fl_error *err);
/* Prediction by the model's dense indices (no checks). */
FL_API float fl_predict_index(const fl_model *m, uint32_t u, uint32_t i);
/* Learned biases (0 for models without them); NULL-safe index access. */
FL_API float fl_model_user_bias(const fl_model *m, uint32_t u);
FL_API float fl_model_item_bias(const fl_model *m, uint32_t i);
/* Pointer to the factor row of item i / user u (n_factors floats; the
 * embedding rows for nn), or NULL when the index is out of range. */
FL_API const float *fl_model_item_factors(const fl_model *m, uint32_t i);
FL_API const float *fl_model_user_factors(const fl_model *m, uint32_t u);
/* The SHA-256 checksum recorded in the model file it was loaded from (64
 * lowercase hex digits; identifies the file's content), or "" for a model
 * trained in this process and not loaded. */
FL_API const char *fl_model_checksum(const fl_model *m);
/* Number of training ratings of item i (its popularity), 0 if unknown. */
FL_API uint32_t fl_model_item_count(const fl_model *m, uint32_t i);
/* Mean training rating of item i; NAN if it had none, if i is out of range,
 * or if the model comes from a file written before means were kept. */
FL_API float fl_model_item_mean(const fl_model *m, uint32_t i);
/* The learning curves: what training reported after each epoch it ran,
 * oldest first, *n_epochs of them (with early stopping the model keeps an
 * earlier epoch's parameters, but every epoch run is listed). The model file
 * stores them, so a loaded model has them too, except that files keep no
 * wall-clock times (seconds and solve_seconds are -1 once loaded) and files
 * written before the history existed have none (NULL, *n_epochs = 0). */
FL_API const fl_epoch_report *fl_model_history(const fl_model *m, size_t *n_epochs);
/* The feature groups of an fm or svdpp model (0 for other kinds): group g's
 * name ("user", "item", "gender", "implicit", ...), its side (0 user, 1
 * item) and how many features it has. NULL when g is out of range. */
FL_API int fl_model_n_groups(const fl_model *m);
FL_API const char *fl_model_group(const fl_model *m, int g, int *side, uint32_t *n_features);
/* For side (0 users, 1 items) of an fm model trained with a features file:
 * *without = its ids that had no row in the file, *unused = rows of the
 * file whose id had no training rating (left out). Zeros otherwise. */
FL_API void fl_model_feature_rows(const fl_model *m, int side, uint32_t *without, uint32_t *unused);
/* The side features of an fm model with their learned linear weights (the
 * sampler's average): how much each moves a rating by itself, before any
 * interaction, e.g. "occupation=writer" or "genre=Comedy". side 0: user
 * features, 1: item features. fl_model_n_side_features is 0 for other kinds,
 * for a side trained without a features file, and for item features of files
 * written before their weights were kept; fl_model_side_feature returns
 * feature j's name (NULL when j is out of range) and its weight in *weight. */
FL_API uint32_t fl_model_n_side_features(const fl_model *m, int side);
FL_API const char *fl_model_side_feature(const fl_model *m, int side, uint32_t j, float *weight);

typedef struct fl_metrics {
    size_t n;               /* ratings scored */
    size_t n_unknown_users; /* ratings whose user the model never saw */
    size_t n_unknown_items; /* ratings whose item the model never saw (user known) */
    size_t n_skipped;       /* left out by FL_UNKNOWN_SKIP */
    double rmse, mae, mse;
} fl_metrics;

/* Rating error; FL_ERR_USAGE for ials and bpr models, which rate nothing. */
FL_API fl_status fl_evaluate(const fl_model *m, const fl_dataset *d, fl_unknown_policy pol,
                      fl_metrics *out, fl_error *err);

/* One entry of a top-n list (fl_recommend, fl_similar). Lists come best
 * first: by `raw`, highest first; items whose raw scores are exactly equal
 * follow the order of their raw ids by fl_id_compare, so a list never
 * depends on the order in which the items were first seen.
 *   fl_recommend: `score` is the predicted rating as fl_predict gives it
 *   (clipped to the training ratings' range); `raw` is that prediction
 *   before the clip. Many items can clip to the top of the scale: `raw`
 *   keeps the model's preference among them.
 *   fl_similar: both are the cosine. */
typedef struct fl_scored {
    uint32_t index;         /* the model's dense item index */
    float score;
    float raw;
} fl_scored;

/* The order of raw ids in top-n lists: ids of decimal digits only come
 * first, by numeric value ("9" before "10"; equal values by their digits,
 * "07" before "7"), then every other id bytewise (strcmp). Returns <0, 0
 * or >0 like strcmp. */
FL_API int fl_id_compare(const char *a, const char *b);

/* Top-n items for user_id by predicted rating (see fl_scored), excluding the items the user
 * rated in training. Writes min(n, available) entries best first. */
FL_API fl_status fl_recommend(const fl_model *m, const char *user_id, size_t n, fl_scored *out,
                       size_t *n_out, fl_error *err);
/* Like fl_recommend, but the items the user rated in training compete too. */
FL_API fl_status fl_recommend_including_seen(const fl_model *m, const char *user_id, size_t n,
                                             fl_scored *out, size_t *n_out, fl_error *err);
/* Items nearest to item_id by cosine of their factor vectors (dot/biased),
 * or of their embeddings (nn). */
FL_API fl_status fl_similar(const fl_model *m, const char *item_id, size_t n, fl_scored *out,
                     size_t *n_out, fl_error *err);

/* Ranking metrics (top-k lists scored against held-out items). For each
 * user of test the model knows, every item the model knows and the user did
 * not rate in training is ranked as fl_recommend ranks it (unclipped score,
 * exact ties by fl_id_compare); the user's relevant items are their test
 * items (ratings >= relevant_min), less items the model never saw and items
 * the user rated in training, which no list can hold. Over the users with
 * at least one relevant item, with hits the relevant items among the top k
 * and R the number of relevant items:
 *   precision@k = hits / k           recall@k = hits / R
 *   NDCG@k      = sum over hits at place j (1-based) of 1/log2(j+1),
 *                 divided by the same sum for places 1..min(k, R)
 *   MAP@k       = sum over hits at place j of (hits in places 1..j) / j,
 *                 divided by min(k, R)
 *   hit rate    = share of users with at least one hit
 * each a mean over those users; coverage is the share of the model's items
 * that appear in at least one of their lists. */
typedef struct fl_rank_opts {
    int k;               /* list length (default 10) */
    float relevant_min;  /* relevant: test rating >= this; -INFINITY (default): all */
    int n_threads;       /* 0 (default): all cores; the threads are joined before return */
} fl_rank_opts;

typedef struct fl_rank_metrics {
    int k;
    size_t n_users;          /* users the means are over (>= 1 relevant item) */
    size_t n_unknown_users;  /* test users the model never saw (left out) */
    size_t n_unknown_items;  /* test ratings of items the model never saw (left out) */
    size_t n_seen;           /* test ratings of items rated in training too (left out) */
    size_t n_relevant;       /* relevant (user, item) pairs over all users */
    double precision_at_k, recall_at_k, ndcg_at_k, map_at_k, hit_rate, coverage;
} fl_rank_metrics;

FL_API void fl_rank_opts_default(fl_rank_opts *o);
/* The sums are made in fixed parts added in a fixed order: the same bits for
 * any thread count. Runs o->n_threads threads of its own (like fl_train). */
FL_API fl_status fl_evaluate_ranking(const fl_model *m, const fl_dataset *test,
                                     const fl_rank_opts *o, fl_rank_metrics *out, fl_error *err);

/* ---------------------------------------------------------------- new users */

/* How many floats the factors buffer of fl_fold_in must hold for this model
 * (n_factors for the matrix-factorization kinds; a kind whose folded user is
 * more than one factor row may need more). Size the buffer with this. */
FL_API size_t fl_model_fold_in_floats(const fl_model *m);
/* Fold-in: factors (fl_model_fold_in_floats floats) and bias for a user the model never
 * saw, from n of their ratings (item ids and values), with the items held
 * fixed: the exact minimiser of a ridge regression for this user alone (one
 * row of ALS), shrunk towards zero as strongly as the model says a user's
 * factors and bias vary against the noise of a rating: lambda = s2 / v with
 * v the mean square of the trained users' factors (or biases) and s2 the
 * training loss per rating (data MSE + penalty) of the epoch kept. A model
 * file without a training history uses the training regulariser of a user
 * with n ratings instead. Dot and biased models without a y-range (others:
 * FL_ERR_USAGE). Items the model
 * does not know: FL_ERR_UNKNOWN_ID, or left out with FL_UNKNOWN_SKIP;
 * *n_used counts the ratings used (0: factors and bias are zero). bias may
 * be NULL for a dot model. */
FL_API fl_status fl_fold_in(const fl_model *m, const char *const *item_ids, const float *ratings,
                            size_t n, fl_unknown_policy pol, float *factors, float *bias,
                            size_t *n_used, fl_error *err);
/* The predicted rating of model item index i for a folded-in user, computed
 * and clipped as fl_predict_index does for a trained one. */
FL_API float fl_predict_folded(const fl_model *m, const float *factors, float bias, uint32_t i);
/* Top-n items for a folded-in user (fl_fold_in's factors and bias), ranked
 * and scored as fl_recommend ranks a trained user's (see fl_scored), leaving
 * out the n_rated items of rated_ids (the ratings the user was folded in
 * from; ids the model does not know are ignored). Writes min(n, available)
 * entries best first. Dot and biased models without a y-range (others:
 * FL_ERR_USAGE); bias is ignored for a dot model. */
FL_API fl_status fl_recommend_folded(const fl_model *m, const float *factors, float bias,
                                     const char *const *rated_ids, size_t n_rated, size_t n,
                                     fl_scored *out, size_t *n_out, fl_error *err);

/* How a top-n search runs: fl_recommend_with and fl_recommend_folded_with
 * (the calls above are these with the defaults). Every setting but
 * exclude_seen leaves the list as it is, bit for bit: only the time taken
 * changes. */
typedef struct fl_recommend_opts {
    int exclude_seen; /* 1 (default): leave out the items the user rated (in training, or
                         the ratings a folded-in user was made from); 0: they compete too */
    int n_threads;    /* threads scanning the catalogue: 1 (default) the caller's alone, 0
                         all cores; started and joined within the call. A catalogue is not
                         split below 65536 items per thread */
    int full_scan;    /* 1: score every item from its float factors even when the model has
                         a compact scan index (below); the reference it is tested against.
                         0 (default): use the index when the model has one */
} fl_recommend_opts;

FL_API void fl_recommend_opts_default(fl_recommend_opts *o);
/* fl_recommend (o->exclude_seen 1) or fl_recommend_including_seen (0), with
 * o's threads and scan; o NULL: the defaults. */
FL_API fl_status fl_recommend_with(const fl_model *m, const char *user_id,
                                   const fl_recommend_opts *o, size_t n, fl_scored *out,
                                   size_t *n_out, fl_error *err);
/* fl_recommend_folded with o's threads and scan; o->exclude_seen 0 lets the
 * rated items compete too. */
FL_API fl_status fl_recommend_folded_with(const fl_model *m, const float *factors, float bias,
                                          const char *const *rated_ids, size_t n_rated,
                                          const fl_recommend_opts *o, size_t n, fl_scored *out,
                                          size_t *n_out, fl_error *err);
/* The compact scan index: fl_model_load builds it for a dot, biased, ials or
 * bpr model without a y-range, of at least 1024 items and at most 256
 * factors: each item's factors as 8-bit codes with a scale per item, and its
 * bias (k + 8 bytes an item, where the float factors take 4k), in the heap,
 * beside the mapped file. A top-n search scans it for an upper bound of
 * every item's score, a bound that covers every quantisation and rounding
 * error, and scores exactly, from the float factors, only the items whose
 * bound reaches the n-th best score found so far: the list is the one a
 * scan of the float factors gives, with a fraction of the bytes read. The
 * heap bytes it holds, or 0 when the model has none (a model trained in this
 * process has none; save and load it for one). */
FL_API size_t fl_model_scan_index_bytes(const fl_model *m);

/* The cold-start protocol: how well a model predicts users it never saw
 * from their first few ratings. For each user of d whom the model does not
 * know, the first n_fold of their ratings in d's order (file order) are
 * folded in (fl_fold_in) and each of their other ratings is predicted by
 * fl_predict_folded and, on exactly the same ratings, by the bias-only
 * fallback (fl_predict's FL_UNKNOWN_MEAN: the global offset plus the item's
 * bias). Users the model knows and new users with n_fold ratings or fewer
 * are left out and counted; ratings of items the model never saw inform no
 * fold-in and are not scored (counted). Kinds fl_fold_in refuses:
 * FL_ERR_USAGE; no rating to score: FL_ERR_DATA. Runs on the caller's
 * thread; the sums go in d's user order, so the result is the same bits for
 * the same model and data. */
typedef struct fl_fold_in_metrics {
    size_t n_fold;          /* ratings folded in per user (the n_fold asked for) */
    size_t n;               /* ratings scored */
    size_t n_users;         /* new users folded in and scored */
    size_t n_known_users;   /* users of d the model knows (left out) */
    size_t n_short_users;   /* new users with n_fold ratings or fewer (left out) */
    size_t n_unknown_items; /* ratings of items the model never saw (not used) */
    double rmse, mae;                   /* the fold-in's predictions */
    double rmse_baseline, mae_baseline; /* the bias-only fallback's, same ratings */
} fl_fold_in_metrics;

FL_API fl_status fl_evaluate_fold_in(const fl_model *m, const fl_dataset *d, size_t n_fold,
                                     fl_fold_in_metrics *out, fl_error *err);

/* A new user from user side features alone (fm models trained with
 * --user-features): factors (fl_model_fold_in_floats floats) and bias to
 * use with fl_predict_folded and fl_recommend_folded. features are names as
 * the features file gave them ("gender=F", "occupation=writer"); u.user's
 * raw "age=25" and "zip=94043" are bucketed as its reader does. values may
 * be NULL (all 1). Unknown names: FL_ERR_UNKNOWN_ID, or skipped with
 * FL_UNKNOWN_SKIP (*n_used counts the names used; with none, the user is the
 * average new user). Other kinds: FL_ERR_USAGE. */
FL_API fl_status fl_user_from_features(const fl_model *m, const char *const *features,
                                       const float *values, size_t n, fl_unknown_policy pol,
                                       float *factors, float *bias, size_t *n_used,
                                       fl_error *err);

/* ---------------------------------------------------------------- model files */

/* safetensors container; see docs/model-format.md. Written atomically
 * (temp file + fsync + rename); a checksum covers header and payload. */
FL_API fl_status fl_model_save(const fl_model *m, const char *path, fl_error *err);
/* fl_model_save telling progress now and then (every few MiB, from the
 * calling thread): bytes done of the total, which is twice the file's size
 * (the file is hashed, then written). Nonzero from progress stops the save
 * with FL_ERR_CANCELLED; no file is written and an existing one is left as
 * it was. progress may be NULL. */
FL_API fl_status fl_model_save_progress(const fl_model *m, const char *path,
                                        int (*progress)(void *ctx, uint64_t done, uint64_t total),
                                        void *ctx, fl_error *err);
/* Maps the file read-only and verifies it; refuses corrupt or truncated files
 * with FL_ERR_MODEL_FILE. */
FL_API fl_status fl_model_load(const char *path, fl_model **out, fl_error *err);

/* ---------------------------------------------------------------- datasets on disk */

typedef struct fl_download_opts {
    const char *cache_dir;  /* NULL: $XDG_CACHE_HOME/factorlens or ~/.cache/factorlens */
    const char *base_url;   /* NULL: https://files.grouplens.org/datasets/movielens */
    int (*progress)(void *ctx, double done_bytes, double total_bytes);
    void *ctx;
    long timeout_seconds;   /* 0: 60 */
} fl_download_opts;

/* Names fl_fetch knows ("ml-100k", "ml-latest-small", ...). NULL-terminated. */
FL_API const char *const *fl_dataset_names(void);
/* Makes dataset name available locally and writes its directory into dir.
 * Looks in $FACTORLENS_DATA, then the cache, then downloads, verifies
 * SHA-256 and unpacks atomically. */
FL_API fl_status fl_fetch(const char *name, const fl_download_opts *o, char *dir, size_t dir_len,
                   fl_error *err);

/* ---------------------------------------------------------------- training over processes */

/* How the processes of a partitioned training talk: two collectives every
 * process calls with the same sequence of arguments' shapes. The library
 * holds no transport of its own; the factorlens command passes one over MPI
 * (src/mpi), and fl_comm_self is the one-process case, which needs nothing.
 * Byte counts are per process, in rank order; data from or to each process
 * lies packed in rank order in the buffers. Each returns FL_OK or fills err. */
typedef struct fl_comm {
    int rank, size;
    void *ctx;
    /* Every process receives every process's send (counts[r] bytes from r). */
    fl_status (*allgatherv)(void *ctx, const void *send, size_t n, void *recv,
                            const size_t *counts, fl_error *err);
    /* send_counts[r] bytes go to process r, recv_counts[r] come from it. */
    fl_status (*alltoallv)(void *ctx, const void *send, const size_t *send_counts, void *recv,
                           const size_t *recv_counts, fl_error *err);
} fl_comm;

/* The one-process transport: rank 0 of 1, collectives are copies. */
FL_API void fl_comm_self(fl_comm *c);

/* What a partitioned training moved between processes, counted in the
 * library (bytes handed to the transport for other processes; a process's
 * share to itself is not counted). Summed over all processes. */
typedef struct fl_dist_stats {
    uint64_t setup_bytes;     /* reading: ids, ratings to their owners, exchange plans */
    uint64_t epoch_bytes;     /* the last epoch (factor rows, reductions) */
    uint64_t model_bytes;     /* gathering the model on process 0 */
    uint64_t predicted_epoch_bytes; /* the communication model's figure (docs/capacity.md) */
    uint32_t n_users, n_items;       /* global */
    size_t n_ratings;                /* global, training */
    uint64_t max_rank_ratings;       /* the most ratings one process holds (by user or by item) */
    size_t n_test;                   /* global test ratings */
    size_t n_unknown_users;          /* of them: user not in training (last epoch) */
    size_t n_unknown_items;          /* of them: user known, item not */
    double imbalance;                /* max_rank_ratings over the mean (n_ratings / processes) */
    /* SGD: the sum over sub-epochs of the largest block updated in it, over
     * the mean n_ratings / processes (1: every sub-epoch's blocks equal; a
     * sub-epoch waits for its largest); 0 for ALS. */
    double stratum_imbalance;
} fl_dist_stats;

typedef struct fl_dist_opts {
    const char *ratings;         /* one plain ratings file: each process parses its byte range;
                                    or a directory written by fl_shard: each reads its parts */
    const char *test;            /* or NULL; read the same way */
    const fl_read_opts *read;    /* for both; NULL: defaults */
    const char *checkpoint_dir;  /* NULL: no checkpoints */
    int checkpoint_every;        /* epochs between checkpoints (0: 1) */
    int resume;                  /* 1: continue from checkpoint_dir's last complete one */
    fl_dist_stats *stats;        /* filled as training goes (before each epoch_end hook); may be NULL */
} fl_dist_opts;

/* ALS or SGD (dot or biased) over the processes of comm, each holding a
 * block of users and a block of items (blocks of about equal ratings) and
 * only its share of the ratings. ALS: each half-step exchanges just the
 * factor rows a process's ratings use (all-to-all). SGD: DSGD strata
 * (Gemulla et al. 2011): an epoch is N sub-epochs; in sub-epoch s process
 * p updates the ratings of its users and of item block (p + s) mod N with
 * the SGD kernel, then passes that item block (rows and step sums) to
 * process p - 1; the model is fixed by the seed, the process count and the
 * thread count, and is not the one-process model (the order of updates
 * differs) but as accurate. Every process calls it with the same arguments; hooks run on
 * every process with the same reports (return values are agreed: any
 * process stopping stops all). Process 0 gets the model (the others *out =
 * NULL), the same one fl_train trains single-process from the same file, up
 * to the order of floating-point sums in the reports. With a checkpoint
 * directory each process writes its state every checkpoint_every epochs
 * (atomically, checksummed, with a manifest naming the epoch, seed, process
 * count and a fingerprint of the data); resume continues from the last
 * complete one and ends with the same model as an uninterrupted run. */
FL_API fl_status fl_train_distributed(const fl_comm *comm, const fl_dist_opts *o,
                                      const fl_params *p, const fl_train_hooks *hooks,
                                      fl_model **out, fl_train_result *result, fl_error *err);

/* A ratings file cut into parts for a distributed run (factorlens shard):
 * dir gets parts part-NNNNN-of-NNNNN.txt (.txt.gz with gzip), each a
 * ratings file in the source's format holding consecutive lines of it, and
 * shards.txt listing each part's rating count, size and SHA-256; every file
 * written atomically, the list last. fl_train_distributed takes the
 * directory as its ratings (or test): process r of P reads only parts
 * [N*r/P, N*(r+1)/P), checked against the list, and trains the model the
 * source file itself gives. */
typedef struct fl_shard_opts {
    const char *ratings;      /* the source: a plain ratings file */
    const fl_read_opts *read; /* NULL: defaults */
    int parts;                /* N >= 1 */
    const char *dir;          /* created if missing */
    int gzip;                 /* 1: gzip-compressed parts (less disk and network file system traffic) */
} fl_shard_opts;
/* *n_ratings (may be NULL) gets the ratings written. */
FL_API fl_status fl_shard(const fl_shard_opts *o, size_t *n_ratings, fl_error *err);

/* ALS (dot or biased) on ratings that need not fit in memory: the file is
 * read in parts, converted once into binary row files in work_dir (by user
 * and by item, 8 bytes a rating each), and each half-step streams them
 * block by block, at most about memory_bytes of ratings in memory at a
 * time; the factors, the id maps and the row offsets stay in memory. The
 * model is the one fl_train trains from the same file (the same solves over
 * the same ratings in the same order); the test set is read whole. The row
 * files are removed when training ends. */
typedef struct fl_ooc_opts {
    const char *ratings;        /* one plain ratings file */
    const char *test;           /* or NULL */
    const fl_read_opts *read;   /* for both; NULL: defaults */
    const char *work_dir;       /* where the row files go */
    double memory_bytes;        /* ratings in memory at a time (0: 256 MiB) */
} fl_ooc_opts;
FL_API fl_status fl_train_out_of_core(const fl_ooc_opts *o, const fl_params *p,
                                      const fl_train_hooks *hooks, fl_model **out,
                                      fl_train_result *result, fl_error *err);

#ifdef __cplusplus
}
#endif
#endif
