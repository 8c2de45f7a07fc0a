/* rss.h — the benchmarks' memory readings: resident set size now and the
 * process's peak, in bytes (Linux). */
#ifndef FL_BENCH_RSS_H
#define FL_BENCH_RSS_H

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

/* /proc/self/statm's second field is resident pages. */
static inline double rss_now(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static inline double rss_peak(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss * 1024.0; /* Linux reports kilobytes */
}

#endif
