/* cmd_similar.c — `factorlens similar MODEL --item ID`: the items whose factor
 * vectors (or nn embeddings) point the same way, by cosine. */
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
    printf("Usage: factorlens similar MODEL --item ID [options]\n"
           "\n"
           "Lists the items nearest to an item by the cosine of their learned factor vectors\n"
           "(embeddings for nn). Each line: rank, item id, cosine and, with --items, the title.\n"
           "Exact ties go by item id.\n"
           "\n"
           "  --item ID            item id as in the ratings file (required)\n"
           "  -n, --top N          how many items (default 10)\n"
           "  --items FILE         u.item or movies.csv, for titles (default: none); warns\n"
           "                       when it lacks titles for many of the model's items\n"
           "  --json               print "
           "{\"item\",\"title\",\"similar\":[{\"rank\",\"item\",\"cosine\",\n"
           "                       \"title\"}]} (default: text)\n"
           "  -h, --help           this help\n");
    cli_print_exit_codes(stdout);
}

int cmd_similar(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    const char *model_path = NULL, *item = NULL, *items_path = NULL;
    int json = 0;
    size_t n = 10;
    cli_args a;
    cli_args_init(&a, "similar", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            if (model_path) cli_unknown(&a);
            model_path = a.arg;
            continue;
        }
        (void)(cli_str(&a, "--item", &item) || cli_size(&a, "-n|--top", 1, 1000000, &n) ||
               cli_str(&a, "--items", &items_path) || cli_flag(&a, "--json", &json));
    }
    if (a.failed) return cli_usage_fail(&a);
    if (!model_path)
        return cli_error(2, "similar needs a MODEL file (see factorlens similar --help)");
    if (!item) return cli_error(2, "similar needs --item ID (see factorlens similar --help)");

    fl_model *m = NULL;
    fl_items *items = NULL;
    fl_scored *top = NULL;
    size_t got = 0;
    fl_error err = {0};
    int rc = cli_load_model(model_path, &m);
    if (rc == 0) rc = cli_load_items(items_path, &items);
    if (rc == 0 && !(top = malloc(n * sizeof *top))) rc = cli_error(1, "out of memory");
    if (rc == 0 && fl_similar(m, item, n, top, &got, &err) != FL_OK) rc = cli_fail(&err);
    if (rc == 0) cli_check_titles(m, model_path, items, items_path, top, got);
    if (rc == 0) {
        const char *title = items ? fl_items_title(items, item) : NULL;
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "item", json_string(item));
            json_object_set_new(o, "title", title ? json_string(title) : json_null());
            json_object_set_new(o, "similar", cli_ranking_json(m, items, top, got, "cosine", NULL));
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
