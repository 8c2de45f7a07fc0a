/* cmd_report.c — `factorlens report MODEL --items FILE --out report.html`:
 * an explain report of a trained model as one self-contained HTML page
 * (report_html.c), or with --format png as one PNG image (report_png.c),
 * from the model file alone: its learning curves are stored in it, so
 * nothing is retrained. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/loaders.h"
#include "cli/messages.h"
#include "cli/read_options.h"
#include "cli/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_help(void) {
    printf("Usage: factorlens report MODEL --items FILE --out report.html [options]\n"
           "       factorlens report MODEL --items FILE --out report.png --format png [options]\n"
           "\n"
           "Writes one self-contained HTML page (inline SVG figures, no script, nothing\n"
           "fetched) explaining what the model learned: its learning curves (training data\n"
           "MSE, regularisation penalty and test RMSE per epoch, stored in the model file),\n"
           "the items with the highest and lowest biases, a map of the item factors (first\n"
           "two principal components, most-rated titles labelled), the most active users'\n"
           "ratings beside the predictions, and the spread of the user biases; for an fm\n"
           "model with side features, what each feature adds to a rating.\n"
           "\n"
           "  --items FILE         u.item or movies.csv, for titles (required)\n"
           "  --ratings FILE       the training ratings: mean ratings and the spreadsheet\n"
           "                       view (default: none; those parts say so)\n"
           "  --out FILE           where to write the report (required; ending in .png\n"
           "                       with --format png)\n"
           "  --min-ratings N      leave items with fewer training ratings out of the lists\n"
           "                       and the map (default 20)\n"
           "  --labels N           titles labelled on the map (default 30)\n"
           "  --format html|png    html (default): the page above; png: one image, 1200\n"
           "                       pixels wide, holding every part of the page in order:\n"
           "                       each heading, the three figures, both bias tables and\n"
           "                       the spreadsheet view, with their notes (drawn by librsvg\n"
           "                       and cairo; only the page's hover titles are missing)\n"
           "  -h, --help           this help\n");
    cli_read_options_help(stdout);
    cli_print_exit_codes(stdout);
}

static const char *const format_choices[] = {"html", "png", NULL};

/* Per model item: the mean of its ratings in r (NaN where it has none). */
static double *item_means(const fl_model *m, const fl_dataset *r, uint32_t n_items) {
    double *mean = malloc((n_items ? n_items : 1) * sizeof *mean);
    uint32_t nf = fl_idmap_size(r->item_ids);
    double *sum = calloc(nf ? nf : 1, sizeof *sum);
    size_t *cnt = calloc(nf ? nf : 1, sizeof *cnt);
    if (!mean || !sum || !cnt) {
        free(mean), free(sum), free(cnt);
        return NULL;
    }
    for (size_t k = 0; k < r->n_ratings; k++) sum[r->items[k]] += r->ratings[k], cnt[r->items[k]]++;
    const fl_idmap *ids = fl_model_item_ids(m);
    for (uint32_t i = 0; i < n_items; i++) {
        const char *id = fl_idmap_name(ids, i);
        uint32_t j;
        mean[i] = fl_idmap_find(r->item_ids, id, strlen(id), &j) && cnt[j] ? sum[j] / (double)cnt[j]
                                                                           : NAN;
    }
    free(sum), free(cnt);
    return mean;
}

int cmd_report(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    const char *model_path = NULL, *items_path = NULL, *ratings_path = NULL, *out = NULL;
    int min_ratings = 20, n_labels = 30, format = 0;
    fl_read_opts ro;
    fl_read_opts_default(&ro);
    cli_args a;
    cli_args_init(&a, "report", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            if (model_path) cli_unknown(&a);
            model_path = a.arg;
            continue;
        }
        (void)(cli_str(&a, "--items", &items_path) || cli_str(&a, "--ratings", &ratings_path) ||
               cli_str(&a, "--out", &out) ||
               cli_int(&a, "--min-ratings", 0, 1000000000, &min_ratings) ||
               cli_int(&a, "--labels", 0, 1000, &n_labels) ||
               cli_choice(&a, "--format", format_choices, &format) || cli_read_option(&a, &ro));
    }
    if (a.failed) return cli_usage_fail(&a);
    if (!model_path)
        return cli_error(2, "report needs a MODEL file (see factorlens report --help)");
    if (!items_path)
        return cli_error(2, "report needs --items FILE for titles (see factorlens report --help)");
    if (!out) return cli_error(2, "report needs --out FILE (see factorlens report --help)");
    size_t out_len = strlen(out);
    if (format == 1 && (out_len < 4 || strcmp(out + out_len - 4, ".png") != 0))
        return cli_error(2,
                         "--format png writes a PNG image: give --out a name ending in .png "
                         "(not '%s')",
                         out);

    report_data d;
    memset(&d, 0, sizeof d);
    d.model_path = model_path, d.ratings_path = ratings_path;
    d.min_ratings = min_ratings, d.n_labels = n_labels;
    fl_model *m = NULL;
    fl_items *items = NULL;
    fl_dataset *ratings = NULL;
    int rc = cli_load_model(model_path, &m);
    if (rc == 0) rc = cli_load_items(items_path, &items);
    if (rc == 0 && ratings_path) rc = cli_load_ratings(ratings_path, &ro, &ratings);
    if (rc == 0) {
        d.m = m, d.items = items, d.ratings = ratings;
        fl_model_get_info(m, &d.info);
        uint32_t ni = d.info.n_items;
        d.item_count = malloc((ni ? ni : 1) * sizeof *d.item_count);
        if (ratings)
            d.item_mean = item_means(m, ratings, ni);
        else if ((d.item_mean = malloc((ni ? ni : 1) * sizeof *d.item_mean)))
            for (uint32_t i = 0; i < ni; i++) d.item_mean[i] = NAN;
        if (!d.item_count || !d.item_mean) rc = cli_error(1, "out of memory");
        for (uint32_t i = 0; rc == 0 && i < ni; i++) d.item_count[i] = fl_model_item_count(m, i);
    }
    if (rc == 0) {
        /* Written beside the destination and renamed over it: a reader
         * never sees half a page or half an image. */
        char tmp[4096];
        if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%ld", out, (long)getpid()) >= sizeof tmp)
            rc = cli_error(2, "--out path is too long");
        FILE *f = rc ? NULL : fopen(tmp, "w");
        if (!rc && !f) rc = cli_error(1, "cannot write '%s': %s", tmp, strerror(errno));
        if (f) {
            char why[512] = "";
            int bad =
                format == 1 ? report_write_png(f, &d, why, sizeof why) : report_write_html(f, &d);
            int werr = ferror(f);
            if (fclose(f) != 0 || werr)
                rc = cli_error(1, "cannot write '%s': %s", tmp, strerror(errno));
            else if (bad == -2)
                rc = cli_error(1, "%s", why);
            else if (bad)
                rc = cli_error(1, "out of memory writing the report");
            else if (rename(tmp, out) != 0)
                rc = cli_error(1, "cannot rename '%s' to '%s': %s", tmp, out, strerror(errno));
            if (rc) remove(tmp);
        }
    }
    if (rc == 0) printf("wrote    %s\n", out);
    free(d.item_count), free(d.item_mean);
    fl_dataset_free(ratings);
    fl_items_free(items);
    fl_model_free(m);
    return rc;
}
