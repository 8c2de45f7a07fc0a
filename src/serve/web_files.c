/* web_files.c — loading and finding the page's files. */
#include "serve/web_files.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_WEB_FILE (4u << 20)

static const struct {
    const char *ext, *mime;
} types[] = {{".html", "text/html; charset=utf-8"},
             {".css", "text/css; charset=utf-8"},
             {".js", "text/javascript; charset=utf-8"},
             {".svg", "image/svg+xml"},
             {".png", "image/png"},
             {".ico", "image/x-icon"}};

static const char *mime_of(const char *name) {
    size_t n = strlen(name);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        size_t e = strlen(types[k].ext);
        if (n > e && strcmp(name + n - e, types[k].ext) == 0) return types[k].mime;
    }
    return NULL;
}

static int read_all(const char *path, char **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (off_t)MAX_WEB_FILE) {
        fclose(f);
        return -1;
    }
    *size = (size_t)sb.st_size;
    *data = malloc(*size ? *size : 1);
    int ok = *data && fread(*data, 1, *size, f) == *size;
    fclose(f);
    if (!ok) free(*data), *data = NULL;
    return ok ? 0 : -1;
}

int serve_web_load(serve_web *w, const char *dir, char *why, size_t why_len) {
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    DIR *d = opendir(dir);
    if (!d) return snprintf(why, why_len, "cannot open the web folder '%s'", dir), -1;
    struct dirent *e;
    int status = 0;
    while (status == 0 && (e = readdir(d))) {
        const char *mime = mime_of(e->d_name);
        if (e->d_name[0] == '.' || !mime || strlen(e->d_name) >= sizeof w->files[0].name) continue;
        if (w->n == SERVE_MAX_WEB_FILES) {
            snprintf(why, why_len, "more than %d files in the web folder '%s'",
                     SERVE_MAX_WEB_FILES, dir);
            status = -1;
            break;
        }
        serve_web_file *f = &w->files[w->n];
        char path[PATH_MAX];
        int too_long = snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path;
        if (too_long || read_all(path, &f->data, &f->size) != 0) {
            snprintf(why, why_len, "cannot read '%s' (or it is over %u bytes)", path, MAX_WEB_FILE);
            status = -1;
            break;
        }
        memcpy(f->name, e->d_name, strlen(e->d_name) + 1); /* length checked above */
        f->mime = mime;
        w->n++;
    }
    closedir(d);
    if (status == 0 && !serve_web_find(w, "/")) {
        snprintf(why, why_len, "the web folder '%s' has no index.html", dir);
        status = -1;
    }
    if (status != 0) serve_web_free(w);
    return status;
}

const serve_web_file *serve_web_find(const serve_web *w, const char *path) {
    if (path[0] != '/') return NULL;
    const char *name = path[1] ? path + 1 : "index.html";
    for (int k = 0; k < w->n; k++)
        if (strcmp(w->files[k].name, name) == 0) return &w->files[k];
    return NULL;
}

void serve_web_free(serve_web *w) {
    for (int k = 0; k < w->n; k++) free(w->files[k].data);
    w->n = 0;
}

static int has_index(const char *dir) {
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s/index.html", dir) >= (int)sizeof p) return 0;
    return access(p, R_OK) == 0;
}

int serve_web_default_dir(char *out, size_t len) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = '\0'; /* the binary's folder */
    const char *tails[] = {"/../web", "/../share/factorlens/web"};
    for (size_t k = 0; k < 2; k++) {
        char dir[PATH_MAX], real[PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s%s", exe, tails[k]) >= (int)sizeof dir) continue;
        if (has_index(dir) && realpath(dir, real)) {
            snprintf(out, len, "%s", real);
            return 0;
        }
    }
    return -1;
}
