/* memory.c — the machine's memory, for up-front checks (see memory.h). The
 * limit is physical RAM, or the process's address-space limit (ulimit -v)
 * when that is lower, and the message says which of the two it was. Also
 * the two page-level hints large arrays use (zeroing without writing, huge
 * pages). */
#include "core/memory.h"

#include "core/error.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h> /* no-op macros unless run under valgrind */
#endif
#endif
#ifndef VALGRIND_MAKE_MEM_DEFINED
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

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

/* The whole pages inside [p, p + bytes): [*lo, *hi), empty when none. */
static void inner_pages(void *p, size_t bytes, uintptr_t page, uintptr_t *lo, uintptr_t *hi) {
    *lo = ((uintptr_t)p + page - 1) / page * page;
    *hi = ((uintptr_t)p + bytes) / page * page;
    if (*hi < *lo) *hi = *lo;
}

void fl_memory_zero(void *p, size_t bytes) {
#ifdef __linux__
    long size = sysconf(_SC_PAGE_SIZE);
    uintptr_t lo, hi;
    if (size > 0) {
        inner_pages(p, bytes, (uintptr_t)size, &lo, &hi);
        /* Private anonymous pages (all of the heap) read as zeros after this. */
        if (hi - lo >= 16 * (uintptr_t)size && madvise((void *)lo, hi - lo, MADV_DONTNEED) == 0) {
            /* valgrind does not know the kernel zeroes them */
            VALGRIND_MAKE_MEM_DEFINED((void *)lo, hi - lo);
            memset(p, 0, lo - (uintptr_t)p);
            memset((void *)hi, 0, (uintptr_t)p + bytes - hi);
            return;
        }
    }
#endif
    memset(p, 0, bytes);
}

void fl_memory_prefer_huge(void *p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    uintptr_t lo, hi;
    inner_pages(p, bytes, (uintptr_t)2 << 20, &lo, &hi);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* a hint; failure is harmless */
#else
    (void)p, (void)bytes;
#endif
}
