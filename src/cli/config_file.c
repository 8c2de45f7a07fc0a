/* config_file.c — reading a --config file and merging it into argv (config_file.h).
 * Lines: "name value", "--name value" or "name = value"; a flag alone on its
 * line ("quiet"); blank lines and '#' comments are skipped. */
#include "cli/config_file.h"

#include "cli/messages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The option's name as typed ("--reg=1" -> "--reg"), length into *len. */
static const char *option_name(const char *arg, size_t *len) {
    const char *eq = strchr(arg, '=');
    *len = eq ? (size_t)(eq - arg) : strlen(arg);
    return arg;
}

/* Does argv (after argv[0]) give option name (with its dashes)? */
static int given(int argc, char **argv, const char *name) {
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--") == 0) return 0;
        size_t len;
        const char *a = option_name(argv[k], &len);
        if (len == strlen(name) && strncmp(a, name, len) == 0) return 1;
    }
    return 0;
}

static char *read_all(const char *path, int *rc) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        *rc = cli_error(1, "%s: cannot open the config file: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (n + 1 < cap) break;
        if (cap > (1u << 20)) {
            free(buf), buf = NULL;
            *rc = cli_error(2, "%s: a config file of over 1 MiB is not a config file", path);
            fclose(f);
            return NULL;
        }
        char *more = realloc(buf, cap *= 2);
        if (!more) free(buf);
        buf = more;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        *rc = cli_error(1, "%s: cannot read the config file", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int cli_config_merge(int argc, char **argv, cli_config_argv *out) {
    memset(out, 0, sizeof *out);
    const char *path = NULL;
    int at = -1;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--") == 0) break;
        if (strcmp(argv[k], "--config") == 0 && k + 1 < argc) path = argv[k + 1], at = k;
        else if (strncmp(argv[k], "--config=", 9) == 0) path = argv[k] + 9, at = k;
    }
    /* Room for argv and two entries per config line. */
    int rc = 0;
    char *text = path ? read_all(path, &rc) : NULL;
    if (path && !text) return rc;
    size_t lines = 1;
    for (const char *s = text; s && *s; s++) lines += *s == '\n';
    char **nv = calloc((size_t)argc + 2 * lines + 1, sizeof *nv);
    out->names = calloc(lines, sizeof *out->names);
    if (!nv || !out->names) {
        free(nv), free(out->names), out->names = NULL;
        free(text);
        return cli_error(1, "out of memory reading the config file");
    }
    int n = 0;
    nv[n++] = argv[0];
    char *save = NULL;
    int line_no = 0;
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        /* Name: the first word, dashes added; value: the rest, after an optional '='. */
        char *name = line + strspn(line, " \t\r");
        if (!*name) continue;
        char *end = name + strcspn(name, " \t\r=");
        char *value = end + strspn(end, " \t\r=");
        *end = '\0';
        char *vend = value + strlen(value);
        while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t' || vend[-1] == '\r')) *--vend = '\0';
        while (*name == '-') name++;
        if (!*name) {
            free(nv), free(text), cli_config_free(out);
            return cli_error(2, "%s:%d: expected 'option value'", path, line_no);
        }
        char *dashed = malloc(strlen(name) + 3);
        if (!dashed) {
            free(nv), free(text), cli_config_free(out);
            return cli_error(1, "out of memory reading the config file");
        }
        sprintf(dashed, "--%s", name);
        if (given(argc, argv, dashed)) { /* the command line wins */
            free(dashed);
            continue;
        }
        out->names[out->n_names++] = dashed;
        nv[n++] = dashed;
        if (*value) nv[n++] = value;
    }
    for (int k = 1; k < argc; k++) {
        if (k == at) {
            if (strcmp(argv[k], "--config") == 0) k++;
            continue;
        }
        nv[n++] = argv[k];
    }
    nv[n] = NULL;
    out->argc = n;
    out->argv = nv;
    out->text = text;
    return 0;
}

void cli_config_free(cli_config_argv *c) {
    for (int k = 0; k < c->n_names; k++) free(c->names[k]);
    free(c->names);
    free(c->argv);
    free(c->text);
    memset(c, 0, sizeof *c);
}
