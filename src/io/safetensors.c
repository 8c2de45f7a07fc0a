/* safetensors.c — the model file's container (safetensors.h): the header
 * (JSON, padded so the data section starts on a cache line), the two-pass
 * atomic write with the checksum in the header, and the checked mapping on
 * load. Knows nothing of model kinds: that is model_file.c. */
#include "io/safetensors.h"

#include "core/digest.h"
#include "core/error.h"
#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* safetensors is little-endian; tensors are used in place, never swapped. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "model files are little-endian and mapped in place; big-endian hosts are not supported"
#endif

#define DATA_ALIGN 64 /* the data section starts on a cache line: every tensor is aligned */
static const char *const dtype_names[] = {"U64", "F32", "U32", "U8"};
static const size_t dtype_sizes[] = {8, 4, 4, 1};

/* Where bytes go: SHA-256 in the first pass, the temp file in the second. */
typedef struct sink {
    fl_sha256 *hash;
    fl_atomic_file *file;
    unsigned char buf[1 << 16];
    size_t len;
    fl_status st;
    fl_error *err;
    const fl_st_progress *progress; /* may be NULL */
    uint64_t done, total;           /* bytes through either pass, of both */
} sink;

static void sink_tell(sink *s) {
    const fl_st_progress *p = s->progress;
    if (s->st == FL_OK && p && p->fn && p->fn(p->ctx, s->done, s->total))
        s->st = fl_fail(s->err, FL_ERR_CANCELLED, "saving was cancelled; no file was written");
}

static void sink_flush(sink *s) {
    if (s->st == FL_OK && s->len) {
        if (s->hash) fl_sha256_update(s->hash, s->buf, s->len);
        else s->st = fl_atomic_write(s->file, s->buf, s->len, s->err);
        s->done += s->len;
        /* Every 4 MiB: often enough for a bar, rare enough to cost nothing. */
        if (s->done % (4u << 20) < s->len) sink_tell(s);
    }
    s->len = 0;
}

static void sink_put(sink *s, const void *p, size_t n) {
    const unsigned char *b = p;
    while (n > 0 && s->st == FL_OK) {
        size_t room = sizeof s->buf - s->len;
        size_t take = n < room ? n : room;
        memcpy(s->buf + s->len, b, take);
        s->len += take, b += take, n -= take;
        if (s->len == sizeof s->buf) sink_flush(s);
    }
}

static uint64_t ids_bytes(const fl_idmap *ids) {
    uint32_t n = fl_idmap_size(ids);
    uint64_t total = n ? n - 1 : 0;
    for (uint32_t k = 0; k < n; k++) total += strlen(fl_idmap_name(ids, k));
    return total;
}

static void put_tensor(sink *s, const tensor *t) {
    if (t->ids) {
        uint32_t n = fl_idmap_size(t->ids);
        for (uint32_t k = 0; k < n; k++) {
            if (k) sink_put(s, "\n", 1);
            const char *name = fl_idmap_name(t->ids, k);
            sink_put(s, name, strlen(name));
        }
        return;
    }
    size_t es = dtype_sizes[t->dt];
    const unsigned char *p = t->src;
    /* Rows are written one by one: in a training model they are `stride`
     * apart with padding the file must not contain. */
    for (uint64_t r = 0; r < t->rows && t->cols; r++)
        sink_put(s, p + (size_t)(r * t->stride) * es, (size_t)t->cols * es);
}

static void put_file(sink *s, const char *header, size_t header_len, const tensor *t, int n_t) {
    unsigned char len8[8];
    uint64_t hl = header_len;
    memcpy(len8, &hl, 8);
    sink_put(s, len8, 8);
    sink_put(s, header, header_len);
    for (int k = 0; k < n_t; k++) put_tensor(s, &t[k]);
    sink_flush(s);
    sink_tell(s); /* each pass ends told */
}

/* The header text, padded with spaces so 8 + its length is a multiple of
 * DATA_ALIGN; *checksum_at is where the 64 placeholder zeros are. */
static char *build_header(json_t *meta, tensor *t, int n_t, size_t *len, size_t *checksum_at) {
    json_t *root = json_object();
    char zeros[FL_ST_HEX_LEN + 1];
    memset(zeros, '0', FL_ST_HEX_LEN);
    zeros[FL_ST_HEX_LEN] = '\0';
    /* Last key of the metadata: filled in once the file's hash is known. */
    int bad = !root || !meta || json_object_set_new(meta, "checksum", json_string(zeros));
    bad |= !root || !meta || json_object_set_new(root, "__metadata__", meta);
    if (bad && !root) json_decref(meta);
    uint64_t off = 0;
    for (int k = 0; k < n_t && !bad; k++) {
        uint64_t nbytes = t[k].ids ? ids_bytes(t[k].ids)
                                   : t[k].rows * t[k].cols * dtype_sizes[t[k].dt];
        if (t[k].ids) t[k].shape[0] = nbytes;
        t[k].begin = off, t[k].end = off += nbytes;
        json_t *shape = json_array();
        for (int d = 0; d < t[k].ndim && shape; d++)
            bad |= json_array_append_new(shape, json_integer((json_int_t)t[k].shape[d]));
        json_t *e = json_pack("{s:s, s:o, s:[I,I]}", "dtype", dtype_names[t[k].dt], "shape", shape,
                              "data_offsets", (json_int_t)t[k].begin, (json_int_t)t[k].end);
        bad |= json_object_set_new(root, t[k].name, e);
    }
    char *text = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text) return NULL;
    size_t n = strlen(text);
    size_t padded = (8 + n + DATA_ALIGN - 1) / DATA_ALIGN * DATA_ALIGN - 8;
    char *h = malloc(padded + 1);
    if (h) {
        memcpy(h, text, n);
        memset(h + n, ' ', padded - n);
        h[padded] = '\0';
        /* In compact JSON every '"' inside a string value is escaped, so this
         * key-value text can only be the checksum entry itself. */
        const char *key = strstr(h, "\"checksum\":\"0000000000000000");
        *checksum_at = key ? (size_t)(key - h) + strlen("\"checksum\":\"") : 0;
        *len = padded;
        if (!key) free(h), h = NULL;
    }
    free(text);
    return h;
}

tensor *fl_st_find(loader *ld, const char *name) {
    for (int k = 0; k < ld->n_t; k++)
        if (strcmp(ld->t[k].name, name) == 0) return &ld->t[k];
    return NULL;
}

static int get_uint(json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static fl_status read_tensor_entry(loader *ld, const char *name, json_t *e) {
    const char *path = ld->path;
    if (ld->n_t == FL_ST_MAX_TENSORS) return BAD(ld, "%s: the header lists too many tensors", path);
    if (strlen(name) >= sizeof ld->t[0].name)
        return BAD(ld, "%s: unexpected tensor '%.40s...'", path, name);
    if (!json_is_object(e) || json_object_size(e) != 3)
        return BAD(ld, "%s: tensor '%s' must have exactly dtype, shape and data_offsets", path,
                   name);
    tensor *t = &ld->t[ld->n_t];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    json_t *dt = json_object_get(e, "dtype"), *shape = json_object_get(e, "shape"),
           *offs = json_object_get(e, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs))
        return BAD(ld, "%s: tensor '%s' must have exactly dtype, shape and data_offsets", path,
                   name);
    int known = 0;
    for (int d = DT_U64; d <= DT_U8; d++)
        if (strcmp(json_string_value(dt), dtype_names[d]) == 0) t->dt = (dtype)d, known = 1;
    if (!known)
        return BAD(ld, "%s: tensor '%s' has dtype '%.16s', which factorlens does not use", path,
                   name, json_string_value(dt));
    size_t nd = json_array_size(shape);
    if (nd < 1 || nd > 2) return BAD(ld, "%s: tensor '%s' must have 1 or 2 dimensions", path, name);
    t->ndim = (int)nd;
    uint64_t elems = 1;
    for (size_t d = 0; d < nd; d++) {
        if (!get_uint(json_array_get(shape, d), &t->shape[d]) || t->shape[d] > UINT32_MAX)
            return BAD(ld, "%s: tensor '%s' has an invalid shape", path, name);
        elems *= t->shape[d]; /* two factors under 2^32: no overflow */
    }
    if (json_array_size(offs) != 2 || !get_uint(json_array_get(offs, 0), &t->begin) ||
        !get_uint(json_array_get(offs, 1), &t->end) || t->end < t->begin)
        return BAD(ld, "%s: tensor '%s' has invalid data_offsets", path, name);
    if (elems > UINT64_MAX / 8 || elems * dtype_sizes[t->dt] != t->end - t->begin)
        return BAD(ld, "%s: tensor '%s' has %llu bytes but its shape needs %llu", path, name,
                   (unsigned long long)(t->end - t->begin),
                   (unsigned long long)(elems * dtype_sizes[t->dt]));
    ld->n_t++;
    return FL_OK;
}

static int by_begin(const void *a, const void *b) {
    const tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Length prefix, JSON, tensor table, and the tensors tiling the data section. */
static fl_status read_layout(loader *ld) {
    const char *path = ld->path;
    memcpy(&ld->header_len, ld->base, 8);
    /* Every safetensors header is a JSON object, so a file whose ninth byte
     * is not '{' is something else (a ratings file passed by mistake): say
     * so rather than quoting its text read as a length. */
    if (ld->size > 8 && ld->base[8] != '{')
        return BAD(ld, "%s: not a factorlens model file (no safetensors header)", path);
    if (ld->header_len > ld->size - 8)
        return BAD(ld, "%s: truncated: header says %llu bytes but the file has %zu", path,
                   (unsigned long long)(ld->header_len + 8 < ld->header_len ? UINT64_MAX
                                                                             : ld->header_len + 8),
                   ld->size);
    if (ld->header_len < 2)
        return BAD(ld, "%s: not a factorlens model file (header of %llu bytes)", path,
                   (unsigned long long)ld->header_len);
    ld->data_off = 8 + ld->header_len;
    ld->data_len = ld->size - ld->data_off;
    json_error_t je;
    ld->root = json_loadb((const char *)ld->base + 8, ld->header_len, JSON_REJECT_DUPLICATES, &je);
    if (!ld->root)
        return BAD(ld, "%s: the header is not valid JSON (%s at byte %d)", path, je.text,
                   8 + je.position);
    if (!json_is_object(ld->root)) return BAD(ld, "%s: the header is not a JSON object", path);
    const char *key;
    json_t *v;
    json_object_foreach(ld->root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            ld->meta = v;
            continue;
        }
        fl_status st = read_tensor_entry(ld, key, v);
        if (st) return st;
    }
    if (!json_is_object(ld->meta))
        return BAD(ld, "%s: the header has no __metadata__ object; not a factorlens model", path);
    const char *mk;
    json_object_foreach(ld->meta, mk, v) {
        if (!json_is_string(v))
            return BAD(ld, "%s: metadata '%.60s' is not a string", path, mk);
    }

    tensor sorted[FL_ST_MAX_TENSORS];
    memcpy(sorted, ld->t, (size_t)ld->n_t * sizeof *sorted);
    qsort(sorted, (size_t)ld->n_t, sizeof *sorted, by_begin);
    uint64_t at = 0;
    for (int k = 0; k < ld->n_t; k++) {
        if (sorted[k].begin != at)
            return BAD(ld, "%s: tensor '%s' starts at byte %llu of the data but the previous "
                           "one ends at %llu (holes and overlaps are not allowed)",
                       path, sorted[k].name, (unsigned long long)sorted[k].begin,
                       (unsigned long long)at);
        at = sorted[k].end;
    }
    if (at > ld->data_len)
        return BAD(ld, "%s: truncated: the tensors need %llu bytes after the header but the file "
                       "has %llu",
                   path, (unsigned long long)at, (unsigned long long)ld->data_len);
    if (at < ld->data_len)
        return BAD(ld, "%s: %llu bytes of unexpected data after the last tensor", path,
                   (unsigned long long)(ld->data_len - at));
    return FL_OK;
}

/* SHA-256 of the whole file with the checksum's 64 characters read as '0's. */
static fl_status verify_checksum(loader *ld) {
    const char *path = ld->path;
    json_t *c = json_object_get(ld->meta, "checksum");
    const char *hex = json_string_value(c);
    if (!hex) return BAD(ld, "%s: metadata has no checksum", path);
    if (strlen(hex) != FL_ST_HEX_LEN || strspn(hex, "0123456789abcdef") != FL_ST_HEX_LEN)
        return BAD(ld, "%s: the checksum is not 64 lowercase hex digits", path);
    const char *h = (const char *)ld->base + 8;
    size_t n = ld->header_len, at = 0, found = 0;
    for (size_t k = 0; k + FL_ST_HEX_LEN <= n; k++)
        if (h[k] == hex[0] && memcmp(h + k, hex, FL_ST_HEX_LEN) == 0) found++, at = 8 + k;
    if (found != 1)
        return BAD(ld, "%s: the checksum must appear exactly once, unescaped, in the header", path);
    char zeros[FL_ST_HEX_LEN], got[FL_ST_HEX_LEN + 1];
    memset(zeros, '0', FL_ST_HEX_LEN);
    fl_sha256 *s = fl_sha256_begin();
    if (!s) return fl_fail(ld->err, FL_ERR_NOMEM, "out of memory verifying '%s'", path);
    fl_sha256_update(s, ld->base, at);
    fl_sha256_update(s, zeros, FL_ST_HEX_LEN);
    fl_sha256_update(s, ld->base + at + FL_ST_HEX_LEN, ld->size - at - FL_ST_HEX_LEN);
    fl_sha256_end(s, got);
    if (memcmp(got, hex, FL_ST_HEX_LEN) != 0)
        return BAD(ld, "%s: checksum mismatch: the file is corrupt or was modified", path);
    memcpy(ld->checksum, hex, FL_ST_HEX_LEN + 1);
    return FL_OK;
}

/* ---- metadata values: strict text forms, as the writer prints them */

fl_status fl_st_meta_str(loader *ld, const char *key, const char **out) {
    *out = json_string_value(json_object_get(ld->meta, key));
    if (!*out) return BAD(ld, "%s: metadata key '%s' is missing", ld->path, key);
    return FL_OK;
}

int fl_st_parse_int(const char *s, long long lo, long long hi, long long *out) {
    const char *p = s + (*s == '-');
    if (*p < '0' || *p > '9') return 0;
    long long v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (LLONG_MAX - 9) / 10) return 0;
        v = v * 10 + (*p - '0');
    }
    if (*p) return 0;
    if (*s == '-') v = -v;
    if (v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static int parse_u64(const char *s, uint64_t *out) {
    if (*s < '0' || *s > '9') return 0;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (*s) return 0;
    *out = v;
    return 1;
}

int fl_st_parse_double(const char *s, double *out) {
    if (!*s || !strchr("-.0123456789", *s)) return 0; /* no spaces, '+', "inf", "nan" */
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static int parse_float(const char *s, float *out) {
    if (!*s || !strchr("-.0123456789", *s)) return 0;
    char *end;
    float v = strtof(s, &end);
    if (*end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

fl_status fl_st_meta_int(loader *ld, const char *key, long long lo, long long hi, int *out) {
    const char *s;
    long long v;
    fl_status st = fl_st_meta_str(ld, key, &s);
    if (st) return st;
    if (!fl_st_parse_int(s, lo, hi, &v))
        return BAD(ld, "%s: metadata '%s' = '%.40s' is not an integer in [%lld, %lld]", ld->path,
                   key, s, lo, hi);
    *out = (int)v;
    return FL_OK;
}

fl_status fl_st_meta_float(loader *ld, const char *key, float *out) {
    const char *s;
    fl_status st = fl_st_meta_str(ld, key, &s);
    if (st) return st;
    if (!parse_float(s, out))
        return BAD(ld, "%s: metadata '%s' = '%.40s' is not a finite number", ld->path, key, s);
    return FL_OK;
}

fl_status fl_st_meta_double(loader *ld, const char *key, double *out) {
    const char *s;
    fl_status st = fl_st_meta_str(ld, key, &s);
    if (st) return st;
    if (!fl_st_parse_double(s, out))
        return BAD(ld, "%s: metadata '%s' = '%.40s' is not a finite number", ld->path, key, s);
    return FL_OK;
}

fl_status fl_st_meta_u64(loader *ld, const char *key, uint64_t *out) {
    const char *s;
    fl_status st = fl_st_meta_str(ld, key, &s);
    if (st) return st;
    if (!parse_u64(s, out))
        return BAD(ld, "%s: metadata '%s' = '%.40s' is not a non-negative integer", ld->path, key,
                   s);
    return FL_OK;
}

/* A comma-separated list ("" is empty) of at most max ints or floats. */
fl_status fl_st_meta_list(loader *ld, const char *key, int max, int *ints, float *floats,
                           int *count) {
    const char *s;
    fl_status st = fl_st_meta_str(ld, key, &s);
    if (st) return st;
    *count = 0;
    while (*s) {
        char item[64];
        size_t n = strcspn(s, ",");
        if (*count == max || n == 0 || n >= sizeof item)
            return BAD(ld, "%s: metadata '%s' is not a list of at most %d numbers", ld->path, key,
                       max);
        memcpy(item, s, n);
        item[n] = '\0';
        long long v;
        int ok = ints ? fl_st_parse_int(item, INT32_MIN, INT32_MAX, &v) : parse_float(item, &floats[*count]);
        if (!ok) return BAD(ld, "%s: metadata '%s' has a bad entry '%s'", ld->path, key, item);
        if (ints) ints[*count] = (int)v;
        ++*count;
        s += n;
        if (*s == ',' && !*++s)
            return BAD(ld, "%s: metadata '%s' ends with a comma", ld->path, key);
    }
    return FL_OK;
}

/* Each expected tensor is present with the right dtype, shape and alignment,
 * and nothing else is; returns its address in the mapping through *at. */
fl_status fl_st_expect(loader *ld, const char *name, dtype dt, int ndim, uint64_t d0, uint64_t d1,
                        const void **at, int *used) {
    tensor *t = fl_st_find(ld, name);
    if (!t) return BAD(ld, "%s: tensor '%s' is missing", ld->path, name);
    used[t - ld->t] = 1;
    if (t->dt != dt)
        return BAD(ld, "%s: tensor '%s' has dtype %s, expected %s", ld->path, name,
                   dtype_names[t->dt], dtype_names[dt]);
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
        if (ndim == 2)
            return BAD(ld, "%s: tensor '%s' should have shape [%llu, %llu]", ld->path, name,
                       (unsigned long long)d0, (unsigned long long)d1);
        return BAD(ld, "%s: tensor '%s' should have shape [%llu]", ld->path, name,
                   (unsigned long long)d0);
    }
    if ((ld->data_off + t->begin) % dtype_sizes[dt] != 0)
        return BAD(ld, "%s: tensor '%s' is not aligned to %zu bytes in the file (pad the header "
                       "so the data starts at a multiple of 64)",
                   ld->path, name, dtype_sizes[dt]);
    *at = ld->base + ld->data_off + t->begin;
    return FL_OK;
}

fl_status fl_st_check_finite(loader *ld, const char *name, const float *p, uint64_t n) {
    for (uint64_t k = 0; k < n; k++)
        if (!isfinite(p[k]))
            return BAD(ld, "%s: tensor '%s' holds a value that is not finite at element %llu",
                       ld->path, name, (unsigned long long)k);
    return FL_OK;
}

/* Rebuilds an id map from n ids joined by '\n'. */
fl_status fl_st_read_ids(loader *ld, const char *name, uint32_t n, fl_idmap **out) {
    tensor *t = fl_st_find(ld, name);
    const char *p = (const char *)ld->base + ld->data_off + t->begin;
    const char *end = p + (t->end - t->begin);
    fl_idmap *ids = fl_idmap_new();
    if (!ids) return fl_fail(ld->err, FL_ERR_NOMEM, "out of memory reading '%s'", ld->path);
    *out = ids;
    if (n == 0) {
        if (p != end) return BAD(ld, "%s: tensor '%s' should be empty", ld->path, name);
        return FL_OK;
    }
    for (uint32_t k = 0; k < n; k++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        if ((k + 1 < n) != (nl != NULL))
            return BAD(ld, "%s: tensor '%s' does not hold exactly %u ids", ld->path, name, n);
        size_t len = (size_t)(stop - p);
        if (memchr(p, '\0', len) || len > FL_MAX_ID_LEN)
            return BAD(ld, "%s: id %u in '%s' has a NUL byte or is longer than %d bytes", ld->path,
                       k, name, FL_MAX_ID_LEN);
        uint32_t idx;
        fl_status st = fl_idmap_intern(ids, p, len, &idx);
        if (st == FL_ERR_NOMEM)
            return fl_fail(ld->err, FL_ERR_NOMEM, "out of memory reading '%s'", ld->path);
        if (st || idx != k)
            return BAD(ld, "%s: id '%.*s' appears twice in '%s'", ld->path, (int)(len > 64 ? 64 : len),
                       p, name);
        p = nl ? nl + 1 : end;
    }
    return FL_OK;
}

fl_status fl_st_write(const char *path, json_t *meta, tensor *t, int n_t, const fl_st_progress *progress,
                      fl_error *err) {
    size_t header_len = 0, checksum_at = 0;
    char *header = build_header(meta, t, n_t, &header_len, &checksum_at);
    sink *s = calloc(1, sizeof *s);
    if (!header || !s) {
        free(header), free(s);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory writing the header of '%s'", path);
    }
    s->err = err;
    s->progress = progress;
    s->total = 2 * (8 + (uint64_t)header_len + (n_t ? t[n_t - 1].end : 0));

    /* Pass 1: hash with the placeholder zeros in place, as the reader will. */
    s->hash = fl_sha256_begin();
    if (!s->hash) {
        free(header), free(s);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory hashing '%s'", path);
    }
    put_file(s, header, header_len, t, n_t);
    char hex[FL_ST_HEX_LEN + 1];
    fl_sha256_end(s->hash, hex);
    memcpy(header + checksum_at, hex, FL_ST_HEX_LEN);

    /* Pass 2: the same bytes, now with the checksum, into the temp file. */
    fl_atomic_file f;
    fl_status st = s->st; /* cancelled while hashing: nothing to remove */
    if (st == FL_OK) st = fl_atomic_open(&f, path, err);
    if (st == FL_OK) {
        s->hash = NULL;
        s->file = &f;
        put_file(s, header, header_len, t, n_t);
        st = s->st;
        if (st == FL_OK)
            st = fl_atomic_commit(&f, err);
        else
            fl_atomic_abort(&f); /* cancelled (a failed write has removed it already) */
    }
    free(header);
    free(s);
    return st;
}

fl_status fl_st_open(const char *path, loader *ld, fl_file_map *map, time_t *mtime, fl_error *err) {
    memset(ld, 0, sizeof *ld);
    memset(map, 0, sizeof *map);
    /* O_NONBLOCK: a FIFO given by mistake must not hang the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fl_fail(err, FL_ERR_IO, "cannot open model file '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return fl_fail(err, FL_ERR_IO, "cannot read model file '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        if (S_ISDIR(sb.st_mode))
            return fl_fail(err, FL_ERR_IO, "%s: is a directory, expected a model file", path);
        return fl_fail(err, FL_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size < 8) {
        close(fd);
        if (sb.st_size == 0)
            return fl_fail(err, FL_ERR_MODEL_FILE, "%s: the file is empty; not a model", path);
        return fl_fail(err, FL_ERR_MODEL_FILE,
                       "%s: truncated: %lld bytes, too short for the 8-byte header length", path,
                       (long long)sb.st_size);
    }
    if ((unsigned long long)sb.st_size > SIZE_MAX) {
        close(fd);
        return fl_fail(err, FL_ERR_NOMEM, "%s: too large to map", path);
    }
    size_t size = (size_t)sb.st_size;
    int e = fl_file_map_open(fd, size, map);
    close(fd);
    if (e) return fl_fail(err, FL_ERR_IO, "cannot map model file '%s': %s", path, strerror(e));

    ld->path = path, ld->base = map->addr, ld->size = size, ld->err = err;
    *mtime = sb.st_mtime;
    fl_status st = read_layout(ld);
    if (!st) st = verify_checksum(ld);
    if (st) {
        fl_st_close(ld);
        fl_file_map_close(map);
    }
    return st;
}

void fl_st_close(loader *ld) {
    json_decref(ld->root);
    ld->root = ld->meta = NULL;
}
