/* grid_sched.c — the block scheduler shared by SGD and BPR (grid_sched.h). */
#include "train/grid_sched.h"

#include "core/error.h"

#include <sched.h>
#include <stdlib.h>

fl_status fl_grid_sched_init(fl_grid_sched *s, int nb, fl_error *err) {
    s->order = malloc((size_t)nb * sizeof *s->order);
    s->claimed = malloc((size_t)nb * nb * sizeof *s->claimed);
    s->done = malloc((size_t)nb * nb * sizeof *s->done);
    if (!s->order || !s->claimed || !s->done)
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for the block schedule");
    return FL_OK;
}

void fl_grid_sched_free(fl_grid_sched *s) {
    free(s->order), free(s->claimed), free(s->done);
    s->order = NULL, s->claimed = s->done = NULL;
}

/* One epoch's tasks (fl_grid_task_preds), shared by the pool's threads. */
typedef struct epoch_run {
    fl_trainer *t;
    fl_grid_sched *s;
    fl_grid_block_fn block;
    void *ctx;
    atomic_int lowest;       /* no task below it is unclaimed (a hint) */
    atomic_int finished;     /* tasks done */
    atomic_size_t ratings;   /* their ratings */
    atomic_int stop;         /* cancelled: claim no more */
} epoch_run;

/* A task whose predecessors are done, claimed for the caller; -1 if none is
 * ready yet. It looks at most two strata past the lowest unclaimed task: the
 * window keeps the scan short and only limits how far a fast thread runs
 * ahead, never which model comes out. */
static int claim(epoch_run *e) {
    const fl_grid_sched *s = e->s;
    const int nb = e->t->grid.nb, n = nb * nb;
    int from = atomic_load(&e->lowest);
    while (from < n && atomic_load(&s->claimed[from])) from++;
    atomic_store(&e->lowest, from);
    const int until = from + 2 * nb < n ? from + 2 * nb : n;
    for (int t = from; t < until; t++) {
        if (atomic_load_explicit(&s->claimed[t], memory_order_relaxed)) continue;
        int row, col;
        fl_grid_task_preds(nb, s->order, t, &row, &col);
        if (row >= 0 && !(atomic_load_explicit(&s->done[row], memory_order_acquire) &&
                          atomic_load_explicit(&s->done[col], memory_order_acquire)))
            continue;
        if (!atomic_exchange(&s->claimed[t], 1)) return t;
    }
    return -1;
}

static void epoch_worker(void *ctx, int task, int thread) {
    (void)task;
    epoch_run *e = ctx;
    fl_trainer *t = e->t;
    const fl_grid_sched *s = e->s;
    const fl_grid *g = &t->grid;
    const int nb = g->nb, n = nb * nb;
    int reported = 0;
    while (atomic_load(&e->finished) < n && !atomic_load(&e->stop)) {
        const int task_id = claim(e);
        if (task_id < 0) {
            sched_yield(); /* the block this one waits for takes about a millisecond */
            continue;
        }
        const int b = fl_grid_stratum_block(g, s->order[task_id / nb], task_id % nb);
        e->block(t, b, e->ctx);
        atomic_store_explicit(&s->done[task_id], 1, memory_order_release);
        const size_t len = g->start[b + 1] - g->start[b];
        const size_t ratings = atomic_fetch_add(&e->ratings, len) + len;
        const int finished = atomic_fetch_add(&e->finished, 1) + 1;
        /* The caller's thread reports, about once a stratum (the end of the
         * epoch: fl_grid_sched_epoch). */
        if (thread == 0 && finished < n && finished / nb > reported) {
            reported = finished / nb;
            fl_trainer_progress(t, ratings, g->n);
            if (t->cancelled) atomic_store(&e->stop, 1);
        }
    }
}

void fl_grid_sched_epoch(fl_grid_sched *s, fl_trainer *t, fl_grid_block_fn block, void *ctx) {
    const fl_grid *g = &t->grid;
    for (int k = 0; k < g->nb; k++) s->order[k] = k;
    for (int k = g->nb; k > 1; k--) {
        int j = (int)fl_rng_below(&t->rng, (uint64_t)k);
        int tmp = s->order[k - 1];
        s->order[k - 1] = s->order[j];
        s->order[j] = tmp;
    }
    for (int k = 0; k < g->nb * g->nb; k++) {
        atomic_store_explicit(&s->claimed[k], 0, memory_order_relaxed);
        atomic_store_explicit(&s->done[k], 0, memory_order_relaxed);
    }
    epoch_run run = {.t = t, .s = s, .block = block, .ctx = ctx}; /* counters at zero */
    fl_pool_run(t->pool, fl_pool_threads(t->pool), epoch_worker, &run);
    if (!t->cancelled) fl_trainer_progress(t, atomic_load(&run.ratings), g->n);
}
