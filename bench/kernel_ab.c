/* kernel_ab.c — two builds of the SGD kernel (src/train/sgd_simd.c, compiled twice
 * by kernel_ab.sh with their entry points renamed A_* and B_*) run alternately in one
 * process on one block of ratings, each on its own copy of the same rows: the ratio
 * of their rates is not disturbed by the host's drift between separate runs, and the
 * rows they leave say whether the two builds compute the same bits.
 *
 * Usage: kernel_ab USERS ITEMS K RATINGS REPS [WINDOW]
 * A block of USERS x ITEMS rows and RATINGS ratings (uniform; with WINDOW > 0 no row
 * repeats within WINDOW ratings), run REPS times by each build, in the order A B, B A,
 * A B, ... */
#include "train/sgd_simd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

fl_sgd_kernel A_sgd_pick(const char **name);
fl_sgd_kernel B_sgd_pick(const char **name);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t next(uint64_t *s) { /* xorshift64 */
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: kernel_ab USERS ITEMS K RATINGS REPS [WINDOW]\n");
        return 2;
    }
    const int nu = atoi(argv[1]), ni = atoi(argv[2]), k = atoi(argv[3]), reps = atoi(argv[5]);
    const size_t n = (size_t)atol(argv[4]);
    const int window = argc > 6 ? atoi(argv[6]) : 0;
    if (nu < 1 || nu > 65536 || ni < 1 || ni > 65536 || k < 1 || n < 1 || reps < 1 ||
        window < 0 || window >= (nu < ni ? nu : ni)) {
        fprintf(stderr, "kernel_ab: rows 1..65536, window below both row counts\n");
        return 2;
    }
    const int stride = (k + 15) / 16 * 16;
    const size_t np = (size_t)nu * stride, nq = (size_t)ni * stride;
    float *P[2], *Q[2];
    fl_sgd_row *ur[2], *ir[2];
    uint16_t *u = malloc(n * sizeof *u), *i = malloc(n * sizeof *i);
    float *r = malloc(n * sizeof *r);
    for (int v = 0; v < 2; v++) {
        P[v] = aligned_alloc(64, np * sizeof(float)), Q[v] = aligned_alloc(64, nq * sizeof(float));
        ur[v] = malloc((size_t)nu * sizeof **ur), ir[v] = malloc((size_t)ni * sizeof **ir);
        if (!P[v] || !Q[v] || !ur[v] || !ir[v]) return 1;
    }
    if (!u || !i || !r) return 1;
    uint64_t seed = 88172645463325252u;
    for (size_t x = 0; x < np; x++)
        P[0][x] = (int)(x % stride) < k ? 0.2f * ((float)(next(&seed) >> 40) / 16777216.0f - 0.5f) : 0;
    for (size_t x = 0; x < nq; x++)
        Q[0][x] = (int)(x % stride) < k ? 0.2f * ((float)(next(&seed) >> 40) / 16777216.0f - 0.5f) : 0;
    for (int x = 0; x < nu; x++) ur[0][x] = (fl_sgd_row){0.0f, 1.0f, 1.0f, 0.1f};
    for (int x = 0; x < ni; x++) ir[0][x] = (fl_sgd_row){0.0f, 1.0f, 1.0f, 0.1f};
    memcpy(P[1], P[0], np * sizeof(float)), memcpy(Q[1], Q[0], nq * sizeof(float));
    memcpy(ur[1], ur[0], (size_t)nu * sizeof **ur), memcpy(ir[1], ir[0], (size_t)ni * sizeof **ir);
    for (size_t x = 0; x < n; x++) {
        int clash;
        do {
            u[x] = (uint16_t)(next(&seed) % (uint64_t)nu), i[x] = (uint16_t)(next(&seed) % (uint64_t)ni);
            clash = 0;
            for (int b = 1; b <= window && (size_t)b <= x; b++)
                clash |= u[x - b] == u[x] || i[x - b] == i[x];
        } while (clash);
        r[x] = (float)(1 + next(&seed) % 5);
    }
    const char *name[2];
    fl_sgd_kernel kernel[2] = {A_sgd_pick(&name[0]), B_sgd_pick(&name[1])};
    double seconds[2] = {0, 0};
    for (int rep = 0; rep < reps; rep++)
        for (int w = 0; w < 2; w++) {
            const int v = rep % 2 ? 1 - w : w;
            fl_sgd_job j = {.P = P[v], .Q = Q[v], .stride = stride, .k = k, .urow = ur[v],
                            .irow = ir[v], .u = u, .i = i, .r = r, .n = n, .offset = 3.5f,
                            .lr = 0.05f, .reg_f = 0.05f, .reg_b = 0.01f, .biased = 1};
            const double t0 = now();
            kernel[v](&j);
            seconds[v] += now() - t0;
        }
    const int same = !memcmp(P[0], P[1], np * sizeof(float)) && !memcmp(Q[0], Q[1], nq * sizeof(float)) &&
                     !memcmp(ur[0], ur[1], (size_t)nu * sizeof **ur) &&
                     !memcmp(ir[0], ir[1], (size_t)ni * sizeof **ir);
    const double total = (double)n * reps;
    printf("k=%d %dx%d rows, %zu ratings x %d: A (%s) %.2f M/s  B (%s) %.2f M/s  B/A %.3f  %s bits\n",
           k, nu, ni, n, reps, name[0], total / seconds[0] / 1e6, name[1], total / seconds[1] / 1e6,
           seconds[0] / seconds[1], same ? "same" : "different");
    for (int v = 0; v < 2; v++) free(P[v]), free(Q[v]), free(ur[v]), free(ir[v]);
    free(u), free(i), free(r);
    return 0;
}
