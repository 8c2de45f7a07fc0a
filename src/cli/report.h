/* report.h — what `factorlens report` knows about a model when it writes the
 * report (cmd_report.c gathers it; report_html.c writes the HTML page,
 * report_png.c the PNG image). */
#ifndef FL_CLI_REPORT_H
#define FL_CLI_REPORT_H

#include "factorlens.h"

#include <stdio.h>

typedef struct report_data {
    const char *model_path;
    const fl_model *m;
    fl_model_info info;
    const fl_items *items;     /* titles */
    const fl_dataset *ratings; /* --ratings, or NULL */
    const char *ratings_path;
    uint32_t *item_count; /* [n_items] the model's training ratings per item */
    double *item_mean;    /* [n_items] mean rating in --ratings, NaN without it */
    int min_ratings;      /* items with fewer training ratings are left out of lists */
    int n_labels;         /* titles labelled on the map */
} report_data;

/* The whole self-contained page; 0, or -1 when out of memory. */
int report_write_html(FILE *f, const report_data *d);

/* The same report as one PNG image (the figures and tables stacked); 0, -1
 * when out of memory, or -2 when librsvg or cairo cannot draw it, with why
 * (why_n bytes) saying so. A failed write shows in ferror(f). */
int report_write_png(FILE *f, const report_data *d, char *why, size_t why_n);

#endif
