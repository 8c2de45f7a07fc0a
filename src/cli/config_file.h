/* config_file.h — `--config FILE` for train: options kept in a file (as tune
 * writes them: one "name value" per line, '#' comments), merged with the
 * command line, where an option given explicitly wins. */
#ifndef FL_CLI_CONFIG_FILE_H
#define FL_CLI_CONFIG_FILE_H

typedef struct cli_config_argv {
    int argc;
    char **argv;
    char *text; /* the file's contents, which argv's values point into */
    char **names; /* the options' names with their dashes, which argv points to */
    int n_names;
} cli_config_argv;

/* out->argv: argv[0], then every option of the file named by --config (if
 * argv has one) that argv does not give itself, then the rest of argv less
 * --config FILE. Free it with cli_config_free. Returns 0, or the exit code
 * after printing the error. */
int cli_config_merge(int argc, char **argv, cli_config_argv *out);
void cli_config_free(cli_config_argv *c);

#endif
