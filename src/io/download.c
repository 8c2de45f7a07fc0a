/* download.c — fl_fetch: find a dataset in $FACTORLENS_DATA or the cache, or
 * download its zip with libcurl, verify and unpack it into a private temp
 * directory, and publish that directory with one rename. A cache entry is
 * therefore either absent or complete; failures leave no temp files behind. */
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/dataset_registry.h"
#include "io/unzip.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PATH_CAP 4096
#define DEFAULT_BASE_URL "https://files.grouplens.org/datasets/movielens"
/* Every temp entry in the cache starts with this, so crashed runs can be swept. */
#define PARTIAL_PREFIX ".fl-partial-"
/* Written last into a finished directory; its text lists the verified digests
 * in `sha256sum -c` format, so a table change invalidates old cache entries. */
#define MARKER_NAME ".factorlens-verified"
/* Temp entries older than this belong to a run that died. */
#define STALE_SECONDS (24 * 3600)
#define MAX_ZIP_BYTES ((curl_off_t)512 << 20)

const char *const *fl_dataset_names(void) { return fl_registry_names(); }

/* ---------------------------------------------------------------- file system helpers */

static int path_join(char *out, size_t cap, const char *a, const char *b) {
    int w = snprintf(out, cap, "%s/%s", a, b);
    return w >= 0 && (size_t)w < cap;
}

static void remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char child[PATH_CAP];
            if (path_join(child, sizeof child, path, e->d_name)) remove_tree(child);
        }
        closedir(dir);
    }
    rmdir(path);
}

static void fsync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static fl_status mkdir_p(const char *path, fl_error *err) {
    char buf[PATH_CAP];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return fl_fail(err, FL_ERR_USAGE, "cache directory '%s' is empty or too long", path);
    memcpy(buf, path, n + 1);
    for (size_t k = 1; k <= n; k++) {
        if (buf[k] != '/' && buf[k] != '\0') continue;
        char saved = buf[k];
        buf[k] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return fl_fail(err, FL_ERR_IO, "cannot create cache directory '%s': %s", buf,
                           strerror(errno));
        buf[k] = saved;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return fl_fail(err, FL_ERR_IO, "cache directory '%s' is not a directory", path);
    return FL_OK;
}

static int is_regular_file(const char *dir, const char *name) {
    char p[PATH_CAP];
    struct stat sb;
    return path_join(p, sizeof p, dir, name) && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Every verified file of d is present in dir (contents are the user's business). */
static int has_dataset_files(const char *dir, const fl_dataset_entry *d) {
    for (size_t k = 0; k < d->n_files; k++)
        if (d->files[k].sha256 && !is_regular_file(dir, d->files[k].name)) return 0;
    return 1;
}

/* Partial downloads of crashed runs; live ones are younger than STALE_SECONDS. */
static void sweep_stale_partials(const char *cache) {
    DIR *dir = opendir(cache);
    if (!dir) return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, PARTIAL_PREFIX, strlen(PARTIAL_PREFIX)) != 0) continue;
        char p[PATH_CAP];
        struct stat sb;
        if (path_join(p, sizeof p, cache, e->d_name) && lstat(p, &sb) == 0 &&
            now - sb.st_mtime > STALE_SECONDS)
            remove_tree(p);
    }
    closedir(dir);
}

/* ---------------------------------------------------------------- cache entries */

static char *marker_text(const fl_dataset_entry *d) {
    size_t cap = 128;
    for (size_t k = 0; k < d->n_files; k++) cap += 70 + strlen(d->files[k].name);
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t used = (size_t)snprintf(s, cap, "# factorlens: verified copy of %s\n", d->name);
    for (size_t k = 0; k < d->n_files; k++)
        if (d->files[k].sha256)
            used += (size_t)snprintf(s + used, cap - used, "%s  %s\n", d->files[k].sha256,
                                     d->files[k].name);
    return s;
}

/* A directory our own fetch finished with the current checksum table. */
static int cache_entry_complete(const char *dir, const fl_dataset_entry *d) {
    char p[PATH_CAP];
    if (!path_join(p, sizeof p, dir, MARKER_NAME)) return 0;
    char *want = marker_text(d);
    if (!want) return 0;
    size_t want_len = strlen(want);
    int ok = 0;
    FILE *f = fopen(p, "rb");
    if (f) {
        char *got = malloc(want_len + 2);
        if (got) {
            size_t n = fread(got, 1, want_len + 1, f);
            ok = n == want_len && memcmp(got, want, want_len) == 0;
            free(got);
        }
        fclose(f);
    }
    free(want);
    return ok && has_dataset_files(dir, d);
}

static fl_status write_marker(const char *dir, const fl_dataset_entry *d, fl_error *err) {
    char p[PATH_CAP];
    if (!path_join(p, sizeof p, dir, MARKER_NAME))
        return fl_fail(err, FL_ERR_USAGE, "cache path '%s' is too long", dir);
    char *text = marker_text(d);
    if (!text) return fl_fail(err, FL_ERR_NOMEM, "out of memory while finishing %s", d->name);
    fl_atomic_file f;
    fl_status st = fl_atomic_open(&f, p, err);
    if (st == FL_OK) st = fl_atomic_write(&f, text, strlen(text), err);
    if (st == FL_OK) st = fl_atomic_commit(&f, err);
    free(text);
    return st;
}

/* Publishes the verified tmp directory as target. If another fetch got there
 * first with a complete copy, ours is left for the caller to discard. A stale or damaged target
 * (older checksum table, files deleted by hand) is moved aside and removed. */
static fl_status publish(const char *cache, const char *tmp, const char *target,
                         const fl_dataset_entry *d, fl_error *err) {
    for (int attempt = 0; attempt < 3; attempt++) {
        if (rename(tmp, target) == 0) {
            fsync_dir(cache);
            return FL_OK;
        }
        int e = errno;
        if (e == ENOTDIR)
            return fl_fail(err, FL_ERR_IO, "'%s' exists and is not a directory: remove it and retry",
                           target);
        if (e != ENOTEMPTY && e != EEXIST)
            return fl_fail(err, FL_ERR_IO, "cannot move the unpacked %s to '%s': %s", d->name, target,
                           strerror(e));
        if (cache_entry_complete(target, d)) return FL_OK; /* the caller discards tmp */
        char trash[PATH_CAP];
        if (snprintf(trash, sizeof trash, "%s/" PARTIAL_PREFIX "%s.old.XXXXXX", cache, d->name) >=
                (int)sizeof trash ||
            !mkdtemp(trash))
            return fl_fail(err, FL_ERR_IO, "cannot replace the incomplete '%s': %s", target,
                           strerror(errno));
        /* Renaming onto an empty directory replaces it; ENOENT means someone
         * else already moved it, which is just as good. */
        if (rename(target, trash) != 0 && errno != ENOENT) {
            e = errno;
            rmdir(trash);
            return fl_fail(err, FL_ERR_IO, "cannot replace the incomplete '%s': %s", target,
                           strerror(e));
        }
        remove_tree(trash);
    }
    return fl_fail(err, FL_ERR_IO, "cannot move the unpacked %s to '%s': it keeps being replaced",
                   d->name, target);
}

/* ---------------------------------------------------------------- the transfer */

typedef struct sink {
    int fd;
    int write_errno;
    const fl_download_opts *o;
} sink;

static size_t sink_write(char *data, size_t size, size_t nmemb, void *ctx) {
    sink *s = ctx;
    size_t len = size * nmemb, done = 0;
    while (done < len) {
        ssize_t w = write(s->fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            s->write_errno = w < 0 ? errno : ENOSPC;
            return 0; /* makes curl stop with CURLE_WRITE_ERROR */
        }
        done += (size_t)w;
    }
    return len;
}

static int sink_progress(void *ctx, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total,
                         curl_off_t ul_now) {
    const sink *s = ctx;
    return s->o->progress(s->o->ctx, (double)dl_now, (double)dl_total);
}

static fl_status http_get(const char *url, int fd, const char *tmp_path, const fl_download_opts *o,
                          fl_error *err) {
    CURL *c = curl_easy_init();
    if (!c) return fl_fail(err, FL_ERR_NOMEM, "cannot download %s: libcurl failed to start", url);
    char errbuf[CURL_ERROR_SIZE] = "";
    sink s = {fd, 0, o};
    long timeout = (o && o->timeout_seconds > 0) ? o->timeout_seconds : 60;

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* the library may run on any thread */
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_USERAGENT, "factorlens/" FL_VERSION);
    /* The timeout bounds connecting and any stall (under 100 bytes/s for that
     * long), not the whole transfer: a slow link that keeps moving may finish. */
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 100L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, MAX_ZIP_BYTES);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (o && o->progress) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, sink_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }

    CURLcode rc = curl_easy_perform(c);
    long http_code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http_code);
    curl_easy_cleanup(c);

    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_OK: return FL_OK;
    case CURLE_HTTP_RETURNED_ERROR:
        return fl_fail(err, FL_ERR_NETWORK, "cannot download %s: the server answered HTTP %ld", url,
                       http_code);
    case CURLE_ABORTED_BY_CALLBACK:
        return fl_fail(err, FL_ERR_CANCELLED, "download of %s cancelled by the progress callback", url);
    case CURLE_WRITE_ERROR:
        if (s.write_errno)
            return fl_fail(err, FL_ERR_IO, "cannot download %s: writing '%s' failed: %s", url,
                           tmp_path, strerror(s.write_errno));
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return fl_fail(err, FL_ERR_NETWORK, "cannot download %s: %s (are you offline?)", url, why);
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
        return fl_fail(err, FL_ERR_NETWORK,
                       "cannot download %s: %s (is the server down, or are you offline?)", url, why);
    default: break;
    }
    return fl_fail(err, FL_ERR_NETWORK, "cannot download %s: %s", url, why);
}

/* ---------------------------------------------------------------- fl_fetch */

static fl_status cache_root(const fl_download_opts *o, char *out, size_t cap, fl_error *err) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int w;
    if (o && o->cache_dir && o->cache_dir[0]) w = snprintf(out, cap, "%s", o->cache_dir);
    else if (xdg && xdg[0] == '/') w = snprintf(out, cap, "%s/factorlens", xdg); /* XDG: absolute only */
    else if (home && home[0]) w = snprintf(out, cap, "%s/.cache/factorlens", home);
    else
        return fl_fail(err, FL_ERR_USAGE, "no cache directory: set $HOME or $XDG_CACHE_HOME, or "
                       "pass a cache directory");
    if (w < 0 || (size_t)w >= cap) return fl_fail(err, FL_ERR_USAGE, "cache directory path is too long");
    return FL_OK;
}

static fl_status give_dir(const char *path, char *dir, size_t dir_len, fl_error *err) {
    size_t n = strlen(path);
    if (n >= dir_len)
        return fl_fail(err, FL_ERR_USAGE, "the dataset directory '%s' needs %zu bytes but the buffer "
                       "holds %zu", path, n + 1, dir_len);
    memcpy(dir, path, n + 1);
    return FL_OK;
}

/* Download, unpack, verify, publish; on failure removes every temp it made. */
static fl_status download_into_cache(const char *cache, const char *target,
                                     const fl_dataset_entry *d, const fl_download_opts *o,
                                     fl_error *err) {
    fl_status st = mkdir_p(cache, err);
    if (st != FL_OK) return st;
    sweep_stale_partials(cache);

    const char *base = (o && o->base_url && o->base_url[0]) ? o->base_url : DEFAULT_BASE_URL;
    size_t base_len = strlen(base);
    while (base_len > 0 && base[base_len - 1] == '/') base_len--;
    char url[PATH_CAP], label[256], zip_path[PATH_CAP], tmp_root[PATH_CAP], stage[PATH_CAP];
    snprintf(label, sizeof label, "%s.zip", d->name);
    if (snprintf(url, sizeof url, "%.*s/%s", (int)base_len, base, label) >= (int)sizeof url ||
        snprintf(zip_path, sizeof zip_path, "%s/" PARTIAL_PREFIX "%s.zip.XXXXXX", cache, d->name) >=
            (int)sizeof zip_path ||
        snprintf(tmp_root, sizeof tmp_root, "%s/" PARTIAL_PREFIX "%s.dir.XXXXXX", cache, d->name) >=
            (int)sizeof tmp_root ||
        strlen(tmp_root) + strlen(d->name) + 2 > sizeof stage)
        return fl_fail(err, FL_ERR_USAGE, "base URL or cache directory path is too long");

    int fd = mkstemp(zip_path);
    if (fd < 0)
        return fl_fail(err, FL_ERR_IO, "cannot create a temp file in '%s': %s", cache, strerror(errno));
    st = http_get(url, fd, zip_path, o, err);
    if (close(fd) != 0 && st == FL_OK)
        st = fl_fail(err, FL_ERR_IO, "cannot write '%s': %s", zip_path, strerror(errno));
    if (st != FL_OK) {
        unlink(zip_path);
        return st;
    }

    /* mkdtemp gives a private 0700 directory; the stage inside it is made
     * with mkdir so the published copy follows the umask, without touching
     * the process-wide umask. */
    if (!mkdtemp(tmp_root)) {
        int e = errno;
        unlink(zip_path);
        return fl_fail(err, FL_ERR_IO, "cannot create a temp directory in '%s': %s", cache, strerror(e));
    }
    path_join(stage, sizeof stage, tmp_root, d->name); /* fits: checked above */
    if (mkdir(stage, 0777) != 0)
        st = fl_fail(err, FL_ERR_IO, "cannot create '%s': %s", stage, strerror(errno));
    if (st == FL_OK) st = fl_unzip_dataset(zip_path, label, d, stage, err);
    unlink(zip_path);
    if (st == FL_OK) st = write_marker(stage, d, err);
    if (st == FL_OK) st = publish(cache, stage, target, d, err);
    remove_tree(tmp_root); /* empty after a publish; the whole attempt otherwise */
    return st;
}

fl_status fl_fetch(const char *name, const fl_download_opts *o, char *dir, size_t dir_len,
                   fl_error *err) {
    if (!dir || dir_len == 0)
        return fl_fail(err, FL_ERR_USAGE, "fl_fetch needs a buffer for the directory path");
    const fl_dataset_entry *d = fl_registry_find(name);
    if (!d) {
        char known[256];
        fl_registry_names_joined(known, sizeof known);
        return fl_fail(err, FL_ERR_USAGE, "unknown dataset '%s': known datasets are %s",
                       name ? name : "(null)", known);
    }

    char path[PATH_CAP];
    const char *data = getenv("FACTORLENS_DATA");
    if (data && data[0] && path_join(path, sizeof path, data, d->name) && has_dataset_files(path, d))
        return give_dir(path, dir, dir_len, err);

    char cache[PATH_CAP];
    fl_status st = cache_root(o, cache, sizeof cache, err);
    if (st != FL_OK) return st;
    if (!path_join(path, sizeof path, cache, d->name))
        return fl_fail(err, FL_ERR_USAGE, "cache directory path '%s' is too long", cache);
    /* Refuse a too-small buffer before spending a download on it. */
    if (strlen(path) >= dir_len) return give_dir(path, dir, dir_len, err);
    if (cache_entry_complete(path, d)) return give_dir(path, dir, dir_len, err);

    st = download_into_cache(cache, path, d, o, err);
    if (st != FL_OK) return st;
    return give_dir(path, dir, dir_len, err);
}
