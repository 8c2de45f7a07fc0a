/* users_reader.c — user demographics: ml-100k u.user (id|age|gender|
 * occupation|zip) and ml-1m users.dat (id::gender::age::occupation::zip, where
 * age and occupation are GroupLens codes kept as they are). Strict: a line
 * with the wrong field count or a non-numeric age fails with file:line. */
#include "data/byte_source.h"
#include "data/text.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

void fl_users_free(fl_users *us) {
    if (!us) return;
    for (uint32_t k = 0; k < us->n; k++) {
        free(us->occupations[k]);
        free(us->zips[k]);
    }
    free(us->ages);
    free(us->genders);
    free(us->occupations);
    free(us->zips);
    fl_idmap_free(us->ids);
    free(us);
}

static int parse_age(fl_span s, int *age) {
    s = fl_trim(s);
    if (s.len == 0 || s.len > 3) return -1;
    int a = 0;
    for (size_t k = 0; k < s.len; k++) {
        if (s.s[k] < '0' || s.s[k] > '9') return -1;
        a = a * 10 + (s.s[k] - '0');
    }
    *age = a;
    return 0;
}

static char gender_of(fl_span s) {
    s = fl_trim(s);
    if (fl_span_ieq(s, "M")) return 'M';
    if (fl_span_ieq(s, "F")) return 'F';
    return '?';
}

static fl_status grow(fl_users *us, uint32_t *cap) {
    uint32_t c = *cap ? *cap * 2 : 256;
    int *a = realloc(us->ages, c * sizeof *a);
    if (a) us->ages = a;
    char *g = realloc(us->genders, c);
    if (g) us->genders = g;
    char **o = realloc(us->occupations, c * sizeof *o);
    if (o) us->occupations = o;
    char **z = realloc(us->zips, c * sizeof *z);
    if (z) us->zips = z;
    if (!a || !g || !o || !z) return FL_ERR_NOMEM;
    *cap = c;
    return FL_OK;
}

static fl_status parse_users(const char *path, const char *buf, size_t len, fl_users *us,
                             fl_error *err) {
    int latin1 = !fl_is_utf8(buf, len);
    uint32_t cap = 0;
    uint32_t *lines = NULL; /* for duplicate messages */
    size_t pos = 0, line = 0;
    fl_span l, f[6];
    const char *sep = NULL;
    fl_status st = FL_OK;
    while (st == FL_OK && fl_next_line(buf, len, &pos, &l)) {
        line++;
        if (fl_trim(l).len == 0) continue;
        if (!sep) {
            int dcolon = 0;
            for (size_t k = 0; k + 1 < l.len && !dcolon; k++)
                dcolon = l.s[k] == ':' && l.s[k + 1] == ':';
            sep = dcolon ? "::" : "|";
        }
        /* u.user: id|age|gender|occupation|zip; users.dat swaps age and gender. */
        int dat = sep[0] == ':';
        size_t n = fl_split_fields(l, sep, f, 6);
        if (n != 5) {
            st = fl_fail(
                err, FL_ERR_DATA, "%s:%zu: expected 5 '%s'-separated fields (%s), found %zu", path,
                line, sep,
                dat ? "id::gender::age::occupation::zip" : "id|age|gender|occupation|zip", n);
            break;
        }
        fl_span id = fl_trim(f[0]);
        fl_span age_f = f[dat ? 2 : 1], gender_f = f[dat ? 1 : 2];
        int age = 0;
        uint32_t row;
        if (id.len == 0 || id.len > FL_MAX_ID_LEN) {
            st = fl_fail(err, FL_ERR_DATA, "%s:%zu: user id is empty or longer than %d bytes", path,
                         line, FL_MAX_ID_LEN);
        } else if (parse_age(age_f, &age)) {
            st = fl_fail(err, FL_ERR_DATA, "%s:%zu: age '%.*s' is not a whole number", path, line,
                         (int)(age_f.len > 20 ? 20 : age_f.len), age_f.s);
        } else if (fl_idmap_find(us->ids, id.s, id.len, &row)) {
            st =
                fl_fail(err, FL_ERR_DATA, "%s:%zu: user id '%.*s' appears again (first at line %u)",
                        path, line, (int)id.len, id.s, lines[row]);
        } else if (us->n == cap) {
            uint32_t *nl = realloc(lines, (cap ? cap * 2 : 256) * sizeof *nl);
            if (nl) lines = nl;
            if (!nl || grow(us, &cap)) st = FL_ERR_NOMEM;
        }
        if (st) break;
        char *occ = fl_utf8_dup(fl_trim(f[3]), latin1), *zip = fl_utf8_dup(fl_trim(f[4]), latin1);
        if (!occ || !zip || fl_idmap_intern(us->ids, id.s, id.len, &row)) {
            free(occ);
            free(zip);
            st = FL_ERR_NOMEM;
            break;
        }
        us->ages[row] = age;
        us->genders[row] = gender_of(gender_f);
        us->occupations[row] = occ;
        us->zips[row] = zip;
        lines[row] = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
        us->n = row + 1;
    }
    free(lines);
    if (st == FL_ERR_NOMEM)
        return fl_fail(err, st, "%s:%zu: out of memory reading users", path, line);
    if (st == FL_OK && us->n == 0) return fl_fail(err, FL_ERR_DATA, "%s: has no users", path);
    return st;
}

fl_status fl_users_read(const char *path, fl_users **out, fl_error *err) {
    *out = NULL;
    char *buf;
    size_t len;
    fl_status st = fl_source_slurp(path, &buf, &len, err);
    if (st) return st;
    fl_users *us = calloc(1, sizeof *us);
    if (!us || !(us->ids = fl_idmap_new())) {
        free(us);
        free(buf);
        return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory reading users", path);
    }
    if (memchr(buf, '\0', len))
        st = fl_fail(err, FL_ERR_DATA, "%s: contains NUL bytes, not a text file", path);
    else
        st = parse_users(path, buf, len, us, err);
    free(buf);
    if (st) {
        fl_users_free(us);
        return st;
    }
    *out = us;
    return FL_OK;
}
