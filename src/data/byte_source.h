/* byte_source.h — a file read in large chunks, gunzipped on the fly when it
 * starts with the gzip magic. Readers see bytes, never FILE or gzFile. The
 * path "-" is standard input (e.g. zcat ratings.gz | factorlens ... -). */
#ifndef FL_DATA_BYTE_SOURCE_H
#define FL_DATA_BYTE_SOURCE_H

#include "factorlens.h"

typedef struct fl_byte_source fl_byte_source;

/* What messages call path: "(standard input)" for "-", else path itself. */
const char *fl_source_name(const char *path);
/* Opens path; a directory, a missing or unreadable file fail with a sentence. */
fl_status fl_source_open(const char *path, fl_byte_source **out, fl_error *err);
/* Reads up to cap bytes; *got == 0 means end of input. Truncated or corrupt
 * gzip streams fail here. */
fl_status fl_source_read(fl_byte_source *s, char *buf, size_t cap, size_t *got, fl_error *err);
void fl_source_close(fl_byte_source *s);
/* How far reading has come: bytes of the file consumed so far (of a gzip
 * file: compressed bytes) and the file's size, 0 when unknown (standard
 * input, a pipe). */
void fl_source_position(const fl_byte_source *s, uint64_t *done, uint64_t *total);
/* 1 when the bytes read are the file's own, not gunzipped ones. */
int fl_source_is_plain(const fl_byte_source *s);
/* Reads the whole file (for small metadata files); caller frees *buf. */
fl_status fl_source_slurp(const char *path, char **buf, size_t *len, fl_error *err);

#endif
