/* safetensors.h — the model file's container, apart from what any model
 * kind puts in it (model_file.c, the schema): a safetensors file whose
 * __metadata__ carries a SHA-256 checksum over the whole file, written
 * atomically in two passes (hash, then write), mapped read-only on load and
 * checked byte for byte (layout, tiling, checksum) before anything reads
 * it. Adding a model kind touches the schema only. */
#ifndef FL_IO_SAFETENSORS_H
#define FL_IO_SAFETENSORS_H

#include "core/file_map.h"
#include "factorlens.h"

#include <jansson.h>
#include <stdint.h>
#include <time.h>

#define FL_ST_HEX_LEN 64
/* The most tensors a file may list: the nn's layers, the ids, fm's rows. */
#define FL_ST_MAX_TENSORS (13 + 2 * (FL_MAX_LAYERS + 1))

typedef enum dtype { DT_U64 = 0, DT_F32, DT_U32, DT_U8 } dtype;

/* One tensor as the format defines it: name, type, shape. On save `src`
 * says where its bytes come from; on load `begin`/`end` where they are. */
typedef struct tensor {
    char name[32];
    dtype dt;
    int ndim;
    uint64_t shape[2];
    uint64_t begin, end; /* byte offsets into the data section */
    /* save: a rows x cols matrix of 4/8-byte elements, rows `stride`
     * elements apart (a vector is one row), or an id map joined by '\n'. */
    const void *src;
    uint64_t rows, cols, stride;
    const fl_idmap *ids;
} tensor;

/* A mapped, verified file being read. */
typedef struct loader {
    const char *path;
    const unsigned char *base;
    size_t size;
    uint64_t header_len, data_off, data_len;
    json_t *root, *meta;
    tensor t[FL_ST_MAX_TENSORS];
    int n_t;
    fl_error *err;
    char why[256];
    char checksum[FL_ST_HEX_LEN + 1]; /* the verified checksum, kept for fl_model_checksum */
} loader;

#define BAD(ld, ...) fl_fail((ld)->err, FL_ERR_MODEL_FILE, __VA_ARGS__)

/* Writes meta (taken over; every value a string; the checksum is added as
 * its last key) and the n_t tensors, in order, to path atomically. */
/* Told the bytes through the writer's two passes (hash, then write) of
 * twice the file's size, every few MiB; nonzero cancels the write. */
typedef struct fl_st_progress {
    int (*fn)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
} fl_st_progress;
fl_status fl_st_write(const char *path, json_t *meta, tensor *t, int n_t, const fl_st_progress *progress,
                      fl_error *err);

/* Opens, maps (into *map) and verifies path: layout and checksum. On
 * success ld describes it (release with fl_st_close; *map is the caller's
 * to close) and *mtime is the file's modification time. */
fl_status fl_st_open(const char *path, loader *ld, fl_file_map *map, time_t *mtime, fl_error *err);
void fl_st_close(loader *ld);

tensor *fl_st_find(loader *ld, const char *name);
/* The tensor is present with this dtype, shape (d1 ignored for ndim 1) and
 * alignment: *at is its address in the mapping; marks it in used[]. */
fl_status fl_st_expect(loader *ld, const char *name, dtype dt, int ndim, uint64_t d0, uint64_t d1,
                       const void **at, int *used);
fl_status fl_st_check_finite(loader *ld, const char *name, const float *p, uint64_t n);
/* An id map stored as n names joined by '\n'. */
fl_status fl_st_read_ids(loader *ld, const char *name, uint32_t n, fl_idmap **out);

/* Metadata values in the strict text forms the writer prints (call under
 * the "C" numeric locale). */
fl_status fl_st_meta_str(loader *ld, const char *key, const char **out);
fl_status fl_st_meta_int(loader *ld, const char *key, long long lo, long long hi, int *out);
fl_status fl_st_meta_float(loader *ld, const char *key, float *out);
fl_status fl_st_meta_double(loader *ld, const char *key, double *out);
fl_status fl_st_meta_u64(loader *ld, const char *key, uint64_t *out);
/* A comma-separated list ("" is empty) of at most max ints or floats. */
fl_status fl_st_meta_list(loader *ld, const char *key, int max, int *ints, float *floats,
                          int *count);
/* 1 and *out if s is a decimal integer in [lo, hi], else 0. */
int fl_st_parse_int(const char *s, long long lo, long long hi, long long *out);
/* 1 and *out if s is a finite decimal number (no sign '+', no spaces), else 0. */
int fl_st_parse_double(const char *s, double *out);

#endif
