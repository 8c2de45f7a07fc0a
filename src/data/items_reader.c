/* items_reader.c — movie titles, years and genres: ml-100k u.item (pipe,
 * Latin-1, 19 genre flags named by u.genre), ml-latest movies.csv (UTF-8,
 * RFC 4180 quoting, '|'-separated genre names) and ml-1m movies.dat ("::").
 * The format is told from the first line; the encoding from the bytes (a file
 * that is not valid UTF-8 is Latin-1). Titles always come out as UTF-8. */
#include "data/byte_source.h"
#include "data/text.h"

#include "core/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum items_format { FMT_UITEM, FMT_CSV, FMT_DAT };

/* The genre order of ml-100k's u.genre, used when that file is not beside u.item. */
static const char *const standard_genres[] = {
    "unknown",     "Action", "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama",  "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance",     "Sci-Fi", "Thriller",  "War",       "Western"};
#define N_STANDARD_GENRES (int)(sizeof standard_genres / sizeof *standard_genres)

typedef struct items_builder {
    fl_items *it;
    const char *path;
    uint32_t cap;
    uint32_t *lines; /* source line of each item, for duplicate messages */
    int latin1;
} items_builder;

void fl_items_free(fl_items *it) {
    if (!it) return;
    for (uint32_t k = 0; k < it->n; k++) free(it->titles[k]);
    free(it->titles);
    free(it->years);
    free(it->genres);
    for (int g = 0; g < it->n_genres; g++) free(it->genre_names[g]);
    fl_idmap_free(it->ids);
    free(it);
}

const char *fl_items_title(const fl_items *it, const char *item_id) {
    uint32_t row;
    if (!it || !item_id || !fl_idmap_find(it->ids, item_id, strlen(item_id), &row)) return NULL;
    return it->titles[row];
}

static fl_status nomem(items_builder *b, fl_error *err) {
    return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory reading items", b->path);
}

static fl_status add_genre(items_builder *b, fl_span name, size_t line, int *index, fl_error *err) {
    fl_items *it = b->it;
    for (int g = 0; g < it->n_genres; g++)
        if (fl_span_eq(name, it->genre_names[g])) {
            *index = g;
            return FL_OK;
        }
    if (it->n_genres == FL_MAX_GENRES)
        return fl_fail(err, FL_ERR_DATA, "%s:%zu: more than %d distinct genres ('%.*s')", b->path,
                       line, FL_MAX_GENRES, (int)(name.len > 40 ? 40 : name.len), name.s);
    char *s = fl_utf8_dup(name, b->latin1);
    if (!s) return nomem(b, err);
    it->genre_names[it->n_genres] = s;
    *index = it->n_genres++;
    return FL_OK;
}

static fl_status add_item(items_builder *b, size_t line, fl_span id, fl_span title, int year,
                          uint32_t genres, fl_error *err) {
    fl_items *it = b->it;
    id = fl_trim(id);
    title = fl_trim(title);
    if (id.len == 0) return fl_fail(err, FL_ERR_DATA, "%s:%zu: item id is empty", b->path, line);
    if (id.len > FL_MAX_ID_LEN)
        return fl_fail(err, FL_ERR_DATA, "%s:%zu: item id is longer than %d bytes", b->path, line,
                       FL_MAX_ID_LEN);
    uint32_t row;
    if (fl_idmap_find(it->ids, id.s, id.len, &row))
        return fl_fail(err, FL_ERR_DATA, "%s:%zu: item id '%.*s' appears again (first at line %u)",
                       b->path, line, (int)id.len, id.s, b->lines[row]);
    if (it->n == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 256;
        char **t = realloc(it->titles, cap * sizeof *t);
        if (t) it->titles = t;
        int *y = realloc(it->years, cap * sizeof *y);
        if (y) it->years = y;
        uint32_t *g = realloc(it->genres, cap * sizeof *g);
        if (g) it->genres = g;
        uint32_t *l = realloc(b->lines, cap * sizeof *l);
        if (l) b->lines = l;
        if (!t || !y || !g || !l) return nomem(b, err);
        b->cap = cap;
    }
    char *t = fl_utf8_dup(title, b->latin1);
    if (!t) return nomem(b, err);
    fl_status st = fl_idmap_intern(it->ids, id.s, id.len, &row);
    if (st) {
        free(t);
        return st == FL_ERR_DATA
                   ? fl_fail(err, st, "%s:%zu: item id contains a NUL byte", b->path, line)
                   : nomem(b, err);
    }
    it->titles[row] = t;
    it->years[row] = year ? year : fl_title_year(title);
    it->genres[row] = genres;
    b->lines[row] = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
    it->n = row + 1;
    return FL_OK;
}

/* ------------------------------------------------------------ u.item */

/* Year of a "dd-Mon-yyyy" release date (u.item also has "4-Feb-1971");
 * -1 when malformed, 0 when empty. */
static int date_year(fl_span d) {
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    d = fl_trim(d);
    if (d.len == 0) return 0;
    size_t day_len = d.len == 11 ? 2 : d.len == 10 ? 1 : 0;
    if (!day_len) return -1;
    const char *s = d.s;
    for (size_t k = 0; k < day_len; k++)
        if (s[k] < '0' || s[k] > '9') return -1;
    s += day_len;
    if (s[0] != '-' || s[4] != '-') return -1;
    int month_ok = 0;
    for (int m = 0; m < 12 && !month_ok; m++) month_ok = memcmp(s + 1, months + 3 * m, 3) == 0;
    if (!month_ok) return -1;
    int y = 0;
    for (int k = 5; k < 9; k++) {
        if (s[k] < '0' || s[k] > '9') return -1;
        y = y * 10 + (s[k] - '0');
    }
    return y;
}

/* u.genre ("name|index", indices 0..n-1) from the directory of the u.item
 * file; the standard 19 names when it is not there. */
static fl_status read_genre_names(items_builder *b, fl_error *err) {
    fl_items *it = b->it;
    size_t plen = strlen(b->path);
    char *gpath = malloc(plen + sizeof "u.genre");
    if (!gpath) return nomem(b, err);
    memcpy(gpath, b->path, plen + 1);
    char *slash = strrchr(gpath, '/');
    strcpy(slash ? slash + 1 : gpath, "u.genre");
    struct stat sb;
    if (stat(gpath, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        free(gpath);
        for (int g = 0; g < N_STANDARD_GENRES; g++) {
            if (!(it->genre_names[g] = strdup(standard_genres[g]))) return nomem(b, err);
            it->n_genres = g + 1;
        }
        return FL_OK;
    }
    char *buf;
    size_t len;
    fl_status st = fl_source_slurp(gpath, &buf, &len, err);
    if (st) {
        free(gpath);
        return st;
    }
    int latin1 = !fl_is_utf8(buf, len);
    size_t pos = 0, line = 0;
    fl_span l, f[3];
    while (st == FL_OK && fl_next_line(buf, len, &pos, &l)) {
        line++;
        if (fl_trim(l).len == 0) continue;
        size_t n = fl_split_fields(l, "|", f, 3);
        fl_span name = fl_trim(f[0]), idx = n == 2 ? fl_trim(f[1]) : (fl_span){"", 0};
        int g = 0;
        size_t k = 0;
        for (; k < idx.len && idx.s[k] >= '0' && idx.s[k] <= '9' && g < 1000; k++)
            g = g * 10 + (idx.s[k] - '0');
        if (n != 2 || name.len == 0 || idx.len == 0 || k != idx.len)
            st = fl_fail(err, FL_ERR_DATA, "%s:%zu: expected 'name|index'", gpath, line);
        else if (g >= FL_MAX_GENRES)
            st = fl_fail(err, FL_ERR_DATA, "%s:%zu: genre index %d is over %d", gpath, line, g,
                         FL_MAX_GENRES - 1);
        else if (it->genre_names[g])
            st = fl_fail(err, FL_ERR_DATA, "%s:%zu: genre index %d appears twice", gpath, line, g);
        else if (!(it->genre_names[g] = fl_utf8_dup(name, latin1)))
            st = nomem(b, err);
        else if (g + 1 > it->n_genres)
            it->n_genres = g + 1;
    }
    for (int g = 0; st == FL_OK && g < it->n_genres; g++)
        if (!it->genre_names[g])
            st = fl_fail(err, FL_ERR_DATA, "%s: genre index %d is missing", gpath, g);
    if (st == FL_OK && it->n_genres == 0)
        st = fl_fail(err, FL_ERR_DATA, "%s: no genres found", gpath);
    free(buf);
    free(gpath);
    return st;
}

static fl_status read_uitem(items_builder *b, const char *buf, size_t len, fl_error *err) {
    fl_status st = read_genre_names(b, err);
    if (st) return st;
    int n_genres = b->it->n_genres;
    size_t want = 5 + (size_t)n_genres;
    fl_span f[5 + FL_MAX_GENRES];
    size_t pos = 0, line = 0;
    fl_span l;
    while (fl_next_line(buf, len, &pos, &l)) {
        line++;
        if (fl_trim(l).len == 0) continue;
        size_t n = fl_split_fields(l, "|", f, want);
        if (n != want)
            return fl_fail(err, FL_ERR_DATA,
                           "%s:%zu: expected %zu '|'-separated fields (id|title|release date|video "
                           "date|url|%d genre flags), found %zu",
                           b->path, line, want, n_genres, n);
        int year = date_year(f[2]);
        if (year < 0)
            return fl_fail(err, FL_ERR_DATA, "%s:%zu: release date '%.*s' is not dd-Mon-yyyy",
                           b->path, line, (int)(f[2].len > 40 ? 40 : f[2].len), f[2].s);
        uint32_t genres = 0;
        for (int g = 0; g < n_genres; g++) {
            fl_span flag = fl_trim(f[5 + g]);
            if (!fl_span_eq(flag, "0") && !fl_span_eq(flag, "1"))
                return fl_fail(err, FL_ERR_DATA, "%s:%zu: genre flag %d ('%s') is not 0 or 1",
                               b->path, line, g + 1, b->it->genre_names[g]);
            if (flag.s[0] == '1') genres |= 1u << g;
        }
        st = add_item(b, line, f[0], f[1], year, genres, err);
        if (st) return st;
    }
    return FL_OK;
}

/* ------------------------------------------------------------ movies.csv */

typedef struct csv_reader {
    const char *buf;
    size_t len, pos;
    size_t line;   /* line the cursor is on */
    char *scratch; /* unescaped fields of the current record */
} csv_reader;

/* Reads one record into f (at most max fields, *n the true count). Quoted
 * fields may hold commas, doubled quotes and line breaks. Returns 1, 0 at
 * the end, -1 with *what on malformed quoting. */
static int csv_record(csv_reader *c, fl_span *f, size_t max, size_t *n, const char **what) {
    if (c->pos >= c->len) return 0;
    size_t w = 0;
    *n = 0;
    for (;;) {
        size_t start = w;
        if (c->pos < c->len && c->buf[c->pos] == '"') {
            c->pos++;
            for (;;) {
                if (c->pos >= c->len) {
                    *what = "unterminated quoted field";
                    return -1;
                }
                char ch = c->buf[c->pos];
                if (ch == '"') {
                    if (c->pos + 1 < c->len && c->buf[c->pos + 1] == '"') {
                        c->scratch[w++] = '"';
                        c->pos += 2;
                        continue;
                    }
                    c->pos++;
                    break;
                }
                if (ch == '\n') c->line++;
                c->scratch[w++] = ch;
                c->pos++;
            }
            if (c->pos < c->len && c->buf[c->pos] != ',' && c->buf[c->pos] != '\n' &&
                c->buf[c->pos] != '\r') {
                *what = "text after a closing quote (a quote inside a field must be doubled)";
                return -1;
            }
        } else {
            while (c->pos < c->len && c->buf[c->pos] != ',' && c->buf[c->pos] != '\n' &&
                   c->buf[c->pos] != '\r')
                c->scratch[w++] = c->buf[c->pos++];
        }
        if (*n < max) f[*n] = (fl_span){c->scratch + start, w - start};
        (*n)++;
        if (c->pos < c->len && c->buf[c->pos] == ',') {
            c->pos++;
            continue;
        }
        if (c->pos < c->len && c->buf[c->pos] == '\r') {
            c->pos++;
            if (c->pos < c->len && c->buf[c->pos] == '\n') c->pos++;
        } else if (c->pos < c->len) {
            c->pos++; /* '\n' */
        }
        c->line++;
        return 1;
    }
}

static int header_role(fl_span name) {
    static const char *const names[3][4] = {{"movieId", "itemId", "item", "id"},
                                            {"title", "name", NULL, NULL},
                                            {"genres", "genre", NULL, NULL}};
    name = fl_trim(name);
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 4 && names[r][k]; k++)
            if (fl_span_ieq(name, names[r][k])) return r;
    return -1;
}

/* Genre names separated by '|'; "(no genres listed)" means none. */
static fl_status parse_genre_list(items_builder *b, fl_span s, size_t line, uint32_t *mask,
                                  fl_error *err) {
    *mask = 0;
    fl_span g[FL_MAX_GENRES + 1];
    size_t n = fl_split_fields(s, "|", g, FL_MAX_GENRES + 1);
    if (n > FL_MAX_GENRES + 1) n = FL_MAX_GENRES + 1;
    for (size_t k = 0; k < n; k++) {
        fl_span name = fl_trim(g[k]);
        if (name.len == 0 || fl_span_eq(name, "(no genres listed)")) continue;
        int g_index = 0;
        fl_status st = add_genre(b, name, line, &g_index, err);
        if (st) return st;
        *mask |= 1u << g_index;
    }
    return FL_OK;
}

static fl_status read_csv(items_builder *b, const char *buf, size_t len, fl_error *err) {
    csv_reader c = {buf, len, 0, 1, malloc(len + 1)};
    if (!c.scratch) return nomem(b, err);
    int col[3] = {0, 1, 2}; /* id, title, genres */
    size_t n_cols = 3, n, line;
    fl_span f[64];
    const char *what = NULL;
    int first = 1, r;
    fl_status st = FL_OK;
    while (st == FL_OK && (line = c.line, r = csv_record(&c, f, 64, &n, &what)) != 0) {
        if (r < 0) {
            st = fl_fail(err, FL_ERR_DATA, "%s:%zu: %s", b->path, line, what);
            break;
        }
        if (n == 1 && fl_trim(f[0]).len == 0) continue; /* empty line */
        if (first) {
            /* A header names at least the id and title columns, in any order. */
            first = 0;
            int named[3] = {-1, -1, -1};
            for (size_t k = 0; k < n && k < 64; k++) {
                int role = header_role(f[k]);
                if (role >= 0 && named[role] < 0) named[role] = (int)k;
            }
            if (named[0] >= 0 && named[1] >= 0) {
                memcpy(col, named, sizeof col);
                n_cols = n;
                continue;
            }
        }
        if (n != n_cols) {
            st = fl_fail(err, FL_ERR_DATA,
                         "%s:%zu: expected %zu comma-separated fields, found %zu (titles with "
                         "commas must be quoted)",
                         b->path, line, n_cols, n);
            break;
        }
        uint32_t genres = 0;
        if (col[2] >= 0) st = parse_genre_list(b, f[col[2]], line, &genres, err);
        if (st == FL_OK) st = add_item(b, line, f[col[0]], f[col[1]], 0, genres, err);
    }
    free(c.scratch);
    return st;
}

/* ------------------------------------------------------------ movies.dat */

static fl_status read_dat(items_builder *b, const char *buf, size_t len, fl_error *err) {
    size_t pos = 0, line = 0;
    fl_span l, f[3];
    while (fl_next_line(buf, len, &pos, &l)) {
        line++;
        if (fl_trim(l).len == 0) continue;
        size_t n = fl_split_fields(l, "::", f, 3);
        if (n != 3)
            return fl_fail(
                err, FL_ERR_DATA,
                "%s:%zu: expected 3 '::'-separated fields (id::title::genres), found %zu", b->path,
                line, n);
        uint32_t genres;
        fl_status st = parse_genre_list(b, f[2], line, &genres, err);
        if (st == FL_OK) st = add_item(b, line, f[0], f[1], 0, genres, err);
        if (st) return st;
    }
    return FL_OK;
}

/* ------------------------------------------------------------ entry point */

static fl_status detect(const char *path, const char *buf, size_t len, enum items_format *fmt,
                        fl_error *err) {
    size_t pos = 0;
    fl_span l = {"", 0};
    while (fl_next_line(buf, len, &pos, &l) && fl_trim(l).len == 0) {
    }
    l = fl_trim(l);
    if (l.len == 0) return fl_fail(err, FL_ERR_DATA, "%s: is empty, expected movies", path);
    fl_span f[64];
    size_t n_pipe = fl_split_fields(l, "|", f, 64);
    fl_span last = n_pipe <= 64 ? fl_trim(f[n_pipe - 1]) : (fl_span){"", 0};
    int has_dcolon = 0;
    for (size_t k = 0; k + 1 < l.len && !has_dcolon; k++)
        has_dcolon = l.s[k] == ':' && l.s[k + 1] == ':';
    if (has_dcolon)
        *fmt = FMT_DAT;
    else if (n_pipe >= 6 && last.len <= 2)
        *fmt = FMT_UITEM; /* ends in a genre flag */
    else if (memchr(l.s, ',', l.len))
        *fmt = FMT_CSV;
    else
        return fl_fail(err, FL_ERR_DATA,
                       "%s:1: not a u.item, movies.csv or movies.dat file (no '|' genre flags, "
                       "',' or '::' on the first line)",
                       path);
    return FL_OK;
}

fl_status fl_items_read(const char *path, fl_items **out, fl_error *err) {
    *out = NULL;
    char *buf;
    size_t len;
    fl_status st = fl_source_slurp(path, &buf, &len, err);
    if (st) return st;
    const char *text = buf;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3, len -= 3;
    if (memchr(text, '\0', len)) {
        free(buf);
        return fl_fail(err, FL_ERR_DATA, "%s: contains NUL bytes, not a text file", path);
    }
    items_builder b = {calloc(1, sizeof(fl_items)), path, 0, NULL, !fl_is_utf8(text, len)};
    if (!b.it || !(b.it->ids = fl_idmap_new())) {
        free(b.it);
        free(buf);
        return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory reading items", path);
    }
    enum items_format fmt;
    st = detect(path, text, len, &fmt, err);
    if (st == FL_OK) {
        if (fmt == FMT_UITEM)
            st = read_uitem(&b, text, len, err);
        else if (fmt == FMT_CSV)
            st = read_csv(&b, text, len, err);
        else
            st = read_dat(&b, text, len, err);
    }
    if (st == FL_OK && b.it->n == 0) st = fl_fail(err, FL_ERR_DATA, "%s: has no movies", path);
    free(buf);
    free(b.lines);
    if (st) {
        fl_items_free(b.it);
        return st;
    }
    *out = b.it;
    return FL_OK;
}
