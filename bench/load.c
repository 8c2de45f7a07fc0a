/* load.c — how fast fl_dataset_read parses a MovieLens-25M-sized CSV and how much
 * resident memory the loaded dataset costs per rating. --make writes the file once
 * (synthetic ratings in ml-25m's shape and format: userId,movieId,rating,timestamp
 * with a header, 162,541 users, 59,047 movies, 25,000,095 ratings). */
#include "factorlens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "rss.h"

#define DEFAULT_PATH "/tmp/fl-bench-25m.csv"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}


/* Synthetic ids are "u<n>" / "i<n>"; ml-25m's are plain numbers from 1. */
static unsigned long numeric_id(const char *name) { return strtoul(name + 1, NULL, 10) + 1; }

static int make_file(const char *path, size_t n_ratings) {
    fl_synth_opts so;
    fl_synth_opts_default(&so);
    so.n_users = 162541;
    so.n_items = 59047;
    so.n_ratings = n_ratings;
    so.lo = 0.5f;
    so.hi = 5.0f;
    fl_error err = {0};
    fl_dataset *d = NULL;
    double t0 = now_seconds();
    if (fl_synth_generate(&so, &d, &err) != FL_OK) {
        fprintf(stderr, "fl-bench-load: %s\n", err.msg);
        return 1;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "fl-bench-load: cannot write %s\n", path);
        fl_dataset_free(d);
        return 1;
    }
    /* Names are resolved once per row up front: interned ids never move. */
    uint32_t nu = fl_idmap_size(d->user_ids), ni = fl_idmap_size(d->item_ids);
    unsigned long *uid = malloc(nu * sizeof *uid), *iid = malloc(ni * sizeof *iid);
    if (!uid || !iid) {
        fprintf(stderr, "fl-bench-load: out of memory\n");
        fclose(f);
        free(uid), free(iid), fl_dataset_free(d);
        return 1;
    }
    for (uint32_t u = 0; u < nu; u++) uid[u] = numeric_id(fl_idmap_name(d->user_ids, u));
    for (uint32_t i = 0; i < ni; i++) iid[i] = numeric_id(fl_idmap_name(d->item_ids, i));
    fputs("userId,movieId,rating,timestamp\n", f);
    for (size_t k = 0; k < d->n_ratings; k++)
        fprintf(f, "%lu,%lu,%.1f,%lu\n", uid[d->users[k]], iid[d->items[k]], (double)d->ratings[k],
                1000000000ul + (unsigned long)(k * 37 % 500000000));
    int bad = ferror(f);
    if (fclose(f) || bad) {
        fprintf(stderr, "fl-bench-load: write error on %s\n", path);
        bad = 1;
    } else {
        fprintf(stderr, "wrote %s: %zu ratings in %.1f s\n", path, d->n_ratings, now_seconds() - t0);
    }
    free(uid), free(iid), fl_dataset_free(d);
    return bad;
}

int main(int argc, char **argv) {
    const char *path = DEFAULT_PATH;
    int make = 0, keep_times = 0, threads = 0;
    size_t n_ratings = 25000095;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--make")) make = 1;
        else if (!strcmp(argv[k], "--keep-times")) keep_times = 1;
        else if (!strcmp(argv[k], "--threads") && k + 1 < argc) threads = atoi(argv[++k]);
        else if (!strcmp(argv[k], "--ratings") && k + 1 < argc) n_ratings = strtoull(argv[++k], NULL, 10);
        else if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
            printf("Usage: fl-bench-load [--make] [--ratings N] [--keep-times] [--threads T] "
                   "[FILE (%s)]\n"
                   "  --make      write FILE first (synthetic, ml-25m shape, N = 25000095)\n"
                   "  --threads   reading threads (fl_read_opts.n_threads; default 0: all cores)\n",
                   DEFAULT_PATH);
            return 0;
        } else if (argv[k][0] != '-') path = argv[k];
        else {
            fprintf(stderr, "fl-bench-load: unknown option %s\n", argv[k]);
            return 2;
        }
    }
    if (make) return make_file(path, n_ratings);

    FILE *probe = fopen(path, "rb");
    if (!probe) {
        fprintf(stderr, "fl-bench-load: no %s; run with --make first\n", path);
        return 1;
    }
    fseek(probe, 0, SEEK_END);
    double file_bytes = (double)ftell(probe);
    fclose(probe);

    fl_read_opts ro;
    fl_read_opts_default(&ro);
    ro.keep_times = keep_times;
    ro.n_threads = threads;
    fl_error err = {0};
    fl_dataset *d = NULL;
    double rss0 = rss_now(), peak0 = rss_peak();
    double t0 = now_seconds();
    if (fl_dataset_read(path, &ro, &d, &err) != FL_OK) {
        fprintf(stderr, "fl-bench-load: %s\n", err.msg);
        return 1;
    }
    double secs = now_seconds() - t0;
    double rss1 = rss_now(), peak1 = rss_peak();
    double n = (double)d->n_ratings;
    printf("file %s: %.0f MB, %zu ratings, %u users, %u items%s\n", path, file_bytes / 1e6,
           d->n_ratings, fl_idmap_size(d->user_ids), fl_idmap_size(d->item_ids),
           keep_times ? ", timestamps kept" : "");
    printf("fl_dataset_read: %.2f s (%.1f M ratings/s, %.0f MB/s)\n", secs, n / secs / 1e6,
           file_bytes / secs / 1e6);
    printf("RSS growth: %.1f bytes/rating once loaded (%.0f MB), %.1f bytes/rating at the peak "
           "(%.0f MB)\n",
           (rss1 - rss0) / n, (rss1 - rss0) / 1e6, (peak1 - (peak0 > rss0 ? peak0 : rss0)) / n,
           (peak1 - (peak0 > rss0 ? peak0 : rss0)) / 1e6);
    fl_dataset_free(d);
    return 0;
}
