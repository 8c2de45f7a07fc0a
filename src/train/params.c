/* params.c — hyper-parameter defaults, validation and names.
 * Why each default is what it is: docs/defaults.md. */
#include "factorlens.h"
#include "models/model.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Implicit kinds' defaults (docs/defaults.md). */
#define IALS_FACTORS 64
#define IALS_REG 30.0f
#define IALS_ALPHA 1.0f
#define IALS_EPOCHS 10
#define BPR_FACTORS 64
#define BPR_LR 0.02f
#define BPR_REG 0.02f
#define BPR_EPOCHS 100
/* fm and svdpp (mcmc): docs/defaults.md. */
#define FM_FACTORS 16
#define FM_SAMPLES 200
#define FM_BURN_IN 20
#define FM_RANK 256
#define FM_ALS_REG 30.0f      /* plain L2 per feature vector (libFM's ALS), not sqrt(n)-weighted */
#define FM_ALS_REG_BIAS 10.0f
/* sgd: per-rating L2 on each feature vector the rating touches. */
#define FM_SGD_LR 0.03f
#define FM_SGD_REG 0.1f
#define FM_SGD_REG_BIAS 0.01f
#define FM_SGD_EPOCHS 30

/* What depends on the solver alone: its step size, penalties and epochs. */
static void solver_defaults(fl_params *p, fl_solver solver) {
    if (solver == FL_SOLVER_DEFAULT) solver = FL_SOLVER_SGD;
    p->solver = solver;
    switch (solver) {
    case FL_SOLVER_SGD:
        p->lr = 0.05f;
        p->reg_factors = 0.9f;
        p->reg_bias = 0.5f;
        p->epochs = 20;
        break;
    case FL_SOLVER_ADAM:
        p->lr = 0.005f;
        p->reg_factors = 1.0f;
        p->reg_bias = 0.5f;
        p->epochs = 10;
        break;
    case FL_SOLVER_ALS:
        p->lr = 0.0f;
        p->reg_factors = 1.3f;
        p->reg_bias = 0.5f;
        p->epochs = 10;
        break;
    case FL_SOLVER_MCMC:
        /* Sampling tunes no step or penalty; reg_* serve fold-in only (the
         * ridge towards the average user, docs/defaults.md). */
        p->lr = 0.0f;
        p->reg_factors = FL_FM_FOLD_IN_REG;
        p->reg_bias = FL_FM_FOLD_IN_REG_BIAS;
        p->epochs = FM_SAMPLES;
        break;
    }
}

void fl_params_init(fl_params *p, fl_model_kind kind, fl_solver solver) {
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->n_factors = 50;
    p->init_std = 0.01f;
    p->seed = 42;
    p->n_threads = 0;
    p->batch_size = 256;
    p->patience = 3;
    p->y_lo = p->y_hi = 0.0f;
    p->alpha = 0.0f;
    p->positive_min = -FLT_MAX;
    if (solver == FL_SOLVER_DEFAULT)
        solver = kind == FL_MODEL_NN                                ? FL_SOLVER_ADAM
                 : kind == FL_MODEL_IALS                            ? FL_SOLVER_ALS
                 : kind == FL_MODEL_FM || kind == FL_MODEL_SVDPP ? FL_SOLVER_MCMC
                                                                    : FL_SOLVER_SGD;
    solver_defaults(p, solver);
    /* The implicit kinds have one solver each and their own scales: see
     * docs/defaults.md for how these were chosen. */
    if (kind == FL_MODEL_IALS) {
        p->n_factors = IALS_FACTORS;
        p->reg_factors = IALS_REG;
        p->alpha = IALS_ALPHA;
        p->epochs = IALS_EPOCHS;
        p->reg_bias = 0.0f;
        p->init_std = 0.01f;
    } else if (kind == FL_MODEL_BPR) {
        p->n_factors = BPR_FACTORS;
        p->lr = BPR_LR;
        p->reg_factors = BPR_REG;
        p->epochs = BPR_EPOCHS;
        p->reg_bias = 0.0f;
        p->init_std = 0.1f;
    }
    p->burn_in = FM_BURN_IN;
    p->ensemble_rank = FM_RANK;
    p->implicit = 0;
    p->time_bins = 0;
    if (kind == FL_MODEL_FM || kind == FL_MODEL_SVDPP) {
        p->n_factors = FM_FACTORS;
        p->init_std = 0.1f;
        if (kind == FL_MODEL_SVDPP) p->implicit = FL_IMPLICIT_USER_ITEMS;
        if (solver == FL_SOLVER_ALS) p->reg_factors = FM_ALS_REG, p->reg_bias = FM_ALS_REG_BIAS;
        if (solver == FL_SOLVER_SGD) {
            p->lr = FM_SGD_LR, p->reg_factors = FM_SGD_REG, p->reg_bias = FM_SGD_REG_BIAS;
            p->epochs = FM_SGD_EPOCHS;
        }
    }
    if (kind == FL_MODEL_NN) {
        p->n_layers = 2;
        p->layers[0] = 100;
        p->layers[1] = 50;
        p->dropout[0] = 0.5f;
        p->dropout[1] = 0.3f;
        p->dropout[2] = 0.5f;
        p->y_auto = 1;
        p->reg_factors = 5.0f;
        p->epochs = 5;
    }
}

void fl_params_default(fl_params *p, fl_model_kind kind) { fl_params_init(p, kind, FL_SOLVER_DEFAULT); }

void fl_params_default_solver(fl_params *p, fl_solver solver) { solver_defaults(p, solver); }

int fl_model_kind_implicit(fl_model_kind k) { return k == FL_MODEL_IALS || k == FL_MODEL_BPR; }

const char *fl_params_check(const fl_params *p) {
    if (p->kind < FL_MODEL_DOT || p->kind > FL_MODEL_SVDPP)
        return "model must be dot, biased, nn, ials, bpr, fm or svdpp";
    if (p->solver < FL_SOLVER_SGD || p->solver > FL_SOLVER_MCMC)
        return "solver must be sgd, adam, als or mcmc";
    const int fm = p->kind == FL_MODEL_FM || p->kind == FL_MODEL_SVDPP;
    if (fm && p->solver == FL_SOLVER_ADAM) return "fm and svdpp train with --solver mcmc, als or sgd";
    if (!fm && p->solver == FL_SOLVER_MCMC) return "--solver mcmc trains fm and svdpp models only";
    if (fm) {
        if (p->y_lo < p->y_hi || p->y_auto) return "fm and svdpp take no --y-range";
        if (p->valid_fraction > 0.0)
            return "fm and svdpp take no --valid: sampling has no step or penalty to stop early";
        if (p->burn_in < 0 || (p->solver == FL_SOLVER_MCMC && p->burn_in >= p->epochs))
            return "burn-in must be at least 0 and below the number of samples (--epochs)";
        if (p->ensemble_rank < 1 || p->ensemble_rank > 4096)
            return "ensemble-rank must be between 1 and 4096";
        if (p->implicit < 0 || p->implicit > (FL_IMPLICIT_USER_ITEMS | FL_IMPLICIT_ITEM_USERS))
            return "implicit must be a combination of FL_IMPLICIT_USER_ITEMS and FL_IMPLICIT_ITEM_USERS";
        if (p->time_bins < 0 || p->time_bins > 10000) return "time-bins must be between 0 and 10000";
    } else if (p->time_bins != 0) {
        return "--time-bins is for fm and svdpp models";
    }
    if (p->n_factors < 1 || p->n_factors > 4096) return "factors must be between 1 and 4096";
    if (p->epochs < 1 || p->epochs > 100000) return "epochs must be between 1 and 100000";
    if (!(p->lr >= 0.0f) || !isfinite(p->lr) ||
        (p->solver != FL_SOLVER_ALS && p->solver != FL_SOLVER_MCMC && p->lr == 0.0f))
        return "learning rate must be a positive number";
    if (!(p->reg_factors >= 0.0f) || !isfinite(p->reg_factors) || !(p->reg_bias >= 0.0f) ||
        !isfinite(p->reg_bias))
        return "regularisation must be a non-negative number";
    if (!(p->init_std >= 0.0f) || !isfinite(p->init_std)) return "init std must be >= 0";
    if (!isfinite(p->y_lo) || !isfinite(p->y_hi)) return "y-range must be finite";
    if (p->y_auto != 0 && p->y_auto != 1) return "y_auto must be 0 or 1";
    if (p->batch_size < 1 || p->batch_size > (1 << 20)) return "batch size must be between 1 and 1048576";
    if (p->n_threads < 0 || p->n_threads > 1024) return "threads must be between 0 (all cores) and 1024";
    if (!(p->valid_fraction >= 0.0 && p->valid_fraction < 1.0))
        return "validation fraction must be in [0, 1)";
    if (p->patience < 1) return "patience must be at least 1";
    if (p->kind == FL_MODEL_NN) {
        if (p->solver != FL_SOLVER_ADAM) return "the nn model trains with --solver adam only";
        if (p->n_layers < 0 || p->n_layers > FL_MAX_LAYERS) return "nn: between 0 and 8 hidden layers";
        for (int l = 0; l < p->n_layers; l++)
            if (p->layers[l] < 1 || p->layers[l] > 4096) return "nn: layer widths must be 1..4096";
        for (int l = 0; l <= p->n_layers; l++)
            if (!(p->dropout[l] >= 0.0f && p->dropout[l] < 1.0f)) return "nn: dropout must be in [0, 1)";
    }
    if (p->kind == FL_MODEL_IALS && p->solver != FL_SOLVER_ALS)
        return "the ials model trains with --solver als only";
    if (p->kind == FL_MODEL_BPR && p->solver != FL_SOLVER_SGD)
        return "the bpr model trains with --solver sgd only";
    if (fl_model_kind_implicit(p->kind)) {
        if (p->y_lo < p->y_hi || p->y_auto)
            return "ials and bpr score preferences, not ratings: they take no --y-range";
        if (p->valid_fraction > 0.0)
            return "ials and bpr take no --valid: early stopping watches a rating error";
    }
    if (!(p->alpha >= 0.0f) || !isfinite(p->alpha)) return "alpha must be a non-negative number";
    if (isnan(p->positive_min) || isinf(p->positive_min)) return "positive-min must be finite";
    if (p->solver == FL_SOLVER_ALS && (p->y_lo < p->y_hi || p->y_auto))
        return "als solves the unsquashed model; drop --y-range or use sgd/adam";
    return NULL;
}

const char *fl_model_kind_name(fl_model_kind k) {
    static const char *names[] = {"dot", "biased", "nn", "ials", "bpr", "fm", "svdpp"};
    return (k >= FL_MODEL_DOT && k <= FL_MODEL_SVDPP) ? names[k] : "?";
}

const char *fl_solver_name(fl_solver s) {
    static const char *names[] = {"sgd", "adam", "als", "mcmc"};
    return (s >= FL_SOLVER_SGD && s <= FL_SOLVER_MCMC) ? names[s] : "?";
}

int fl_model_kind_parse(const char *s, fl_model_kind *out) {
    for (int k = FL_MODEL_DOT; k <= FL_MODEL_SVDPP; k++)
        if (strcmp(s, fl_model_kind_name((fl_model_kind)k)) == 0) return *out = (fl_model_kind)k, 1;
    return 0;
}

int fl_solver_parse(const char *s, fl_solver *out) {
    for (int k = FL_SOLVER_SGD; k <= FL_SOLVER_MCMC; k++)
        if (strcmp(s, fl_solver_name((fl_solver)k)) == 0) return *out = (fl_solver)k, 1;
    return 0;
}
