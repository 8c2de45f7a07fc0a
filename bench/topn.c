/* topn.c — times the library's top-n search on a model file's catalogue
 * (fl_recommend_with), without HTTP: p50 and p99 over random users of the
 * float scan (every item's float factors) and of the compact scan index, on
 * 1 and on 2 threads; checks that all four give the same lists.
 * Usage: fl-bench-topn MODEL [--users N] [--n 10] [--seed S]
 * e.g.   fl-bench-catalog --items 1000000 --factors 32 --out big.flm && fl-bench-topn big.flm */
#include "factorlens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-')
        return fprintf(stderr, "usage: fl-bench-topn MODEL [--users N] [--n 10] [--seed S]\n"), 2;
    unsigned long n_users = 2000, n = 10, seed = 1;
    for (int k = 2; k + 1 < argc; k += 2) {
        if (!strcmp(argv[k], "--users")) n_users = strtoul(argv[k + 1], NULL, 10);
        else if (!strcmp(argv[k], "--n")) n = strtoul(argv[k + 1], NULL, 10);
        else if (!strcmp(argv[k], "--seed")) seed = strtoul(argv[k + 1], NULL, 10);
        else return fprintf(stderr, "fl-bench-topn: unknown option %s\n", argv[k]), 2;
    }
    if (!n_users || !n) return fprintf(stderr, "fl-bench-topn: --users and --n must be positive\n"), 2;
    fl_model *m = NULL;
    fl_error err = {0};
    double t0 = now();
    if (fl_model_load(argv[1], &m, &err) != FL_OK) return fprintf(stderr, "fl-bench-topn: %s\n", err.msg), 1;
    double load = now() - t0;
    fl_model_info info;
    fl_model_get_info(m, &info);
    printf("%s: %u items, %u users, %d factors, %s; loaded in %.3f s; scan index %.1f MiB\n", argv[1],
           info.n_items, info.n_users, info.params.n_factors, fl_model_kind_name(info.kind), load,
           (double)fl_model_scan_index_bytes(m) / (1 << 20));
    const fl_idmap *ids = fl_model_user_ids(m);
    uint32_t *users = malloc(n_users * sizeof *users);
    srand((unsigned)seed);
    for (unsigned long k = 0; k < n_users; k++) users[k] = (uint32_t)((unsigned)rand() % info.n_users);
    fl_scored *ref = malloc(n_users * n * sizeof *ref), *out = malloc(n * sizeof *out);
    double *t = malloc(n_users * sizeof *t);
    printf("\nfl_recommend_with, n=%lu, %lu random users (rated items left out)\n\n", n, n_users);
    printf("| scan | threads | p50 ms | p99 ms | mean ms |\n|---|---|---|---|---|\n");
    int mismatch = 0;
    for (int full = 1; full >= 0; full--)
        for (int threads = 1; threads <= 2; threads++) {
            fl_recommend_opts o;
            fl_recommend_opts_default(&o);
            o.full_scan = full, o.n_threads = threads;
            double sum = 0;
            for (unsigned long k = 0; k < n_users; k++) {
                size_t got = 0;
                const char *user = fl_idmap_name(ids, users[k]);
                double s = now();
                if (fl_recommend_with(m, user, &o, n, out, &got, &err) != FL_OK)
                    return fprintf(stderr, "fl-bench-topn: %s\n", err.msg), 1;
                t[k] = 1e3 * (now() - s);
                sum += t[k];
                fl_scored *r = ref + k * n;
                if (full && threads == 1) memcpy(r, out, got * sizeof *out);
                else if (memcmp(r, out, got * sizeof *out) != 0) mismatch++;
            }
            qsort(t, n_users, sizeof *t, by_value);
            printf("| %s | %d | %.3f | %.3f | %.3f |\n", full ? "float" : (fl_model_scan_index_bytes(m) ? "compact" : "float (no index)"),
                   threads, t[n_users / 2], t[(size_t)((double)n_users * 0.99)], sum / (double)n_users);
        }
    if (mismatch) printf("\nFAIL: %d lists differ from the float scan's\n", mismatch);
    else printf("\nall lists equal the float scan's, bit for bit\n");
    free(users), free(ref), free(out), free(t);
    fl_model_free(m);
    return mismatch ? 1 : 0;
}
