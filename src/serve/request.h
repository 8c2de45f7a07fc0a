/* request.h — an HTTP request and reply as the API handlers see them, with
 * no trace of the HTTP library: the transport (http.c) fills a serve_request
 * from libmicrohttpd, the fuzz target fills one from bytes. */
#ifndef FL_SERVE_REQUEST_H
#define FL_SERVE_REQUEST_H

#include <jansson.h>
#include <stddef.h>

/* One decoded query parameter. value_len is its length after decoding: a
 * value holding a NUL byte (%00) is longer than strlen(value). */
typedef struct serve_arg {
    const char *key;
    const char *value;
    size_t value_len;
} serve_arg;

#define SERVE_MAX_ARGS 16     /* more parameters than any endpoint takes: refused */
#define SERVE_MAX_BODY (1u << 20) /* request bodies over 1 MiB: 413 */

typedef struct serve_request {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* decoded path, without the query */
    serve_arg args[SERVE_MAX_ARGS];
    size_t n_args;
    int too_many_args;        /* more than SERVE_MAX_ARGS were sent */
    const char *body;         /* NULL or body_len bytes (not NUL-terminated) */
    size_t body_len;
    int scan_threads;         /* threads a top-n search may use (0 or 1: the request's own) */
} serve_request;

/* What a handler answers: a status and a JSON body (owned by the reply). */
typedef struct serve_reply {
    int status;
    json_t *body;
} serve_reply;

/* Sets an error reply {"error": "..."}; returns 0 so handlers can
 * `return serve_error(out, 400, ...)`. */
int serve_error(serve_reply *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets a 200 reply with body (taking ownership). Returns 0. */
int serve_ok(serve_reply *out, json_t *body);

#endif
