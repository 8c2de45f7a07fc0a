/* qscan.h — the kernel of the compact scan (models/scan_index.h): blocks of
 * 16 items whose factors are int8 codes with a per-item scale, scored
 * against a user's int8 codes in exact integer arithmetic, each score turned
 * into an upper bound on the item's exact float score, and compared with a
 * threshold. The caller re-scores the few items that pass exactly.
 *
 * Block layout (64-byte aligned, block_bytes apart), for G = groups:
 *   codes  G x 64 bytes: group g holds items 0..15's codes 4g..4g+3, item j
 *          at bytes 4j..4j+3 (so one 32-bit lane is one item's four codes)
 *   scale  16 floats: item j's factors are about scale[j] * codes
 *   bias   16 floats: item j's bias (only when has_bias)
 * Codes are in [-127, 127]; the user's too.
 *
 * For item j, with d the integer dot product of its codes and the user's:
 *   a = (float)d * (su * scale[j]) + (user_part + bias[j])
 *   M = (scale[j] * A + |bias[j]| * B) + K
 *   U = a + M;  item j passes when U >= T
 * each operation one IEEE float operation in this order, nothing fused, so
 * every instruction set gives the same bits: d is exact (|d| < 2^24), and the
 * vector lanes compute what the scalar loop does. */
#ifndef FL_CORE_QSCAN_H
#define FL_CORE_QSCAN_H

#include <stddef.h>
#include <stdint.h>

#define FL_QSCAN_BLOCK 16

typedef struct fl_qscan {
    const unsigned char *blocks;
    size_t block_bytes;
    int groups;             /* codes per item / 4, at most 64 */
    int has_bias;
    const int8_t *user;     /* [groups * 4] the user's codes */
    int32_t user_sum;       /* their sum */
    float su, user_part, A, B, K;
} fl_qscan;

/* Bytes of one block for this many groups. */
size_t fl_qscan_block_bytes(int groups, int has_bias);

/* The first block b in [b0, b1) holding an item that passes threshold T,
 * with *mask the bits of its passing items (bit j: item j of the block);
 * b1 when none does (then *mask is 0). Picks the AVX-512 VNNI, AVX2 or
 * baseline version by the CPU it runs on; all give the same answer. */
size_t fl_qscan_next(const fl_qscan *q, size_t b0, size_t b1, float T, uint32_t *mask);

/* Each version, for the kernel tests (call only where the CPU has it). */
size_t fl_qscan_next_base(const fl_qscan *q, size_t b0, size_t b1, float T, uint32_t *mask);
size_t fl_qscan_next_avx2(const fl_qscan *q, size_t b0, size_t b1, float T, uint32_t *mask);
size_t fl_qscan_next_avx512vnni(const fl_qscan *q, size_t b0, size_t b1, float T, uint32_t *mask);
/* 1 if this CPU runs fl_qscan_next_avx512vnni (AVX-512 F, BW and VNNI). */
int fl_cpu_has_avx512vnni(void);

#endif
