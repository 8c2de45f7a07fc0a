/* cmd_download.c — `factorlens download NAME`: makes a public dataset
 * available locally (from $FACTORLENS_DATA, the cache, or the network) and
 * prints its directory. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/data_hint.h"
#include "cli/json_out.h"
#include "cli/messages.h"
#include "cli/progress.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static void print_help(void) {
    printf("Usage: factorlens download NAME [options]\n"
           "\n"
           "Makes dataset NAME available locally and prints its directory. Looks in\n"
           "$FACTORLENS_DATA first, then the cache, then downloads, checks the SHA-256 and\n"
           "unpacks. Known names:");
    for (const char *const *n = fl_dataset_names(); *n; n++) printf(" %s", *n);
    printf("\n\n"
           "  --cache-dir DIR      where downloads are kept\n"
           "                       (default $XDG_CACHE_HOME/factorlens or ~/.cache/factorlens)\n"
           "  --base-url URL       mirror to download from\n"
           "                       (default https://files.grouplens.org/datasets/movielens)\n"
           "  --json               print {\"name\",\"dir\"} (default: the directory)\n"
           "  -h, --help           this help\n");
    cli_print_exit_codes(stdout);
}

static int on_bytes(void *ctx, double done, double total) {
    cli_progress_update(ctx, done, total);
    return 0;
}

int cmd_download(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    const char *name = NULL;
    int json = 0;
    fl_download_opts o;
    memset(&o, 0, sizeof o);
    cli_args a;
    cli_args_init(&a, "download", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            if (name) cli_unknown(&a);
            name = a.arg;
            continue;
        }
        (void)(cli_str(&a, "--cache-dir", &o.cache_dir) || cli_str(&a, "--base-url", &o.base_url) ||
               cli_flag(&a, "--json", &json));
    }
    if (a.failed) return cli_usage_fail(&a);
    if (!name)
        return cli_error(2, "download needs a dataset NAME (see factorlens download --help)");
    int known = 0;
    char list[256] = "";
    for (const char *const *n = fl_dataset_names(); *n; n++) {
        known |= strcmp(*n, name) == 0;
        strncat(list, list[0] ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, *n, sizeof list - strlen(list) - 1);
    }
    if (!known) return cli_error(2, "unknown dataset '%s'; known datasets: %s", name, list);

    cli_progress bar;
    cli_progress_init(&bar, cli_stderr_is_tty());
    cli_progress_start(&bar, name, "B");
    o.progress = on_bytes;
    o.ctx = &bar;
    char dir[PATH_MAX];
    fl_error err = {0};
    fl_status st = fl_fetch(name, &o, dir, sizeof dir, &err);
    cli_progress_clear(&bar);
    if (st == FL_ERR_NETWORK) {
        char hint[2048];
        cli_data_hint(hint, sizeof hint, name, o.cache_dir, 0);
        return cli_error(fl_status_exit_code(st), "%s. %s", err.msg, hint);
    }
    if (st != FL_OK) return cli_fail(&err);
    if (json) {
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(name));
        json_object_set_new(j, "dir", json_string(dir));
        if (cli_json_print(j) != 0) return cli_error(1, "could not write to standard output");
    } else {
        printf("%s\n", dir);
    }
    return 0;
}
