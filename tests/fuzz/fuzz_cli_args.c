/* fuzz_cli_args.c — libFuzzer target for the CLI's option and number
 * parsing: the input is split at NUL bytes into an argv, which is run
 * through the same matchers `factorlens train` uses, and each piece through
 * the pure number parsers; the reader options (--sep, --scale,
 * --duplicates, ...) go through the same matcher `train` and `eval` use. */
#include "cli/args.c"
#include "cli/read_options.c"
#include "cli/suggest.c"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *copy = malloc(size + 1);
    char *argv[64];
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    int argc = 0;
    argv[argc++] = "train";
    for (char *p = copy; p < copy + size && argc < 63; p += strlen(p) + 1) argv[argc++] = p;
    argv[argc] = NULL;
    for (int k = 1; k < argc; k++) {
        long l;
        uint64_t u;
        double d;
        cli_parse_long(argv[k], -1000, 1000, &l);
        cli_parse_u64(argv[k], &u);
        cli_parse_double(argv[k], -1e9, 1e9, &d);
    }
    cli_args a;
    cli_args_init(&a, "train", argc, argv);
    int factors = 0, flag = 0, n = 0, layers[8], choice = 0, nl = 0;
    double frac = 0, lr = 0;
    float lo = 0, hi = 0, drop[9];
    size_t top = 0;
    uint64_t seed = 0;
    const char *s = NULL;
    static const char *const choices[] = {"dot", "biased", "nn", NULL};
    fl_read_opts ro;
    fl_read_opts_default(&ro);
    while (cli_next(&a)) {
        if (cli_read_option(&a, &ro) || cli_int(&a, "--factors", 1, 4096, &factors) || cli_flag(&a, "--json", &flag) ||
            cli_size(&a, "-n|--top", 1, 100000, &top) || cli_u64(&a, "--seed", &seed) ||
            cli_double(&a, "--lr", 0, 10, &lr) || cli_fraction(&a, "--holdout", &frac) ||
            cli_choice(&a, "--model", choices, &choice) || cli_range(&a, "--y-range", 1, &lo, &hi) ||
            cli_int_list(&a, "--layers", 1, 4096, layers, 8, &n) ||
            cli_float_list(&a, "--dropout", 0, 0.99, drop, 9, &nl) || cli_str(&a, "--out", &s))
            continue;
        cli_unknown(&a);
    }
    cli_wants_help(argc, argv);
    free(copy);
    return 0;
}
