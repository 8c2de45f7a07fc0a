/* scan_index.h — the compact scan copy of a model's item side, built once
 * when a model is loaded: each item's factors as int8 codes with one scale
 * per item (scale = max |q_f| / 127, rounded up), beside its bias, in blocks
 * of 16 items laid out for core/qscan.c. 4 bytes per item and factor become
 * 1: at k = 32 and 1M items the scan reads 40 MB instead of the float
 * factors' 128 MB.
 *
 * A top-n search (eval/recommend.c) scans it for an upper bound on every
 * item's exact score and re-scores exactly, from the float factors, only the
 * items whose bound reaches the n-th best exact score found so far. The
 * bound (fl_scan_index_user) is rigorous: it covers the quantisation of the
 * item and of the user vector and every float rounding of the exact and the
 * approximate score, so the list is the one the float scan gives, bit for
 * bit. */
#ifndef FL_MODELS_SCAN_INDEX_H
#define FL_MODELS_SCAN_INDEX_H

#include "core/qscan.h"
#include "models/model.h"

/* Below this many items no index is built. A catalogue this small is a few
 * hundred KB of float factors that stay in cache, the float scan of it takes
 * microseconds, and the search with an index still re-scores the first n
 * items and about n ln(N/n) more exactly: there is no memory traffic left to
 * save, and the index's fixed costs (building it at load, quantising the
 * user, the candidate bookkeeping) would buy nothing. ml-100k (1682 items)
 * and ml-latest-small (9.7k) are above it. */
#define FL_SCAN_INDEX_MIN_ITEMS 1024
/* Factors per item the kernel takes (64 groups of 4 codes). */
#define FL_SCAN_INDEX_MAX_FACTORS 256

typedef struct fl_scan_index {
    unsigned char *blocks;   /* n_blocks x block_bytes, 64-byte aligned */
    size_t n_blocks, block_bytes;
    uint32_t n_items, n_factors;
    int groups, has_bias;
    double max_abs_q;        /* largest |factor| of any item */
    double max_abs_bias;     /* largest |bias| of any item */
    size_t bytes;            /* heap held */
} fl_scan_index;

/* 1 if a model of this kind and shape gets an index: dot, biased, ials or
 * bpr without a y-range (a squashed score can tie where the raw ones do
 * not, so a bound on the raw score would not decide the list), at least
 * FL_SCAN_INDEX_MIN_ITEMS items (unless min_items says fewer) and at most
 * FL_SCAN_INDEX_MAX_FACTORS factors. */
int fl_scan_index_applies(const fl_model *m, uint32_t min_items);
/* Builds m's index (m->scan) when fl_scan_index_applies(m, min_items); m's
 * factors must be finite (a loaded model's are checked). FL_OK without an
 * index when it does not apply or would not fit in memory (the search is then
 * the float scan, with the same results); other failures only on bad input. */
fl_status fl_scan_index_attach(fl_model *m, uint32_t min_items, fl_error *err);
void fl_scan_index_free(fl_scan_index *x);

/* Prepares the scan for one user: the user's factor row p (n_factors
 * floats) and the constant part of their score (offset + user bias for a
 * biased model, else 0), into q, with codes (FL_SCAN_INDEX_MAX_FACTORS
 * bytes) holding the user's int8 codes. Returns 0 when the bound cannot be
 * kept rigorous for this user (a factor not finite, or scores so large that
 * float arithmetic could overflow): search by the float scan then. */
int fl_scan_index_user(const fl_scan_index *x, const float *p, float user_part, int8_t *codes,
                       fl_qscan *q);

#endif
