/* report_parts.h — what each part of `factorlens report` shows, computed
 * once from report_data so that both formats, the HTML page (report_html.c)
 * and the PNG image (report_png.c), draw the same numbers. */
#ifndef FL_CLI_REPORT_PARTS_H
#define FL_CLI_REPORT_PARTS_H

#include "cli/report.h"
#include "cli/report_svg.h"

#include <stddef.h>
#include <stdint.h>

#define REPORT_N_LIST 15 /* items in each bias list; users and items in the spreadsheet */
#define REPORT_N_ENDS 5  /* titles named at each end of a map axis */

/* The item's title from --items, or its id when the file has none. */
const char *report_title_of(const report_data *d, uint32_t i);
/* Only biased and nn models learn biases: dot, ials and bpr have none to show. */
int report_has_biases(const report_data *d);
/* The sentence both formats show in place of biases the model lacks. */
void report_no_biases_note(const report_data *d, char *buf, size_t len);

/* t cut to at most max bytes at a UTF-8 character boundary, with "…";
 * out holds max + 1 bytes. */
void report_short_title(const char *t, char *out, size_t max);

/* The learning curves: the series to draw (training data MSE, penalty, and
 * test and validation RMSE when recorded). n == 0: the file has no history. */
typedef struct report_curves {
    size_t n;
    int n_series, any_test;
    report_series s[4];
    const fl_epoch_report *last; /* the last epoch, or NULL */
    double *v;                   /* the series' values */
} report_curves;
int report_curves_get(const report_data *d, report_curves *c); /* 0, or -1 out of memory */
void report_curves_free(report_curves *c);

/* Items with at least d->min_ratings training ratings, or every item if
 * fewer than three have that many; NULL when out of memory. */
uint32_t *report_eligible_items(const report_data *d, size_t *n);

/* The eligible items with the highest and lowest biases (not for a dot model). */
typedef struct report_bias_lists {
    size_t n_eligible, shown;
    uint32_t high[REPORT_N_LIST], low[REPORT_N_LIST]; /* highest first; lowest first */
} report_bias_lists;
int report_bias_lists_get(const report_data *d, report_bias_lists *b); /* 0, or -1 */

/* The map: each eligible item on the first two principal components of the
 * item factors, the d->n_labels most-rated titled. n == 0: no factors. */
typedef struct report_map {
    size_t n;
    uint32_t *elig;      /* [n] model item indices */
    double *pc1, *pc2;   /* [n] coordinates */
    const char **label;  /* [n] a shortened title, or NULL */
    char (*text)[40];    /* the labels' storage */
    double explained[2]; /* share of the variance of each component */
    char x_label[64], y_label[64];
} report_map;
int report_map_get(const report_data *d, report_map *m); /* 0, or -1 */
void report_map_free(report_map *m);

/* What one axis of the map separates: the model item indices at its low
 * and its high end (pc is m->pc1 or m->pc2), most extreme first, up to max
 * at each end and never the same item at both. Returns how many are at
 * each end, or (size_t)-1 when out of memory. */
size_t report_axis_ends(const report_map *m, const double *pc, uint32_t *low, uint32_t *high,
                        size_t max);

/* The spreadsheet view (needs d->ratings): the most active users of the
 * ratings file the model knows, against the most-rated items. */
typedef struct report_sheet {
    size_t n_rows, n_cols;
    uint32_t cols[REPORT_N_LIST]; /* model item indices */
    uint32_t rows[REPORT_N_LIST]; /* model user indices */
    float rating[REPORT_N_LIST][REPORT_N_LIST];
    int have[REPORT_N_LIST][REPORT_N_LIST]; /* rated in the file */
    float pred[REPORT_N_LIST][REPORT_N_LIST];
} report_sheet;
int report_sheet_get(const report_data *d, report_sheet *s); /* 0, or -1 */

/* Background colour for an absolute error: green (0) through yellow to red (>= 2). */
void report_error_colour(double e, char *out, size_t n);

/* An fm model's side features with their learned weights (fl_model_side_feature),
 * for side 0 (users) or 1 (items): grouped by the part of the name before '='
 * (groups in order of first appearance), heaviest first inside a group. n == 0:
 * none to show (another kind, or no features file on that side). Of more than
 * REPORT_N_FEATURES, the REPORT_N_FEATURES / 2 heaviest and lightest. */
#define REPORT_N_FEATURES 60 /* bars at most: the 30 heaviest and 30 lightest */
typedef struct report_features {
    size_t n, n_all; /* shown, and the side's features in all */
    const char **name; /* [n] */
    double *weight;    /* [n] */
} report_features;
int report_features_get(const report_data *d, int side, report_features *r); /* 0, or -1 */
void report_features_free(report_features *r);
/* Each side's heading and chart title, [0] users, [1] items. */
extern const char *const report_features_heading[2], *const report_features_chart[2];
/* The sentence under the chart. */
void report_features_note(int side, char *buf, size_t len);

#endif
