/* pool.h — a fork-join thread pool: run n tasks on all threads, return when
 * every task is done. The caller's thread works too. Which thread runs which
 * task varies between runs, so tasks must not depend on it for results. */
#ifndef FL_CORE_POOL_H
#define FL_CORE_POOL_H

typedef struct fl_pool fl_pool;
typedef void (*fl_task_fn)(void *ctx, int task, int thread);

/* n_threads >= 1; returns NULL when threads cannot be started. */
fl_pool *fl_pool_new(int n_threads);
int fl_pool_threads(const fl_pool *p);
void fl_pool_run(fl_pool *p, int n_tasks, fl_task_fn fn, void *ctx);
void fl_pool_free(fl_pool *p);
/* Number of online cores. */
int fl_cpu_count(void);

#endif
