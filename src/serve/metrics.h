/* metrics.h — request counts by endpoint and status, latency histograms by
 * endpoint, reload outcomes; rendered in Prometheus's text format with the
 * current model's checksum and load time. Lock-free: every request thread
 * adds to relaxed atomic counters. */
#ifndef FL_SERVE_METRICS_H
#define FL_SERVE_METRICS_H

#include "serve/api.h"
#include "serve/snapshot.h"

#include <stdatomic.h>

#define SERVE_N_STATUS 9   /* 200 400 404 405 413 500 501 503, and any other */
#define SERVE_N_BUCKETS 13 /* latency bounds, +Inf not stored (it is the count) */

typedef struct serve_metrics {
    atomic_ullong requests[SERVE_N_ENDPOINTS][SERVE_N_STATUS];
    atomic_ullong buckets[SERVE_N_ENDPOINTS][SERVE_N_BUCKETS]; /* per bucket, not cumulative */
    atomic_ullong count[SERVE_N_ENDPOINTS];
    atomic_ullong sum_ns[SERVE_N_ENDPOINTS];
    atomic_ullong reloads_ok, reloads_failed;
} serve_metrics;

void serve_metrics_init(serve_metrics *m);
void serve_metrics_record(serve_metrics *m, serve_endpoint e, int status, double seconds);
/* The exposition text (malloc'd, NUL-terminated), or NULL when out of memory. */
char *serve_metrics_text(serve_metrics *m, const serve_snapshot *current);

#endif
