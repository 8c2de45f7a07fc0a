/* server.c — the HTTP transport on libmicrohttpd: a pool of request threads,
 * each request answered from the snapshot current when it arrived; bodies
 * capped at 1 MiB; model reloads from SIGHUP (handled by the main thread,
 * which waits for signals) or POST /v1/reload, one at a time. */
#include "serve/server.h"

#include "serve/api.h"
#include "serve/metrics.h"
#include "serve/params.h"
#include "serve/snapshot.h"
#include "serve/web_files.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct server {
    const serve_options *opt;
    serve_slot slot;
    serve_metrics metrics;
    serve_web web;
    int have_web;
    pthread_mutex_t reload_lock; /* one reload at a time: SIGHUP and POST may meet */
    int cores;                   /* online cores, shared out among the searches in flight */
    atomic_int searching;        /* top-n requests (recommend, foldin) being answered */
} server;

/* One request's state across libmicrohttpd's calls. */
typedef struct request_state {
    double start;
    serve_endpoint endpoint;
    char *body;
    size_t len, cap;
    int too_large;
} request_state;

static double monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...) {
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One write per line, so lines from request threads do not interleave. */
    fprintf(stderr, "factorlens: %s %s\n", stamp, msg);
}

/* Queues a reply with its body; records the request in the metrics. */
static enum MHD_Result send_reply(server *s, struct MHD_Connection *c, request_state *rs,
                                  int status, const char *mime, void *data, size_t len,
                                  enum MHD_ResponseMemoryMode mode, const char *allow) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, data, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE) free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, mime);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (rs->endpoint != SERVE_WEB) MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    serve_metrics_record(&s->metrics, rs->endpoint, status, monotonic() - rs->start);
    if (status >= 500) log_line("%s answered %d", serve_endpoint_name(rs->endpoint), status);
    return ok;
}

static enum MHD_Result send_json(server *s, struct MHD_Connection *c, request_state *rs,
                                 serve_reply *reply, const char *allow) {
    /* Nine significant digits: every float the library returns, exactly. */
    char *text = reply->body ? json_dumps(reply->body, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(reply->body);
    reply->body = NULL;
    if (!text) {
        static char oom[] = "{\"error\":\"out of memory building the reply\"}";
        return send_reply(s, c, rs, 503, "application/json", oom, strlen(oom),
                          MHD_RESPMEM_PERSISTENT, NULL);
    }
    return send_reply(s, c, rs, reply->status, "application/json", text, strlen(text),
                      MHD_RESPMEM_MUST_FREE, allow);
}

static enum MHD_Result send_error(server *s, struct MHD_Connection *c, request_state *rs,
                                  int status, const char *allow, const char *msg) {
    serve_reply reply = {0, NULL};
    serve_error(&reply, status, "%s", msg);
    return send_json(s, c, rs, &reply, allow);
}

/* Loads the model file again and swaps it in; the old snapshot lives on
 * until its last request is done. On failure the old one keeps serving.
 * Fills reply when given (POST /v1/reload). Returns 0 or -1. */
static int reload(server *s, serve_reply *reply, const char *why) {
    pthread_mutex_lock(&s->reload_lock);
    serve_snapshot *next = NULL;
    fl_error err = {0};
    fl_status st = serve_snapshot_load(s->opt->model_path, s->opt->items_path, &next, &err);
    serve_snapshot *cur = serve_slot_acquire(&s->slot);
    char old_sum[65];
    snprintf(old_sum, sizeof old_sum, "%s", cur->checksum);
    serve_slot_release(&s->slot, cur);
    int rc = 0;
    if (st != FL_OK) {
        atomic_fetch_add(&s->metrics.reloads_failed, 1);
        log_line("reload (%s) refused: %s; still serving the model with checksum %.12s", why,
                 err.msg, old_sum);
        if (reply)
            serve_error(reply, 500, "reload refused, the previous model keeps serving: %s",
                        err.msg);
        rc = -1;
    } else {
        char new_sum[65];
        snprintf(new_sum, sizeof new_sum, "%s", next->checksum);
        double secs = next->load_seconds;
        double index_mib = (double)next->scan_index_bytes / (1 << 20);
        serve_slot_swap(&s->slot, next);
        atomic_fetch_add(&s->metrics.reloads_ok, 1);
        log_line("reload (%s): now serving checksum %.12s (was %.12s), loaded in %.3f s, "
                 "scan index %.1f MiB", why, new_sum, old_sum, secs, index_mib);
        if (reply)
            serve_ok(reply, json_pack("{s:s, s:s, s:s, s:f}", "status", "reloaded", "checksum",
                                      new_sum, "previous", old_sum, "load_seconds", secs));
    }
    pthread_mutex_unlock(&s->reload_lock);
    return rc;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size) {
    serve_request *r = cls;
    if (r->n_args == SERVE_MAX_ARGS) {
        r->too_many_args = 1;
        return MHD_NO;
    }
    r->args[r->n_args++] = (serve_arg){key, value ? value : "", value ? value_size : 0};
    return MHD_YES;
}

/* The threads a top-n search may use, with `searching` searches in flight
 * (this one included): an equal share of the cores. And none beyond its own
 * while this request thread holds more connections than there are cores:
 * under load a thread is between two searches now and then (reading a
 * request, writing a reply), and a search starting in that gap would split
 * itself only to queue for the same cores when the next one starts. In
 * libmicrohttpd's thread pool each request thread owns its connections and
 * their count, so reading it here races with nothing. */
static int scan_threads(const server *s, struct MHD_Connection *c, int searching) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
    const union MHD_DaemonInfo *di =
        ci ? MHD_get_daemon_info(ci->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;
    if (di && di->num_connections > (unsigned)s->cores) return 1;
    return s->cores / searching;
}

static enum MHD_Result answer(server *s, struct MHD_Connection *c, const char *url,
                              const char *method, request_state *rs) {
    serve_request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = url;
    req.body = rs->body;
    req.body_len = rs->len;
    MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, collect_arg, &req);
    serve_reply reply = {0, NULL};
    static const char *const no_args[] = {NULL};

    switch (rs->endpoint) {
    case SERVE_WEB: {
        const serve_web_file *f = s->have_web ? serve_web_find(&s->web, url) : NULL;
        if (!f) return send_error(s, c, rs, 404, NULL, "no such page");
        return send_reply(s, c, rs, 200, f->mime, f->data, f->size, MHD_RESPMEM_PERSISTENT, NULL);
    }
    case SERVE_HEALTHZ: {
        if (!serve_check_args(&req, no_args, &reply)) return send_json(s, c, rs, &reply, NULL);
        serve_snapshot *snap = serve_slot_acquire(&s->slot);
        serve_ok(&reply, json_pack("{s:s, s:s, s:i}", "status", "ok", "checksum", snap->checksum,
                                   "items", (int)snap->n_items));
        serve_slot_release(&s->slot, snap);
        return send_json(s, c, rs, &reply, NULL);
    }
    case SERVE_METRICS: {
        if (!serve_check_args(&req, no_args, &reply)) return send_json(s, c, rs, &reply, NULL);
        serve_snapshot *snap = serve_slot_acquire(&s->slot);
        char *text = serve_metrics_text(&s->metrics, snap);
        serve_slot_release(&s->slot, snap);
        if (!text) return send_error(s, c, rs, 503, NULL, "out of memory");
        return send_reply(s, c, rs, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                          strlen(text), MHD_RESPMEM_MUST_FREE, NULL);
    }
    case SERVE_RELOAD:
        if (serve_check_args(&req, no_args, &reply)) {
            if (rs->len) serve_error(&reply, 400, "reload takes no body");
            else reload(s, &reply, "POST /v1/reload");
        }
        return send_json(s, c, rs, &reply, NULL);
    default: {
        /* A top-n search scans the whole catalogue: alone, it gets every
         * core (the scan split between threads, one list); with others in
         * flight, an equal share (scan_threads), so under load (as many
         * searches as cores, or more) each runs on its own request thread
         * and no thread is started: extra threads then would only queue for
         * the same cores and memory bandwidth, and cost their start. */
        const int search = rs->endpoint == SERVE_RECOMMEND || rs->endpoint == SERVE_FOLDIN;
        if (search) req.scan_threads = scan_threads(s, c, atomic_fetch_add(&s->searching, 1) + 1);
        serve_snapshot *snap = serve_slot_acquire(&s->slot);
        serve_api(snap, rs->endpoint, &req, &reply);
        serve_slot_release(&s->slot, snap);
        if (search) atomic_fetch_sub(&s->searching, 1);
        return send_json(s, c, rs, &reply, NULL);
    }
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    server *s = cls;
    request_state *rs = *con_cls;
    if (!rs) {
        /* First call: headers only. Refuse what can be refused before the
         * body arrives (wrong method, declared size over the cap). */
        if (!(rs = calloc(1, sizeof *rs))) return MHD_NO;
        *con_cls = rs;
        rs->start = monotonic();
        const char *want;
        rs->endpoint = serve_route(url, &want);
        if (rs->endpoint == SERVE_UNKNOWN) return send_error(s, c, rs, 404, NULL, "no such endpoint");
        if (strcmp(method, want) != 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "method %.16s not allowed here; use %s", method, want);
            return send_error(s, c, rs, 405, want, msg);
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > SERVE_MAX_BODY)
            return send_error(s, c, rs, 413, NULL, "the request body is over 1 MiB");
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* Body bytes: kept up to the cap, then only counted as too many,
         * so memory per request stays bounded whatever the client sends. */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rs->too_large || rs->len + n > SERVE_MAX_BODY) {
            rs->too_large = 1;
            return MHD_YES;
        }
        if (rs->len + n > rs->cap) {
            size_t cap = rs->cap ? rs->cap : 4096;
            while (cap < rs->len + n) cap *= 2;
            char *b = realloc(rs->body, cap);
            if (!b) return MHD_NO;
            rs->body = b, rs->cap = cap;
        }
        memcpy(rs->body + rs->len, upload_data, n);
        rs->len += n;
        return MHD_YES;
    }
    if (rs->too_large) return send_error(s, c, rs, 413, NULL, "the request body is over 1 MiB");
    return answer(s, c, url, method, rs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    request_state *rs = *con_cls;
    if (!rs) return;
    free(rs->body);
    free(rs);
    *con_cls = NULL;
}

/* libmicrohttpd's own messages, in the server's log format. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    log_line("http: %s", msg);
}

int serve_run(const serve_options *o) {
    server s;
    memset(&s, 0, sizeof s);
    s.opt = o;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s.cores = cores > 0 ? (int)cores : 1;
    atomic_init(&s.searching, 0);
    serve_metrics_init(&s.metrics);
    pthread_mutex_init(&s.reload_lock, NULL);

    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, o->bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)o->port);
    } else if (inet_pton(AF_INET6, o->bind, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)o->port);
        flags |= MHD_USE_IPv6;
    } else {
        fprintf(stderr, "factorlens: --bind '%s' is not a numeric IPv4 or IPv6 address\n", o->bind);
        return 2;
    }

    char web_dir[1024] = "", why[1200] = "";
    if (o->web_dir) snprintf(web_dir, sizeof web_dir, "%s", o->web_dir);
    else if (serve_web_default_dir(web_dir, sizeof web_dir) != 0) web_dir[0] = '\0';
    if (web_dir[0]) {
        if (serve_web_load(&s.web, web_dir, why, sizeof why) == 0) s.have_web = 1;
        else if (o->web_dir) return fprintf(stderr, "factorlens: %s\n", why), 1;
    }

    serve_snapshot *first = NULL;
    fl_error err = {0};
    fl_status st = serve_snapshot_load(o->model_path, o->items_path, &first, &err);
    if (st != FL_OK) {
        fprintf(stderr, "factorlens: %s\n", err.msg);
        serve_web_free(&s.web);
        return fl_status_exit_code(st);
    }
    serve_slot_init(&s.slot, first);

    /* The signals are taken by sigwait below: blocked here, before the
     * request threads start, so that they inherit the mask and none of
     * them is interrupted. A client that hangs up must not kill us. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, on_request, &s, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, &s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)o->threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
        /* Idle connections go after 30 s, and at most 1000 at once: a
         * client cannot hold the server's memory or descriptors forever. */
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 1000u,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "factorlens: cannot listen on %s port %d (in use, or not an address of "
                        "this machine?)\n", o->bind, o->port);
        serve_slot_destroy(&s.slot);
        serve_web_free(&s.web);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int port = info ? info->port : o->port;
    log_line("serving %s (%u items, checksum %.12s) on http://%s%s%s:%d/ with %d thread%s; "
             "page: %s",
             o->model_path, first->n_items, first->checksum, flags & MHD_USE_IPv6 ? "[" : "",
             o->bind, flags & MHD_USE_IPv6 ? "]" : "", port, o->threads, o->threads == 1 ? "" : "s",
             s.have_web ? s.web.dir : "none (no web folder found; see --web)");
    /* Memory beyond the mapped file: the compact scan index top-n lists read. */
    if (first->scan_index_bytes)
        log_line("scan index for top-n lists: %.1f MiB in the heap (the model file is mapped, "
                 "not copied); a list alone on the server uses all %d cores",
                 (double)first->scan_index_bytes / (1 << 20), s.cores);
    else
        log_line("no scan index (%u items, or a model kind without one): top-n lists scan the "
                 "float factors", first->n_items);

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0) continue;
        if (sig == SIGHUP) {
            reload(&s, NULL, "SIGHUP");
            continue;
        }
        log_line("stopping on signal %d", sig);
        break;
    }
    /* Waits for the request threads: every reply in flight is finished. */
    MHD_stop_daemon(d);
    serve_slot_destroy(&s.slot);
    serve_web_free(&s.web);
    pthread_mutex_destroy(&s.reload_lock);
    return 0;
}
