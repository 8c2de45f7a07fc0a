/* api.c — the JSON endpoints over one snapshot: each checks its parameters
 * (params.h), asks the library, and builds its reply. Library errors map to
 * HTTP statuses in one place (status_of). */
#include "serve/api.h"

#include "serve/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *path;
    const char *method;
    serve_endpoint e;
} routes[] = {
    {"/v1/predict", "GET", SERVE_PREDICT},   {"/v1/recommend", "GET", SERVE_RECOMMEND},
    {"/v1/similar", "GET", SERVE_SIMILAR},   {"/v1/foldin", "POST", SERVE_FOLDIN},
    {"/v1/items", "GET", SERVE_ITEMS},       {"/healthz", "GET", SERVE_HEALTHZ},
    {"/metrics", "GET", SERVE_METRICS},      {"/v1/reload", "POST", SERVE_RELOAD},
    {"/", "GET", SERVE_WEB},
};

#define ITEM_PREFIX "/v1/items/"

serve_endpoint serve_route(const char *path, const char **method) {
    for (size_t k = 0; k < sizeof routes / sizeof routes[0]; k++)
        if (strcmp(path, routes[k].path) == 0) return *method = routes[k].method, routes[k].e;
    if (strncmp(path, ITEM_PREFIX, strlen(ITEM_PREFIX)) == 0 && path[strlen(ITEM_PREFIX)])
        return *method = "GET", SERVE_ITEM;
    /* The page's own files: one level below the root, nothing else. */
    if (path[0] == '/' && path[1] && !strchr(path + 1, '/') && strncmp(path, "/v1", 3) != 0)
        return *method = "GET", SERVE_WEB;
    *method = NULL;
    return SERVE_UNKNOWN;
}

const char *serve_endpoint_name(serve_endpoint e) {
    static const char *const names[SERVE_N_ENDPOINTS] = {
        "predict", "recommend", "similar", "foldin", "items", "item",
        "healthz", "metrics",   "reload",  "web",    "unknown"};
    return (unsigned)e < SERVE_N_ENDPOINTS ? names[e] : "unknown";
}

/* The HTTP status for a library failure. */
static int status_of(fl_status st) {
    switch (st) {
    case FL_ERR_UNKNOWN_ID: return 404;
    case FL_ERR_USAGE:
    case FL_ERR_DATA: return 400;
    case FL_ERR_NOMEM: return 503;
    default: return 500;
    }
}

static int lib_error(serve_reply *out, const fl_error *err) {
    return serve_error(out, status_of(err->code), "%s", err->msg);
}

/* Models with a bias per item and user: the others (dot, and the implicit
 * ials and bpr) answer null for a bias rather than a 0 they never learned. */
static int has_biases(const fl_model *m) {
    fl_model_info info;
    fl_model_get_info(m, &info);
    return info.kind == FL_MODEL_BIASED || info.kind == FL_MODEL_NN || info.kind == FL_MODEL_FM ||
           info.kind == FL_MODEL_SVDPP;
}

/* ials and bpr score preferences for ranking, not ratings. */
static int scores_preferences(const fl_model *m) {
    fl_model_info info;
    fl_model_get_info(m, &info);
    return info.kind == FL_MODEL_IALS || info.kind == FL_MODEL_BPR;
}

/* A float, or null where JSON has no number for it. */
static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *title_of(const serve_snapshot *s, uint32_t i) {
    return s->titles[i] ? json_string(s->titles[i]) : json_null();
}

/* [{"item","score","title"}, ...] for a top-n list. */
static json_t *scored_list(const serve_snapshot *s, const fl_scored *top, size_t n) {
    const fl_idmap *ids = fl_model_item_ids(s->model);
    json_t *arr = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(arr, json_pack("{s:s, s:o, s:o}", "item",
                                             fl_idmap_name(ids, top[k].index), "score",
                                             num(top[k].score), "title",
                                             title_of(s, top[k].index)));
    return arr;
}

/* What the page shows of one item: its bias is "how good it is, whoever
 * rates it", read beside how many ratings it rests on. */
static json_t *item_info(const serve_snapshot *s, uint32_t i) {
    const fl_model *m = s->model;
    return json_pack("{s:s, s:o, s:o, s:I, s:o}", "item",
                     fl_idmap_name(fl_model_item_ids(m), i), "title", title_of(s, i), "bias",
                     has_biases(m) ? num(fl_model_item_bias(m, i)) : json_null(),
                     "count", (json_int_t)fl_model_item_count(m, i), "mean",
                     num(fl_model_item_mean(m, i)));
}

static void predict(const serve_snapshot *s, const serve_request *r, serve_reply *out) {
    static const char *const allowed[] = {"user", "item", NULL};
    const char *user, *item;
    if (!serve_check_args(r, allowed, out) || !serve_arg_id(r, "user", &user, out) ||
        !serve_arg_id(r, "item", &item, out))
        return;
    float rating;
    fl_error err = {0};
    /* Known ids checked here: the library's message for an unknown one
     * suggests a CLI flag. */
    uint32_t index;
    if (!fl_idmap_find(fl_model_user_ids(s->model), user, strlen(user), &index)) {
        serve_error(out, 404, "user '%s' is not in the model (it had no training ratings)", user);
        return;
    }
    if (!fl_idmap_find(fl_model_item_ids(s->model), item, strlen(item), &index)) {
        serve_error(out, 404, "item '%s' is not in the model (it had no training ratings)", item);
        return;
    }
    if (fl_predict(s->model, user, item, FL_UNKNOWN_ERROR, &rating, &err) != FL_OK) {
        lib_error(out, &err);
        return;
    }
    /* An implicit model's number is a preference score: "rating" stays in
     * the reply (null) so clients keep one shape, and "score" holds it. */
    if (scores_preferences(s->model))
        serve_ok(out, json_pack("{s:s, s:s, s:n, s:o}", "user", user, "item", item, "rating",
                                "score", num(rating)));
    else
        serve_ok(out, json_pack("{s:s, s:s, s:o}", "user", user, "item", item, "rating", num(rating)));
}

/* A top-n search with the threads the transport grants this request. */
static fl_recommend_opts search_opts(const serve_request *r) {
    fl_recommend_opts o;
    fl_recommend_opts_default(&o);
    o.n_threads = r->scan_threads > 1 ? r->scan_threads : 1;
    return o;
}

static void recommend(const serve_snapshot *s, const serve_request *r, serve_reply *out) {
    static const char *const allowed[] = {"user", "n", "exclude_seen", NULL};
    const char *user;
    long n;
    int exclude_seen;
    if (!serve_check_args(r, allowed, out) || !serve_arg_id(r, "user", &user, out) ||
        !serve_arg_long(r, "n", 10, 1, SERVE_MAX_N, &n, out) ||
        !serve_arg_flag(r, "exclude_seen", 1, &exclude_seen, out))
        return;
    fl_scored top[SERVE_MAX_N];
    size_t got = 0;
    fl_error err = {0};
    fl_recommend_opts o = search_opts(r);
    o.exclude_seen = exclude_seen;
    fl_status st = fl_recommend_with(s->model, user, &o, (size_t)n, top, &got, &err);
    if (st != FL_OK) {
        lib_error(out, &err);
        return;
    }
    serve_ok(out, json_pack("{s:s, s:o}", "user", user, "items", scored_list(s, top, got)));
}

static void similar(const serve_snapshot *s, const serve_request *r, serve_reply *out) {
    static const char *const allowed[] = {"item", "n", NULL};
    const char *item;
    long n;
    if (!serve_check_args(r, allowed, out) || !serve_arg_id(r, "item", &item, out) ||
        !serve_arg_long(r, "n", 10, 1, SERVE_MAX_N, &n, out))
        return;
    fl_scored top[SERVE_MAX_N];
    size_t got = 0;
    fl_error err = {0};
    if (fl_similar(s->model, item, (size_t)n, top, &got, &err) != FL_OK) {
        lib_error(out, &err);
        return;
    }
    serve_ok(out, json_pack("{s:s, s:o}", "item", item, "items", scored_list(s, top, got)));
}

static void foldin(const serve_snapshot *s, const serve_request *r, serve_reply *out) {
    static const char *const allowed[] = {NULL};
    if (!serve_check_args(r, allowed, out)) return;
    fl_model_info info;
    fl_model_get_info(s->model, &info);
    serve_foldin f;
    if (!serve_parse_foldin(r->body, r->body_len, info.rating_lo, info.rating_hi, &f, out))
        return;
    float *factors = malloc(fl_model_fold_in_floats(s->model) * sizeof *factors);
    fl_scored top[SERVE_MAX_N];
    size_t used = 0, got = 0;
    float bias = 0.0f;
    fl_error err = {0};
    const fl_recommend_opts o = search_opts(r);
    if (!factors) {
        serve_error(out, 503, "out of memory");
    } else if (fl_fold_in(s->model, f.items, f.ratings, f.n_ratings, FL_UNKNOWN_ERROR, factors,
                          &bias, &used, &err) != FL_OK ||
               /* The rated items are left out, as for a trained user. */
               fl_recommend_folded_with(s->model, factors, bias, f.items, f.n_ratings, &o,
                                        (size_t)f.n, top, &got, &err) != FL_OK) {
        lib_error(out, &err);
    } else {
        serve_ok(out, json_pack("{s:o, s:I, s:o}", "bias",
                                info.kind == FL_MODEL_DOT ? json_null() : num(bias), "n_used",
                                (json_int_t)used, "items", scored_list(s, top, got)));
    }
    free(factors);
    serve_foldin_free(&f);
}

static void items(const serve_snapshot *s, const serve_request *r, serve_reply *out) {
    static const char *const allowed[] = {"q", "n", NULL};
    const char *q;
    long n;
    if (!serve_check_args(r, allowed, out) || !serve_arg_text(r, "q", SERVE_MAX_QUERY, &q, out) ||
        !serve_arg_long(r, "n", 10, 1, SERVE_MAX_N, &n, out))
        return;
    if (q[0] && !s->items) {
        serve_error(out, 404, "no titles to search: the server was started without --items");
        return;
    }
    char folded[SERVE_MAX_QUERY + 1];
    serve_fold_case(folded, q); /* q is at most SERVE_MAX_QUERY bytes */
    json_t *arr = json_array();
    /* Most rated first: the film people mean is usually the known one. */
    for (uint32_t k = 0; k < s->n_items && json_array_size(arr) < (size_t)n; k++) {
        uint32_t i = s->by_count[k];
        if (!q[0] || (s->folded[i] && strstr(s->folded[i], folded)))
            json_array_append_new(arr, item_info(s, i));
    }
    serve_ok(out, json_pack("{s:s, s:o}", "q", q, "items", arr));
}

static void item(const serve_snapshot *s, const serve_request *r, serve_reply *out) {
    static const char *const allowed[] = {NULL};
    const char *id = r->path + strlen(ITEM_PREFIX);
    if (!serve_check_args(r, allowed, out)) return;
    if (!serve_valid_id(id, strlen(id))) {
        serve_error(out, 400, "the item id in the path must be 1 to %d bytes of UTF-8 without "
                              "control characters", FL_MAX_ID_LEN);
        return;
    }
    uint32_t i;
    if (!fl_idmap_find(fl_model_item_ids(s->model), id, strlen(id), &i)) {
        serve_error(out, 404, "item '%s' is not in the model", id);
        return;
    }
    serve_ok(out, item_info(s, i));
}

void serve_api(const serve_snapshot *s, serve_endpoint e, const serve_request *r,
               serve_reply *out) {
    out->status = 500;
    out->body = NULL;
    switch (e) {
    case SERVE_PREDICT: predict(s, r, out); break;
    case SERVE_RECOMMEND: recommend(s, r, out); break;
    case SERVE_SIMILAR: similar(s, r, out); break;
    case SERVE_FOLDIN: foldin(s, r, out); break;
    case SERVE_ITEMS: items(s, r, out); break;
    case SERVE_ITEM: item(s, r, out); break;
    default: serve_error(out, 404, "no such endpoint"); break;
    }
    /* json_pack fails only when out of memory: answer so rather than with no body. */
    if (!out->body) serve_error(out, 503, "out of memory building the reply");
}
