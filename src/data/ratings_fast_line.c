/* ratings_fast_line.c — one pass over a ratings line of the common shape
 * (decimal ids, a plain decimal rating, an integer timestamp): most lines of
 * most files. It takes a line only when the general path (ratings_reader.c)
 * would make the same rating of it, and leaves every other line, and so
 * every message, to the general path. */
#include "data/ratings_parser.h"

#include <string.h>

#define INLINE static inline __attribute__((always_inline))

static const double pow10_table[] = {1,    1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                     1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};

/* Bytes the fast path leaves to the general path wherever they are: quotes
 * (fields may hold separators), NUL (refused) and a lone CR (ends a line). */
INLINE int plain_byte(char c) { return c != '"' && c != '\0' && c != '\r'; }

INLINE int is_digit(char c) { return (unsigned char)(c - '0') <= 9; }

/* Whether a separator starts at s (before e). */
INLINE int sep_here(const fl_ratings_parser *p, const char *s, const char *e) {
    if (p->sep_spaces) return s < e && fl_is_blank(*s);
    return s < e && *s == p->sep[0] &&
           (p->sep_len == 1 ||
            ((size_t)(e - s) >= p->sep_len && memcmp(s, p->sep, p->sep_len) == 0));
}

/* Moves *at past the separator there; 0 if there is none. */
INLINE int skip_sep(const fl_ratings_parser *p, const char **at, const char *e) {
    const char *s = *at;
    if (!sep_here(p, s, e)) return 0;
    if (p->sep_spaces)
        while (s < e && fl_is_blank(*s)) s++;
    else
        s += p->sep_len;
    *at = s;
    return 1;
}

/* A canonical decimal id of at most 9 digits (below 10^9, so it fits). */
INLINE int fast_id(const char **at, const char *e, uint32_t *value) {
    const char *s = *at, *stop = e - s > 10 ? s + 10 : e;
    uint32_t v = 0;
    for (; s < stop && is_digit(*s); s++) v = v * 10 + (uint32_t)(*s - '0');
    size_t n = (size_t)(s - *at);
    if (n == 0 || n > 9 || (n > 1 && **at == '0')) return 0;
    *value = v;
    *at = s;
    return 1;
}

/* digits[.digits], at most 18 digits in all: mantissa / 10^fraction digits
 * in double, then to float (the value parse_rating always gave). */
INLINE int decimal(const char **at, const char *e, float *out) {
    const char *s = *at;
    uint64_t mant = 0;
    int digits = 0, frac = 0;
    for (; s < e && is_digit(*s); s++, digits++) {
        if (digits == 18) return 0;
        mant = mant * 10 + (uint64_t)(*s - '0');
    }
    if (s < e && *s == '.')
        for (s++; s < e && is_digit(*s); s++, digits++, frac++) {
            if (digits == 18) return 0;
            mant = mant * 10 + (uint64_t)(*s - '0');
        }
    if (digits == 0) return 0;
    *out = (float)((double)mant / pow10_table[frac]);
    *at = s;
    return 1;
}

int fl_ratings_decimal(const char *s, size_t len, size_t *k, float *out) {
    const char *at = s + *k;
    if (!decimal(&at, s + len, out)) return 0;
    *k = (size_t)(at - s);
    return 1;
}

/* parse_time's grammar: digits up to UINT32_MAX, an optional fraction dropped. */
INLINE int fast_time(const char **at, const char *e, uint32_t *out) {
    const char *s = *at;
    uint64_t v = 0;
    for (; s < e && is_digit(*s); s++)
        if ((v = v * 10 + (uint64_t)(*s - '0')) > UINT32_MAX) return 0;
    if (s == *at) return 0;
    if (s < e && *s == '.')
        for (s++; s < e && is_digit(*s); s++) {
        }
    *out = (uint32_t)v;
    *at = s;
    return 1;
}

/* One look at each byte up to the last column read, then a scan of the
 * rest for quotes, NUL and CR: no field array, no trimming, no reparsing.
 * The separator holds no digit or '.' (setup turns the fast path off
 * otherwise), so a number's end is its field's end. */
int fl_ratings_fast_line(const fl_ratings_parser *p, const char *line, size_t len,
                         fl_fast_rating *r) {
    if (p->fast_last < 0) return 0;
    const char *s = line, *e = line + len;
    if (p->sep_spaces)
        while (s < e && fl_is_blank(*s)) s++;
    for (int c = 0; c <= p->fast_last; c++) {
        if (c > 0 && !skip_sep(p, &s, e)) return 0;
        const char *start = s;
        switch (p->role_at[c]) {
        case F_USER:
            if (!fast_id(&s, e, &r->user)) return 0;
            r->user_id = start, r->user_len = (size_t)(s - start);
            break;
        case F_ITEM:
            if (!fast_id(&s, e, &r->item)) return 0;
            r->item_id = start, r->item_len = (size_t)(s - start);
            break;
        case F_RATING:
            if (!decimal(&s, e, &r->rating)) return 0;
            break;
        case F_TIME:
            if (!fast_time(&s, e, &r->time)) return 0;
            break;
        default: /* a column not read: anything plain up to the next separator */
            if (p->sep_spaces && s == e) return 0; /* blanks at the end are no field */
            for (; s < e && !sep_here(p, s, e); s++)
                if (!plain_byte(*s)) return 0;
        }
    }
    if (s < e && !sep_here(p, s, e)) return 0; /* e.g. "4x": not a number */
    for (; s < e; s++)
        if (!plain_byte(*s)) return 0;
    const fl_read_opts *o = p->o;
    if (o->scale_lo <= o->scale_hi && (r->rating < o->scale_lo || r->rating > o->scale_hi))
        return 0; /* the general path says so */
    if (!p->b.d->times) r->time = 0;
    return 1;
}
