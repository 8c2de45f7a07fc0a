/* cmd_recommend.c — `factorlens recommend MODEL --user ID`: the top-n items by
 * predicted rating among those the user did not rate in training; with
 * --new-user FILE, the same for a user the model never saw, folded in from
 * the ratings in FILE (fl_fold_in) without retraining or touching the model
 * file. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/loaders.h"
#include "cli/messages.h"
#include "cli/ranking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_help(void) {
    printf("Usage: factorlens recommend MODEL (--user ID | --new-user FILE) [options]\n"
           "\n"
           "Lists the items with the highest predicted rating for a user, leaving out the\n"
           "items the user rated in training. Each line: rank, item id, predicted rating and,\n"
           "with --items, the title. Items are ranked by the model's score before the rating\n"
           "is clipped to the training range, so items shown at the top of the scale keep\n"
           "the model's order; exact ties go by item id.\n"
           "\n"
           "  --user ID            user id as in the ratings file\n"
           "  --new-user FILE      a user the model never saw: FILE holds their ratings, one\n"
           "                       'item,rating' a line (comma, tab, ';', '|' or blanks; an\n"
           "                       optional header line naming item and rating; blank lines\n"
           "                       and CRLF allowed; gzip or plain; - reads standard input).\n"
           "                       Their bias and factors are fitted against the model's fixed\n"
           "                       items (fl_fold_in: nothing is retrained, the model file is\n"
           "                       not written) and the items they rated are left out. A bad\n"
           "                       line, an item twice or a rating outside the model's range\n"
           "                       fails with FILE:LINE (exit 4)\n"
           "  --unknown error|skip --new-user: an item of FILE the model never saw: fail\n"
           "                       naming it (exit 3), or leave it out with a warning that\n"
           "                       counts them (default error)\n"
           "  -n, --top N          how many items (default 10)\n"
           "  --items FILE         u.item or movies.csv, for titles (default: none); warns\n"
           "                       when it lacks titles for many of the model's items\n"
           "  --json               print "
           "{\"user\",\"items\":[{\"rank\",\"item\",\"rating\",\"score\",\"title\"}]}\n"
           "                       where rating is clipped and score is not (default: text);\n"
           "                       an ials or bpr model's items have a score and no rating.\n"
           "                       With --new-user: {\"new_user\",\"n_ratings\",\"n_used\",\n"
           "                       \"n_unknown_items\",\"bias\",\"items\":[...]} (bias null for a\n"
           "                       dot model)\n"
           "  -h, --help           this help\n");
    cli_print_exit_codes(stdout);
}

/* The new user's ratings in file order: item ids (pointing into d) and
 * values. Unknown items are counted; under --unknown error the first fails. */
typedef struct new_user {
    const char **ids;
    float *ratings;
    size_t n, n_unknown;
    float bias;
    size_t n_used;
} new_user;

static int check_unknown(const fl_model *m, const char *model_path, const char *path,
                         const new_user *nu, int skip) {
    const char *first = NULL;
    size_t n_unknown = 0;
    for (size_t k = 0; k < nu->n; k++) {
        uint32_t i;
        if (fl_idmap_find(fl_model_item_ids(m), nu->ids[k], strlen(nu->ids[k]), &i)) continue;
        if (!first) first = nu->ids[k];
        n_unknown++;
    }
    if (!n_unknown) return 0;
    if (!skip)
        return cli_error(3,
                         "%s: item '%s' is not in %s (it had no training ratings), so it cannot "
                         "inform the fold-in; --unknown skip leaves such items out",
                         path, first, model_path);
    cli_warn("%zu of the %zu rating%s in %s %s %s never saw (first: '%s'); left out",
             n_unknown, nu->n, cli_s(nu->n), path,
             n_unknown == 1 ? "is of an item" : "are of items", model_path, first);
    return 0;
}

/* Folds the user of `path` in and writes the top n into top. */
static int fold_in_user(const fl_model *m, const char *model_path, const char *path, int skip,
                        new_user *nu, fl_scored *top, size_t n, size_t *got) {
    fl_model_info info;
    fl_model_get_info(m, &info);
    fl_read_opts ro;
    fl_read_opts_default(&ro);
    /* A rating the model's scale cannot hold is a typo, as the server says
     * for its fold-in: refused by line. */
    if (info.rating_lo < info.rating_hi) ro.scale_lo = info.rating_lo, ro.scale_hi = info.rating_hi;
    fl_dataset *d = NULL;
    int rc = cli_load_user_ratings(path, &ro, &d);
    if (rc) return rc;
    float *factors = malloc((fl_model_fold_in_floats(m) + 1) * sizeof *factors);
    nu->n = d->n_ratings;
    nu->ids = malloc(nu->n * sizeof *nu->ids);
    nu->ratings = malloc(nu->n * sizeof *nu->ratings);
    if (!factors || !nu->ids || !nu->ratings) rc = cli_error(1, "out of memory");
    for (size_t k = 0; rc == 0 && k < nu->n; k++) {
        nu->ids[k] = fl_idmap_name(d->item_ids, d->items[k]);
        nu->ratings[k] = d->ratings[k];
    }
    path = d->source; /* as the reader names it: "(standard input)" for - */
    if (rc == 0) rc = check_unknown(m, model_path, path, nu, skip);
    fl_error err = {0};
    if (rc == 0 && fl_fold_in(m, nu->ids, nu->ratings, nu->n, FL_UNKNOWN_SKIP, factors, &nu->bias,
                              &nu->n_used, &err) != FL_OK) {
        rc = err.code == FL_ERR_USAGE
                 ? cli_error(2, "%s (kind %s) cannot fold in a new user: %s", model_path,
                             fl_model_kind_name(info.kind), err.msg)
                 : cli_fail(&err);
    }
    nu->n_unknown = nu->n - nu->n_used;
    if (rc == 0 && fl_recommend_folded(m, factors, nu->bias, nu->ids, nu->n, n, top, got, &err) !=
                       FL_OK)
        rc = cli_fail(&err);
    if (rc == 0) {
        if (nu->n_used == 0)
            cli_warn("no rating in %s is of an item %s knows: the list comes from the item "
                     "biases alone",
                     path, model_path);
        else if (info.kind == FL_MODEL_DOT)
            cli_note("folded in from %zu rating%s in %s; %s is unchanged", nu->n_used,
                     cli_s(nu->n_used), path, model_path);
        else
            cli_note("folded in from %zu rating%s in %s (bias %+.3f); %s is unchanged",
                     nu->n_used, cli_s(nu->n_used), path, (double)nu->bias, model_path);
    }
    /* The ids point into d; the caller prints after this returns, and only
     * needs the counts and the list, which holds model indices. */
    free(nu->ids);
    free(nu->ratings);
    nu->ids = NULL, nu->ratings = NULL;
    free(factors);
    fl_dataset_free(d);
    return rc;
}

int cmd_recommend(int argc, char **argv) {
    static const char *const unknown_choices[] = {"error", "skip", NULL};
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    const char *model_path = NULL, *user = NULL, *items_path = NULL, *new_user_path = NULL;
    int json = 0, unknown = -1; /* -1 until given (then error) */
    size_t n = 10;
    cli_args a;
    cli_args_init(&a, "recommend", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            if (model_path) cli_unknown(&a);
            model_path = a.arg;
            continue;
        }
        (void)(cli_str(&a, "--user", &user) || cli_str(&a, "--new-user", &new_user_path) ||
               cli_choice(&a, "--unknown", unknown_choices, &unknown) ||
               cli_size(&a, "-n|--top", 1, 1000000, &n) || cli_str(&a, "--items", &items_path) ||
               cli_flag(&a, "--json", &json));
    }
    if (a.failed) return cli_usage_fail(&a);
    if (!model_path)
        return cli_error(2, "recommend needs a MODEL file (see factorlens recommend --help)");
    if (user && new_user_path)
        return cli_error(2, "--user names a user the model knows, --new-user FILE one it does "
                            "not: give one of them");
    if (!user && !new_user_path)
        return cli_error(2, "recommend needs --user ID or --new-user FILE (see factorlens "
                            "recommend --help)");
    if (unknown >= 0 && !new_user_path)
        return cli_error(2, "--unknown applies to the items of --new-user FILE; an unknown "
                            "--user is always an error (exit 3)");

    fl_model *m = NULL;
    fl_items *items = NULL;
    fl_scored *top = NULL;
    size_t got = 0;
    new_user nu = {0};
    fl_error err = {0};
    int rc = cli_load_model(model_path, &m);
    if (rc == 0) rc = cli_load_items(items_path, &items);
    if (rc == 0 && !(top = malloc(n * sizeof *top))) rc = cli_error(1, "out of memory");
    if (rc == 0 && new_user_path)
        rc = fold_in_user(m, model_path, new_user_path, unknown == 1, &nu, top, n, &got);
    else if (rc == 0 && fl_recommend(m, user, n, top, &got, &err) != FL_OK)
        rc = cli_fail(&err);
    if (rc == 0) cli_check_titles(m, model_path, items, items_path, top, got);
    if (rc == 0) {
        if (json) {
            fl_model_info info;
            fl_model_get_info(m, &info);
            json_t *o = json_object();
            if (new_user_path) {
                json_object_set_new(o, "new_user", json_string(new_user_path));
                json_object_set_new(o, "n_ratings", json_integer((json_int_t)nu.n));
                json_object_set_new(o, "n_used", json_integer((json_int_t)nu.n_used));
                json_object_set_new(o, "n_unknown_items", json_integer((json_int_t)nu.n_unknown));
                json_object_set_new(o, "bias", info.kind == FL_MODEL_DOT
                                                   ? json_null()
                                                   : cli_json_float(nu.bias));
            } else {
                json_object_set_new(o, "user", json_string(user));
            }
            /* ials and bpr rate nothing: their lists carry a score and no rating. */
            json_object_set_new(o, "items",
                                cli_ranking_json(m, items, top, got,
                                                 fl_model_kind_implicit(info.kind) ? NULL : "rating",
                                                 "score"));
            if (cli_json_print(o) != 0) rc = cli_error(1, "could not write to standard output");
        } else {
            cli_ranking_print(stdout, m, items, top, got);
        }
    }
    free(top);
    fl_items_free(items);
    fl_model_free(m);
    return rc;
}
