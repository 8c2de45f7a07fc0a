/* dataset_writer.c — fl_dataset_write: a dataset back to a delimited file in
 * the format it was read from, so a split written to disk reads back as the
 * same ratings in the same order (factorlens split relies on that). */
#include "core/error.h"
#include "data/dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shortest %g form of r that reads back as the same float: 3.5 stays
 * "3.5", and a value like 0.1f is not widened to nine digits needlessly. */
static void format_rating(float r, char *buf, size_t len) {
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, len, "%.*g", prec, (double)r);
        if (strtof(buf, NULL) == r) return;
    }
}

/* An id as a field: as is, or quoted (RFC 4180) when it holds the separator
 * or a quote, which the reader's quoted fields undo. */
static void put_field(FILE *f, const char *s, const char *sep) {
    int quote = strchr(s, '"') != NULL ||
                (strcmp(sep, " ") == 0 ? strpbrk(s, " \t") != NULL : strstr(s, sep) != NULL);
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void fl_dataset_write_stream(const fl_dataset *d, FILE *f) {
    /* A file separated by runs of blanks is written with one space; a
     * dataset built in memory (no source) with a tab. */
    const char *sep = d->sep[0] ? d->sep : d->source[0] ? " " : "\t";
    int n_cols = d->times ? 4 : 3;
    if (d->header[0][0]) {
        for (int c = 0; c < n_cols; c++) {
            if (c) fputs(sep, f);
            fputs(d->header[c][0] ? d->header[c] : "timestamp", f);
        }
        fputc('\n', f);
    }
    char rating[32];
    for (size_t k = 0; k < d->n_ratings; k++) {
        put_field(f, fl_idmap_name(d->user_ids, d->users[k]), sep);
        fputs(sep, f);
        put_field(f, fl_idmap_name(d->item_ids, d->items[k]), sep);
        fputs(sep, f);
        format_rating(d->ratings[k], rating, sizeof rating);
        fputs(rating, f);
        if (d->times) fprintf(f, "%s%u", sep, d->times[k]);
        fputc('\n', f);
    }
}

fl_status fl_dataset_write(const fl_dataset *d, const char *path, fl_error *err) {
    if (!d || !path) return fl_fail(err, FL_ERR_USAGE, "fl_dataset_write needs a dataset and a path");
    FILE *f = fopen(path, "w");
    if (!f) return fl_fail(err, FL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    fl_dataset_write_stream(d, f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return fl_fail(err, FL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return FL_OK;
}
