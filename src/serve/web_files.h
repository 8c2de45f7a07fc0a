/* web_files.h — the page's static files (web/ in the repository), read once
 * at start-up and served from memory: a request can only ever name one of
 * the files found then, so no path from a client reaches the file system. */
#ifndef FL_SERVE_WEB_FILES_H
#define FL_SERVE_WEB_FILES_H

#include <stddef.h>

typedef struct serve_web_file {
    char name[64];          /* file name, no folder */
    const char *mime;
    char *data;
    size_t size;
} serve_web_file;

#define SERVE_MAX_WEB_FILES 32

typedef struct serve_web {
    serve_web_file files[SERVE_MAX_WEB_FILES];
    int n;
    char dir[1024];
} serve_web;

/* Reads every .html, .css, .js, .svg, .png and .ico file directly in dir
 * (not below). Returns 0, or -1 with why filled (dir missing, no
 * index.html, a file too large). */
int serve_web_load(serve_web *w, const char *dir, char *why, size_t why_len);
/* The file for a request path ("/" is index.html), or NULL. */
const serve_web_file *serve_web_find(const serve_web *w, const char *path);
void serve_web_free(serve_web *w);

/* The default folder: web/ beside the build folder the binary is in (a
 * build tree: <repo>/build/factorlens -> <repo>/web), or
 * <prefix>/share/factorlens/web for an installed binary. Writes it into
 * out and returns 0, or -1 when neither exists. */
int serve_web_default_dir(char *out, size_t len);

#endif
