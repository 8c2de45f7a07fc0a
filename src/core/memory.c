/* memory.c — the machine's memory, for up-front checks (see memory.h). */
#include "core/memory.h"

#include "core/error.h"

#include <sys/resource.h>
#include <unistd.h>

double fl_memory_available(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    double phys = (pages > 0 && size > 0) ? (double)pages * (double)size : 0.0;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (phys == 0.0 || (double)rl.rlim_cur < phys))
        phys = (double)rl.rlim_cur;
    return phys;
}

fl_status fl_memory_check(double bytes, const char *what, fl_error *err) {
    double have = fl_memory_available();
    if (have > 0.0 && bytes > have)
        return fl_fail(err, FL_ERR_NOMEM, "%s needs %.1f GiB of memory but this machine has %.1f GiB",
                       what, bytes / (1 << 30), have / (1 << 30));
    return FL_OK;
}
