/* file_map.h — a read-only mapping of a whole file. The model file is read
 * through one (io maps it, the model owns it once loaded and releases it when
 * freed), so the mapping lives below both. */
#ifndef FL_CORE_FILE_MAP_H
#define FL_CORE_FILE_MAP_H

#include <stddef.h>

typedef struct fl_file_map {
    void *addr; /* NULL when nothing is mapped */
    size_t len;
} fl_file_map;

/* Maps the first len bytes of the open file fd, private and read-only.
 * Returns 0, or the errno of the failure (out is then empty). */
int fl_file_map_open(int fd, size_t len, fl_file_map *out);
/* Unmaps; an empty map is left alone. */
void fl_file_map_close(fl_file_map *m);

#endif
