/* params.c — strict checks of query parameters and of the fold-in body. */
#include "serve/params.h"

#include "factorlens.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int serve_check_args(const serve_request *r, const char *const *allowed, serve_reply *out) {
    if (r->too_many_args)
        return serve_error(out, 400, "too many query parameters (at most %d)", SERVE_MAX_ARGS);
    for (size_t a = 0; a < r->n_args; a++) {
        const char *key = r->args[a].key;
        int known = 0;
        for (size_t k = 0; allowed[k]; k++) known |= strcmp(key, allowed[k]) == 0;
        if (!known) {
            char list[256] = "";
            for (size_t k = 0; allowed[k]; k++) {
                if (k) strncat(list, ", ", sizeof list - strlen(list) - 1);
                strncat(list, allowed[k], sizeof list - strlen(list) - 1);
            }
            /* The name is not echoed: it may be anything, bytes included. */
            return serve_error(out, 400, "unknown query parameter; this endpoint takes: %s",
                               list[0] ? list : "none");
        }
        for (size_t b = 0; b < a; b++)
            if (strcmp(key, r->args[b].key) == 0)
                return serve_error(out, 400, "query parameter '%s' is given twice", key);
    }
    return 1;
}

const serve_arg *serve_find_arg(const serve_request *r, const char *key) {
    for (size_t a = 0; a < r->n_args; a++)
        if (strcmp(r->args[a].key, key) == 0) return &r->args[a];
    return NULL;
}

/* Well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF),
 * without NUL. JSON strings must be UTF-8, and every text a client sends
 * may be echoed back in one. */
static int valid_utf8(const unsigned char *s, size_t len) {
    for (size_t k = 0; k < len;) {
        unsigned c = s[k];
        if (c == 0) return 0;
        if (c < 0x80) {
            k++;
            continue;
        }
        size_t extra;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) extra = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) extra = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) extra = 3, cp = c & 0x07;
        else return 0;
        if (len - k <= extra) return 0;
        for (size_t e = 1; e <= extra; e++) {
            if ((s[k + e] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[k + e] & 0x3F);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        k += extra + 1;
    }
    return 1;
}

int serve_valid_id(const char *s, size_t len) {
    if (len == 0 || len > FL_MAX_ID_LEN || !valid_utf8((const unsigned char *)s, len)) return 0;
    for (size_t k = 0; k < len; k++)
        if ((unsigned char)s[k] < 0x20 || s[k] == 0x7F) return 0;
    return 1;
}

int serve_arg_id(const serve_request *r, const char *key, const char **id, serve_reply *out) {
    const serve_arg *a = serve_find_arg(r, key);
    if (!a || a->value_len == 0)
        return serve_error(out, 400, "query parameter '%s' is required (a raw id)", key);
    if (!serve_valid_id(a->value, a->value_len))
        return serve_error(out, 400,
                           "query parameter '%s' must be an id of 1 to %d bytes of UTF-8 "
                           "without control characters",
                           key, FL_MAX_ID_LEN);
    *id = a->value;
    return 1;
}

int serve_arg_long(const serve_request *r, const char *key, long dflt, long lo, long hi,
                   long *value, serve_reply *out) {
    const serve_arg *a = serve_find_arg(r, key);
    if (!a) {
        *value = dflt;
        return 1;
    }
    /* Plain decimal digits only: no sign, spaces, hex or exponent. */
    const char *v = a->value;
    size_t len = a->value_len;
    int ok = len > 0 && len <= 9 && strspn(v, "0123456789") == len;
    long x = ok ? strtol(v, NULL, 10) : 0;
    if (!ok || x < lo || x > hi)
        return serve_error(out, 400, "query parameter '%s' must be an integer from %ld to %ld",
                           key, lo, hi);
    *value = x;
    return 1;
}

int serve_arg_flag(const serve_request *r, const char *key, int dflt, int *value,
                   serve_reply *out) {
    const serve_arg *a = serve_find_arg(r, key);
    if (!a) {
        *value = dflt;
        return 1;
    }
    if (a->value_len == strlen(a->value)) {
        if (!strcmp(a->value, "1") || !strcmp(a->value, "true")) return *value = 1, 1;
        if (!strcmp(a->value, "0") || !strcmp(a->value, "false")) return *value = 0, 1;
    }
    return serve_error(out, 400, "query parameter '%s' must be 0 or 1", key);
}

int serve_arg_text(const serve_request *r, const char *key, size_t max_len, const char **text,
                   serve_reply *out) {
    const serve_arg *a = serve_find_arg(r, key);
    *text = "";
    if (!a) return 1;
    if (a->value_len > max_len || !valid_utf8((const unsigned char *)a->value, a->value_len))
        return serve_error(out, 400, "query parameter '%s' must be at most %zu bytes of UTF-8",
                           key, max_len);
    *text = a->value;
    return 1;
}

void serve_foldin_free(serve_foldin *f) {
    free(f->items);
    free(f->ratings);
    json_decref(f->root);
    memset(f, 0, sizeof *f);
}

static int by_string(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 if some id appears twice (sorts a copy: O(n log n) for any n). */
static int has_repeat(const char **ids, size_t n) {
    if (n < 2) return 0;
    const char **s = malloc(n * sizeof *s);
    if (!s) return -1;
    memcpy(s, ids, n * sizeof *s);
    qsort(s, n, sizeof *s, by_string);
    int rep = 0;
    for (size_t k = 1; k < n && !rep; k++) rep = strcmp(s[k - 1], s[k]) == 0;
    free(s);
    return rep;
}

static int foldin_fail(serve_foldin *f, serve_reply *out, int status, const char *msg) {
    serve_foldin_free(f);
    return serve_error(out, status, "%s", msg);
}

int serve_parse_foldin(const char *body, size_t len, float lo, float hi, serve_foldin *f,
                       serve_reply *out) {
    static const char shape[] =
        "; expected {\"ratings\": [{\"item\": \"ID\", \"rating\": NUMBER}, ...], \"n\": N}";
    memset(f, 0, sizeof *f);
    f->n = 10;
    if (!body || len == 0)
        return serve_error(out, 400, "the request body is empty%s", shape);
    json_error_t jerr;
    /* Duplicate keys are refused: which one would count is a guess. */
    f->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!f->root)
        return serve_error(out, 400, "the body is not valid JSON (line %d, column %d): %s",
                           jerr.line, jerr.column, jerr.text);
    if (!json_is_object(f->root))
        return foldin_fail(f, out, 400, "the body must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(f->root, key, v) {
        if (strcmp(key, "ratings") != 0 && strcmp(key, "n") != 0)
            return foldin_fail(f, out, 400, "the body has an unknown key; it takes 'ratings' and 'n'");
    }
    json_t *n = json_object_get(f->root, "n");
    if (n) {
        if (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > SERVE_MAX_N) {
            serve_foldin_free(f);
            return serve_error(out, 400, "'n' must be an integer from 1 to %d", SERVE_MAX_N);
        }
        f->n = (long)json_integer_value(n);
    }
    json_t *rs = json_object_get(f->root, "ratings");
    if (!json_is_array(rs))
        return foldin_fail(f, out, 400, "'ratings' is required and must be an array");
    size_t count = json_array_size(rs);
    if (count > SERVE_MAX_FOLDIN) {
        serve_foldin_free(f);
        return serve_error(out, 400, "'ratings' has %zu entries; at most %d are taken", count,
                           SERVE_MAX_FOLDIN);
    }
    f->items = calloc(count ? count : 1, sizeof *f->items);
    f->ratings = calloc(count ? count : 1, sizeof *f->ratings);
    if (!f->items || !f->ratings) return foldin_fail(f, out, 503, "out of memory");
    for (size_t k = 0; k < count; k++) {
        json_t *e = json_array_get(rs, k), *item = json_object_get(e, "item"),
               *rating = json_object_get(e, "rating");
        if (!json_is_object(e) || json_object_size(e) != 2 || !json_is_string(item) ||
            !json_is_number(rating)) {
            serve_foldin_free(f);
            return serve_error(out, 400,
                               "ratings[%zu] must be {\"item\": \"ID\", \"rating\": NUMBER} and "
                               "nothing else",
                               k);
        }
        if (!serve_valid_id(json_string_value(item), json_string_length(item))) {
            serve_foldin_free(f);
            return serve_error(out, 400,
                               "ratings[%zu].item must be an id of 1 to %d bytes without "
                               "control characters",
                               k, FL_MAX_ID_LEN);
        }
        double x = json_number_value(rating);
        if (!isfinite(x) || x < lo || x > hi) {
            serve_foldin_free(f);
            return serve_error(out, 400, "ratings[%zu].rating must be a number from %g to %g", k,
                               (double)lo, (double)hi);
        }
        f->items[k] = json_string_value(item);
        f->ratings[k] = (float)x;
    }
    f->n_ratings = count;
    int rep = has_repeat(f->items, count);
    if (rep < 0) return foldin_fail(f, out, 503, "out of memory");
    if (rep) return foldin_fail(f, out, 400, "an item appears twice in 'ratings'");
    return 1;
}
