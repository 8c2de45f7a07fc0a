/* report_png.c — `factorlens report --format png`: the explain report as one
 * PNG image. Its parts are laid out top to bottom as one SVG document, each
 * under its heading: the same figures report_svg.c draws for the HTML page,
 * and the tables (item biases, the spreadsheet view) as rows of SVG text.
 * librsvg renders that document through cairo, which writes the PNG. The
 * SVG stays in memory; only the PNG reaches the file. */
#include "cli/report.h"
#include "cli/report_parts.h"
#include "cli/report_svg.h"

#include <cairo.h>
#include <librsvg/rsvg.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_W 800.0 /* the figures are REPORT_FIG_W wide, MARGIN from the left */
#define MARGIN 20.0
#define SCALE 1.5 /* pixels per SVG unit: 1200 pixels wide, text big enough to read */
#define WRAP 120  /* characters per line of a note (12 px sans-serif in REPORT_FIG_W) */
#define ROW_H 18.0

/* Where the next part goes: the document's body and how far down it is. */
typedef struct page {
    FILE *f;
    double y;
} page;

/* s as XML text: escaped like the HTML's (report_escape), and with control
 * characters and bytes that are not UTF-8 (a model path can hold any)
 * replaced by '?', since one such byte would make the document unreadable. */
static void xml_text(FILE *f, const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        size_t len = *u < 0x80             ? 1
                     : (*u & 0xE0) == 0xC0 ? 2
                     : (*u & 0xF0) == 0xE0 ? 3
                     : (*u & 0xF8) == 0xF0 ? 4
                                           : 0;
        size_t k = 1;
        while (k < len && (u[k] & 0xC0) == 0x80) k++;
        if (len == 0 || k < len || (*u < 0x20 && *u != '\t')) {
            fputc('?', f);
            u += len == 0 || k < len ? k : 1;
            continue;
        }
        if (len == 1) {
            char one[2] = {(char)*u, 0};
            report_escape(f, one);
        } else {
            fwrite(u, 1, len, f);
        }
        u += len;
    }
}

/* One line of text at (x, baseline y); attrs are extra SVG attributes. */
static void text_at(FILE *f, double x, double y, const char *attrs, const char *s) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" %s>", x, y, attrs);
    xml_text(f, s);
    fputs("</text>\n", f);
}

static void heading(page *p, const char *s) {
    p->y += 40;
    text_at(p->f, MARGIN, p->y, "font-size=\"19\" font-weight=\"bold\"", s);
    fprintf(p->f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>\n",
            MARGIN, PAGE_W - MARGIN, p->y + 7, p->y + 7);
    p->y += 14;
}

static void subheading(page *p, const char *s) {
    p->y += 26;
    text_at(p->f, MARGIN, p->y, "font-size=\"15\" font-weight=\"bold\"", s);
    p->y += 6;
}

/* A paragraph in grey, wrapped at spaces into lines of about WRAP characters. */
static void note(page *p, const char *s) {
    p->y += 4;
    const char *at = s;
    while (*at) {
        size_t n = strlen(at), cut = n;
        if (n > WRAP) {
            cut = WRAP;
            while (cut > 0 && at[cut] != ' ') cut--;
            if (cut == 0) cut = WRAP;
        }
        char line[WRAP * 4 + 1];
        memcpy(line, at, cut);
        line[cut] = 0;
        p->y += 16;
        text_at(p->f, MARGIN, p->y, "font-size=\"12\" fill=\"#555\"", line);
        at += cut;
        while (*at == ' ') at++;
    }
    p->y += 6;
}

/* A figure's SVG is drawn where the next part goes; end_figure moves below it. */
static void begin_figure(page *p) {
    p->y += 8;
    fprintf(p->f, "<g transform=\"translate(%.0f %.1f)\">\n", MARGIN, p->y);
}
static void end_figure(page *p, double height) {
    fputs("</g>\n", p->f);
    p->y += height;
}

static void header(page *p, const report_data *d) {
    const fl_model_info *in = &d->info;
    char s[1024];
    snprintf(s, sizeof s, "What the model learned: %s", d->model_path);
    p->y += 34;
    text_at(p->f, MARGIN, p->y, "font-size=\"22\" font-weight=\"bold\"", s);
    p->y += 4;
    snprintf(s, sizeof s,
             "A %s model (solver %s) with %d factors, trained for %d epochs on %zu ratings of %u "
             "users and %u items from %s (mean rating %.3f, ratings from %g to %g).%s",
             fl_model_kind_name(in->kind), fl_solver_name(in->params.solver), in->params.n_factors,
             in->epochs_run, in->n_train, in->n_users, in->n_items, in->source,
             (double)in->global_mean, (double)in->rating_lo, (double)in->rating_hi,
             in->kind == FL_MODEL_BIASED
                 ? " It predicts a rating as the global mean plus a user bias, an item bias and "
                   "the dot product of the user's and the item's factor vectors."
                 : "");
    note(p, s);
}

static int curves(page *p, const report_data *d) {
    heading(p, "Learning curves");
    report_curves c;
    if (report_curves_get(d, &c) < 0) return -1;
    if (!c.n) {
        note(p, "This model file was written before factorlens kept the per-epoch history; "
                "train it again to see its learning curves.");
        return 0;
    }
    begin_figure(p);
    report_line_chart(p->f, "Loss per epoch (recorded while training)", "epoch", c.s, c.n_series,
                      c.n);
    end_figure(p, REPORT_CHART_H);
    char s[1024];
    int at = snprintf(s, sizeof s,
                      "The training data MSE is the plain mean squared error on the training "
                      "ratings; the regularisation penalty is what the optimiser adds to it per "
                      "rating (their sum is what it minimises, which is not an MSE). Test RMSE is "
                      "measured on ratings the model never learned from: when it stops falling "
                      "while the training MSE keeps falling, more epochs only fit noise.%s",
                      c.any_test ? "" : " This model was trained without a test set.");
    if (isfinite(c.last->test_mse) && at > 0 && (size_t)at < sizeof s)
        snprintf(s + at, sizeof s - (size_t)at,
                 " RMSE is in rating units; squared, at the last epoch the test error (MSE %.3f) "
                 "stands beside the training data MSE of %.3f: the difference is what the model "
                 "learned about these ratings that does not carry over to new ones.",
                 c.last->test_mse, c.last->train_mse);
    note(p, s);
    report_curves_free(&c);
    return 0;
}

/* One bias list as a table: rank, title, bias, mean rating, rating count. */
static void bias_table(page *p, const report_data *d, const char *caption, const uint32_t *idx,
                       size_t n) {
    static const char num[] = "text-anchor=\"end\" font-size=\"12\"";
    const double x_rank = MARGIN + 22, x_title = MARGIN + 32, x_bias = MARGIN + 560,
                 x_mean = MARGIN + 660, x_count = MARGIN + 750;
    subheading(p, caption);
    p->y += ROW_H;
    FILE *f = p->f;
    static const char head[] = "font-size=\"12\" font-weight=\"bold\" fill=\"#333\"";
    static const char head_num[] =
        "font-size=\"12\" font-weight=\"bold\" fill=\"#333\" text-anchor=\"end\"";
    text_at(f, x_rank, p->y, head_num, "#");
    text_at(f, x_title, p->y, head, "title");
    text_at(f, x_bias, p->y, head_num, "bias");
    text_at(f, x_mean, p->y, head_num, "mean rating");
    text_at(f, x_count, p->y, head_num, "ratings");
    for (size_t k = 0; k < n; k++) {
        uint32_t i = idx[k];
        fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n",
                MARGIN, MARGIN + REPORT_FIG_W, p->y + 5, p->y + 5);
        p->y += ROW_H;
        char s[96];
        snprintf(s, sizeof s, "%zu", k + 1);
        text_at(f, x_rank, p->y, num, s);
        report_short_title(report_title_of(d, i), s, 66);
        text_at(f, x_title, p->y, "font-size=\"12\"", s);
        snprintf(s, sizeof s, "%+.3f", (double)fl_model_item_bias(d->m, i));
        text_at(f, x_bias, p->y, num, s);
        if (isfinite(d->item_mean[i]))
            snprintf(s, sizeof s, "%.2f", d->item_mean[i]);
        else
            snprintf(s, sizeof s, "\xE2\x80\x93"); /* an en dash: no --ratings */
        text_at(f, x_mean, p->y, num, s);
        snprintf(s, sizeof s, "%u", d->item_count[i]);
        text_at(f, x_count, p->y, num, s);
    }
    p->y += 6;
}

static int item_biases(page *p, const report_data *d) {
    heading(p, "Item biases: loved and loathed, whoever watches");
    if (!report_has_biases(d)) {
        char s[64];
        report_no_biases_note(d, s, sizeof s);
        note(p, s);
        return 0;
    }
    report_bias_lists b;
    if (report_bias_lists_get(d, &b) < 0) return -1;
    char s[1024];
    snprintf(s, sizeof s,
             "An item's bias is what the model adds to every user's prediction for it, whatever "
             "their taste: it ranks items by how they are rated once who rated them is accounted "
             "for, which a plain mean rating does not. Among the %zu items with at least %d "
             "training ratings.%s",
             b.n_eligible, d->min_ratings, d->ratings ? "" : " Mean ratings need --ratings FILE.");
    note(p, s);
    bias_table(p, d, "Highest", b.high, b.shown);
    bias_table(p, d, "Lowest", b.low, b.shown);
    return 0;
}

/* "First component, low end: A; B; ... — high end: X; Y; ..." as a note. */
static int axis_note(page *p, const report_data *d, const report_map *m, const double *pc,
                     const char *name) {
    uint32_t low[REPORT_N_ENDS], high[REPORT_N_ENDS];
    size_t e = report_axis_ends(m, pc, low, high, REPORT_N_ENDS);
    if (e == (size_t)-1) return -1;
    char s[4096];
    size_t at = (size_t)snprintf(s, sizeof s, "%s, low end: ", name);
    for (size_t k = 0; k < e && at < sizeof s; k++)
        at += (size_t)snprintf(s + at, sizeof s - at, "%s%s", k ? "; " : "",
                               report_title_of(d, low[k]));
    if (at < sizeof s) at += (size_t)snprintf(s + at, sizeof s - at, " \xE2\x80\x94 high end: ");
    for (size_t k = 0; k < e && at < sizeof s; k++)
        at += (size_t)snprintf(s + at, sizeof s - at, "%s%s", k ? "; " : "",
                               report_title_of(d, high[k]));
    note(p, s);
    return 0;
}

static int item_map(page *p, const report_data *d) {
    heading(p, "A map of the items: the first two principal components of their factors");
    report_map m;
    if (report_map_get(d, &m) < 0) return -1;
    if (m.n == 0) {
        note(p, "This model has no item factors to map.");
        report_map_free(&m);
        return 0;
    }
    begin_figure(p);
    report_scatter(p->f, "Items by their factors (the most-rated labelled)", m.x_label, m.y_label,
                   m.pc1, m.pc2, m.label, m.n);
    end_figure(p, REPORT_MAP_H);
    char s[1024];
    snprintf(s, sizeof s,
             "Each dot is one of the %zu items with at least %d training ratings, placed by its "
             "factor vector projected on the two directions in which the item factors vary most. "
             "Nobody told the model about genres or eras: items close together are ones the same "
             "users rate alike. What each axis separates, by the titles at its ends:",
             m.n, d->min_ratings);
    note(p, s);
    int rc = axis_note(p, d, &m, m.pc1, "First component");
    if (rc == 0) rc = axis_note(p, d, &m, m.pc2, "Second component");
    report_map_free(&m);
    return rc;
}

static int spreadsheet(page *p, const report_data *d) {
    heading(p, "The spreadsheet view: real ratings beside predictions");
    if (!d->ratings) {
        note(p, "Give --ratings FILE (the training ratings) to see the most active users' real "
                "ratings beside the model's predictions.");
        return 0;
    }
    report_sheet t;
    if (report_sheet_get(d, &t) < 0) return -1;
    char s[2048];
    snprintf(s, sizeof s,
             "The %zu users with the most ratings in %s against the %zu most-rated items, as in "
             "the spreadsheet version of the lesson. Each "
             "rated cell shows the real rating and, after the bar, the model's prediction, "
             "coloured by the error (green: close, red: off by 2 or more); unrated cells show the "
             "prediction alone, in grey italics: the gaps the model fills in.",
             t.n_rows, d->ratings_path, t.n_cols);
    note(p, s);
    /* The column titles stand upright above their columns, so that fifteen
     * of them fit the figure's width. */
    const double user_w = 52, cell_w = (REPORT_FIG_W - user_w) / REPORT_N_LIST, head_h = 175;
    FILE *f = p->f;
    double top = p->y + 8 + head_h;
    text_at(f, MARGIN + user_w / 2, top - 6,
            "font-size=\"11\" font-weight=\"bold\" text-anchor=\"middle\"", "user");
    for (size_t c = 0; c < t.n_cols; c++) {
        char title[40];
        report_short_title(report_title_of(d, t.cols[c]), title, 30);
        double x = MARGIN + user_w + (c + 0.5) * cell_w + 4;
        fprintf(f, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" font-size=\"11\">", x,
                top - 6);
        xml_text(f, title);
        fputs("</text>\n", f);
    }
    for (size_t a = 0; a < t.n_rows; a++) {
        double y = top + a * (ROW_H + 2);
        text_at(f, MARGIN + user_w / 2, y + 13,
                "font-size=\"11\" font-weight=\"bold\" text-anchor=\"middle\"",
                fl_idmap_name(fl_model_user_ids(d->m), t.rows[a]));
        for (size_t c = 0; c < t.n_cols; c++) {
            double x = MARGIN + user_w + c * cell_w;
            char cell[32], bg[32];
            if (t.have[a][c]) {
                report_error_colour((double)(t.rating[a][c] - t.pred[a][c]), bg, sizeof bg);
                snprintf(cell, sizeof cell, "%g | %.1f", (double)t.rating[a][c],
                         (double)t.pred[a][c]);
            } else {
                snprintf(bg, sizeof bg, "#f4f4f4");
                snprintf(cell, sizeof cell, "%.1f", (double)t.pred[a][c]);
            }
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                    "stroke=\"#fff\"/>\n",
                    x, y, cell_w, ROW_H + 2, bg);
            text_at(f, x + cell_w / 2, y + 14,
                    t.have[a][c] ? "font-size=\"11\" text-anchor=\"middle\""
                                 : "font-size=\"11\" text-anchor=\"middle\" fill=\"#777\" "
                                   "font-style=\"italic\"",
                    cell);
        }
    }
    p->y = top + t.n_rows * (ROW_H + 2) + 6;
    return 0;
}

static int user_biases(page *p, const report_data *d) {
    heading(p, "User biases: generous and harsh raters");
    if (!report_has_biases(d)) {
        char s[64];
        report_no_biases_note(d, s, sizeof s);
        note(p, s);
        return 0;
    }
    uint32_t nu = d->info.n_users;
    double *v = malloc((nu ? nu : 1) * sizeof *v);
    if (!v) return -1;
    double sum = 0;
    for (uint32_t u = 0; u < nu; u++) sum += v[u] = fl_model_user_bias(d->m, u);
    begin_figure(p);
    report_histogram(p->f, "How much each user rates above or below the rest", "user bias", v, nu,
                     40);
    end_figure(p, REPORT_CHART_H);
    free(v);
    char s[512];
    snprintf(s, sizeof s,
             "A user's bias is added to each of their predictions: positive for users who rate "
             "everything generously, negative for harsh ones (mean %.3f over %u users). The bias "
             "absorbs this habit, so the factors are left to describe taste.",
             nu ? sum / nu : 0.0, nu);
    note(p, s);
    return 0;
}

/* fm models: what each side feature adds to a rating by itself. */
static int side_features(page *p, const report_data *d) {
    for (int side = 0; side < 2; side++) {
        report_features r;
        if (report_features_get(d, side, &r) < 0) return -1;
        if (!r.n) continue;
        heading(p, report_features_heading[side]);
        begin_figure(p);
        end_figure(p, report_bar_chart(p->f, report_features_chart[side], "weight (rating points)", r.name,
                                       r.weight, r.n));
        char s[640];
        report_features_note(side, s, sizeof s);
        if (r.n < r.n_all) {
            size_t len = strlen(s);
            snprintf(s + len, sizeof s - len, " The %zu heaviest and lightest of %zu are shown.",
                     r.n / 2, r.n_all);
        }
        note(p, s);
        report_features_free(&r);
    }
    return 0;
}

static cairo_status_t to_file(void *closure, const unsigned char *data, unsigned int length) {
    return fwrite(data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS
                                                      : CAIRO_STATUS_WRITE_ERROR;
}

/* Renders the SVG document svg[len] (PAGE_W by height units) into f as PNG. */
static int render(const char *svg, size_t len, double height, FILE *f, char *why, size_t why_n) {
    GError *err = NULL;
    RsvgHandle *h = rsvg_handle_new_from_data((const guint8 *)svg, len, &err);
    if (!h) {
        snprintf(why, why_n, "librsvg cannot read the drawing: %s", err ? err->message : "?");
        g_clear_error(&err);
        return -2;
    }
    int w_px = (int)ceil(PAGE_W * SCALE), h_px = (int)ceil(height * SCALE);
    /* RGB24: an opaque page, so the PNG carries no alpha channel. */
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w_px, h_px);
    cairo_t *cr = cairo_create(surface);
    int rc = 0;
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        snprintf(why, why_n, "cairo cannot make a %d x %d image: %s", w_px, h_px,
                 cairo_status_to_string(cairo_status(cr)));
        rc = -2;
    }
    if (rc == 0) {
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        RsvgRectangle viewport = {0, 0, w_px, h_px};
        if (!rsvg_handle_render_document(h, cr, &viewport, &err)) {
            snprintf(why, why_n, "librsvg cannot draw the report: %s", err ? err->message : "?");
            g_clear_error(&err);
            rc = -2;
        }
    }
    if (rc == 0) {
        cairo_surface_flush(surface);
        cairo_status_t st = cairo_surface_write_to_png_stream(surface, to_file, f);
        /* A failed write shows in ferror(f), which the caller reports with errno. */
        if (st != CAIRO_STATUS_SUCCESS && st != CAIRO_STATUS_WRITE_ERROR) {
            snprintf(why, why_n, "cairo cannot write the PNG: %s", cairo_status_to_string(st));
            rc = -2;
        }
    }
    cairo_destroy(cr);
    cairo_surface_destroy(surface);
    g_object_unref(h);
    return rc;
}

int report_write_png(FILE *f, const report_data *d, char *why, size_t why_n) {
    char *body = NULL;
    size_t body_len = 0;
    page p = {open_memstream(&body, &body_len), 0};
    if (!p.f) return -1;
    header(&p, d);
    int rc = 0;
    if (curves(&p, d) < 0 || item_biases(&p, d) < 0 || item_map(&p, d) < 0 ||
        spreadsheet(&p, d) < 0 || user_biases(&p, d) < 0 || side_features(&p, d) < 0)
        rc = -1;
    p.y += 24;
    text_at(p.f, MARGIN, p.y, "font-size=\"11\" fill=\"#777\"",
            "Written by factorlens " FL_VERSION " (factorlens report --format png).");
    p.y += 14;
    if (fclose(p.f) != 0) rc = -1;
    char *doc = NULL;
    size_t doc_len = 0;
    FILE *all = rc ? NULL : open_memstream(&doc, &doc_len);
    if (!rc && !all) rc = -1;
    if (all) {
        fprintf(all,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" fill=\"#222\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
                PAGE_W, ceil(p.y), PAGE_W, ceil(p.y));
        fwrite(body, 1, body_len, all);
        fputs("</svg>\n", all);
        if (fclose(all) != 0) rc = -1;
    }
    free(body);
    if (rc == 0) rc = render(doc, doc_len, ceil(p.y), f, why, why_n);
    free(doc);
    return rc;
}
