/* fm_state.h — the state fm and svdpp training works on (mcmc.c samples
 * it, fm_sgd.c takes SGD steps on it): the design by feature and by
 * entity, each feature's vector, each entity's sums, the ratings by user
 * and by item, the residuals. See mcmc.c for the model. */
#ifndef FL_TRAIN_FM_STATE_H
#define FL_TRAIN_FM_STATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fm_side {
    uint32_t n_e, n_f;          /* entities (users or items), features */
    uint64_t *f_start;          /* [n_f + 1]: feature -> its entities */
    uint32_t *f_ent;
    float *f_x;
    uint8_t *group_of;          /* [n_f] */
    int n_groups;
    double *mu, *lam;           /* [n_groups][D] hyper-parameters */
    double *V;                  /* [n_f][D] */
    double *S;                  /* [n_e][D] */
    double *A, *B, *S_old;      /* [n_e], for the dimension being drawn */
    /* sgd only: each entity's features (the design by entity, the id first). */
    uint64_t *e_start;          /* [n_e + 1] */
    uint32_t *e_feat;
    float *e_x;
} fm_side;

typedef struct gibbs {
    int k, D;
    fm_side sd[2];
    size_t n;
    uint64_t *u_start;          /* [n_users + 1] ratings by user */
    uint32_t *r_user, *r_item;
    double *y, *e;
    uint64_t *i_start;          /* [n_items + 1] */
    uint32_t *i_r;              /* rating indices (by-user order) of each item */
    double w0, alpha;
    /* Time bins (timeSVD++'s b_i,Bin(t)): nb per item, each rating's bin,
     * the per item and bin biases and their group's prior. nb 0: none. */
    int nb;
    uint32_t t_lo, t_hi;
    uint32_t *bin;              /* [n] in by-user order */
    uint32_t *last_bin;         /* [n_items] the item's latest bin with a rating */
    double *tb;                 /* [n_items][nb] */
    double tb_mu, tb_lam;
    int sampling;               /* 0: als, the conditional means with fixed priors */
    int sgd;                    /* 1: sgd epochs instead of sweeps (fm_sgd.c) */
    uint64_t seed;
    int sample, cur_side, cur_f;
} gibbs;

#endif
