/* report_svg.c — inline SVG figures for `factorlens report` (see report_svg.h).
 * Coordinates are computed here in pixels; text uses the viewer's default
 * sans-serif font. */
#include "cli/report_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define W REPORT_FIG_W
#define H REPORT_CHART_H /* charts; the map is taller (MAP_H) */
#define MAP_H REPORT_MAP_H
#define LEFT 64.0
#define RIGHT 20.0
#define TOP 36.0
#define BOTTOM 52.0

void report_escape(FILE *f, const char *s) {
    for (; *s; s++) switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about n ticks over span. */
static double tick_step(double span, int n) {
    double raw = span / n, p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

typedef struct frame {
    double x0, x1, y0, y1; /* data range */
    double h;              /* figure height in pixels */
} frame;

static double px(const frame *fr, double x) {
    return LEFT + (x - fr->x0) / (fr->x1 - fr->x0) * (W - LEFT - RIGHT);
}
static double py(const frame *fr, double y) {
    return fr->h - BOTTOM - (y - fr->y0) / (fr->y1 - fr->y0) * (fr->h - TOP - BOTTOM);
}

static void begin(FILE *f, const char *title, double h) {
    fprintf(f,
            "<svg viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
            "height=\"%.0f\" role=\"img\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, h, W, h);
    fputs("<title>", f);
    report_escape(f, title);
    fprintf(f, "</title>\n<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", W, h);
    fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"15\" font-weight=\"bold\">", LEFT);
    report_escape(f, title);
    fputs("</text>\n", f);
}

/* Axes with gridlines and tick labels, and the axis titles. */
static void axes(FILE *f, const frame *fr, const char *x_label, const char *y_label, int x_ints) {
    double sy = tick_step(fr->y1 - fr->y0, 6);
    for (double v = ceil(fr->y0 / sy) * sy; v <= fr->y1 + 1e-12; v += sy) {
        double y = py(fr, v);
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#444\">%.4g</text>\n",
                LEFT, W - RIGHT, y, y, LEFT - 6, y + 4, fabs(v) < sy * 1e-6 ? 0.0 : v);
    }
    double sx = tick_step(fr->x1 - fr->x0, 10);
    if (x_ints && sx < 1) sx = 1;
    for (double v = ceil(fr->x0 / sx) * sx; v <= fr->x1 + 1e-12; v += sx) {
        double x = px(fr, v);
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#444\">%.4g</text>\n",
                x, x, TOP, fr->h - BOTTOM, x, fr->h - BOTTOM + 16, fabs(v) < sx * 1e-6 ? 0.0 : v);
    }
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#888\"/>\n",
            LEFT, TOP, W - LEFT - RIGHT, fr->h - TOP - BOTTOM);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222\">",
            (LEFT + W - RIGHT) / 2, fr->h - 12);
    report_escape(f, x_label);
    fputs("</text>\n", f);
    if (y_label) {
        fprintf(f,
                "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\" "
                "fill=\"#222\">",
                (TOP + fr->h - BOTTOM) / 2);
        report_escape(f, y_label);
        fputs("</text>\n", f);
    }
}

void report_line_chart(FILE *f, const char *title, const char *x_label, const report_series *s,
                       int n_series, size_t n) {
    frame fr = {1, n > 1 ? (double)n : 2, 0, 0, H};
    for (int k = 0; k < n_series; k++)
        for (size_t e = 0; e < n; e++)
            if (isfinite(s[k].values[e]) && s[k].values[e] > fr.y1) fr.y1 = s[k].values[e];
    fr.y1 = fr.y1 > 0 ? fr.y1 * 1.08 : 1;
    begin(f, title, fr.h);
    axes(f, &fr, x_label, NULL, 1);
    for (int k = 0; k < n_series; k++) {
        int open = 0;
        for (size_t e = 0; e < n; e++) {
            double v = s[k].values[e];
            if (!isfinite(v)) {
                if (open) fputs("\"/>\n", f);
                open = 0;
                continue;
            }
            if (!open)
                fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\" points=\"",
                        s[k].color);
            fprintf(f, "%.1f,%.1f ", px(&fr, (double)(e + 1)), py(&fr, v));
            open = 1;
        }
        if (open) fputs("\"/>\n", f);
        for (size_t e = 0; e < n; e++)
            if (isfinite(s[k].values[e]))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>",
                        px(&fr, (double)(e + 1)), py(&fr, s[k].values[e]), s[k].color);
        fputc('\n', f);
        /* Legend, top right, one row per series, with the last value. */
        double lx = W - RIGHT - 250, ly = TOP + 18 + 18.0 * k;
        double last = NAN;
        for (size_t e = n; e-- > 0;)
            if (isfinite(s[k].values[e])) {
                last = s[k].values[e];
                break;
            }
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"4\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%.1f\">",
                lx, ly - 5, s[k].color, lx + 22, ly);
        report_escape(f, s[k].name);
        if (isfinite(last)) fprintf(f, " (last %.4f)", last);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}

static void extent(const double *v, size_t n, double *lo, double *hi) {
    *lo = INFINITY, *hi = -INFINITY;
    for (size_t k = 0; k < n; k++) {
        if (v[k] < *lo) *lo = v[k];
        if (v[k] > *hi) *hi = v[k];
    }
    if (!(*lo < *hi)) *lo -= 1, *hi += 1;
    double pad = (*hi - *lo) * 0.06;
    *lo -= pad, *hi += pad;
}

/* A label's box in pixels, for keeping labels apart. */
typedef struct box {
    double x0, y0, x1, y1;
} box;

static int overlaps(const box *b, const box *placed, size_t n, const frame *fr) {
    if (b->x0 < LEFT || b->x1 > W - RIGHT || b->y0 < TOP || b->y1 > fr->h - BOTTOM) return 1;
    for (size_t k = 0; k < n; k++)
        if (b->x0 < placed[k].x1 && placed[k].x0 < b->x1 && b->y0 < placed[k].y1 &&
            placed[k].y0 < b->y1)
            return 1;
    return 0;
}

void report_scatter(FILE *f, const char *title, const char *x_label, const char *y_label,
                    const double *x, const double *y, const char *const *label, size_t n) {
    frame fr;
    extent(x, n, &fr.x0, &fr.x1);
    extent(y, n, &fr.y0, &fr.y1);
    fr.h = MAP_H;
    begin(f, title, fr.h);
    axes(f, &fr, x_label, y_label, 0);
    for (size_t k = 0; k < n; k++)
        if (!label || !label[k])
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"#9db4cc\"/>", px(&fr, x[k]),
                    py(&fr, y[k]));
    fputc('\n', f);
    box *placed = malloc((n ? n : 1) * sizeof *placed);
    size_t n_placed = 0;
    /* Labels in the order given (the caller's most important first), each
     * at the first of eight spots around its dot that overlaps no label
     * placed before; a label with no free spot is left as a dark dot whose
     * title shows on hover. Text width is estimated at 5.6 px a character. */
    static const double dx[] = {5, -5, 5, -5, 5, -5, 0, 0},
                        dy[] = {3.5, 3.5, -7, -7, 14, 14, -9, 17};
    for (size_t k = 0; label && placed && k < n; k++) {
        if (!label[k]) continue;
        double cx = px(&fr, x[k]), cy = py(&fr, y[k]);
        double w = 5.6 * (double)strlen(label[k]);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#1f4e79\"><title>", cx, cy);
        report_escape(f, label[k]);
        fputs("</title></circle>", f);
        for (int s = 0; s < 8; s++) {
            int end = dx[s] < 0 || (dx[s] == 0 && cx > (LEFT + W - RIGHT) / 2);
            double tx = cx + dx[s], ty = cy + dy[s];
            box b = {end ? tx - w : (dx[s] == 0 ? tx - w / 2 : tx), ty - 9,
                     end ? tx : (dx[s] == 0 ? tx + w / 2 : tx + w), ty + 2};
            if (overlaps(&b, placed, n_placed, &fr)) continue;
            placed[n_placed++] = b;
            fprintf(f,
                    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#1f3050\" "
                    "text-anchor=\"%s\">",
                    tx, ty,
                    dx[s] == 0 ? "middle"
                    : end      ? "end"
                               : "start");
            report_escape(f, label[k]);
            fputs("</text>", f);
            break;
        }
        fputc('\n', f);
    }
    free(placed);
    fputs("</svg>\n", f);
}

void report_histogram(FILE *f, const char *title, const char *x_label, const double *v, size_t n,
                      int n_bins) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < n; k++) lo = v[k] < lo ? v[k] : lo, hi = v[k] > hi ? v[k] : hi;
    if (!(lo < hi)) lo -= 0.5, hi += 0.5;
    size_t *count = calloc((size_t)n_bins, sizeof *count), top = 1;
    if (!count) return;
    for (size_t k = 0; k < n; k++) {
        int b = (int)((v[k] - lo) / (hi - lo) * n_bins);
        count[b >= n_bins ? n_bins - 1 : b]++;
    }
    for (int b = 0; b < n_bins; b++) top = count[b] > top ? count[b] : top;
    frame fr = {lo, hi, 0, (double)top * 1.1, H};
    begin(f, title, fr.h);
    axes(f, &fr, x_label, "users", 0);
    double bw = (hi - lo) / n_bins;
    for (int b = 0; b < n_bins; b++) {
        double x0 = px(&fr, lo + b * bw), x1 = px(&fr, lo + (b + 1) * bw);
        double y = py(&fr, (double)count[b]);
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#4f81bd\" "
                "stroke=\"#fff\"><title>%zu users in [%.3f, %.3f)</title></rect>\n",
                x0, y, x1 - x0, py(&fr, 0) - y, count[b], lo + b * bw, lo + (b + 1) * bw);
    }
    if (lo < 0 && hi > 0)
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#c0392b\" "
                "stroke-dasharray=\"4 3\"/>\n",
                px(&fr, 0), px(&fr, 0), TOP, fr.h - BOTTOM);
    fputs("</svg>\n", f);
    free(count);
}

#define BAR_ROW 16.0
#define BAR_LEFT 190.0 /* room for the labels */

double report_bar_chart(FILE *f, const char *title, const char *x_label,
                        const char *const *label, const double *v, size_t n) {
    double lo = 0, hi = 0;
    for (size_t k = 0; k < n; k++) lo = v[k] < lo ? v[k] : lo, hi = v[k] > hi ? v[k] : hi;
    if (!(lo < hi)) lo -= 0.5, hi += 0.5;
    const double pad = (hi - lo) * 0.05, h = TOP + (double)n * BAR_ROW + BOTTOM;
    lo -= lo < 0 ? pad : 0, hi += hi > 0 ? pad : 0;
    const double span = W - BAR_LEFT - RIGHT;
#define BX(x) (BAR_LEFT + ((x) - lo) / (hi - lo) * span)
    begin(f, title, h);
    double sx = tick_step(hi - lo, 8);
    for (double t = ceil(lo / sx) * sx; t <= hi + 1e-12; t += sx)
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#444\">%.3g</text>\n",
                BX(t), BX(t), TOP, h - BOTTOM, BX(t), h - BOTTOM + 16, fabs(t) < sx * 1e-6 ? 0.0 : t);
    for (size_t k = 0; k < n; k++) {
        const double y = TOP + (double)k * BAR_ROW, x0 = BX(v[k] < 0 ? v[k] : 0),
                     x1 = BX(v[k] < 0 ? 0 : v[k]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#222\">",
                BAR_LEFT - 6, y + BAR_ROW - 4);
        report_escape(f, label[k]);
        fprintf(f,
                "</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"%s\"><title>%+.4f</title></rect>\n",
                x0, y + 2, x1 - x0, BAR_ROW - 4, v[k] < 0 ? "#c0504d" : "#4f81bd", v[k]);
    }
    fprintf(f,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#222\"/>\n",
            BX(0), BX(0), TOP, h - BOTTOM);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222\">",
            BAR_LEFT + span / 2, h - 12);
    report_escape(f, x_label);
    fputs("</text>\n</svg>\n", f);
#undef BX
    return h;
}
