/* pool.c — pthreads behind fl_pool. Workers sleep on a condition variable
 * between jobs and claim tasks from an atomic counter; a job ends when its
 * done-counter reaches n_tasks. One job runs at a time, and the next is set
 * up only once every worker has left the last one: a worker still looking
 * for a task of a finished job must not see the next job's counter or task
 * count (it would run a task twice, or count one that never ran). */
#include "core/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct fl_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, finished;
    unsigned long generation; /* bumped for each job, under mu */
    int active;               /* workers inside a job, under mu */
    int stop;
    fl_task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next;
    atomic_int done;
};

typedef struct worker_arg {
    fl_pool *p;
    int thread;
} worker_arg;

/* fn, ctx and n_tasks are read under mu by the caller and passed in. */
static void work(fl_pool *p, fl_task_fn fn, void *ctx, int n_tasks, int thread) {
    for (;;) {
        int t = atomic_fetch_add(&p->next, 1);
        if (t >= n_tasks) return;
        fn(ctx, t, thread);
        if (atomic_fetch_add(&p->done, 1) + 1 == n_tasks) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->finished);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void *worker(void *arg) {
    worker_arg *a = arg;
    fl_pool *p = a->p;
    int thread = a->thread;
    free(a);
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->generation;
        fl_task_fn fn = p->fn;
        void *ctx = p->ctx;
        int n_tasks = p->n_tasks;
        p->active++;
        pthread_mutex_unlock(&p->mu);
        work(p, fn, ctx, n_tasks, thread);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0) pthread_cond_signal(&p->finished);
        pthread_mutex_unlock(&p->mu);
    }
}

fl_pool *fl_pool_new(int n_threads) {
    fl_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads < 1 ? 1 : n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->finished, NULL);
    p->threads = calloc((size_t)p->n_threads, sizeof *p->threads);
    if (!p->threads) {
        fl_pool_free(p);
        return NULL;
    }
    for (int t = 1; t < p->n_threads; t++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) {
            p->n_threads = t;
            fl_pool_free(p);
            return NULL;
        }
        a->p = p;
        a->thread = t;
        if (pthread_create(&p->threads[t], NULL, worker, a) != 0) {
            free(a);
            p->n_threads = t;
            fl_pool_free(p);
            return NULL;
        }
    }
    return p;
}

int fl_pool_threads(const fl_pool *p) { return p->n_threads; }

void fl_pool_run(fl_pool *p, int n_tasks, fl_task_fn fn, void *ctx) {
    if (n_tasks <= 0) return;
    if (p->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    while (p->active > 0) pthread_cond_wait(&p->finished, &p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    atomic_store(&p->done, 0);
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    work(p, fn, ctx, n_tasks, 0);
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->done) < n_tasks) pthread_cond_wait(&p->finished, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void fl_pool_free(fl_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int t = 1; t < p->n_threads; t++)
        if (p->threads) pthread_join(p->threads[t], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->finished);
    free(p);
}

int fl_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
