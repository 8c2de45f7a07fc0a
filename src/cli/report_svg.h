/* report_svg.h — the report's figures as inline SVG written straight into
 * the HTML: a line chart, a labelled scatter plot and a histogram. Plain
 * SVG elements with their styles inline, so the file needs no script, no
 * stylesheet and no font from anywhere. */
#ifndef FL_CLI_REPORT_SVG_H
#define FL_CLI_REPORT_SVG_H

#include <stddef.h>
#include <stdio.h>

/* Every figure's size in pixels: the PNG stacks them (report_png.c). */
#define REPORT_FIG_W 760.0
#define REPORT_CHART_H 380.0 /* the line chart and the histogram */
#define REPORT_MAP_H 600.0   /* the scatter plot */

/* Writes s with &, <, >, " and ' escaped (for HTML text and attributes). */
void report_escape(FILE *f, const char *s);

/* Lines over x = 1..n (NaN values leave gaps), one per series, with axes,
 * ticks and a legend. values[s] holds n values. */
typedef struct report_series {
    const char *name;
    const char *color;
    const double *values;
} report_series;
void report_line_chart(FILE *f, const char *title, const char *x_label, const report_series *s,
                       int n_series, size_t n);

/* Points (x[k], y[k]) in grey; those with a label get a dark dot and the
 * label beside it. label may be NULL for every point. */
void report_scatter(FILE *f, const char *title, const char *x_label, const char *y_label,
                    const double *x, const double *y, const char *const *label, size_t n);

/* A histogram of v (n values) in n_bins equal bins between its extremes. */
void report_histogram(FILE *f, const char *title, const char *x_label, const double *v, size_t n,
                      int n_bins);

/* Horizontal bars of v (n values, negative ones to the left of a zero
 * line), one labelled row each, in the order given. Returns the figure's
 * height in pixels (it grows with n). */
double report_bar_chart(FILE *f, const char *title, const char *x_label,
                        const char *const *label, const double *v, size_t n);

#endif
