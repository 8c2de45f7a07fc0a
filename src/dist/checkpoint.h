/* checkpoint.h — a partitioned training's state on disk, so that a killed
 * job continues where it stopped and ends with the same model.
 *
 * Every checkpoint_every epochs each process writes its own rows (its users'
 * and items' factors and biases; process 0 also the epochs' reports) to
 * DIR/ckpt-eEEEEEE-rRRRR-of-NNNN.bin, atomically, with a SHA-256 of its
 * bytes at the end. Once every process has written its file, process 0
 * writes DIR/manifest.txt (atomically): the epoch, the parameters, the
 * process count and the data's fingerprint. Only then does each process
 * remove its file of the previous checkpoint: the manifest always names a
 * complete set. ALS's state after an epoch is its factors alone (users are
 * solved afresh from the items; no random numbers are drawn after the
 * start), so resuming from them repeats the uninterrupted run bit for bit.
 * SGD's state adds each row's step sums (extra); its random numbers are
 * drawn from the seed, the process and the epoch, so they repeat too. */
#ifndef FL_DIST_CHECKPOINT_H
#define FL_DIST_CHECKPOINT_H

#include "dist/part_data.h"

typedef struct fl_ckpt_state {
    int epoch;                  /* completed epochs */
    int k;                      /* factors per row */
    uint32_t stride;            /* floats between rows in memory */
    float *P, *bu, *Q, *bi;     /* own users' and items' rows; bu, bi NULL for dot */
    fl_epoch_report *history;   /* process 0: reports of epochs 1..epoch (others NULL) */
    float *extra;               /* the solver's state beside the rows (SGD: step sums), or NULL */
    size_t n_extra;             /* its floats */
    int32_t layout;             /* the solver's layout that the state depends on (SGD: its
                                   blocks per side, set by the thread count), else 0 */
} fl_ckpt_state;

/* Writes this epoch's checkpoint on every process, then the manifest;
 * removes the previous one (prev_epoch, 0 for none). */
fl_status fl_ckpt_write(fl_coll *d, const char *dir, const fl_params *p, const fl_part *pt,
                        const fl_ckpt_state *s, int prev_epoch, fl_error *err);
/* Reads the last complete checkpoint into s (rows into its arrays; on
 * process 0 a malloc'd history) and sets s->epoch. Refuses one written for
 * other parameters, another process count or other data, with a sentence
 * naming what differs. */
fl_status fl_ckpt_read(fl_coll *d, const char *dir, const fl_params *p, const fl_part *pt,
                       fl_ckpt_state *s, fl_error *err);

#endif
