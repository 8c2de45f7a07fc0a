/* sgd_simd.h — the fast SGD kernel: one block of ratings through the update
 * of sgd_kernel.h, vectorised over the factor rows, with every per-row scalar
 * the update needs (bias, AdaGrad sums, regularisation share) packed into one
 * 16-byte record so an update touches 2 factor rows + 2 records, not ten
 * scattered arrays.
 *
 * Compiled for baseline x86-64 (SSE2), AVX2+FMA (with and without PREFETCHW)
 * and AVX-512; fl_sgd_pick chooses at run time, so one binary runs everywhere
 * and uses what the CPU has. The instruction sets differ only in summation
 * order within a row (last-bit differences; the two AVX2 builds give the same
 * bits); a given machine always takes the same path, so a seed still fixes
 * the model there. */
#ifndef FL_TRAIN_SGD_SIMD_H
#define FL_TRAIN_SGD_SIMD_H

#include <stddef.h>
#include <stdint.h>

typedef struct fl_sgd_row {
    float bias;   /* the row's bias (biased model) */
    float G;      /* AdaGrad sum of the factor row's mean squared gradient, starts at 1 */
    float Gb;     /* AdaGrad sum of the bias's squared gradient, starts at 1 */
    float share;  /* 1/sqrt(n): this row's share of its factor penalty per rating */
} fl_sgd_row;

typedef struct fl_sgd_job {
    float *P, *Q;            /* the block's first factor rows, `stride` floats apart, 64-byte aligned */
    int stride;              /* multiple of 16; padding entries are zero and stay zero */
    int k;                   /* real factors (for the mean squared gradient) */
    fl_sgd_row *urow, *irow; /* the block's first user / item records */
    const uint16_t *u, *i;   /* the block's ratings: rows of P / urow and Q / irow */
    const float *r;
    size_t n;
    float offset, lr, reg_f, reg_b;
    int biased;
    float y_lo, y_hi;        /* squashing when y_lo < y_hi */
} fl_sgd_job;

typedef void (*fl_sgd_kernel)(const fl_sgd_job *job);

void fl_sgd_kernel_generic(const fl_sgd_job *job);
#if defined(__x86_64__)
void fl_sgd_kernel_avx2(const fl_sgd_job *job);
void fl_sgd_kernel_avx2w(const fl_sgd_job *job);  /* the same, prefetching for writing (PREFETCHW) */
void fl_sgd_kernel_avx512(const fl_sgd_job *job); /* needs PREFETCHW too, as every AVX-512 CPU has */
#endif
/* Whether the CPU has PREFETCHW (CPUID 8000_0001h, ECX bit 8). */
int fl_cpu_has_prefetchw(void);
/* The best kernel this CPU runs, and its name ("avx512", "avx2+fma+prefetchw", "avx2+fma",
 * "generic"). */
fl_sgd_kernel fl_sgd_pick(const char **name);

#endif
