/* ratings_parser.h — the state of reading one ratings file, shared by the
 * streaming reader (ratings_reader.c), its fast path for common lines
 * (ratings_fast_line.c) and the reader of a plain file's byte ranges on
 * several threads (ratings_ranges.c). */
#ifndef FL_DATA_RATINGS_PARSER_H
#define FL_DATA_RATINGS_PARSER_H

#include "data/dataset.h"
#include "data/duplicates.h"
#include "data/rating_values.h"

#define MAX_FIELDS 64
#define CHUNK (8u << 20)       /* the longest line */
#define FIRST_CHUNK (1u << 20) /* the buffer's size until a line needs more */

enum { COL_SKIP = -1 };
enum { F_USER, F_ITEM, F_RATING, F_TIME, N_ROLES };

typedef struct fl_ratings_parser {
    const char *name;
    const fl_read_opts *o;
    char sep[8];
    size_t sep_len;
    int sep_spaces;         /* runs of blanks separate fields */
    const char *fixed_user; /* one user's file: no user column, every rating is this id's */
    int ready;              /* separator, header and columns decided */
    int seen_header;        /* the first line was a header */
    int probe;              /* reading a file's head only to decide the above (a part's set-up) */
    int part;               /* one part of a file: may hold no ratings */
    int col[N_ROLES];       /* column of each role, -1 absent */
    int min_fields;
    int fast_last;                   /* last column the fast path reads; -1: fast path off */
    signed char role_at[MAX_FIELDS]; /* role of each column the fast path reads, or COL_SKIP */
    size_t line;
    fl_dataset_builder b;
    int check_duplicates;
    fl_rating_lines lines;    /* line of each rating, for duplicate messages */
    fl_rating_values *values; /* without a scale: for ratings far from the rest */
    char unquoted[2][FL_MAX_ID_LEN + 1];
} fl_ratings_parser;

static inline int fl_is_blank(char c) { return c == ' ' || c == '\t'; }

/* ---- ratings_reader.c */

/* Starts reading the file called name (fixed_user: one user's file); on
 * failure p holds no dataset. */
fl_status fl_ratings_begin(fl_ratings_parser *p, const char *name, const fl_read_opts *o,
                           const char *fixed_user, fl_error *err);
/* Parses the complete lines of buf[0..len), and with at_end the tail as a
 * last line; *used: the bytes consumed. */
fl_status fl_ratings_feed(fl_ratings_parser *p, const char *buf, size_t len, int at_end,
                          size_t *used, fl_error *err);
/* Ends reading with status st: the checks of the whole file (empty,
 * duplicates, far-out ratings); *out gets the dataset, or it is freed. */
fl_status fl_ratings_finish(fl_ratings_parser *p, fl_status st, fl_dataset **out, fl_error *err);
/* The byte offset where part `part` of n of the file starts: the first
 * line starting at or after size * part / n. */
fl_status fl_ratings_part_bound(int fd, uint64_t size, int part, int n, const char *name,
                                uint64_t *at, fl_error *err);

/* ---- ratings_fast_line.c */

typedef struct fl_fast_rating {
    uint32_t user, item; /* the ids' values; their spellings below */
    const char *user_id, *item_id;
    size_t user_len, item_len;
    float rating;
    uint32_t time; /* 0 unless the dataset keeps times */
} fl_fast_rating;

/* Reads line s[0..len) (its ending removed) into r in one pass when it has
 * the common shape: canonical decimal ids (no sign, no leading zero, at
 * most 9 digits), a digits[.digits] rating within the scale, a kept
 * timestamp of digits, the file's separator, nothing quoted, no blanks
 * around fields. Returns 0 for any other line: the general path then reads
 * it, so a line read either way gives the same rating, and every message
 * comes from the general path. */
int fl_ratings_fast_line(const fl_ratings_parser *p, const char *s, size_t len, fl_fast_rating *r);
/* digits[.digits] with at least one and at most 18 digits at s[*k]: the
 * value (the nearest float to mantissa / 10^fraction digits) and *k moved
 * past it; 0 for anything else. */
int fl_ratings_decimal(const char *s, size_t len, size_t *k, float *out);

/* ---- ratings_ranges.c */

/* Reads the plain file path on the threads o->n_threads asks for, each
 * parsing its byte range of whole lines by the fast path; ids are then
 * indexed in order of first appearance, so the dataset is the one reading
 * line by line gives. On one thread too: it does less per line than the
 * streaming reader (no per-line calls, ids interned once per range, arrays
 * sized exactly). Returns 0 (nothing done) when the file is not for it
 * (standard input, gzip, a line the fast path does not take):
 * the caller reads it the general way. Else 1, with *st the status.
 * *reported: the last byte count given to o->progress (0 if none), which
 * the general path must not report less than. */
int fl_ratings_read_ranges(const char *path, const fl_read_opts *o, fl_dataset **out, fl_status *st,
                           uint64_t *reported, fl_error *err);

#endif
