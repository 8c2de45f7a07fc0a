/* server.h — `factorlens serve`: the HTTP server over one model file. The
 * command-line surface (src/cli/cmd_serve.c) fills the options; serve_run
 * owns the process until SIGINT or SIGTERM. */
#ifndef FL_SERVE_SERVER_H
#define FL_SERVE_SERVER_H

typedef struct serve_options {
    const char *model_path;
    const char *items_path; /* u.item or movies.csv for titles, or NULL */
    const char *bind;       /* numeric IPv4 or IPv6 address */
    int port;               /* 0: a free port, printed at start */
    int threads;            /* request threads (libmicrohttpd's pool) */
    const char *web_dir;    /* the page's files; NULL: the default (web_files.h) */
} serve_options;

/* Loads the model, serves until SIGINT/SIGTERM, reloads on SIGHUP and
 * POST /v1/reload. Logs to stderr; its first line names the address. Returns
 * the exit code (0 after a clean stop; 1 or 5 when it could not start). */
int serve_run(const serve_options *o);

#endif
