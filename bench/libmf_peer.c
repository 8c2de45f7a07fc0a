/* libmf_peer.c — see libmf_peer.h. The structs mirror LIBMF 2.x's public header (mf.h)
 * with mf_float = float, mf_int = int, mf_long = long long, as in its default build. */
#include "libmf_peer.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct mf_node { int u, v; float r; } mf_node;
typedef struct mf_problem { int m, n; long long nnz; mf_node *R; } mf_problem;
typedef struct mf_parameter {
    int fun, k, nr_threads, nr_bins, nr_iters;
    float lambda_p1, lambda_p2, lambda_q1, lambda_q2, eta, alpha, c;
    bool do_nmf, quiet, copy_data;
} mf_parameter;
typedef struct mf_model mf_model; /* opaque here */

typedef struct libmf_api {
    mf_parameter (*default_param)(void);
    mf_model *(*train)(const mf_problem *, mf_parameter);
    void (*destroy)(mf_model **);
    double (*rmse)(const mf_problem *, const mf_model *);
} libmf_api;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int to_problem(const fl_dataset *d, int m, int n, mf_problem *p) {
    p->m = m, p->n = n, p->nnz = (long long)d->n_ratings;
    p->R = malloc(d->n_ratings * sizeof *p->R);
    if (!p->R) return -1;
    for (size_t x = 0; x < d->n_ratings; x++)
        p->R[x] = (mf_node){(int)d->users[x], (int)d->items[x], d->ratings[x]};
    return 0;
}

/* One timed mf_train on a fresh copy of the nodes: LIBMF shuffles and scales its input
 * in place, so every run must start from the same array. */
static double timed_train(const libmf_api *api, const mf_problem *src, mf_problem *work,
                          mf_parameter par, mf_model **model) {
    for (long long x = 0; x < src->nnz; x++) work->R[x] = src->R[x];
    double t0 = now();
    *model = api->train(work, par);
    return now() - t0;
}

int libmf_run(const char *so_path, const fl_dataset *train, const fl_dataset *test, int k,
              int threads, int epochs, libmf_result *out, char *err, size_t err_len) {
    void *h = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, err_len, "cannot load %s: %s", so_path, dlerror());
        return -1;
    }
    libmf_api api;
    /* POSIX guarantees the object-to-function pointer conversion dlsym needs. */
    *(void **)&api.default_param = dlsym(h, "mf_get_default_param");
    *(void **)&api.train = dlsym(h, "mf_train");
    *(void **)&api.destroy = dlsym(h, "mf_destroy_model");
    *(void **)&api.rmse = dlsym(h, "calc_rmse");
    if (!api.default_param || !api.train || !api.destroy || !api.rmse) {
        snprintf(err, err_len, "%s lacks LIBMF's mf_train/mf_destroy_model/calc_rmse", so_path);
        dlclose(h);
        return -1;
    }
    int m = (int)fl_idmap_size(train->user_ids), n = (int)fl_idmap_size(train->item_ids);
    mf_problem tr = {0}, te = {0}, work = {0};
    int rc = -1;
    if (to_problem(train, m, n, &tr) || to_problem(test, m, n, &te) ||
        to_problem(train, m, n, &work)) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    mf_parameter par = api.default_param();
    par.k = k, par.nr_threads = threads, par.quiet = true, par.copy_data = false;
    mf_model *model = NULL;
    par.nr_iters = 1;
    double t1 = timed_train(&api, &tr, &work, par, &model);
    if (!model) goto failed;
    api.destroy(&model);
    par.nr_iters = 1 + epochs;
    double tn = timed_train(&api, &tr, &work, par, &model);
    if (!model) goto failed;
    out->updates_per_s = (double)tr.nnz * epochs / (tn - t1);
    out->t1_s = t1, out->tn_s = tn;
    out->test_rmse = api.rmse(&te, model);
    api.destroy(&model);
    rc = 0;
    goto done;
failed:
    snprintf(err, err_len, "LIBMF's mf_train returned no model (k=%d threads=%d)", k, threads);
done:
    free(tr.R), free(te.R), free(work.R);
    dlclose(h);
    return rc;
}
