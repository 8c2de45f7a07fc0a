/* report_html.c — the explain report as one HTML page: learning curves, item
 * biases, the map of the item factors, the "spreadsheet view" of ratings
 * beside predictions, and the spread of user biases. Every figure is inline
 * SVG (report_svg.c); nothing is fetched and no script runs. */
#include "cli/report.h"
#include "cli/report_pca.h"
#include "cli/report_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_LIST 15 /* items in each bias list; users and items in the spreadsheet */
#define N_ENDS 5  /* titles named at each end of a map axis */

static const char *title_of(const report_data *d, uint32_t i) {
    const char *id = fl_idmap_name(fl_model_item_ids(d->m), i);
    const char *t = d->items ? fl_items_title(d->items, id) : NULL;
    return t ? t : id;
}

/* A title cut to at most max bytes at a UTF-8 character boundary, with "…". */
static void short_title(const char *t, char *out, size_t max) {
    size_t n = strlen(t);
    if (n <= max) {
        memcpy(out, t, n + 1);
        return;
    }
    n = max - 3;
    while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80) n--;
    memcpy(out, t, n);
    memcpy(out + n, "\xE2\x80\xA6", 4);
}

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

static void curves(FILE *f, const report_data *d) {
    fputs("<h2>Learning curves</h2>\n", f);
    size_t n;
    const fl_epoch_report *h = fl_model_history(d->m, &n);
    if (!n) {
        fputs("<p class=\"note\">This model file was written before factorlens kept the "
              "per-epoch history; train it again to see its learning curves.</p>\n",
              f);
        return;
    }
    double *v = malloc(4 * n * sizeof *v);
    if (!v) return;
    int any_valid = 0, any_test = 0;
    for (size_t e = 0; e < n; e++) {
        v[e] = h[e].train_mse, v[n + e] = h[e].reg_penalty;
        v[2 * n + e] = h[e].test_rmse, v[3 * n + e] = h[e].valid_rmse;
        any_test |= isfinite(h[e].test_rmse), any_valid |= isfinite(h[e].valid_rmse);
    }
    report_series s[4] = {{"training data MSE", "#1f77b4", v},
                          {"regularisation penalty", "#ff7f0e", v + n},
                          {"test RMSE", "#2ca02c", v + 2 * n},
                          {"validation RMSE", "#9467bd", v + 3 * n}};
    int ns = 2;
    if (any_test) ns++;
    if (any_valid) s[ns++] = s[3];
    report_line_chart(f, "Loss per epoch (recorded while training)", "epoch", s, ns, n);
    free(v);
    fputs("<p class=\"note\">The training data MSE is the plain mean squared error on the training "
          "ratings; the regularisation penalty is what the optimiser adds to it per rating (their "
          "sum is what it minimises, which is not an MSE). Test RMSE is measured on ratings the "
          "model never learned from: when it stops falling while the training MSE keeps falling, "
          "more epochs only fit noise.",
          f);
    if (!any_test) fputs(" This model was trained without a test set.", f);
    const fl_epoch_report *last = &h[n - 1];
    if (isfinite(last->test_mse))
        fprintf(f,
                " RMSE is in rating units; squared, at the last epoch the test error (MSE %.3f) "
                "stands beside the training data MSE of %.3f: the difference is what the model "
                "learned about these ratings that does not carry over to new ones.",
                last->test_mse, last->train_mse);
    fputs("</p>\n", f);
}

/* qsort's comparators see the arrays they order through these file-scope
 * pointers: the CLI writes one report at a time on one thread. */
static const float *bias_base;
static int by_bias_desc(const void *a, const void *b) {
    float x = bias_base[*(const uint32_t *)a], y = bias_base[*(const uint32_t *)b];
    if (x != y) return x > y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static void bias_rows(FILE *f, const report_data *d, const uint32_t *idx, size_t n,
                      const float *bias) {
    fputs("<table><tr><th>#</th><th>title</th><th>bias</th><th>mean rating</th><th>ratings</th>"
          "</tr>\n",
          f);
    for (size_t k = 0; k < n; k++) {
        uint32_t i = idx[k];
        fprintf(f, "<tr><td class=\"n\">%zu</td><td>", k + 1);
        report_escape(f, title_of(d, i));
        fprintf(f, "</td><td class=\"n\">%+.3f</td>", (double)bias[i]);
        if (isfinite(d->item_mean[i]))
            fprintf(f, "<td class=\"n\">%.2f</td>", d->item_mean[i]);
        else
            fputs("<td class=\"n\">&ndash;</td>", f);
        fprintf(f, "<td class=\"n\">%u</td></tr>\n", d->item_count[i]);
    }
    fputs("</table>\n", f);
}

/* Items with at least min_ratings training ratings, or every item if fewer
 * than three have that many. */
static uint32_t *eligible_items(const report_data *d, size_t *n) {
    uint32_t ni = d->info.n_items;
    uint32_t *idx = malloc((ni ? ni : 1) * sizeof *idx);
    if (!idx) return NULL;
    *n = 0;
    for (uint32_t i = 0; i < ni; i++)
        if (d->item_count[i] >= (uint32_t)d->min_ratings) idx[(*n)++] = i;
    if (*n < 3)
        for (*n = 0; *n < ni; (*n)++) idx[*n] = (uint32_t)*n;
    return idx;
}

static int item_biases(FILE *f, const report_data *d) {
    fputs("<h2>Item biases: loved and loathed, whoever watches</h2>\n", f);
    if (d->info.kind == FL_MODEL_DOT) {
        fputs("<p class=\"note\">A dot model has no biases.</p>\n", f);
        return 0;
    }
    uint32_t ni = d->info.n_items;
    float *bias = malloc((ni ? ni : 1) * sizeof *bias);
    size_t n = 0;
    uint32_t *idx = eligible_items(d, &n);
    if (!bias || !idx) {
        free(bias), free(idx);
        return -1;
    }
    for (uint32_t i = 0; i < ni; i++) bias[i] = fl_model_item_bias(d->m, i);
    bias_base = bias;
    qsort(idx, n, sizeof *idx, by_bias_desc);
    size_t shown = n < N_LIST ? n : N_LIST;
    fprintf(f,
            "<p class=\"note\">An item's bias is what the model adds to every user's "
            "prediction for it, whatever their taste: it ranks items by how they are rated "
            "once who rated them is accounted for, which a plain mean rating does not. Among "
            "the %zu items with at least %d training ratings.",
            n, d->min_ratings);
    if (!d->ratings) fputs(" Mean ratings need <code>--ratings FILE</code>.", f);
    fputs("</p>\n<div class=\"pair\"><div><h3>Highest</h3>\n", f);
    bias_rows(f, d, idx, shown, bias);
    fputs("</div><div><h3>Lowest</h3>\n", f);
    uint32_t low[N_LIST];
    for (size_t k = 0; k < shown; k++) low[k] = idx[n - 1 - k];
    bias_rows(f, d, low, shown, bias);
    fputs("</div></div>\n", f);
    free(bias), free(idx);
    return 0;
}

static const double *pc_base;
static int by_pc(const void *a, const void *b) {
    double x = pc_base[*(const size_t *)a], y = pc_base[*(const size_t *)b];
    return x < y ? -1 : x > y;
}
static const uint32_t *count_base;
static const uint32_t *elig_base;
static int by_count_desc(const void *a, const void *b) {
    uint32_t x = count_base[elig_base[*(const size_t *)a]],
             y = count_base[elig_base[*(const size_t *)b]];
    if (x != y) return x > y ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* "from A, B, ... to X, Y, ..." along one component. */
static void axis_ends(FILE *f, const report_data *d, const uint32_t *elig, const double *pc,
                      size_t n, size_t *order) {
    for (size_t k = 0; k < n; k++) order[k] = k;
    pc_base = pc;
    qsort(order, n, sizeof *order, by_pc);
    size_t m = n < 2 * N_ENDS ? n / 2 : N_ENDS;
    fputs("<i>low end:</i> ", f);
    for (size_t k = 0; k < m; k++) {
        if (k) fputs("; ", f);
        report_escape(f, title_of(d, elig[order[k]]));
    }
    fputs(" &mdash; <i>high end:</i> ", f);
    for (size_t k = 0; k < m; k++) {
        if (k) fputs("; ", f);
        report_escape(f, title_of(d, elig[order[n - 1 - k]]));
    }
}

static int item_map(FILE *f, const report_data *d) {
    fputs("<h2>A map of the items: the first two principal components of their factors</h2>\n", f);
    size_t n = 0;
    uint32_t *elig = eligible_items(d, &n);
    const float **rows = malloc((n ? n : 1) * sizeof *rows);
    double *pc1 = malloc((n ? n : 1) * sizeof *pc1), *pc2 = malloc((n ? n : 1) * sizeof *pc2);
    const char **label = calloc(n ? n : 1, sizeof *label);
    char(*text)[40] = malloc((size_t)(d->n_labels ? d->n_labels : 1) * sizeof *text);
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    int rc = -1;
    double explained[2];
    if (!elig || !rows || !pc1 || !pc2 || !label || !text || !order) goto done;
    for (size_t k = 0; k < n; k++) rows[k] = fl_model_item_factors(d->m, elig[k]);
    if (n == 0 || !rows[0]) {
        fputs("<p class=\"note\">This model has no item factors to map.</p>\n", f);
        rc = 0;
        goto done;
    }
    if (report_pca2(rows, n, d->info.params.n_factors, pc1, pc2, explained) < 0) goto done;
    /* The most-rated items get their titles on the map. */
    for (size_t k = 0; k < n; k++) order[k] = k;
    count_base = d->item_count, elig_base = elig;
    qsort(order, n, sizeof *order, by_count_desc);
    size_t n_lab = n < (size_t)d->n_labels ? n : (size_t)d->n_labels;
    for (size_t k = 0; k < n_lab; k++) {
        short_title(title_of(d, elig[order[k]]), text[k], sizeof text[k] - 1);
        label[order[k]] = text[k];
    }
    char xl[64], yl[64];
    snprintf(xl, sizeof xl, "first component (%.0f%% of the variance)", 100 * explained[0]);
    snprintf(yl, sizeof yl, "second component (%.0f%% of the variance)", 100 * explained[1]);
    report_scatter(f, "Items by their factors (the most-rated labelled)", xl, yl, pc1, pc2, label,
                   n);
    fprintf(f,
            "<p class=\"note\">Each dot is one of the %zu items with at least %d training "
            "ratings, placed by its factor vector projected on the two directions in which "
            "the item factors vary most. Nobody told the model about genres or eras: items "
            "close together are ones the same users rate alike. What each axis separates, "
            "by the titles at its ends:</p>\n<ul class=\"note\"><li><b>First component</b> ",
            n, d->min_ratings);
    axis_ends(f, d, elig, pc1, n, order);
    fputs("</li>\n<li><b>Second component</b> ", f);
    axis_ends(f, d, elig, pc2, n, order);
    fputs("</li></ul>\n", f);
    rc = 0;
done:
    free(elig), free(rows), free(pc1), free(pc2), free(label), free(text), free(order);
    return rc;
}

/* Background colour for an absolute error: green (0) through yellow to red (>= 2). */
static void error_colour(double e, char *out, size_t n) {
    double t = fmin(fabs(e) / 2.0, 1.0);
    int r = (int)(t < 0.5 ? 120 + 270 * t : 255);
    int g = (int)(t < 0.5 ? 200 : 200 - 250 * (t - 0.5));
    snprintf(out, n, "rgb(%d,%d,110)", r > 255 ? 255 : r, g < 60 ? 60 : g);
}

static const size_t *active_base;
static int by_active_desc(const void *a, const void *b) {
    size_t x = active_base[*(const uint32_t *)a], y = active_base[*(const uint32_t *)b];
    if (x != y) return x > y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static int spreadsheet(FILE *f, const report_data *d) {
    fputs("<h2>The spreadsheet view: real ratings beside predictions</h2>\n", f);
    const fl_dataset *r = d->ratings;
    if (!r) {
        fputs("<p class=\"note\">Give <code>--ratings FILE</code> (the training ratings) to see "
              "the most active users' real ratings beside the model's predictions.</p>\n",
              f);
        return 0;
    }
    uint32_t nu = fl_idmap_size(r->user_ids), ni = d->info.n_items;
    size_t *active = calloc(nu ? nu : 1, sizeof *active);
    uint32_t *users = malloc((nu ? nu : 1) * sizeof *users);
    uint32_t *items = malloc((ni ? ni : 1) * sizeof *items);
    if (!active || !users || !items) {
        free(active), free(users), free(items);
        return -1;
    }
    for (size_t k = 0; k < r->n_ratings; k++) active[r->users[k]]++;
    for (uint32_t u = 0; u < nu; u++) users[u] = u;
    active_base = active;
    qsort(users, nu, sizeof *users, by_active_desc);
    /* Columns: the most-rated items (training counts); rows: the most active
     * users of the file that the model knows. */
    for (uint32_t i = 0; i < ni; i++) items[i] = i;
    uint32_t cols[N_LIST], rows_file[N_LIST], rows_model[N_LIST];
    {
        size_t *cnt = malloc((ni ? ni : 1) * sizeof *cnt);
        if (!cnt) {
            free(active), free(users), free(items);
            return -1;
        }
        for (uint32_t i = 0; i < ni; i++) cnt[i] = d->item_count[i];
        active_base = cnt;
        qsort(items, ni, sizeof *items, by_active_desc);
        free(cnt);
    }
    size_t n_cols = ni < N_LIST ? ni : N_LIST, n_rows = 0;
    for (size_t k = 0; k < n_cols; k++) cols[k] = items[k];
    const fl_idmap *mu = fl_model_user_ids(d->m);
    for (uint32_t k = 0; k < nu && n_rows < N_LIST; k++) {
        const char *id = fl_idmap_name(r->user_ids, users[k]);
        uint32_t mi;
        if (fl_idmap_find(mu, id, strlen(id), &mi))
            rows_file[n_rows] = users[k], rows_model[n_rows++] = mi;
    }
    /* The real ratings of those cells, from one pass over the file. */
    float cell[N_LIST][N_LIST];
    int have[N_LIST][N_LIST];
    memset(have, 0, sizeof have);
    int32_t col_of_file_item[N_LIST];
    uint32_t file_item[N_LIST];
    for (size_t c = 0; c < n_cols; c++) {
        const char *id = fl_idmap_name(fl_model_item_ids(d->m), cols[c]);
        col_of_file_item[c] = fl_idmap_find(r->item_ids, id, strlen(id), &file_item[c]) ? 1 : 0;
    }
    for (size_t k = 0; k < r->n_ratings; k++)
        for (size_t a = 0; a < n_rows; a++) {
            if (r->users[k] != rows_file[a]) continue;
            for (size_t c = 0; c < n_cols; c++)
                if (col_of_file_item[c] && r->items[k] == file_item[c])
                    cell[a][c] = r->ratings[k], have[a][c] = 1;
        }
    fprintf(f, "<p class=\"note\">The %zu users with the most ratings in <code>", n_rows);
    report_escape(f, d->ratings_path);
    fprintf(f,
            "</code> against the %zu most-rated items, as in the spreadsheet version of the "
            "lesson. Each rated cell shows the real rating and, after the bar, the model's "
            "prediction, coloured by the error (green: close, red: off by 2 or more); "
            "unrated cells show the prediction alone, in grey: the gaps the model fills in.</p>\n",
            n_cols);
    fputs("<table class=\"sheet\"><tr><th>user</th>", f);
    for (size_t c = 0; c < n_cols; c++) {
        char t[40];
        short_title(title_of(d, cols[c]), t, 30);
        fputs("<th>", f);
        report_escape(f, t);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t a = 0; a < n_rows; a++) {
        fputs("<tr><th>", f);
        report_escape(f, fl_idmap_name(mu, rows_model[a]));
        fputs("</th>", f);
        for (size_t c = 0; c < n_cols; c++) {
            float p = fl_predict_index(d->m, rows_model[a], cols[c]);
            if (have[a][c]) {
                char bg[32];
                error_colour((double)(cell[a][c] - p), bg, sizeof bg);
                fprintf(f, "<td style=\"background:%s\">%g | %.1f</td>", bg, (double)cell[a][c],
                        (double)p);
            } else {
                fprintf(f, "<td class=\"p\">%.1f</td>", (double)p);
            }
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    free(active), free(users), free(items);
    return 0;
}

static int user_biases(FILE *f, const report_data *d) {
    fputs("<h2>User biases: generous and harsh raters</h2>\n", f);
    if (d->info.kind == FL_MODEL_DOT) {
        fputs("<p class=\"note\">A dot model has no biases.</p>\n", f);
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

int report_write_html(FILE *f, const report_data *d) {
    header(f, d);
    curves(f, d);
    if (item_biases(f, d) < 0 || item_map(f, d) < 0 || spreadsheet(f, d) < 0 ||
        user_biases(f, d) < 0)
        return -1;
    fputs("<p class=\"note\">Written by factorlens " FL_VERSION
          " (<code>factorlens report</code>).</p>\n</body>\n</html>\n",
          f);
    return 0;
}
