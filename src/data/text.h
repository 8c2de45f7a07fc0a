/* text.h — lines, fields and encodings of the small metadata files (u.item,
 * u.user, u.genre, movies.csv). They are read whole into memory, so these
 * helpers work on a buffer and a cursor rather than a stream. */
#ifndef FL_DATA_TEXT_H
#define FL_DATA_TEXT_H

#include <stddef.h>

typedef struct fl_span {
    const char *s;
    size_t len;
} fl_span;

/* The next line of buf[0..len) from *pos, without its ending ("\n", "\r\n" or
 * a lone "\r"); advances *pos and returns 0 at the end of the buffer. */
int fl_next_line(const char *buf, size_t len, size_t *pos, fl_span *line);

/* Splits line at every occurrence of sep (no quoting). Returns the number of
 * fields, which may exceed max; only the first max are stored. */
size_t fl_split_fields(fl_span line, const char *sep, fl_span *f, size_t max);

/* Drops leading and trailing blanks (space, tab). */
fl_span fl_trim(fl_span s);

int fl_span_eq(fl_span s, const char *lit);
int fl_span_ieq(fl_span s, const char *lit); /* ASCII case-insensitive */

/* 1 if buf[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
int fl_is_utf8(const char *buf, size_t len);

/* A NUL-terminated UTF-8 copy of s; latin1 != 0 converts each byte as
 * ISO-8859-1. NULL when out of memory. */
char *fl_utf8_dup(fl_span s, int latin1);

/* The year of a trailing "(yyyy)" in a title, else 0. */
int fl_title_year(fl_span title);

#endif
