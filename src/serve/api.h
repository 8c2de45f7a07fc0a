/* api.h — the server's routes and the JSON endpoints that answer from a
 * snapshot (predict, recommend, similar, fold-in, items). The transport
 * handles the others (health, metrics, reload, the web page) itself. */
#ifndef FL_SERVE_API_H
#define FL_SERVE_API_H

#include "serve/request.h"
#include "serve/snapshot.h"

typedef enum serve_endpoint {
    SERVE_PREDICT,
    SERVE_RECOMMEND,
    SERVE_SIMILAR,
    SERVE_FOLDIN,
    SERVE_ITEMS,
    SERVE_ITEM,
    SERVE_HEALTHZ,
    SERVE_METRICS,
    SERVE_RELOAD,
    SERVE_WEB,
    SERVE_UNKNOWN, /* no such path: 404 */
    SERVE_N_ENDPOINTS
} serve_endpoint;

/* The endpoint a path names, and the one method it takes ("GET" or
 * "POST") in *method; SERVE_UNKNOWN with *method NULL for any other path. */
serve_endpoint serve_route(const char *path, const char **method);
/* The endpoint's name in metrics ("predict", ...). */
const char *serve_endpoint_name(serve_endpoint e);

/* Answers a request to one of the snapshot endpoints (predict, recommend,
 * similar, foldin, items, item) whose method has been checked. Never fails
 * without a reply: out->body is always set. */
void serve_api(const serve_snapshot *s, serve_endpoint e, const serve_request *r,
               serve_reply *out);

#endif
