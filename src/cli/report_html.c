/* report_html.c — the explain report as one HTML page: learning curves, item
 * biases, the map of the item factors, the "spreadsheet view" of ratings
 * beside predictions, and the spread of user biases. Every figure is inline
 * SVG (report_svg.c); nothing is fetched and no script runs. */
#include "cli/report.h"
#include "cli/report_parts.h"
#include "cli/report_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char STYLE[] =
    "body{font-family:sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222;"
    "line-height:1.45}h1{font-size:24px}h2{font-size:19px;margin-top:34px;border-bottom:1px solid "
    "#ccc}table{border-collapse:collapse;font-size:13px}td,th{padding:3px 7px;border-bottom:1px "
    "solid #eee;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".pair{display:flex;gap:24px;flex-wrap:wrap}.pair>div{flex:1 1 "
    "480px}.note{color:#555;font-size:13px}"
    ".sheet td{text-align:center;border:1px solid #fff;min-width:52px}.sheet th{font-size:11px;"
    "font-weight:normal;max-width:70px;vertical-align:bottom}.sheet "
    ".p{color:#777;font-style:italic}"
    "svg{max-width:100%;height:auto}";

static void header(FILE *f, const report_data *d) {
    const fl_model_info *in = &d->info;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
          "factorlens report: ",
          f);
    report_escape(f, d->model_path);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>What the model learned: ", STYLE);
    report_escape(f, d->model_path);
    fprintf(f,
            "</h1>\n<p>A <b>%s</b> model (solver %s) with %d factors, trained for %d epochs on "
            "%zu ratings of %u users and %u items from <code>",
            fl_model_kind_name(in->kind), fl_solver_name(in->params.solver), in->params.n_factors,
            in->epochs_run, in->n_train, in->n_users, in->n_items);
    report_escape(f, in->source);
    fprintf(f, "</code> (mean rating %.3f, ratings from %g to %g).", (double)in->global_mean,
            (double)in->rating_lo, (double)in->rating_hi);
    if (in->kind == FL_MODEL_BIASED)
        fputs(" It predicts a rating as the global mean plus a user bias, an item bias and the "
              "dot product of the user's and the item's factor vectors.",
              f);
    fputs("</p>\n", f);
}

static int curves(FILE *f, const report_data *d) {
    fputs("<h2>Learning curves</h2>\n", f);
    report_curves c;
    if (report_curves_get(d, &c) < 0) return -1;
    if (!c.n) {
        fputs("<p class=\"note\">This model file was written before factorlens kept the "
              "per-epoch history; train it again to see its learning curves.</p>\n",
              f);
        return 0;
    }
    report_line_chart(f, "Loss per epoch (recorded while training)", "epoch", c.s, c.n_series, c.n);
    fputs("<p class=\"note\">The training data MSE is the plain mean squared error on the training "
          "ratings; the regularisation penalty is what the optimiser adds to it per rating (their "
          "sum is what it minimises, which is not an MSE). Test RMSE is measured on ratings the "
          "model never learned from: when it stops falling while the training MSE keeps falling, "
          "more epochs only fit noise.",
          f);
    if (!c.any_test) fputs(" This model was trained without a test set.", f);
    if (isfinite(c.last->test_mse))
        fprintf(f,
                " RMSE is in rating units; squared, at the last epoch the test error (MSE %.3f) "
                "stands beside the training data MSE of %.3f: the difference is what the model "
                "learned about these ratings that does not carry over to new ones.",
                c.last->test_mse, c.last->train_mse);
    fputs("</p>\n", f);
    report_curves_free(&c);
    return 0;
}

static void bias_rows(FILE *f, const report_data *d, const uint32_t *idx, size_t n) {
    fputs("<table><tr><th>#</th><th>title</th><th>bias</th><th>mean rating</th><th>ratings</th>"
          "</tr>\n",
          f);
    for (size_t k = 0; k < n; k++) {
        uint32_t i = idx[k];
        fprintf(f, "<tr><td class=\"n\">%zu</td><td>", k + 1);
        report_escape(f, report_title_of(d, i));
        fprintf(f, "</td><td class=\"n\">%+.3f</td>", (double)fl_model_item_bias(d->m, i));
        if (isfinite(d->item_mean[i]))
            fprintf(f, "<td class=\"n\">%.2f</td>", d->item_mean[i]);
        else
            fputs("<td class=\"n\">&ndash;</td>", f);
        fprintf(f, "<td class=\"n\">%u</td></tr>\n", d->item_count[i]);
    }
    fputs("</table>\n", f);
}

static int item_biases(FILE *f, const report_data *d) {
    fputs("<h2>Item biases: loved and loathed, whoever watches</h2>\n", f);
    if (!report_has_biases(d)) {
        char note[64];
        report_no_biases_note(d, note, sizeof note);
        fprintf(f, "<p class=\"note\">%s</p>\n", note);
        return 0;
    }
    report_bias_lists b;
    if (report_bias_lists_get(d, &b) < 0) return -1;
    fprintf(f,
            "<p class=\"note\">An item's bias is what the model adds to every user's "
            "prediction for it, whatever their taste: it ranks items by how they are rated "
            "once who rated them is accounted for, which a plain mean rating does not. Among "
            "the %zu items with at least %d training ratings.",
            b.n_eligible, d->min_ratings);
    if (!d->ratings) fputs(" Mean ratings need <code>--ratings FILE</code>.", f);
    fputs("</p>\n<div class=\"pair\"><div><h3>Highest</h3>\n", f);
    bias_rows(f, d, b.high, b.shown);
    fputs("</div><div><h3>Lowest</h3>\n", f);
    bias_rows(f, d, b.low, b.shown);
    fputs("</div></div>\n", f);
    return 0;
}

/* "low end: A; B; ... — high end: X; Y; ..." along one component; -1 when
 * out of memory. */
static int axis_ends(FILE *f, const report_data *d, const report_map *m, const double *pc) {
    uint32_t low[REPORT_N_ENDS], high[REPORT_N_ENDS];
    size_t e = report_axis_ends(m, pc, low, high, REPORT_N_ENDS);
    if (e == (size_t)-1) return -1;
    fputs("<i>low end:</i> ", f);
    for (size_t k = 0; k < e; k++) {
        if (k) fputs("; ", f);
        report_escape(f, report_title_of(d, low[k]));
    }
    fputs(" &mdash; <i>high end:</i> ", f);
    for (size_t k = 0; k < e; k++) {
        if (k) fputs("; ", f);
        report_escape(f, report_title_of(d, high[k]));
    }
    return 0;
}

static int item_map(FILE *f, const report_data *d) {
    fputs("<h2>A map of the items: the first two principal components of their factors</h2>\n", f);
    report_map m;
    if (report_map_get(d, &m) < 0) return -1;
    if (m.n == 0) {
        fputs("<p class=\"note\">This model has no item factors to map.</p>\n", f);
        report_map_free(&m);
        return 0;
    }
    report_scatter(f, "Items by their factors (the most-rated labelled)", m.x_label, m.y_label,
                   m.pc1, m.pc2, m.label, m.n);
    fprintf(f,
            "<p class=\"note\">Each dot is one of the %zu items with at least %d training "
            "ratings, placed by its factor vector projected on the two directions in which "
            "the item factors vary most. Nobody told the model about genres or eras: items "
            "close together are ones the same users rate alike. What each axis separates, "
            "by the titles at its ends:</p>\n<ul class=\"note\"><li><b>First component</b> ",
            m.n, d->min_ratings);
    int rc = axis_ends(f, d, &m, m.pc1);
    fputs("</li>\n<li><b>Second component</b> ", f);
    if (rc == 0) rc = axis_ends(f, d, &m, m.pc2);
    fputs("</li></ul>\n", f);
    report_map_free(&m);
    return rc;
}

static int spreadsheet(FILE *f, const report_data *d) {
    fputs("<h2>The spreadsheet view: real ratings beside predictions</h2>\n", f);
    if (!d->ratings) {
        fputs("<p class=\"note\">Give <code>--ratings FILE</code> (the training ratings) to see "
              "the most active users' real ratings beside the model's predictions.</p>\n",
              f);
        return 0;
    }
    report_sheet s;
    if (report_sheet_get(d, &s) < 0) return -1;
    fprintf(f, "<p class=\"note\">The %zu users with the most ratings in <code>", s.n_rows);
    report_escape(f, d->ratings_path);
    fprintf(f,
            "</code> against the %zu most-rated items, as in the spreadsheet version of the "
            "lesson. Each rated cell shows the real rating and, after the bar, the model's "
            "prediction, coloured by the error (green: close, red: off by 2 or more); "
            "unrated cells show the prediction alone, in grey: the gaps the model fills in.</p>\n",
            s.n_cols);
    fputs("<table class=\"sheet\"><tr><th>user</th>", f);
    for (size_t c = 0; c < s.n_cols; c++) {
        char t[40];
        report_short_title(report_title_of(d, s.cols[c]), t, 30);
        fputs("<th>", f);
        report_escape(f, t);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    const fl_idmap *mu = fl_model_user_ids(d->m);
    for (size_t a = 0; a < s.n_rows; a++) {
        fputs("<tr><th>", f);
        report_escape(f, fl_idmap_name(mu, s.rows[a]));
        fputs("</th>", f);
        for (size_t c = 0; c < s.n_cols; c++) {
            if (s.have[a][c]) {
                char bg[32];
                report_error_colour((double)(s.rating[a][c] - s.pred[a][c]), bg, sizeof bg);
                fprintf(f, "<td style=\"background:%s\">%g | %.1f</td>", bg, (double)s.rating[a][c],
                        (double)s.pred[a][c]);
            } else {
                fprintf(f, "<td class=\"p\">%.1f</td>", (double)s.pred[a][c]);
            }
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    return 0;
}

static int user_biases(FILE *f, const report_data *d) {
    fputs("<h2>User biases: generous and harsh raters</h2>\n", f);
    if (!report_has_biases(d)) {
        char note[64];
        report_no_biases_note(d, note, sizeof note);
        fprintf(f, "<p class=\"note\">%s</p>\n", note);
        return 0;
    }
    uint32_t nu = d->info.n_users;
    double *v = malloc((nu ? nu : 1) * sizeof *v);
    if (!v) return -1;
    double sum = 0;
    for (uint32_t u = 0; u < nu; u++) sum += v[u] = fl_model_user_bias(d->m, u);
    report_histogram(f, "How much each user rates above or below the rest", "user bias", v, nu, 40);
    fprintf(f,
            "<p class=\"note\">A user's bias is added to each of their predictions: positive "
            "for users who rate everything generously, negative for harsh ones (mean %.3f "
            "over %u users). The bias absorbs this habit, so the factors are left to describe "
            "taste.</p>\n",
            nu ? sum / nu : 0.0, nu);
    free(v);
    return 0;
}

/* fm models: what each side feature adds to a rating by itself. */
static int side_features(FILE *f, const report_data *d) {
    for (int side = 0; side < 2; side++) {
        report_features r;
        if (report_features_get(d, side, &r) < 0) return -1;
        if (!r.n) continue;
        fprintf(f, "<h2>%s</h2>\n", report_features_heading[side]);
        report_bar_chart(f, report_features_chart[side], "weight (rating points)", r.name, r.weight, r.n);
        char note[512];
        report_features_note(side, note, sizeof note);
        fprintf(f, "<p class=\"note\">%s", note);
        if (r.n < r.n_all) fprintf(f, " The %zu heaviest and lightest of %zu are shown.", r.n / 2, r.n_all);
        fputs("</p>\n", f);
        report_features_free(&r);
    }
    return 0;
}

int report_write_html(FILE *f, const report_data *d) {
    header(f, d);
    if (curves(f, d) < 0 || item_biases(f, d) < 0 || item_map(f, d) < 0 || spreadsheet(f, d) < 0 ||
        user_biases(f, d) < 0 || side_features(f, d) < 0)
        return -1;
    fputs("<p class=\"note\">Written by factorlens " FL_VERSION
          " (<code>factorlens report</code>).</p>\n</body>\n</html>\n",
          f);
    return 0;
}
