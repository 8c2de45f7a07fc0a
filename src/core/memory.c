/* memory.c — the machine's memory, for up-front checks (see memory.h). The
 * limit is physical RAM, or the process's address-space limit (ulimit -v)
 * when that is lower, and the message says which of the two it was. */
#include "core/memory.h"

#include "core/error.h"

#include <sys/resource.h>
#include <unistd.h>

/* Bytes available and whether the address-space limit set them. */
static double available(int *by_rlimit) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    double phys = (pages > 0 && size > 0) ? (double)pages * (double)size : 0.0;
    struct rlimit rl;
    *by_rlimit = 0;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (phys == 0.0 || (double)rl.rlim_cur < phys)) {
        phys = (double)rl.rlim_cur;
        *by_rlimit = 1;
    }
    return phys;
}

double fl_memory_available(void) {
    int by_rlimit;
    return available(&by_rlimit);
}

fl_status fl_memory_check(double bytes, const char *what, fl_error *err) {
    int by_rlimit;
    double have = available(&by_rlimit);
    if (have > 0.0 && bytes > have) {
        const double gib = 1024.0 * 1024.0 * 1024.0;
        if (by_rlimit)
            return fl_fail(err, FL_ERR_NOMEM,
                           "%s needs %.1f GiB of memory but this process may use only %.1f GiB "
                           "(ulimit -v)",
                           what, bytes / gib, have / gib);
        return fl_fail(err, FL_ERR_NOMEM, "%s needs %.1f GiB of memory but this machine has %.1f GiB",
                       what, bytes / gib, have / gib);
    }
    return FL_OK;
}
