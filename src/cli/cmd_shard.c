/* cmd_shard.c — `factorlens shard`: a ratings file cut into N part files
 * and a manifest (fl_shard), which `train --distributed --ratings DIR`
 * reads part by part, each process only its own. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/messages.h"
#include "cli/read_options.h"

#include <stdio.h>

static void print_help(void) {
    printf("Usage: factorlens shard --ratings FILE --parts N --out DIR [--gzip]\n"
           "\n"
           "Cuts a ratings file into N parts of consecutive lines for a distributed run:\n"
           "DIR/part-00000-of-0000N.txt ... (each a ratings file in FILE's format, header\n"
           "included) and DIR/shards.txt listing each part's ratings, bytes and SHA-256,\n"
           "every file written atomically. mpirun -np P factorlens train --distributed\n"
           "--ratings DIR then has each process read only its parts (part r*N/P up to\n"
           "(r+1)*N/P), checked against the list; it trains the model FILE itself gives.\n"
           "Make N a multiple of the process counts you will use, so the parts share out\n"
           "evenly.\n"
           "\n"
           "  --ratings FILE          ratings to cut (required; a plain file)\n"
           "  --parts N               number of parts (required, 1 to 99999)\n"
           "  --out DIR               the directory to write (created if missing)\n"
           "  --gzip                  gzip-compressed parts (.txt.gz): fewer bytes to store\n"
           "                          and move (ml-100k u1: 28%% of the plain parts)\n"
           "  -h, --help              this help\n");
    cli_read_options_help(stdout);
    cli_print_exit_codes(stdout);
}

int cmd_shard(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    const char *ratings = NULL, *dir = NULL;
    int parts = 0, gzip = 0;
    fl_read_opts ro;
    fl_read_opts_default(&ro);
    cli_args a;
    cli_args_init(&a, "shard", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            cli_unknown(&a);
            continue;
        }
        (void)(cli_str(&a, "--ratings", &ratings) || cli_int(&a, "--parts", 1, 99999, &parts) ||
               cli_str(&a, "--out", &dir) || cli_flag(&a, "--gzip", &gzip) ||
               cli_read_option(&a, &ro));
    }
    if (a.failed) return cli_usage_fail(&a);
    if (!ratings) return cli_error(2, "shard needs --ratings FILE (see factorlens shard --help)");
    if (!parts) return cli_error(2, "shard needs --parts N (see factorlens shard --help)");
    if (!dir) return cli_error(2, "shard needs --out DIR (see factorlens shard --help)");
    /* Timestamps are kept when the file has them, as split keeps them. */
    ro.keep_times = 1;
    fl_shard_opts o = {ratings, &ro, parts, dir, gzip};
    fl_error err = {0};
    size_t n = 0;
    if (fl_shard(&o, &n, &err) != FL_OK) return cli_fail(&err);
    printf("shard    %zu rating%s from %s -> %d part%s in %s\n", n, cli_s(n), ratings, parts,
           parts == 1 ? "" : "s", dir);
    return 0;
}
