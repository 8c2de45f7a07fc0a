/* features.c — reading side features (features.h): u.user and users.dat
 * through the users reader, u.item, movies.csv and movies.dat through the
 * items reader, anything else as generic `id,feature[,value]` lines. The
 * fixed formats become named features here: age buckets, gender,
 * occupation, the zip's first digit, genres (weight 1/sqrt(genres of the
 * movie), so a many-genre movie is not pushed further than a one-genre one)
 * and the release decade. */
#include "data/features.h"

#include "core/error.h"
#include "data/byte_source.h"
#include "data/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct triple {
    uint32_t row, feat;
    float val;
} triple;

typedef struct builder {
    fl_features *f;
    triple *t;
    size_t n, cap;
    const char *path;
} builder;

void fl_features_free(fl_features *f) {
    if (!f) return;
    fl_idmap_free(f->ids);
    fl_idmap_free(f->names);
    free(f->start), free(f->feat), free(f->val), free(f->group_of);
    for (int g = 0; g < f->n_groups; g++) free(f->group_names[g]);
    free(f);
}

uint32_t fl_features_n_ids(const fl_features *f) { return fl_idmap_size(f->ids); }
uint32_t fl_features_n_features(const fl_features *f) { return fl_idmap_size(f->names); }
int fl_features_n_groups(const fl_features *f) { return f->n_groups; }
const char *fl_features_group(const fl_features *f, int g, uint32_t *n_features) {
    if (g < 0 || g >= f->n_groups) return NULL;
    if (n_features) *n_features = f->group_size[g];
    return f->group_names[g];
}

/* The group of a feature name: up to its '=', else the whole name. */
static fl_status group_index(builder *b, const char *name, size_t len, int *g) {
    const char *eq = memchr(name, '=', len);
    size_t glen = eq ? (size_t)(eq - name) : len;
    fl_features *f = b->f;
    for (int k = 0; k < f->n_groups; k++)
        if (strlen(f->group_names[k]) == glen && memcmp(f->group_names[k], name, glen) == 0)
            return *g = k, FL_OK;
    if (f->n_groups == FL_MAX_FEATURE_GROUPS) return FL_ERR_DATA;
    char *s = malloc(glen + 1);
    if (!s) return FL_ERR_NOMEM;
    memcpy(s, name, glen), s[glen] = '\0';
    f->group_names[f->n_groups] = s;
    *g = f->n_groups++;
    return FL_OK;
}

/* Adds (row, feature name, value); interns the feature. */
static fl_status add(builder *b, uint32_t row, const char *name, size_t len, float val) {
    fl_features *f = b->f;
    uint32_t before = fl_idmap_size(f->names), feat;
    if (fl_idmap_intern(f->names, name, len, &feat)) return FL_ERR_NOMEM;
    if (feat == before) {
        int g;
        fl_status st = group_index(b, name, len, &g);
        if (st) return st;
        if ((feat & (feat - 1)) == 0 || feat == 0) {
            uint8_t *go = realloc(f->group_of, (feat ? 2 * (size_t)feat : 1) * sizeof *go);
            if (!go) return FL_ERR_NOMEM;
            f->group_of = go;
        }
        f->group_of[feat] = (uint8_t)g;
        f->group_size[g]++;
    }
    if (b->n == b->cap) {
        size_t c = b->cap ? 2 * b->cap : 1024;
        triple *t = realloc(b->t, c * sizeof *t);
        if (!t) return FL_ERR_NOMEM;
        b->t = t, b->cap = c;
    }
    b->t[b->n++] = (triple){row, feat, val};
    return FL_OK;
}

static fl_status addf(builder *b, uint32_t row, float val, const char *fmt, const char *a) {
    char name[FL_MAX_ID_LEN + 1];
    int n = snprintf(name, sizeof name, fmt, a);
    if (n < 0 || n >= (int)sizeof name) n = (int)sizeof name - 1;
    return add(b, row, name, (size_t)n, val);
}

static const char *age_bucket(int age) {
    /* MovieLens 1M's own age groups. */
    return age < 18 ? "<18" : age < 25 ? "18-24" : age < 35 ? "25-34" : age < 45 ? "35-44"
           : age < 50 ? "45-49" : age < 56 ? "50-55" : "56+";
}

static fl_status from_users(builder *b, fl_error *err) {
    fl_users *us;
    fl_status st = fl_users_read(b->path, &us, err);
    if (st) return st;
    for (uint32_t r = 0; r < us->n && st == FL_OK; r++) {
        const char *id = fl_idmap_name(us->ids, r);
        uint32_t row;
        if (fl_idmap_intern(b->f->ids, id, strlen(id), &row)) st = FL_ERR_NOMEM;
        char g[2] = {us->genders[r], 0}, zip[2] = {us->zips[r][0], 0};
        if (zip[0] < '0' || zip[0] > '9') zip[0] = 'x'; /* not a US zip */
        if (!st) st = addf(b, row, 1.0f, "age=%s", age_bucket(us->ages[r]));
        if (!st) st = addf(b, row, 1.0f, "gender=%s", g);
        if (!st) st = addf(b, row, 1.0f, "occupation=%s", us->occupations[r]);
        if (!st) st = addf(b, row, 1.0f, "zip=%s", zip);
    }
    fl_users_free(us);
    if (st) return fl_fail(err, st, "%s: out of memory reading user features", b->path);
    return FL_OK;
}

static fl_status from_items(builder *b, fl_error *err) {
    fl_items *it;
    fl_status st = fl_items_read(b->path, &it, err);
    if (st) return st;
    for (uint32_t r = 0; r < it->n && st == FL_OK; r++) {
        const char *id = fl_idmap_name(it->ids, r);
        uint32_t row;
        if (fl_idmap_intern(b->f->ids, id, strlen(id), &row)) st = FL_ERR_NOMEM;
        int n = __builtin_popcount(it->genres[r]);
        for (int g = 0; g < it->n_genres && !st; g++)
            if (it->genres[r] >> g & 1u)
                st = addf(b, row, 1.0f / sqrtf((float)n), "genre=%s", it->genre_names[g]);
        if (!st && it->years[r] > 0) {
            char dec[16];
            snprintf(dec, sizeof dec, "%ds", it->years[r] / 10 * 10);
            st = addf(b, row, 1.0f, "decade=%s", dec);
        }
    }
    fl_items_free(it);
    if (st) return fl_fail(err, st, "%s: out of memory reading item features", b->path);
    return FL_OK;
}

static int parse_value(fl_span s, float *v) {
    char tmp[64];
    s = fl_trim(s);
    if (s.len == 0 || s.len >= sizeof tmp) return -1;
    memcpy(tmp, s.s, s.len), tmp[s.len] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (*end || !isfinite(d)) return -1;
    *v = (float)d;
    return 0;
}

/* id,feature[,value] lines; '#' starts a comment line. */
static fl_status from_generic(builder *b, const char *buf, size_t len, fl_error *err) {
    fl_idmap *pairs = fl_idmap_new(); /* "id\x1f" "feature" -> first line */
    uint32_t *first = NULL;
    size_t pos = 0, line = 0;
    fl_span l, fld[4];
    fl_status st = pairs ? FL_OK : FL_ERR_NOMEM;
    while (st == FL_OK && fl_next_line(buf, len, &pos, &l)) {
        line++;
        fl_span t = fl_trim(l);
        if (t.len == 0 || t.s[0] == '#') continue;
        size_t n = fl_split_fields(t, ",", fld, 4);
        float v = 1.0f;
        fl_span id = n >= 2 ? fl_trim(fld[0]) : t, name = n >= 2 ? fl_trim(fld[1]) : t;
        if (n < 2 || n > 3) {
            st = fl_fail(err, FL_ERR_DATA, "%s:%zu: expected id,feature[,value], found %zu field%s",
                         b->path, line, n, n == 1 ? "" : "s");
        } else if (id.len == 0 || id.len > FL_MAX_ID_LEN || name.len == 0 ||
                   id.len + name.len + 1 > FL_MAX_ID_LEN) {
            st = fl_fail(err, FL_ERR_DATA, "%s:%zu: empty or too long id or feature name", b->path,
                         line);
        } else if (n == 3 && parse_value(fld[2], &v)) {
            st = fl_fail(err, FL_ERR_DATA, "%s:%zu: value '%.*s' is not a finite number", b->path,
                         line, (int)(fld[2].len > 20 ? 20 : fld[2].len), fld[2].s);
        }
        if (st) break;
        char key[2 * FL_MAX_ID_LEN + 2];
        memcpy(key, id.s, id.len), key[id.len] = '\x1f';
        memcpy(key + id.len + 1, name.s, name.len);
        uint32_t before = fl_idmap_size(pairs), k, row;
        if (fl_idmap_intern(pairs, key, id.len + 1 + name.len, &k)) {
            st = FL_ERR_NOMEM;
            break;
        }
        if (k < before) {
            st = fl_fail(err, FL_ERR_DATA, "%s:%zu: id '%.*s' has feature '%.*s' again (first at line %u)",
                         b->path, line, (int)id.len, id.s, (int)name.len, name.s, first[k]);
            break;
        }
        if ((k & (k - 1)) == 0) {
            uint32_t *nf = realloc(first, (k ? 2 * (size_t)k : 1) * sizeof *nf);
            if (!nf) {
                st = FL_ERR_NOMEM;
                break;
            }
            first = nf;
        }
        first[k] = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
        if (fl_idmap_intern(b->f->ids, id.s, id.len, &row)) st = FL_ERR_NOMEM;
        if (!st) st = add(b, row, name.s, name.len, v);
        if (st == FL_ERR_DATA)
            st = fl_fail(err, st, "%s:%zu: more than %d feature groups", b->path, line,
                         FL_MAX_FEATURE_GROUPS);
    }
    fl_idmap_free(pairs);
    free(first);
    if (st == FL_ERR_NOMEM) return fl_fail(err, st, "%s: out of memory reading features", b->path);
    if (st == FL_OK && fl_idmap_size(b->f->ids) == 0)
        return fl_fail(err, FL_ERR_DATA, "%s: has no feature lines", b->path);
    return st;
}

enum fmt { GENERIC, USERS, ITEMS };

/* From the first non-blank line: u.user (5 '|' fields), u.item (more),
 * users.dat (5 '::' fields), movies.dat (3), movies.csv (its header). */
static enum fmt detect(const char *buf, size_t len) {
    size_t pos = 0;
    fl_span l, f[8];
    while (fl_next_line(buf, len, &pos, &l)) {
        l = fl_trim(l);
        if (l.len == 0) continue;
        if (l.len >= 8 && memcmp(l.s, "movieId,", 8) == 0) return ITEMS;
        int dcolon = 0;
        for (size_t k = 0; k + 1 < l.len && !dcolon; k++) dcolon = l.s[k] == ':' && l.s[k + 1] == ':';
        if (dcolon) return fl_split_fields(l, "::", f, 8) == 5 ? USERS : ITEMS;
        if (memchr(l.s, '|', l.len)) return fl_split_fields(l, "|", f, 8) == 5 ? USERS : ITEMS;
        return GENERIC;
    }
    return GENERIC;
}

/* Rows in CSR form, each row's features in the order read. */
static fl_status finish(builder *b) {
    fl_features *f = b->f;
    uint32_t n_rows = fl_idmap_size(f->ids);
    f->start = calloc((size_t)n_rows + 1, sizeof *f->start);
    f->feat = malloc((b->n ? b->n : 1) * sizeof *f->feat);
    f->val = malloc((b->n ? b->n : 1) * sizeof *f->val);
    if (!f->start || !f->feat || !f->val) return FL_ERR_NOMEM;
    for (size_t k = 0; k < b->n; k++) f->start[b->t[k].row + 1]++;
    for (uint32_t r = 0; r < n_rows; r++) f->start[r + 1] += f->start[r];
    uint64_t *fill = malloc(((size_t)n_rows + 1) * sizeof *fill);
    if (!fill) return FL_ERR_NOMEM;
    memcpy(fill, f->start, ((size_t)n_rows + 1) * sizeof *fill);
    for (size_t k = 0; k < b->n; k++) {
        uint64_t at = fill[b->t[k].row]++;
        f->feat[at] = b->t[k].feat, f->val[at] = b->t[k].val;
    }
    free(fill);
    return FL_OK;
}

fl_status fl_features_read(const char *path, fl_features **out, fl_error *err) {
    *out = NULL;
    char *buf;
    size_t len;
    fl_status st = fl_source_slurp(path, &buf, &len, err);
    if (st) return st;
    builder b = {calloc(1, sizeof(fl_features)), NULL, 0, 0, path};
    if (!b.f || !(b.f->ids = fl_idmap_new()) || !(b.f->names = fl_idmap_new())) {
        fl_features_free(b.f);
        free(buf);
        return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory reading features", path);
    }
    snprintf(b.f->source, sizeof b.f->source, "%s", fl_source_name(path));
    const char *text = buf;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3, len -= 3;
    if (memchr(text, '\0', len)) {
        st = fl_fail(err, FL_ERR_DATA, "%s: contains NUL bytes, not a text file", path);
    } else {
        enum fmt fm = detect(text, len);
        st = fm == USERS ? from_users(&b, err) : fm == ITEMS ? from_items(&b, err)
                                                             : from_generic(&b, text, len, err);
    }
    free(buf);
    if (st == FL_OK && finish(&b) != FL_OK)
        st = fl_fail(err, FL_ERR_NOMEM, "%s: out of memory reading features", path);
    free(b.t);
    if (st) {
        fl_features_free(b.f);
        return st;
    }
    *out = b.f;
    return FL_OK;
}

void fl_feature_canonical(const char *name, char *out, size_t cap) {
    char *end;
    if (strncmp(name, "age=", 4) == 0 && name[4] >= '0' && name[4] <= '9') {
        long age = strtol(name + 4, &end, 10);
        if (!*end && age >= 0 && age < 1000) {
            snprintf(out, cap, "age=%s", age_bucket((int)age));
            return;
        }
    }
    if (strncmp(name, "zip=", 4) == 0 && name[4] && name[5]) {
        char z = name[4] >= '0' && name[4] <= '9' ? name[4] : 'x';
        snprintf(out, cap, "zip=%c", z);
        return;
    }
    snprintf(out, cap, "%s", name);
}
