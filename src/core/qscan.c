/* qscan.c — see qscan.h. Three versions of one block loop: baseline C, AVX2
 * (signed 8-bit products by the sign trick: |c| * sign(u, c) through
 * VPMADDUBSW, whose pair sums stay below 2 * 127 * 127 and so never
 * saturate) and AVX-512 VNNI (VPDPBUSD: the codes made unsigned by +128,
 * 128 * the user's code sum taken off at the end). Every block is read once,
 * front to back: the scan streams k + 8 bytes per item (k + 4 without
 * biases) where the float factors are 4k, and does a handful of vector
 * instructions per 16 items, so memory bandwidth bounds it. */
#include "core/qscan.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FL_QSCAN_X86 1
#endif

size_t fl_qscan_block_bytes(int groups, int has_bias) {
    return (size_t)groups * 64 + FL_QSCAN_BLOCK * sizeof(float) * (has_bias ? 2 : 1);
}

static const float *block_scale(const fl_qscan *q, const unsigned char *blk) {
    return (const float *)(const void *)(blk + (size_t)q->groups * 64);
}

size_t fl_qscan_next_base(const fl_qscan *q, size_t b0, size_t b1, float T, uint32_t *mask) {
    for (size_t b = b0; b < b1; b++) {
        const unsigned char *blk = q->blocks + b * q->block_bytes;
        const float *scale = block_scale(q, blk);
        const float *bias = q->has_bias ? scale + FL_QSCAN_BLOCK : NULL;
        uint32_t m = 0;
        for (int j = 0; j < FL_QSCAN_BLOCK; j++) {
            int32_t d = 0;
            for (int g = 0; g < q->groups; g++) {
                const int8_t *c = (const int8_t *)(blk + (size_t)g * 64 + (size_t)j * 4);
                const int8_t *u = q->user + 4 * g;
                d += c[0] * u[0] + c[1] * u[1] + c[2] * u[2] + c[3] * u[3];
            }
            const float bj = bias ? bias[j] : 0.0f;
            const float w = q->su * scale[j];
            const float a = (float)d * w + (q->user_part + bj);
            const float M = (scale[j] * q->A + fabsf(bj) * q->B) + q->K;
            if (a + M >= T) m |= 1u << j;
        }
        if (m) return *mask = m, b;
    }
    return *mask = 0, b1;
}

#ifdef FL_QSCAN_X86

__attribute__((target("avx2"))) size_t fl_qscan_next_avx2(const fl_qscan *q, size_t b0, size_t b1,
                                                           float T, uint32_t *mask) {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256 su = _mm256_set1_ps(q->su), up = _mm256_set1_ps(q->user_part),
                 A = _mm256_set1_ps(q->A), B = _mm256_set1_ps(q->B), K = _mm256_set1_ps(q->K),
                 t = _mm256_set1_ps(T), sign = _mm256_set1_ps(-0.0f);
    for (size_t b = b0; b < b1; b++) {
        const unsigned char *blk = q->blocks + b * q->block_bytes;
        __m256i acc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int g = 0; g < q->groups; g++) {
            int32_t w;
            memcpy(&w, q->user + 4 * g, sizeof w);
            const __m256i u = _mm256_set1_epi32(w);
            for (int h = 0; h < 2; h++) {
                const __m256i c = _mm256_load_si256((const __m256i *)(const void *)(blk + (size_t)g * 64 + 32 * h));
                const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(c), _mm256_sign_epi8(u, c));
                acc[h] = _mm256_add_epi32(acc[h], _mm256_madd_epi16(pairs, ones));
            }
        }
        const float *scale = block_scale(q, blk);
        uint32_t m = 0;
        for (int h = 0; h < 2; h++) {
            const __m256 s = _mm256_load_ps(scale + 8 * h);
            const __m256 bj = q->has_bias ? _mm256_load_ps(scale + FL_QSCAN_BLOCK + 8 * h)
                                          : _mm256_setzero_ps();
            const __m256 a = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[h]), _mm256_mul_ps(su, s)),
                                           _mm256_add_ps(up, bj));
            const __m256 M = _mm256_add_ps(
                _mm256_add_ps(_mm256_mul_ps(s, A), _mm256_mul_ps(_mm256_andnot_ps(sign, bj), B)), K);
            const __m256 pass = _mm256_cmp_ps(_mm256_add_ps(a, M), t, _CMP_GE_OQ);
            m |= (uint32_t)_mm256_movemask_ps(pass) << (8 * h);
        }
        if (m) return *mask = m, b;
    }
    return *mask = 0, b1;
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) size_t
fl_qscan_next_avx512vnni(const fl_qscan *q, size_t b0, size_t b1, float T, uint32_t *mask) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i correction = _mm512_set1_epi32(128 * q->user_sum);
    const __m512 su = _mm512_set1_ps(q->su), up = _mm512_set1_ps(q->user_part),
                 A = _mm512_set1_ps(q->A), B = _mm512_set1_ps(q->B), K = _mm512_set1_ps(q->K),
                 t = _mm512_set1_ps(T);
    __m512i u[64]; /* groups <= 64: the index takes at most 256 factors */
    const int groups = q->groups;
    for (int g = 0; g < groups; g++) {
        int32_t w;
        memcpy(&w, q->user + 4 * g, sizeof w);
        u[g] = _mm512_set1_epi32(w);
    }
    for (size_t b = b0; b < b1; b++) {
        const unsigned char *blk = q->blocks + b * q->block_bytes;
        /* Two sums, so consecutive VPDPBUSDs do not wait on each other
         * (integer: their total is the same). */
        __m512i acc = _mm512_setzero_si512(), acc2 = _mm512_setzero_si512();
        int g = 0;
        for (; g + 2 <= groups; g += 2) {
            const __m512i c = _mm512_load_si512((const void *)(blk + (size_t)g * 64));
            const __m512i c2 = _mm512_load_si512((const void *)(blk + (size_t)g * 64 + 64));
            acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(c, flip), u[g]);
            acc2 = _mm512_dpbusd_epi32(acc2, _mm512_xor_si512(c2, flip), u[g + 1]);
        }
        if (g < groups) {
            const __m512i c = _mm512_load_si512((const void *)(blk + (size_t)g * 64));
            acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(c, flip), u[g]);
        }
        acc = _mm512_sub_epi32(_mm512_add_epi32(acc, acc2), correction);
        const float *scale = block_scale(q, blk);
        const __m512 s = _mm512_load_ps(scale);
        const __m512 bj = q->has_bias ? _mm512_load_ps(scale + FL_QSCAN_BLOCK) : _mm512_setzero_ps();
        const __m512 a = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_mul_ps(su, s)),
                                       _mm512_add_ps(up, bj));
        const __m512 M = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(s, A), _mm512_mul_ps(_mm512_abs_ps(bj), B)), K);
        const __mmask16 pass = _mm512_cmp_ps_mask(_mm512_add_ps(a, M), t, _CMP_GE_OQ);
        if (pass) return *mask = pass, b;
    }
    return *mask = 0, b1;
}

int fl_cpu_has_avx512vnni(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
}

size_t fl_qscan_next(const fl_qscan *q, size_t b0, size_t b1, float T, uint32_t *mask) {
    if (fl_cpu_has_avx512vnni()) return fl_qscan_next_avx512vnni(q, b0, b1, T, mask);
    if (__builtin_cpu_supports("avx2")) return fl_qscan_next_avx2(q, b0, b1, T, mask);
    return fl_qscan_next_base(q, b0, b1, T, mask);
}

#else

size_t fl_qscan_next_avx2(const fl_qscan *q, size_t b0, size_t b1, float T, uint32_t *mask) {
    return fl_qscan_next_base(q, b0, b1, T, mask);
}
size_t fl_qscan_next_avx512vnni(const fl_qscan *q, size_t b0, size_t b1, float T, uint32_t *mask) {
    return fl_qscan_next_base(q, b0, b1, T, mask);
}
int fl_cpu_has_avx512vnni(void) { return 0; }
size_t fl_qscan_next(const fl_qscan *q, size_t b0, size_t b1, float T, uint32_t *mask) {
    return fl_qscan_next_base(q, b0, b1, T, mask);
}

#endif
