/* file_map.c — mmap behind fl_file_map. */
#include "core/file_map.h"

#include <errno.h>
#include <sys/mman.h>

int fl_file_map_open(int fd, size_t len, fl_file_map *out) {
    out->addr = NULL, out->len = 0;
    void *a = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (a == MAP_FAILED) return errno ? errno : EIO;
    out->addr = a, out->len = len;
    return 0;
}

void fl_file_map_close(fl_file_map *m) {
    if (m->addr) munmap(m->addr, m->len);
    m->addr = NULL, m->len = 0;
}
