/* shard_dir.c — writing and reading shard directories (see shard_dir.h and
 * fl_shard in factorlens.h). */
#include "dist/shard_dir.h"

#include "core/digest.h"
#include "core/error.h"
#include "data/dataset.h"
#include "data/ratings_part.h"
#include "io/atomic_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define MANIFEST "shards.txt"
#define MANIFEST_HEAD "factorlens shards 1\n"

int fl_shard_is_dir(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void part_name(char *buf, size_t len, int part, int parts, int gzip) {
    snprintf(buf, len, "part-%05d-of-%05d.txt%s", part, parts, gzip ? ".gz" : "");
}

/* text[0..n) gzip-compressed into *out (malloc'd). */
static fl_status gzip_bytes(const char *text, size_t n, unsigned char **out, size_t *n_out,
                            const char *path, fl_error *err) {
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip header and trailer, which the readers take. */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return fl_fail(err, FL_ERR_NOMEM, "%s: cannot start compressing", path);
    const size_t cap = deflateBound(&z, (uLong)n) + 64;
    *out = malloc(cap);
    if (!*out) {
        deflateEnd(&z);
        return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory compressing", path);
    }
    z.next_in = (Bytef *)text, z.avail_in = (uInt)n;
    z.next_out = *out, z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *n_out = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(*out), *out = NULL;
        return fl_fail(err, FL_ERR_IO, "%s: compressing failed", path);
    }
    return FL_OK;
}

static fl_status write_atomic(const char *path, const void *buf, size_t n, fl_error *err) {
    fl_atomic_file f;
    fl_status st = fl_atomic_open(&f, path, err);
    if (st != FL_OK) return st;
    st = fl_atomic_write(&f, buf, n, err);
    if (st == FL_OK) return fl_atomic_commit(&f, err);
    fl_atomic_abort(&f);
    return st;
}

/* Part `part` of the source, written; its line of the manifest appended. */
static fl_status write_part(const fl_shard_opts *o, int part, FILE *mf, size_t *n_ratings,
                            fl_error *err) {
    fl_dataset *d = NULL;
    fl_status st = fl_dataset_read_part(o->ratings, o->read, part, o->parts, &d, err);
    if (st != FL_OK) return st;
    char *text = NULL;
    size_t n_text = 0;
    FILE *f = open_memstream(&text, &n_text);
    if (!f) {
        fl_dataset_free(d);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory writing part %d", part);
    }
    fl_dataset_write_stream(d, f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) st = fl_fail(err, FL_ERR_NOMEM, "out of memory writing part %d", part);
    char name[64], path[4096], hex[65];
    part_name(name, sizeof name, part, o->parts, o->gzip);
    snprintf(path, sizeof path, "%s/%s", o->dir, name);
    unsigned char *gz = NULL;
    size_t n_gz = 0;
    if (st == FL_OK && o->gzip) st = gzip_bytes(text, n_text, &gz, &n_gz, path, err);
    const void *bytes = o->gzip ? (const void *)gz : (const void *)text;
    const size_t n_bytes = o->gzip ? n_gz : n_text;
    if (st == FL_OK && !fl_sha256_hex(bytes, n_bytes, hex))
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory writing part %d", part);
    if (st == FL_OK) st = write_atomic(path, bytes, n_bytes, err);
    if (st == FL_OK) {
        fprintf(mf, "part %d %s %zu %zu %s\n", part, name, d->n_ratings, n_bytes, hex);
        *n_ratings += d->n_ratings;
    }
    free(text), free(gz);
    fl_dataset_free(d);
    return st;
}

fl_status fl_shard(const fl_shard_opts *o, size_t *n_ratings, fl_error *err) {
    if (n_ratings) *n_ratings = 0;
    if (!o || !o->ratings || !o->dir || o->parts < 1 || o->parts > 99999)
        return fl_fail(err, FL_ERR_USAGE, "fl_shard needs ratings, a directory and 1 to 99999 parts");
    if (strcmp(o->ratings, "-") == 0)
        return fl_fail(err, FL_ERR_USAGE, "standard input cannot be sharded: give a file");
    if (mkdir(o->dir, 0777) != 0 && errno != EEXIST)
        return fl_fail(err, FL_ERR_IO, "%s: cannot create the directory: %s", o->dir, strerror(errno));
    if (!fl_shard_is_dir(o->dir)) return fl_fail(err, FL_ERR_IO, "%s: not a directory", o->dir);
    char *manifest = NULL;
    size_t n_manifest = 0, total = 0;
    FILE *mf = open_memstream(&manifest, &n_manifest);
    if (!mf) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    fprintf(mf, MANIFEST_HEAD "parts %d\n", o->parts);
    fl_status st = FL_OK;
    /* One part in memory at a time: sharding needs a part's room, not the file's. */
    for (int part = 0; st == FL_OK && part < o->parts; part++)
        st = write_part(o, part, mf, &total, err);
    fprintf(mf, "ratings %zu\n", total);
    int bad = ferror(mf);
    if (fclose(mf) != 0 || bad) st = st != FL_OK ? st : fl_fail(err, FL_ERR_NOMEM, "out of memory");
    char path[4096];
    snprintf(path, sizeof path, "%s/" MANIFEST, o->dir);
    /* Last: a directory with a manifest always has every part it names. */
    if (st == FL_OK) st = write_atomic(path, manifest, n_manifest, err);
    free(manifest);
    if (st == FL_OK && n_ratings) *n_ratings = total;
    return st;
}

/* The manifest's line for part (its name, count, size and digest). */
static fl_status manifest_part(const char *dir, const char *text, int part, char *name, size_t *size,
                               char *hex, fl_error *err) {
    size_t line = 0;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        line++;
        int k;
        size_t count;
        if (strncmp(l, "part ", 5) != 0 || sscanf(l + 5, "%d", &k) != 1 || k != part) continue;
        if (sscanf(l + 5, "%d %255s %zu %zu %64s", &k, name, &count, size, hex) != 5 ||
            strlen(hex) != 64 || strchr(name, '/'))
            return fl_fail(err, FL_ERR_DATA, "%s/" MANIFEST ":%zu: not a part line "
                           "('part N NAME RATINGS BYTES SHA256')", dir, line);
        return FL_OK;
    }
    return fl_fail(err, FL_ERR_DATA, "%s/" MANIFEST ": part %d is not listed", dir, part);
}

/* A file's bytes as they are on disk (a gzip part compressed, as its digest was taken). */
static fl_status slurp_raw(const char *path, char **buf, size_t *n, fl_error *err) {
    *buf = NULL, *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return fl_fail(err, FL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    fl_status st = FL_OK;
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0)
        st = fl_fail(err, FL_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    else if (!(*buf = malloc((size_t)len + 1)))
        st = fl_fail(err, FL_ERR_NOMEM, "%s: out of memory", path);
    else if (fread(*buf, 1, (size_t)len, f) != (size_t)len)
        st = fl_fail(err, FL_ERR_IO, "%s: cannot read", path);
    fclose(f);
    if (st != FL_OK) {
        free(*buf), *buf = NULL;
        return st;
    }
    (*buf)[len] = '\0';
    *n = (size_t)len;
    return FL_OK;
}

/* Appends every rating of from to into (ids interned in order). */
static fl_status append(fl_dataset *into, const fl_dataset *from, fl_error *err) {
    for (size_t k = 0; k < from->n_ratings; k++) {
        fl_status st = fl_dataset_add(into, fl_idmap_name(from->user_ids, from->users[k]),
                                      fl_idmap_name(from->item_ids, from->items[k]),
                                      from->ratings[k], from->times ? from->times[k] : 0, err);
        if (st != FL_OK) return st;
    }
    return FL_OK;
}

fl_status fl_shard_read_mine(const char *dir, const fl_read_opts *o, int rank, int size,
                             fl_dataset **out, fl_error *err) {
    *out = NULL;
    char path[4096], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/" MANIFEST, dir);
    int parts = 0;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return fl_fail(err, FL_ERR_USAGE, "%s is a directory without " MANIFEST ": give a ratings "
                       "file, or a directory written by factorlens shard", dir);
    fl_status st = slurp_raw(path, &text, &len, err);
    if (st != FL_OK) return st;
    if (strncmp(text, MANIFEST_HEAD, strlen(MANIFEST_HEAD)) != 0 ||
        sscanf(text + strlen(MANIFEST_HEAD), "parts %d", &parts) != 1 || parts < 1)
        st = fl_fail(err, FL_ERR_DATA, "%s:1: not a factorlens shard manifest", path);
    const int lo = (int)((int64_t)parts * rank / size), hi = (int)((int64_t)parts * (rank + 1) / size);
    fl_dataset *all = NULL;
    for (int part = lo; st == FL_OK && part < hi; part++) {
        char name[256], want[65], hex[65], file[4096];
        size_t bytes = 0, n = 0;
        char *buf = NULL;
        st = manifest_part(dir, text, part, name, &bytes, want, err);
        snprintf(file, sizeof file, "%s/%s", dir, name);
        /* The bytes against the manifest before they are parsed: a part
         * changed or cut short is refused whole, not half trained on. */
        if (st == FL_OK) st = slurp_raw(file, &buf, &n, err);
        if (st == FL_OK && n != bytes)
            st = fl_fail(err, FL_ERR_DATA, "%s: %zu bytes where %s lists %zu: the part changed "
                         "or was cut short", file, n, path, bytes);
        if (st == FL_OK && (!fl_sha256_hex(buf, n, hex) || strcmp(hex, want) != 0))
            st = fl_fail(err, FL_ERR_DATA, "%s: its SHA-256 is not the one %s lists: the part "
                         "changed or is corrupt", file, path);
        free(buf);
        fl_dataset *d = NULL;
        if (st == FL_OK) st = fl_dataset_read(file, o, &d, err);
        if (st == FL_OK && !all) {
            all = d, d = NULL;
        } else if (st == FL_OK) {
            st = append(all, d, err);
        }
        fl_dataset_free(d);
    }
    free(text);
    if (st == FL_OK && !all && !(all = fl_dataset_new(0, 0)))
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory");
    if (st != FL_OK) {
        fl_dataset_free(all);
        return st;
    }
    snprintf(all->source, sizeof all->source, "%s", dir);
    *out = all;
    return FL_OK;
}
