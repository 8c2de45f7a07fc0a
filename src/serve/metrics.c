/* metrics.c — counting requests and rendering /metrics. */
#include "serve/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int statuses[SERVE_N_STATUS - 1] = {200, 400, 404, 405, 413, 500, 501, 503};
/* Seconds; fine at the low end, where a top-n list answers. */
static const double bounds[SERVE_N_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                               0.005,  0.01,    0.025,  0.05,  0.1,
                                               0.25,   1.0,     5.0};

void serve_metrics_init(serve_metrics *m) {
    for (int e = 0; e < SERVE_N_ENDPOINTS; e++) {
        for (int s = 0; s < SERVE_N_STATUS; s++) atomic_init(&m->requests[e][s], 0);
        for (int b = 0; b < SERVE_N_BUCKETS; b++) atomic_init(&m->buckets[e][b], 0);
        atomic_init(&m->count[e], 0);
        atomic_init(&m->sum_ns[e], 0);
    }
    atomic_init(&m->reloads_ok, 0);
    atomic_init(&m->reloads_failed, 0);
}

void serve_metrics_record(serve_metrics *m, serve_endpoint e, int status, double seconds) {
    if ((unsigned)e >= SERVE_N_ENDPOINTS) e = SERVE_UNKNOWN;
    int s = 0;
    while (s < SERVE_N_STATUS - 1 && statuses[s] != status) s++;
    atomic_fetch_add_explicit(&m->requests[e][s], 1, memory_order_relaxed);
    int b = 0;
    while (b < SERVE_N_BUCKETS && seconds > bounds[b]) b++;
    if (b < SERVE_N_BUCKETS) atomic_fetch_add_explicit(&m->buckets[e][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->count[e], 1, memory_order_relaxed);
    if (seconds < 0) seconds = 0;
    atomic_fetch_add_explicit(&m->sum_ns[e], (unsigned long long)(seconds * 1e9),
                              memory_order_relaxed);
}

/* A growing text buffer; on allocation failure it stops growing and
 * reports it at the end. */
typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = 2 * t->cap + (size_t)n;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->failed = 1;
            return;
        }
        t->buf = b, t->cap = cap;
    }
}

/* A label value: backslash, quote and newline escaped as the format asks. */
static void put_label(text *t, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') put(t, "\\%c", *v);
        else if (*v == '\n') put(t, "\\n");
        else put(t, "%c", *v);
    }
}

char *serve_metrics_text(serve_metrics *m, const serve_snapshot *cur) {
    text t = {malloc(4096), 0, 4096, 0};
    if (!t.buf) return NULL;
    t.buf[0] = '\0';
    put(&t, "# HELP factorlens_requests_total HTTP requests answered, by endpoint and status.\n"
            "# TYPE factorlens_requests_total counter\n");
    for (int e = 0; e < SERVE_N_ENDPOINTS; e++)
        for (int s = 0; s < SERVE_N_STATUS; s++) {
            unsigned long long n = atomic_load_explicit(&m->requests[e][s], memory_order_relaxed);
            if (!n) continue;
            char code[8];
            if (s < SERVE_N_STATUS - 1) snprintf(code, sizeof code, "%d", statuses[s]);
            else snprintf(code, sizeof code, "other");
            put(&t, "factorlens_requests_total{endpoint=\"%s\",status=\"%s\"} %llu\n",
                serve_endpoint_name((serve_endpoint)e), code, n);
        }
    put(&t, "# HELP factorlens_request_duration_seconds Time from a request's headers to its "
            "reply being queued.\n"
            "# TYPE factorlens_request_duration_seconds histogram\n");
    for (int e = 0; e < SERVE_N_ENDPOINTS; e++) {
        unsigned long long count = atomic_load_explicit(&m->count[e], memory_order_relaxed);
        if (!count) continue;
        const char *name = serve_endpoint_name((serve_endpoint)e);
        unsigned long long cum = 0;
        for (int b = 0; b < SERVE_N_BUCKETS; b++) {
            cum += atomic_load_explicit(&m->buckets[e][b], memory_order_relaxed);
            put(&t, "factorlens_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
                name, bounds[b], cum);
        }
        /* Counters are read one by one while requests go on: +Inf is at
         * least every finite bucket, as the format requires. */
        if (count < cum) count = cum;
        put(&t, "factorlens_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
            name, count);
        put(&t, "factorlens_request_duration_seconds_sum{endpoint=\"%s\"} %.9f\n", name,
            1e-9 * (double)atomic_load_explicit(&m->sum_ns[e], memory_order_relaxed));
        put(&t, "factorlens_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", name, count);
    }
    put(&t, "# HELP factorlens_model_info The model being served (value always 1).\n"
            "# TYPE factorlens_model_info gauge\n"
            "factorlens_model_info{checksum=\"%s\",path=\"",
        cur->checksum);
    put_label(&t, cur->model_path);
    put(&t, "\"} 1\n");
    put(&t, "# HELP factorlens_model_loaded_timestamp_seconds When the model being served was "
            "loaded (unix time).\n"
            "# TYPE factorlens_model_loaded_timestamp_seconds gauge\n"
            "factorlens_model_loaded_timestamp_seconds %.3f\n"
            "# HELP factorlens_model_load_duration_seconds How long loading it took.\n"
            "# TYPE factorlens_model_load_duration_seconds gauge\n"
            "factorlens_model_load_duration_seconds %.6f\n",
        cur->loaded_at, cur->load_seconds);
    put(&t, "# HELP factorlens_model_items Items in the model being served.\n"
            "# TYPE factorlens_model_items gauge\n"
            "factorlens_model_items %u\n",
        cur->n_items);
    put(&t, "# HELP factorlens_scan_index_bytes Heap held by the model's compact scan index "
            "for top-n lists (0: none; the model file itself is mapped, not copied).\n"
            "# TYPE factorlens_scan_index_bytes gauge\n"
            "factorlens_scan_index_bytes %zu\n",
        cur->scan_index_bytes);
    put(&t, "# HELP factorlens_reloads_total Model reloads (POST /v1/reload, SIGHUP), by result.\n"
            "# TYPE factorlens_reloads_total counter\n"
            "factorlens_reloads_total{result=\"ok\"} %llu\n"
            "factorlens_reloads_total{result=\"refused\"} %llu\n",
        atomic_load(&m->reloads_ok), atomic_load(&m->reloads_failed));
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}
