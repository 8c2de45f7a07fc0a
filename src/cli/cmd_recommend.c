/* cmd_recommend.c — `factorlens recommend MODEL --user ID`: the top-n items by
 * predicted rating among those the user did not rate in training. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/loaders.h"
#include "cli/messages.h"
#include "cli/ranking.h"

#include <stdio.h>
#include <stdlib.h>

static void print_help(void) {
    printf("Usage: factorlens recommend MODEL --user ID [options]\n"
           "\n"
           "Lists the items with the highest predicted rating for a user, leaving out the\n"
           "items the user rated in training. Each line: rank, item id, predicted rating and,\n"
           "with --items, the title. Items are ranked by the model's score before the rating\n"
           "is clipped to the training range, so items shown at the top of the scale keep\n"
           "the model's order; exact ties go by item id.\n"
           "\n"
           "  --user ID            user id as in the ratings file (required)\n"
           "  -n, --top N          how many items (default 10)\n"
           "  --items FILE         u.item or movies.csv, for titles (default: none); warns\n"
           "                       when it lacks titles for many of the model's items\n"
           "  --json               print "
           "{\"user\",\"items\":[{\"rank\",\"item\",\"rating\",\"score\",\"title\"}]}\n"
           "                       where rating is clipped and score is not (default: text);\n"
           "                       an ials or bpr model's items have a score and no rating\n"
           "  -h, --help           this help\n");
    cli_print_exit_codes(stdout);
}

int cmd_recommend(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    const char *model_path = NULL, *user = NULL, *items_path = NULL;
    int json = 0;
    size_t n = 10;
    cli_args a;
    cli_args_init(&a, "recommend", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            if (model_path) cli_unknown(&a);
            model_path = a.arg;
            continue;
        }
        (void)(cli_str(&a, "--user", &user) || cli_size(&a, "-n|--top", 1, 1000000, &n) ||
               cli_str(&a, "--items", &items_path) || cli_flag(&a, "--json", &json));
    }
    if (a.failed) return cli_usage_fail(&a);
    if (!model_path)
        return cli_error(2, "recommend needs a MODEL file (see factorlens recommend --help)");
    if (!user) return cli_error(2, "recommend needs --user ID (see factorlens recommend --help)");

    fl_model *m = NULL;
    fl_items *items = NULL;
    fl_scored *top = NULL;
    size_t got = 0;
    fl_error err = {0};
    int rc = cli_load_model(model_path, &m);
    if (rc == 0) rc = cli_load_items(items_path, &items);
    if (rc == 0 && !(top = malloc(n * sizeof *top))) rc = cli_error(1, "out of memory");
    if (rc == 0 && fl_recommend(m, user, n, top, &got, &err) != FL_OK) rc = cli_fail(&err);
    if (rc == 0) cli_check_titles(m, model_path, items, items_path, top, got);
    if (rc == 0) {
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "user", json_string(user));
            /* ials and bpr rate nothing: their lists carry a score and no rating. */
            fl_model_info info;
            fl_model_get_info(m, &info);
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
