/* fuzz_serve.c — libFuzzer target for the server's request handling: the
 * routing of a path, the query-parameter checks, the fold-in body's JSON
 * validation and every JSON endpoint answering from a real snapshot (a small
 * biased model trained at start-up on synthetic data, with titles). The
 * transport (libmicrohttpd) is not in the loop: the input is cut into what
 * it would hand over.
 *
 * Input: byte 0 picks the endpoint; then the path-or-query line up to the
 * first '\n' ("k=v&k=v", percent-encoded, or the item id of /v1/items/ID),
 * and the rest is the body. Every reply must be a status and a JSON body;
 * errors must be {"error": "..."}. */
#include "serve/api.c"
#include "serve/params.c"
#include "serve/reply.c"
#include "serve/snapshot.c"

#include <assert.h>
#include <stdint.h>
#include <unistd.h>

static serve_snapshot *snap;

static void die(const char *what, const fl_error *err) {
    fprintf(stderr, "fuzz_serve: %s: %s\n", what, err ? err->msg : "");
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    fl_synth_opts so;
    fl_synth_opts_default(&so);
    so.n_users = 60, so.n_items = 40, so.n_ratings = 1200, so.rank = 3, so.seed = 7;
    fl_dataset *d = NULL;
    fl_error err = {0};
    if (fl_synth_generate(&so, &d, &err) != FL_OK) die("synthetic data", &err);
    fl_params p;
    fl_params_init(&p, FL_MODEL_BIASED, FL_SOLVER_DEFAULT);
    p.n_factors = 4, p.epochs = 3, p.n_threads = 1;
    fl_model *m = NULL;
    fl_train_result res;
    if (fl_train(d, NULL, &p, NULL, &m, &res, &err) != FL_OK) die("training", &err);
    char model[64], items[64];
    snprintf(model, sizeof model, "/tmp/fl-fuzz-serve-%ld.flm", (long)getpid());
    snprintf(items, sizeof items, "/tmp/fl-fuzz-serve-%ld.item", (long)getpid());
    if (fl_model_save(m, model, &err) != FL_OK) die("saving", &err);
    FILE *f = fopen(items, "w");
    if (!f) die("writing titles", NULL);
    /* u.item's layout: id|title|date|video date|url|19 genre flags. */
    for (uint32_t i = 0; i < so.n_items; i++)
        fprintf(f, "i%u|Film %s %u (199%u)|01-Jan-1995||http://x|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n",
                i, i % 3 ? "Star" : "Wars", i, i % 10);
    fclose(f);
    if (serve_snapshot_load(model, items, &snap, &err) != FL_OK) die("snapshot", &err);
    unlink(model);
    unlink(items);
    fl_model_free(m);
    fl_dataset_free(d);
    return 0;
}

static int hex(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* In place, as the transport decodes: %XX and '+'; returns the new length. */
static size_t decode(char *s, size_t n) {
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] == '%' && k + 2 < n + 0 && hex(s[k + 1]) >= 0 && hex(s[k + 2]) >= 0) {
            s[o++] = (char)(hex(s[k + 1]) * 16 + hex(s[k + 2]));
            k += 2;
        } else {
            s[o++] = s[k] == '+' ? ' ' : s[k];
        }
    }
    s[o] = '\0';
    return o;
}

static void check_reply(const serve_reply *r) {
    assert(r->body);
    assert(r->status == 200 || (r->status >= 400 && r->status < 600));
    if (r->status != 200) {
        assert(json_object_size(r->body) == 1);
        assert(json_is_string(json_object_get(r->body, "error")));
    }
    char *text = json_dumps(r->body, JSON_COMPACT);
    assert(text);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1 << 16) return 0;
    static const serve_endpoint eps[] = {SERVE_PREDICT, SERVE_RECOMMEND, SERVE_SIMILAR,
                                         SERVE_FOLDIN,  SERVE_ITEMS,     SERVE_ITEM};
    serve_endpoint e = eps[data[0] % (sizeof eps / sizeof eps[0])];
    char *buf = malloc(size + 16);
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *nl = memchr(buf, '\n', size - 1);
    size_t line_len = nl ? (size_t)(nl - buf) : size - 1;
    const char *body = nl ? nl + 1 : NULL;
    size_t body_len = nl ? size - 1 - line_len - 1 : 0;
    buf[line_len] = '\0';

    /* The raw line as a path, for the router. */
    const char *method;
    serve_route(buf, &method);

    serve_request r;
    memset(&r, 0, sizeof r);
    r.method = e == SERVE_FOLDIN ? "POST" : "GET";
    char path[512];
    if (e == SERVE_ITEM) {
        size_t n = decode(buf, line_len);
        snprintf(path, sizeof path, "/v1/items/%.*s", (int)(n < 400 ? n : 400), buf);
        if (!buf[0]) snprintf(path, sizeof path, "/v1/items/x"); /* the router never routes "" */
    } else {
        snprintf(path, sizeof path, "/v1/%s", serve_endpoint_name(e));
        for (char *p = buf; p && *p;) {
            char *amp = strchr(p, '&');
            if (amp) *amp = '\0';
            char *eq = strchr(p, '=');
            if (eq) *eq = '\0';
            if (r.n_args == SERVE_MAX_ARGS) {
                r.too_many_args = 1;
                break;
            }
            decode(p, strlen(p));
            size_t vlen = eq ? decode(eq + 1, strlen(eq + 1)) : 0;
            r.args[r.n_args++] = (serve_arg){p, eq ? eq + 1 : "", vlen};
            p = amp ? amp + 1 : NULL;
        }
    }
    r.path = path;
    r.body = body;
    r.body_len = body_len;
    serve_reply reply = {0, NULL};
    serve_api(snap, e, &r, &reply);
    check_reply(&reply);
    json_decref(reply.body);

    /* The fold-in body parser on the raw bytes, whatever the endpoint. */
    serve_foldin f;
    serve_reply out = {0, NULL};
    if (serve_parse_foldin((const char *)data, size, 1.0f, 5.0f, &f, &out)) serve_foldin_free(&f);
    else check_reply(&out);
    json_decref(out.body);
    free(buf);
    return 0;
}
