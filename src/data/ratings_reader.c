/* ratings_reader.c — delimited ratings files of every MovieLens dialect.
 *
 * ml-100k u.data (tab), ml-1m/10M ratings.dat ("::"), ml-latest/20m/25m
 * ratings.csv (comma, header, CRLF in some copies) and any other delimited
 * file. The input streams through a fixed buffer one line at a time; each
 * line is split into fields, the id fields are interned into the dataset's id
 * maps and the rating is parsed strictly. Every rejected line produces
 * "file:line: what is wrong". Memory: 12 bytes per rating (+4 with times);
 * a plain file's arrays are sized from its length and the bytes per line of
 * its first chunk, so they are not regrown (and copied) as it streams in.
 * The duplicate check adds a bit per item, and 4 bytes per rating only for
 * a file that does not keep each user's ratings together (duplicates.h). */
#include "data/byte_source.h"
#include "data/ratings_part.h"
#include "data/ratings_parser.h"
#include "data/idmap.h"

#include "core/error.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct field {
    const char *s;
    size_t len;
} field;

void fl_read_opts_default(fl_read_opts *o) {
    memset(o, 0, sizeof *o);
    o->header = -1;
    o->scale_lo = 1.0f;
    o->scale_hi = 0.0f; /* lo > hi: any finite rating */
    o->duplicates = FL_DUP_ERROR;
}

static void trim(field *f) {
    while (f->len && fl_is_blank(f->s[0])) f->s++, f->len--;
    while (f->len && fl_is_blank(f->s[f->len - 1])) f->len--;
}

/* Splits a line into fields. Quoted fields (RFC 4180) may hold the separator;
 * the quotes are removed when the field is used as an id. Returns the field
 * count, or -1 for an unterminated quote. */
static int split(const fl_ratings_parser *p, const char *s, size_t len, field *f) {
    int n = 0;
    size_t k = 0;
    if (p->sep_spaces)
        while (k < len && fl_is_blank(s[k])) k++;
    while (n < MAX_FIELDS) {
        size_t start = k;
        if (k < len && s[k] == '"') {
            k++;
            for (;;) {
                if (k >= len) return -1;
                if (s[k] == '"') {
                    if (k + 1 < len && s[k + 1] == '"')
                        k += 2;
                    else
                        break;
                } else
                    k++;
            }
            k++; /* closing quote */
        }
        if (p->sep_spaces) {
            while (k < len && !fl_is_blank(s[k])) k++;
            f[n].s = s + start;
            f[n].len = k - start;
            n++;
            while (k < len && fl_is_blank(s[k])) k++;
            if (k >= len) return n;
        } else {
            const char *hit = NULL;
            if (p->sep_len == 1)
                hit = memchr(s + k, p->sep[0], len - k);
            else
                for (size_t j = k; j + p->sep_len <= len; j++)
                    if (memcmp(s + j, p->sep, p->sep_len) == 0) {
                        hit = s + j;
                        break;
                    }
            size_t end = hit ? (size_t)(hit - s) : len;
            f[n].s = s + start;
            f[n].len = end - start;
            n++;
            if (!hit) return n;
            k = end + p->sep_len;
        }
    }
    return n;
}

/* An id field without surrounding blanks and quotes; "" inside quotes -> ". */
static int id_of(fl_ratings_parser *p, field f, int slot, field *out) {
    trim(&f);
    if (f.len >= 2 && f.s[0] == '"' && f.s[f.len - 1] == '"') {
        size_t n = 0;
        for (size_t k = 1; k + 1 < f.len; k++) {
            if (n >= FL_MAX_ID_LEN) return -1;
            p->unquoted[slot][n++] = f.s[k];
            if (f.s[k] == '"') k++;
        }
        out->s = p->unquoted[slot];
        out->len = n;
        return 0;
    }
    *out = f;
    return 0;
}

/* Strict decimal: [+-]digits[.digits][e[+-]digits] or nan/inf (rejected by
 * the caller as not finite). The common "4" / "3.5" is read without strtod. */
static int parse_rating(field f, float *out) {
    trim(&f);
    if (f.len >= 2 && f.s[0] == '"' && f.s[f.len - 1] == '"') f.s++, f.len -= 2;
    if (f.len == 0 || f.len > 63) return -1;
    for (size_t k = 0; k < f.len; k++)
        if (f.s[k] == 'x' || f.s[k] == 'X') return -1; /* strtod would take hex */
    size_t k = 0;
    if (fl_ratings_decimal(f.s, f.len, &k, out) && k == f.len) return 0;
    char buf[64];
    memcpy(buf, f.s, f.len);
    buf[f.len] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (end == buf || *end != '\0') return -1;
    *out = (float)v;
    return 0;
}

/* Unix seconds: digits with an optional fractional part (dropped). */
static int parse_time(field f, uint32_t *out) {
    trim(&f);
    if (f.len == 0) return -1;
    uint64_t v = 0;
    size_t k = 0;
    for (; k < f.len && f.s[k] >= '0' && f.s[k] <= '9'; k++) {
        v = v * 10 + (uint64_t)(f.s[k] - '0');
        if (v > UINT32_MAX) return -1;
    }
    if (k == 0) return -1;
    if (k < f.len && f.s[k] == '.')
        for (k++; k < f.len && f.s[k] >= '0' && f.s[k] <= '9'; k++) {
        }
    if (k != f.len) return -1;
    *out = (uint32_t)v;
    return 0;
}

static void detect_sep(fl_ratings_parser *p, const char *s, size_t len) {
    const char *o = p->o->sep;
    if (o && *o) {
        if (strcmp(o, " ") == 0 || strcasecmp(o, "space") == 0 || strcasecmp(o, "whitespace") == 0)
            p->sep_spaces = 1;
        else if (strcasecmp(o, "tab") == 0 || strcmp(o, "\\t") == 0)
            strcpy(p->sep, "\t");
        else
            snprintf(p->sep, sizeof p->sep, "%s", o);
    } else {
        int has_tab = memchr(s, '\t', len) != NULL;
        int has_dcolon = 0;
        for (size_t k = 0; k + 1 < len && !has_dcolon; k++)
            has_dcolon = s[k] == ':' && s[k + 1] == ':';
        if (has_dcolon)
            strcpy(p->sep, "::");
        else if (has_tab)
            strcpy(p->sep, "\t");
        else if (memchr(s, ',', len))
            strcpy(p->sep, ",");
        else if (memchr(s, ';', len))
            strcpy(p->sep, ";");
        else if (memchr(s, '|', len))
            strcpy(p->sep, "|");
        else
            p->sep_spaces = 1;
    }
    p->sep_len = strlen(p->sep);
}

static int role_of_name(field f) {
    trim(&f);
    if (f.len >= 2 && f.s[0] == '"' && f.s[f.len - 1] == '"') f.s++, f.len -= 2;
    char b[32];
    size_t n = 0;
    for (size_t k = 0; k < f.len && n + 1 < sizeof b; k++)
        if (f.s[k] != '_' && f.s[k] != ' ') b[n++] = (char)tolower((unsigned char)f.s[k]);
    b[n] = '\0';
    static const char *names[N_ROLES][6] = {
        {"user", "userid", "uid", "customer", "customerid", NULL},
        {"item", "itemid", "movie", "movieid", "iid", "product"},
        {"rating", "score", "stars", "value", NULL, NULL},
        {"timestamp", "time", "ts", "date", NULL, NULL}};
    for (int r = 0; r < N_ROLES; r++)
        for (int k = 0; k < 6 && names[r][k]; k++)
            if (strcmp(b, names[r][k]) == 0) return r;
    return COL_SKIP;
}

static fl_status columns_from_spec(fl_ratings_parser *p, fl_error *err) {
    for (int r = 0; r < N_ROLES; r++) p->col[r] = -1;
    const char *s = p->o->columns;
    int c = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        field f = {s, len};
        int role = role_of_name(f);
        int skip = (len == 1 && s[0] == '_') || (len == 4 && strncasecmp(s, "skip", 4) == 0);
        if (role == COL_SKIP && !skip)
            return fl_fail(err, FL_ERR_USAGE,
                           "--columns: '%.*s' is not one of user, item, rating, timestamp, _",
                           (int)len, s);
        if (role != COL_SKIP) {
            if (p->col[role] >= 0)
                return fl_fail(err, FL_ERR_USAGE, "--columns: '%.*s' is given twice", (int)len, s);
            p->col[role] = c;
        }
        c++;
        if (!e) break;
        s = e + 1;
    }
    if (p->fixed_user) {
        if (p->col[F_USER] >= 0 || p->col[F_ITEM] < 0 || p->col[F_RATING] < 0)
            return fl_fail(err, FL_ERR_USAGE,
                           "--columns must name item and rating (and no user) in one user's file");
    } else if (p->col[F_USER] < 0 || p->col[F_ITEM] < 0 || p->col[F_RATING] < 0) {
        return fl_fail(err, FL_ERR_USAGE, "--columns must name user, item and rating");
    }
    return FL_OK;
}

static int blank_field(field f) {
    trim(&f);
    if (f.len >= 2 && f.s[0] == '"' && f.s[f.len - 1] == '"') f.s++, f.len -= 2;
    return f.len == 0;
}

/* Decides separator, header and columns from the first non-empty line.
 * Returns 1 when that line is a header to skip. */
static fl_status setup(fl_ratings_parser *p, const char *s, size_t len, int *is_header, fl_error *err) {
    detect_sep(p, s, len);
    field f[MAX_FIELDS];
    int n = split(p, s, len, f);
    if (n < 0) n = 0;
    int by_name[N_ROLES] = {-1, -1, -1, -1};
    int named = 0;
    for (int c = 0; c < n; c++) {
        int r = role_of_name(f[c]);
        if (r != COL_SKIP && by_name[r] < 0) by_name[r] = c, named++;
    }
    if (p->o->columns) {
        fl_status st = columns_from_spec(p, err);
        if (st) return st;
    } else if (p->fixed_user) {
        /* item, rating: by a header's names, else in that order. */
        p->col[F_USER] = -1, p->col[F_TIME] = -1;
        p->col[F_ITEM] = by_name[F_ITEM] >= 0 && by_name[F_RATING] >= 0 ? by_name[F_ITEM] : 0;
        p->col[F_RATING] = by_name[F_ITEM] >= 0 && by_name[F_RATING] >= 0 ? by_name[F_RATING] : 1;
    } else if (by_name[F_USER] >= 0 && by_name[F_ITEM] >= 0 && by_name[F_RATING] >= 0) {
        memcpy(p->col, by_name, sizeof p->col);
    } else {
        p->col[F_USER] = 0, p->col[F_ITEM] = 1, p->col[F_RATING] = 2;
        p->col[F_TIME] = n >= 4 ? 3 : -1;
    }
    if (p->o->header >= 0) {
        *is_header = p->o->header;
    } else {
        float v;
        /* A first line too short to hold a rating is a broken data line,
         * not a header; parse_line reports it. So is one whose rating field
         * is empty, or whose user and item are numbers ("196\t242\toops"):
         * a header names its columns, and swallowing that line as one would
         * lose a rating without a word. */
        *is_header = n > p->col[F_RATING] && parse_rating(f[p->col[F_RATING]], &v) != 0 &&
                     !blank_field(f[p->col[F_RATING]]) &&
                     !((p->col[F_USER] < 0 || parse_rating(f[p->col[F_USER]], &v) == 0) &&
                       parse_rating(f[p->col[F_ITEM]], &v) == 0);
    }
    p->seen_header = *is_header;
    /* Remembered for fl_dataset_write: a split of this file is written alike. */
    fl_dataset *d = p->b.d;
    snprintf(d->sep, sizeof d->sep, "%s", p->sep_spaces ? "" : p->sep);
    for (int r = 0; r < N_ROLES && *is_header; r++) {
        if (p->col[r] < 0 || p->col[r] >= n) continue;
        field h = f[p->col[r]];
        trim(&h);
        snprintf(d->header[r], sizeof d->header[r], "%.*s", (int)h.len, h.s);
    }
    if (p->col[F_TIME] < 0 && p->b.d->times) {
        /* Nothing to keep: no times at all beats a column of zeros, so a
         * temporal split later says clearly that timestamps are missing. */
        free(p->b.d->times);
        p->b.d->times = NULL;
    }
    p->min_fields = 0;
    for (int r = 0; r < N_ROLES; r++)
        if (p->col[r] + 1 > p->min_fields) p->min_fields = p->col[r] + 1;
    /* The fast path reads every column the general path needs to be there;
     * a timestamp only when it is kept (the general path checks it only
     * then), other columns it skips. A separator that could be part of a
     * number (--sep 0, --sep .) leaves every line to the general path. */
    int odd_sep = !p->sep_spaces && strpbrk(p->sep, "0123456789.\"") != NULL;
    p->fast_last = p->fixed_user || odd_sep || p->min_fields > MAX_FIELDS ? -1 : p->min_fields - 1;
    for (int c = 0; c < MAX_FIELDS; c++) p->role_at[c] = COL_SKIP;
    for (int r = 0; r < N_ROLES && p->fast_last >= 0; r++)
        if (p->col[r] >= 0 && (r != F_TIME || p->b.d->times))
            p->role_at[p->col[r]] = (signed char)r;
    p->ready = 1;
    return FL_OK;
}

static fl_status bad_line(fl_ratings_parser *p, fl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static fl_status bad_line(fl_ratings_parser *p, fl_error *err, const char *fmt, ...) {
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (p->o->skip_bad) {
        fl_dataset *d = p->b.d;
        /* A long message is cut: first_skipped is only a preview. */
        if (d->n_skipped++ == 0 && snprintf(d->first_skipped, sizeof d->first_skipped, "%s:%zu: %s",
                                            p->name, p->line, what) >= (int)sizeof d->first_skipped)
            d->first_skipped[sizeof d->first_skipped - 1] = '\0';
        return FL_OK;
    }
    return fl_fail(err, FL_ERR_DATA, "%s:%zu: %s", p->name, p->line, what);
}

static int shown(field f) { return f.len > 40 ? 40 : (int)f.len; }

/* Adds a rating the fast path read, as parse_line would have. */
static fl_status add_fast(fl_ratings_parser *p, const fl_fast_rating *r, fl_error *err) {
    if (p->values) fl_rating_values_add(p->values, r->rating, p->line);
    uint32_t u, i;
    fl_dataset *d = p->b.d;
    if (fl_idmap_intern_number(d->user_ids, r->user, r->user_id, r->user_len, &u) ||
        fl_idmap_intern_number(d->item_ids, r->item, r->item_id, r->item_len, &i) ||
        fl_dataset_push(&p->b, u, i, r->rating, r->time))
        return fl_fail(err, FL_ERR_NOMEM, "%s:%zu: out of memory", p->name, p->line);
    if (p->check_duplicates && fl_rating_lines_note(&p->lines, d->n_ratings - 1, p->line))
        return fl_fail(err, FL_ERR_NOMEM, "%s:%zu: out of memory", p->name, p->line);
    return FL_OK;
}

static fl_status parse_line(fl_ratings_parser *p, const char *s, size_t len, fl_error *err) {
    fl_fast_rating fr;
    if (p->ready && !p->probe && fl_ratings_fast_line(p, s, len, &fr)) return add_fast(p, &fr, err);
    if (!p->ready && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, len -= 3; /* BOM */
    size_t k = 0;
    while (k < len && (fl_is_blank(s[k]) || s[k] == '\r')) k++;
    if (k == len) return FL_OK; /* empty line */
    if (memchr(s, '\0', len)) return bad_line(p, err, "line contains a NUL byte");
    if (!p->ready) {
        int is_header;
        fl_status st = setup(p, s, len, &is_header, err);
        if (st || is_header || p->probe) return st;
    }
    if (p->probe) return FL_OK;
    field f[MAX_FIELDS];
    int n = split(p, s, len, f);
    if (n < 0) return bad_line(p, err, "unterminated quoted field");
    if (n < p->min_fields)
        return bad_line(p, err, "expected at least %d fields separated by '%s', found %d",
                        p->min_fields,
                        p->sep_spaces ? "blanks" : (p->sep[0] == '\t' ? "\\t" : p->sep), n);
    field uid = {p->fixed_user, p->fixed_user ? strlen(p->fixed_user) : 0}, iid;
    if (!p->fixed_user && (id_of(p, f[p->col[F_USER]], 0, &uid) || uid.len > FL_MAX_ID_LEN))
        return bad_line(p, err, "user id is longer than %d bytes", FL_MAX_ID_LEN);
    if (id_of(p, f[p->col[F_ITEM]], 1, &iid) || iid.len > FL_MAX_ID_LEN)
        return bad_line(p, err, "item id is longer than %d bytes", FL_MAX_ID_LEN);
    if (uid.len == 0) return bad_line(p, err, "user id is empty");
    if (iid.len == 0) return bad_line(p, err, "item id is empty");
    float r;
    field rf = f[p->col[F_RATING]];
    if (blank_field(rf)) return bad_line(p, err, "rating is empty");
    if (parse_rating(rf, &r))
        return bad_line(p, err, "rating '%.*s' is not a number", shown(rf), rf.s);
    if (!isfinite(r))
        return bad_line(p, err, "rating '%.*s' is not a finite number", shown(rf), rf.s);
    const fl_read_opts *o = p->o;
    if (o->scale_lo <= o->scale_hi && (r < o->scale_lo || r > o->scale_hi))
        return bad_line(p, err, "rating %g is outside the scale %g..%g", (double)r,
                        (double)o->scale_lo, (double)o->scale_hi);
    if (p->values) fl_rating_values_add(p->values, r, p->line);
    uint32_t t = 0;
    if (p->b.d->times && p->col[F_TIME] >= 0) {
        field tf = f[p->col[F_TIME]];
        if (parse_time(tf, &t))
            return bad_line(p, err, "timestamp '%.*s' is not a non-negative integer", shown(tf),
                            tf.s);
    }
    uint32_t u, i;
    fl_dataset *d = p->b.d;
    if (fl_idmap_intern(d->user_ids, uid.s, uid.len, &u) ||
        fl_idmap_intern(d->item_ids, iid.s, iid.len, &i) || fl_dataset_push(&p->b, u, i, r, t))
        return fl_fail(err, FL_ERR_NOMEM, "%s:%zu: out of memory", p->name, p->line);
    if (p->check_duplicates && fl_rating_lines_note(&p->lines, d->n_ratings - 1, p->line))
        return fl_fail(err, FL_ERR_NOMEM, "%s:%zu: out of memory", p->name, p->line);
    return FL_OK;
}

/* Feeds complete lines of buf[0..len); returns how many bytes were consumed.
 * A line ends at '\n', '\r\n' or a lone '\r'; with at_end the tail counts
 * as a last line. */
fl_status fl_ratings_feed(fl_ratings_parser *p, const char *buf, size_t len, int at_end, size_t *used,
                      fl_error *err) {
    size_t k = 0;
    while (k < len) {
        const char *nl = memchr(buf + k, '\n', len - k);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (!nl && !at_end) break;
        /* lone '\r' inside [k, end) ends lines too (old Mac files, mixed endings) */
        size_t start = k;
        for (;;) {
            const char *cr = memchr(buf + start, '\r', end - start);
            if (!cr || (size_t)(cr - buf) + 1 == end) break;
            size_t cend = (size_t)(cr - buf);
            p->line++;
            fl_status st = parse_line(p, buf + start, cend - start, err);
            if (st) return st;
            start = cend + 1;
        }
        p->line++;
        size_t l = end - start;
        if (l && buf[start + l - 1] == '\r') l--;
        fl_status st = parse_line(p, buf + start, l, err);
        if (st) return st;
        k = nl ? end + 1 : len;
    }
    *used = k;
    return FL_OK;
}

fl_status fl_ratings_begin(fl_ratings_parser *p, const char *name, const fl_read_opts *o, const char *fixed_user,
                       fl_error *err) {
    memset(p, 0, sizeof *p);
    p->name = name;
    p->o = o;
    p->fixed_user = fixed_user;
    p->b.d = fl_dataset_new(1024, o->keep_times);
    p->b.cap = 1024;
    p->check_duplicates = o->duplicates != FL_DUP_KEEP;
    if (o->scale_lo > o->scale_hi && (p->values = malloc(sizeof *p->values)))
        fl_rating_values_init(p->values);
    if (!p->b.d || (o->scale_lo > o->scale_hi && !p->values)) {
        fl_dataset_free(p->b.d);
        free(p->values);
        p->b.d = NULL;
        p->values = NULL;
        return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory", name);
    }
    snprintf(p->b.d->source, sizeof p->b.d->source, "%s", name);
    return FL_OK;
}

/* One user's file: an item rated twice, named by both lines in words that
 * fit a file without users (fl_dedupe's speak of users and --duplicates). */
static fl_status one_user_repeats(const fl_ratings_parser *p, fl_error *err) {
    const fl_dataset *d = p->b.d;
    uint32_t n_items = fl_idmap_size(d->item_ids);
    size_t *first = calloc(n_items ? n_items : 1, sizeof *first); /* 1 + rating index */
    if (!first) return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory", p->name);
    fl_status st = FL_OK;
    for (size_t k = 0; k < d->n_ratings && st == FL_OK; k++) {
        uint32_t i = d->items[k];
        if (first[i])
            st = fl_fail(err, FL_ERR_DATA, "%s:%u: item '%s' again (first at line %u): one rating "
                         "per item",
                         p->name, (unsigned)fl_rating_lines_of(&p->lines, k),
                         fl_idmap_name(d->item_ids, i),
                         (unsigned)fl_rating_lines_of(&p->lines, first[i] - 1));
        first[i] = k + 1;
    }
    free(first);
    return st;
}

fl_status fl_ratings_finish(fl_ratings_parser *p, fl_status st, fl_dataset **out, fl_error *err) {
    fl_dataset *d = p->b.d;
    if (st == FL_OK && d->n_ratings == 0 && !p->part) {
        if (d->n_skipped == 1)
            st = fl_fail(err, FL_ERR_DATA,
                         "%s: no ratings found: its one data line is malformed (%s)", p->name,
                         d->first_skipped);
        else if (d->n_skipped)
            st = fl_fail(err, FL_ERR_DATA,
                         "%s: no ratings found: all %zu data lines were malformed "
                         "(first: %s)",
                         p->name, d->n_skipped, d->first_skipped);
        else if (p->seen_header)
            st = fl_fail(err, FL_ERR_DATA, "%s: has a header line but no ratings", p->name);
        else
            st = fl_fail(err, FL_ERR_DATA, "%s: is empty, expected ratings", p->name);
    }
    if (st == FL_OK && p->check_duplicates && p->fixed_user && p->o->duplicates == FL_DUP_ERROR)
        st = one_user_repeats(p, err);
    if (st == FL_OK && p->check_duplicates)
        st = fl_dedupe(d, p->o->duplicates, &p->lines, p->name, err);
    if (st == FL_OK && p->values) fl_rating_values_judge(p->values, p->name, d);
    fl_rating_lines_free(&p->lines);
    free(p->values);
    if (st) {
        fl_dataset_free(d);
        return st;
    }
    fl_dataset_shrink(&p->b);
    *out = d;
    return FL_OK;
}

fl_status fl_dataset_parse(const char *name, const char *buf, size_t len, const fl_read_opts *o,
                           fl_dataset **out, fl_error *err) {
    fl_read_opts def;
    if (!o) fl_read_opts_default(&def), o = &def;
    fl_ratings_parser p;
    fl_status st = fl_ratings_begin(&p, name, o, NULL, err);
    if (st) return st;
    size_t used;
    st = fl_ratings_feed(&p, buf, len, 1, &used, err);
    return fl_ratings_finish(&p, st, out, err);
}

/* Room for the ratings of a plain file of `size` bytes whose first `len`
 * bytes hold `lines` lines, with 3 % to spare: a failed or short guess only
 * means the arrays grow as usual. Pages not yet written cost no memory. */
static void reserve(fl_ratings_parser *p, uint64_t size, const char *buf, size_t len) {
    size_t lines = 0;
    for (const char *c = buf; (c = memchr(c, '\n', (size_t)(buf + len - c))) != NULL; c++) lines++;
    if (lines < 16 || !p->b.d) return;
    double guess = (double)size * (double)lines / (double)len * 1.03 + 1024;
    if (guess > (double)(SIZE_MAX / 16)) return;
    fl_dataset_reserve(&p->b, (size_t)guess);
}

/* Tells the caller's progress hook how far reading has come; nonzero when
 * it asks to stop. */
static int report(const fl_read_opts *o, const fl_byte_source *src) {
    if (!o->progress) return 0;
    uint64_t done, total;
    fl_source_position(src, &done, &total);
    return o->progress(o->progress_ctx, done, total);
}

/* path "-" reads standard input (plain or gzip), named "(standard input)"
 * in messages and as the dataset's source. fixed_user: one user's file. */
static fl_status read_path(const char *path, const fl_read_opts *o, const char *fixed_user,
                           fl_dataset **out, fl_error *err) {
    fl_read_opts def;
    if (!o) fl_read_opts_default(&def), o = &def;
    const char *name = fl_source_name(path);
    fl_byte_source *src;
    fl_status st = fl_source_open(path, &src, err);
    if (st) return st;
    size_t cap = FIRST_CHUNK;
    char *buf = malloc(cap);
    if (!buf) {
        fl_source_close(src);
        return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory", name);
    }
    fl_ratings_parser p;
    st = fl_ratings_begin(&p, name, o, fixed_user, err);
    size_t have = 0;
    int first = 1;
    while (st == FL_OK) {
        size_t got;
        st = fl_source_read(src, buf + have, cap - have, &got, err);
        if (st) break;
        have += got;
        if (first && fl_source_is_plain(src)) {
            uint64_t done, size;
            fl_source_position(src, &done, &size);
            if (size > have) reserve(&p, size, buf, have);
        }
        first = 0;
        if (report(o, src)) {
            st = fl_fail(err, FL_ERR_CANCELLED, "%s: reading was cancelled", name);
            break;
        }
        size_t used;
        st = fl_ratings_feed(&p, buf, have, got == 0, &used, err);
        if (st) break;
        if (got == 0) break;
        if (used == 0 && have == cap) {
            char *bigger = cap < CHUNK ? realloc(buf, 2 * cap) : NULL;
            if (!bigger) {
                st = cap < CHUNK ? fl_fail(err, FL_ERR_NOMEM, "%s: out of memory", name)
                                 : fl_fail(err, FL_ERR_DATA, "%s:%zu: line is longer than %u bytes",
                                           name, p.line + 1, CHUNK);
                break;
            }
            buf = bigger, cap *= 2;
            continue;
        }
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    free(buf);
    fl_source_close(src);
    if (st && p.b.d == NULL) return st;
    return fl_ratings_finish(&p, st, out, err);
}

/* A progress hook that never goes below a floor: after the ranged reader
 * gave up on a file part-way, the general path starts over from byte 0, and
 * a bar must not run backwards. */
typedef struct floored {
    const fl_read_opts *o;
    uint64_t floor;
} floored;

static int progress_floored(void *ctx, uint64_t done, uint64_t total) {
    const floored *f = ctx;
    return f->o->progress(f->o->progress_ctx, done > f->floor ? done : f->floor, total);
}

fl_status fl_dataset_read(const char *path, const fl_read_opts *o, fl_dataset **out,
                          fl_error *err) {
    fl_read_opts def;
    if (!o) fl_read_opts_default(&def), o = &def;
    fl_status st;
    uint64_t reported;
    if (fl_ratings_read_ranges(path, o, out, &st, &reported, err)) return st;
    if (reported == 0) return read_path(path, o, NULL, out, err);
    floored f = {o, reported};
    fl_read_opts again = *o;
    again.progress = progress_floored, again.progress_ctx = &f;
    return read_path(path, &again, NULL, out, err);
}

fl_status fl_dataset_read_user(const char *path, const char *user_id, const fl_read_opts *o,
                               fl_dataset **out, fl_error *err) {
    size_t len = user_id ? strlen(user_id) : 0;
    if (len == 0 || len > FL_MAX_ID_LEN)
        return fl_fail(err, FL_ERR_USAGE, "a user id of 1 to %d bytes is needed", FL_MAX_ID_LEN);
    return read_path(path, o, user_id, out, err);
}

/* The byte range of part `part` of n: from the first line that starts at or
 * after size * part / n, to where the next part starts. */
fl_status fl_ratings_part_bound(int fd, uint64_t size, int part, int n, const char *name,
                            uint64_t *at, fl_error *err) {
    uint64_t s = size * (uint64_t)part / (uint64_t)n;
    if (s == 0 || s >= size) { /* s == 0 for the first part, or more parts than bytes */
        *at = s == 0 ? 0 : size;
        return FL_OK;
    }
    char buf[65536];
    for (uint64_t pos = s - 1; pos < size;) {
        ssize_t got = pread(fd, buf, sizeof buf, (off_t)pos);
        if (got <= 0) return fl_fail(err, FL_ERR_IO, "%s: cannot read: %s", name, strerror(errno));
        const char *nl = memchr(buf, '\n', (size_t)got);
        if (nl) {
            *at = pos + (uint64_t)(nl - buf) + 1;
            return FL_OK;
        }
        pos += (uint64_t)got;
    }
    *at = size;
    return FL_OK;
}

/* Newlines in [0, end): the line number the part starts after. */
static fl_status lines_before(int fd, uint64_t end, char *buf, const char *name, size_t *lines,
                              fl_error *err) {
    size_t n = 0;
    for (uint64_t pos = 0; pos < end;) {
        size_t want = end - pos < CHUNK ? (size_t)(end - pos) : CHUNK;
        ssize_t got = pread(fd, buf, want, (off_t)pos);
        if (got <= 0) return fl_fail(err, FL_ERR_IO, "%s: cannot read: %s", name, strerror(errno));
        for (const char *c = buf, *e = buf + got; (c = memchr(c, '\n', (size_t)(e - c))); c++) n++;
        pos += (uint64_t)got;
    }
    *lines = n;
    return FL_OK;
}

fl_status fl_dataset_read_part(const char *path, const fl_read_opts *o, int part, int n_parts,
                               fl_dataset **out, fl_error *err) {
    fl_read_opts def;
    if (!o) fl_read_opts_default(&def), o = &def;
    *out = NULL;
    if (n_parts <= 1) return fl_dataset_read(path, o, out, err);
    if (strcmp(path, "-") == 0)
        return fl_fail(err, FL_ERR_USAGE, "standard input cannot be read in parts: give a file");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fl_fail(err, FL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    unsigned char magic[2] = {0, 0};
    char *buf = NULL;
    fl_status st = FL_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        st = fl_fail(err, FL_ERR_IO, "%s: not a regular file", path);
    else if (pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        st = fl_fail(err, FL_ERR_USAGE,
                     "%s is gzip-compressed, and a compressed file cannot be split into byte "
                     "ranges: decompress it first, or write its parts with factorlens shard",
                     path);
    else if (!(buf = malloc(CHUNK)))
        st = fl_fail(err, FL_ERR_NOMEM, "%s: out of memory", path);
    uint64_t size = (uint64_t)sb.st_size, begin_at = 0, end_at = 0;
    if (st == FL_OK) st = fl_ratings_part_bound(fd, size, part, n_parts, path, &begin_at, err);
    if (st == FL_OK) st = fl_ratings_part_bound(fd, size, part + 1, n_parts, path, &end_at, err);
    fl_ratings_parser p;
    memset(&p, 0, sizeof p);
    if (st == FL_OK) st = fl_ratings_begin(&p, path, o, NULL, err);
    p.part = 1;
    size_t used;
    if (st == FL_OK && begin_at > 0) {
        /* Separator, header and columns come from the file's head, as for
         * the whole file; then line numbers continue where the part starts. */
        ssize_t got = pread(fd, buf, CHUNK, 0);
        if (got < 0) st = fl_fail(err, FL_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        p.probe = 1;
        if (st == FL_OK) st = fl_ratings_feed(&p, buf, (size_t)got, got < (ssize_t)CHUNK, &used, err);
        p.probe = 0;
        if (st == FL_OK) st = lines_before(fd, begin_at, buf, path, &p.line, err);
    }
    size_t have = 0;
    for (uint64_t pos = begin_at; st == FL_OK;) {
        size_t want = CHUNK - have;
        if (end_at - pos < want) want = (size_t)(end_at - pos);
        ssize_t got = want ? pread(fd, buf + have, want, (off_t)pos) : 0;
        if (got < 0) {
            st = fl_fail(err, FL_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
            break;
        }
        pos += (uint64_t)got;
        have += (size_t)got;
        st = fl_ratings_feed(&p, buf, have, got == 0, &used, err);
        if (st || got == 0) break;
        if (used == 0 && have == CHUNK) {
            st = fl_fail(err, FL_ERR_DATA, "%s:%zu: line is longer than %u bytes", path, p.line + 1,
                         CHUNK);
            break;
        }
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    free(buf);
    close(fd);
    if (p.b.d == NULL) return st;
    return fl_ratings_finish(&p, st, out, err);
}
