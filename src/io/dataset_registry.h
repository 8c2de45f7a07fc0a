/* dataset_registry.h — the datasets fl_fetch knows: for each, the files we
 * keep from its zip and, for every file the library relies on, its size and
 * SHA-256 as published by GroupLens. */
#ifndef FL_IO_DATASET_REGISTRY_H
#define FL_IO_DATASET_REGISTRY_H

#include <stddef.h>

typedef struct fl_dataset_file {
    const char *name;   /* file name inside the dataset directory */
    const char *sha256; /* lowercase hex; NULL: kept for the reader, not verified */
    size_t size;        /* exact size when sha256 is set, else an upper bound */
} fl_dataset_file;

typedef struct fl_dataset_entry {
    const char *name;   /* "ml-100k": also the zip's name and its top directory */
    const fl_dataset_file *files;
    size_t n_files;
} fl_dataset_entry;

/* NULL when name is not a known dataset. */
const fl_dataset_entry *fl_registry_find(const char *name);
/* The NULL-terminated list of known names. */
const char *const *fl_registry_names(void);
/* The known names as "a, b", for messages. */
void fl_registry_names_joined(char *buf, size_t len);
/* The file entry called file_name in d, or NULL. */
const fl_dataset_file *fl_registry_file(const fl_dataset_entry *d, const char *file_name);

#endif
