/* unzip.c — safe extraction of a dataset zip. Nothing from the archive picks
 * a path on disk: an entry is written only under the registry's own file
 * name, so traversal is impossible, and names that try it are refused anyway
 * because they mean the archive is not what GroupLens published. */
#include "io/unzip.h"

#include "core/digest.h"
#include "core/error.h"
#include "io/atomic_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

/* Absolute paths, backslashes, drive letters and ".." components. */
static int entry_name_unsafe(const char *n) {
    if (n[0] == '/' || n[0] == '\\' || strchr(n, '\\')) return 1;
    if (n[0] && n[1] == ':') return 1;
    for (const char *p = n; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') return 1;
        if (!slash) break;
        p = slash + 1;
    }
    return 0;
}

/* The file name an entry stands for, or NULL for entries we do not keep
 * (directories, nested paths, other datasets' top directories). */
static const char *entry_file_name(const char *n, const char *dataset) {
    size_t dl = strlen(dataset);
    if (strncmp(n, dataset, dl) == 0 && n[dl] == '/') n += dl + 1;
    if (n[0] == '\0' || strchr(n, '/')) return NULL;
    return n;
}

/* Streams one entry into out_dir/f->name, hashing as it goes; the file is
 * renamed into place only once size and digest are right. */
static fl_status extract_entry(zip_t *za, zip_uint64_t index, zip_uint64_t stated_size,
                               const char *label, const fl_dataset_file *f, const char *out_dir,
                               fl_error *err) {
    char dest[4096];
    if ((size_t)snprintf(dest, sizeof dest, "%s/%s", out_dir, f->name) >= sizeof dest)
        return fl_fail(err, FL_ERR_USAGE, "cache path '%s' is too long", out_dir);

    zip_file_t *zf = zip_fopen_index(za, index, 0);
    if (!zf)
        return fl_fail(err, FL_ERR_DATA, "%s: cannot open %s in the archive (%s): the download is corrupt",
                       label, f->name, zip_strerror(za));
    fl_sha256 *h = fl_sha256_begin();
    if (!h) {
        zip_fclose(zf);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory while unpacking %s", label);
    }
    fl_atomic_file out;
    fl_status st = fl_atomic_open(&out, dest, err);
    if (st != FL_OK) {
        char discard[65];
        fl_sha256_end(h, discard);
        zip_fclose(zf);
        return st;
    }

    enum { CHUNK = 1 << 16 };
    char *buf = malloc(CHUNK);
    zip_uint64_t total = 0;
    if (!buf) st = fl_fail(err, FL_ERR_NOMEM, "out of memory while unpacking %s", label);
    while (st == FL_OK) {
        zip_int64_t got = zip_fread(zf, buf, CHUNK);
        if (got < 0) {
            st = fl_fail(err, FL_ERR_DATA, "%s: cannot unpack %s (%s): the download is corrupt", label,
                         f->name, zip_file_strerror(zf));
            break;
        }
        if (got == 0) break;
        total += (zip_uint64_t)got;
        /* libzip should stop at the stated size; a lying entry must not fill the disk. */
        if (total > stated_size) {
            st = fl_fail(err, FL_ERR_DATA, "%s: %s holds more than the %llu bytes its header states: "
                         "the download is corrupt", label, f->name, (unsigned long long)stated_size);
            break;
        }
        fl_sha256_update(h, buf, (size_t)got);
        st = fl_atomic_write(&out, buf, (size_t)got, err);
    }
    free(buf);
    zip_fclose(zf);
    char hex[65];
    fl_sha256_end(h, hex);

    if (st == FL_OK && total != stated_size)
        st = fl_fail(err, FL_ERR_DATA, "%s: %s unpacked to %llu bytes but its header states %llu: "
                     "the download is corrupt", label, f->name, (unsigned long long)total,
                     (unsigned long long)stated_size);
    if (st == FL_OK && f->sha256 && strcmp(hex, f->sha256) != 0)
        st = fl_fail(err, FL_ERR_DATA, "%s: %s has SHA-256 %s but %s was expected: the download is corrupt",
                     label, f->name, hex, f->sha256);
    if (st != FL_OK) {
        fl_atomic_abort(&out); /* after a failed write this only unlinks again, harmlessly */
        return st;
    }
    return fl_atomic_commit(&out, err);
}

static fl_status unzip_open(const char *zip_path, const char *label, zip_t **out, fl_error *err) {
    int code = 0;
    /* CHECKCONS compares the central directory with the local headers, which
     * catches most truncations before any byte is inflated. */
    *out = zip_open(zip_path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (*out) return FL_OK;
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    fl_status st = fl_fail(err, FL_ERR_DATA, "%s is not a readable zip archive (%s): the download is "
                           "truncated or corrupt", label, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return st;
}

fl_status fl_unzip_dataset(const char *zip_path, const char *label, const fl_dataset_entry *d,
                           const char *out_dir, fl_error *err) {
    zip_t *za;
    fl_status st = unzip_open(zip_path, label, &za, err);
    if (st != FL_OK) return st;

    unsigned char *seen = calloc(d->n_files, 1);
    if (!seen) {
        zip_discard(za);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory while unpacking %s", label);
    }
    zip_int64_t n = zip_get_num_entries(za, 0);
    for (zip_int64_t k = 0; st == FL_OK && k < n; k++) {
        zip_uint64_t index = (zip_uint64_t)k;
        const char *raw = zip_get_name(za, index, ZIP_FL_ENC_RAW);
        if (!raw) {
            st = fl_fail(err, FL_ERR_DATA, "%s: entry %lld has no readable name: the download is corrupt",
                         label, (long long)k);
            break;
        }
        if (entry_name_unsafe(raw)) {
            st = fl_fail(err, FL_ERR_DATA, "%s: entry '%s' points outside the dataset directory: "
                         "refusing the archive", label, raw);
            break;
        }
        const char *fname = entry_file_name(raw, d->name);
        const fl_dataset_file *f = fname ? fl_registry_file(d, fname) : NULL;
        if (!f) continue;
        size_t slot = (size_t)(f - d->files);
        if (seen[slot]) {
            st = fl_fail(err, FL_ERR_DATA, "%s: %s appears twice in the archive: refusing it", label,
                         f->name);
            break;
        }
        seen[slot] = 1;

        zip_stat_t zs;
        if (zip_stat_index(za, index, 0, &zs) != 0 || !(zs.valid & ZIP_STAT_SIZE)) {
            st = fl_fail(err, FL_ERR_DATA, "%s: cannot read the size of %s: the download is corrupt",
                         label, f->name);
            break;
        }
        /* Sizes are checked before inflating so a hostile archive cannot
         * make us write gigabytes first. */
        if (f->sha256 ? zs.size != f->size : zs.size > f->size) {
            st = fl_fail(err, FL_ERR_DATA, "%s: %s is %llu bytes but %s%zu were expected: the download "
                         "is corrupt", label, f->name, (unsigned long long)zs.size,
                         f->sha256 ? "" : "at most ", f->size);
            break;
        }
        st = extract_entry(za, index, zs.size, label, f, out_dir, err);
    }
    for (size_t k = 0; st == FL_OK && k < d->n_files; k++)
        if (d->files[k].sha256 && !seen[k])
            st = fl_fail(err, FL_ERR_DATA, "%s has no %s/%s: the download is incomplete or not the "
                         "GroupLens archive", label, d->name, d->files[k].name);
    free(seen);
    zip_discard(za);
    return st;
}
