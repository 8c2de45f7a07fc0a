/* speed.c — training throughput of the biased model with the SGD solver on synthetic
 * MovieLens-shaped data (planted low-rank model + noise, Zipf popularity, fixed seed):
 * rating updates per second, time to a target test RMSE, peak RSS and memory per rating,
 * for a grid of factor counts and thread counts. Each grid point trains in a forked
 * child so its peak RSS (getrusage ru_maxrss) is its own. --dump writes the split for
 * the PyTorch peer (bench/peer_torch_speed.py) instead of training. */
#include "factorlens.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "libmf_peer.h"
#include "rss.h"

#define MAX_GRID 16
#define MAX_EPOCHS 1000

typedef struct config {
    size_t n_ratings;
    uint32_t n_users, n_items; /* 0: from the MovieLens shape */
    int factors[MAX_GRID], n_factors;
    int threads[MAX_GRID], n_threads;
    int epochs;
    int rank;
    float noise;
    double zipf;
    double target; /* <= 0: from the noise */
    uint64_t seed;
    double paper; /* ratings of the "on paper" projection */
    const char *dump, *dump_text;
    const char *json; /* also append one JSON object per grid point to this file */
    int verbose; /* each epoch's test RMSE on stderr */
    const char *libmf; /* LIBMF shared object to time beside factorlens, or NULL */
    int rounds;        /* times each grid point runs (alternating with LIBMF) */
    float reg, lr; /* < 0: the library's defaults */
    fl_solver solver;
} config;

/* What the epoch hook sees of one run. */
typedef struct run_log {
    int verbose;
    int n;
    double solve[MAX_EPOCHS];
    double test_rmse[MAX_EPOCHS];
} run_log;

static void usage(FILE *f) {
    fprintf(f,
            "Usage: fl-bench-speed [options]\n"
            "  --ratings N      1M, 5M, 25M or a count (default 5M)\n"
            "  --users N        (default ratings/150, MovieLens-25M's ratings per user)\n"
            "  --items N        (default ratings/420, MovieLens-25M's ratings per item)\n"
            "  --factors LIST   factor counts (default 16,32,64,128)\n"
            "  --threads LIST   thread counts (default 1,2)\n"
            "  --epochs N       SGD epochs per run (default 10)\n"
            "  --rank R         planted rank (default 10)\n"
            "  --noise S        planted Gaussian noise std (default 0.5)\n"
            "  --zipf Z         popularity exponent of users and items (default 0.5)\n"
            "  --target X       test RMSE to time (default 1.10 x sqrt(noise^2 + 0.5^2/12),\n"
            "                   the noise plus half-star rounding: the best any model can do)\n"
            "  --reg X, --lr X  override the library's default reg / lr (default: not)\n"
            "  --solver S       sgd, adam or als, with the library's defaults for it (default sgd)\n"
            "  --seed S         data seed (default 42; training uses the library default)\n"
            "  --paper N        ratings of the 'on paper' memory projection (default 100M)\n"
            "  --dump FILE      write the train/test split for peer_torch_speed.py and exit\n"
            "  --dump-text P    write the split as P.train and P.test, 'user item rating' lines\n"
            "                   with dense integer ids (LIBMF's text format; factorlens reads it),\n"
            "                   for whole-command comparisons (bench/time_to_target.sh), and exit\n"
            "  --json FILE      also append one JSON object per grid point to FILE\n"
            "  --libmf FILE     also time LIBMF from this shared object (libmf.so) at each grid\n"
            "                   point, right after factorlens, on the same split\n"
            "  --rounds N       run each grid point N times, alternating with LIBMF, and end\n"
            "                   with medians and the median factorlens/LIBMF ratio (default 1)\n"
            "  --verbose        each epoch's solve seconds and test RMSE on stderr\n");
}

static int parse_count(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s) return -1;
    if (*end == 'M' || *end == 'm') v *= 1e6, end++;
    else if (*end == 'k' || *end == 'K') v *= 1e3, end++;
    if (*end || !(v >= 1)) return -1;
    *out = v;
    return 0;
}

static int parse_list(const char *s, int *out, int *n) {
    *n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 4096 || *n == MAX_GRID) return -1;
        out[(*n)++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return *n ? 0 : -1;
}

static int configure(int argc, char **argv, config *c) {
    memset(c, 0, sizeof *c);
    c->n_ratings = 5000000;
    parse_list("16,32,64,128", c->factors, &c->n_factors);
    parse_list("1,2", c->threads, &c->n_threads);
    c->epochs = 10;
    c->rank = 10;
    c->noise = 0.5f;
    c->zipf = 0.5;
    c->seed = 42;
    c->paper = 1e8;
    c->reg = c->lr = -1.0f;
    c->rounds = 1;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k], *v = k + 1 < argc ? argv[k + 1] : NULL;
        double x;
        int bad = 0;
        if (!strcmp(a, "--verbose")) { c->verbose = 1; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        if (!v) bad = 1;
        else if (!strcmp(a, "--ratings")) bad = parse_count(v, &x), c->n_ratings = (size_t)x;
        else if (!strcmp(a, "--users")) bad = parse_count(v, &x), c->n_users = (uint32_t)x;
        else if (!strcmp(a, "--items")) bad = parse_count(v, &x), c->n_items = (uint32_t)x;
        else if (!strcmp(a, "--paper")) bad = parse_count(v, &c->paper);
        else if (!strcmp(a, "--factors")) bad = parse_list(v, c->factors, &c->n_factors);
        else if (!strcmp(a, "--threads")) bad = parse_list(v, c->threads, &c->n_threads);
        else if (!strcmp(a, "--epochs")) c->epochs = atoi(v), bad = c->epochs < 1 || c->epochs > MAX_EPOCHS;
        else if (!strcmp(a, "--rank")) c->rank = atoi(v), bad = c->rank < 1;
        else if (!strcmp(a, "--noise")) c->noise = strtof(v, NULL), bad = !(c->noise >= 0);
        else if (!strcmp(a, "--zipf")) c->zipf = strtod(v, NULL);
        else if (!strcmp(a, "--target")) c->target = strtod(v, NULL);
        else if (!strcmp(a, "--reg")) c->reg = strtof(v, NULL), bad = !(c->reg >= 0);
        else if (!strcmp(a, "--lr")) c->lr = strtof(v, NULL), bad = !(c->lr > 0);
        else if (!strcmp(a, "--seed")) c->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--dump")) c->dump = v;
        else if (!strcmp(a, "--dump-text")) c->dump_text = v;
        else if (!strcmp(a, "--json")) c->json = v;
        else if (!strcmp(a, "--libmf")) c->libmf = v;
        else if (!strcmp(a, "--solver")) bad = !fl_solver_parse(v, &c->solver);
        else if (!strcmp(a, "--rounds")) c->rounds = atoi(v), bad = c->rounds < 1 || c->rounds > MAX_EPOCHS;
        else bad = 1;
        if (bad) {
            fprintf(stderr, "fl-bench-speed: bad option %s %s\n", a, v ? v : "");
            usage(stderr);
            return 2;
        }
        k++;
    }
    if (!c->n_users) c->n_users = (uint32_t)(c->n_ratings / 150 + 1);
    if (!c->n_items) c->n_items = (uint32_t)(c->n_ratings / 420 + 1);
    if (c->target <= 0) c->target = 1.10 * sqrt((double)c->noise * c->noise + 0.25 / 12.0);
    return 0;
}


/* Binary split for the peer, little-endian as this machine writes it:
 * "FLBENCH1", u32 n_users, u32 n_items, u64 n_train, u64 n_test, then for train and
 * test in turn: u32 users[n], u32 items[n], f32 ratings[n] (dense indices shared by
 * both halves). */
static int dump_split(const char *path, const fl_dataset *train, const fl_dataset *test) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint32_t nu = fl_idmap_size(train->user_ids), ni = fl_idmap_size(train->item_ids);
    uint64_t ntr = train->n_ratings, nte = test->n_ratings;
    fwrite("FLBENCH1", 1, 8, f);
    fwrite(&nu, 4, 1, f);
    fwrite(&ni, 4, 1, f);
    fwrite(&ntr, 8, 1, f);
    fwrite(&nte, 8, 1, f);
    const fl_dataset *parts[2] = {train, test};
    for (int p = 0; p < 2; p++) {
        fwrite(parts[p]->users, 4, parts[p]->n_ratings, f);
        fwrite(parts[p]->items, 4, parts[p]->n_ratings, f);
        fwrite(parts[p]->ratings, 4, parts[p]->n_ratings, f);
    }
    int bad = ferror(f);
    return fclose(f) == 0 && !bad ? 0 : -1;
}

/* The split as text: "user item rating" per line, dense indices as ids. */
static int dump_text(const char *prefix, const fl_dataset *train, const fl_dataset *test) {
    const fl_dataset *parts[2] = {train, test};
    const char *suffix[2] = {"train", "test"};
    for (int p = 0; p < 2; p++) {
        char path[4096];
        snprintf(path, sizeof path, "%s.%s", prefix, suffix[p]);
        FILE *f = fopen(path, "w");
        if (!f) return -1;
        static char buf[1 << 20];
        setvbuf(f, buf, _IOFBF, sizeof buf);
        for (size_t r = 0; r < parts[p]->n_ratings; r++)
            fprintf(f, "%u %u %g\n", parts[p]->users[r], parts[p]->items[r],
                    (double)parts[p]->ratings[r]);
        int bad = ferror(f);
        if (fclose(f) != 0 || bad) return -1;
    }
    return 0;
}

static int on_epoch(void *ctx, const fl_epoch_report *r) {
    run_log *log = ctx;
    if (log->n < MAX_EPOCHS) {
        log->solve[log->n] = r->solve_seconds;
        log->test_rmse[log->n] = r->test_rmse;
        log->n++;
    }
    if (log->verbose)
        fprintf(stderr, "  epoch %d: solve %.3f s, test RMSE %.5f\n", r->epoch, r->solve_seconds,
                r->test_rmse);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double raw_bytes(double n_ratings, double n_rows, int k) {
    return n_ratings * 12.0 + n_rows * k * 4.0;
}

/* One grid point, in a forked child: fl_train_owned hands the child's copy of the
 * training ratings to the solver (as the CLI does), so the peak is what a user pays. */
static int run_point(const config *c, fl_dataset *train, const fl_dataset *test, int k,
                     int threads, double rss_base, double *ups_out) {
    fl_params p;
    fl_params_init(&p, FL_MODEL_BIASED, c->solver);
    p.n_factors = k;
    p.n_threads = threads;
    p.epochs = c->epochs;
    if (c->reg >= 0) p.reg_factors = c->reg;
    if (c->lr > 0) p.lr = c->lr;
    run_log *log = calloc(1, sizeof *log);
    if (!log) return 1;
    log->verbose = c->verbose;
    fl_train_hooks hooks = {.epoch_end = on_epoch, .ctx = log};
    fl_model *m = NULL;
    fl_train_result res;
    fl_error err = {0};
    size_t n_train = train->n_ratings, n_test = test->n_ratings;
    double n_rows = (double)fl_idmap_size(train->user_ids) + fl_idmap_size(train->item_ids);
    if (fl_train_owned(train, test, &p, &hooks, &m, &res, &err) != FL_OK) {
        fprintf(stderr, "fl-bench-speed: k=%d threads=%d: %s\n", k, threads, err.msg);
        free(log);
        return 1;
    }
    double peak = rss_peak();
    double ups[MAX_EPOCHS], to_target = -1, cum = 0;
    int target_epoch = 0;
    for (int e = 0; e < log->n; e++) {
        ups[e] = (double)n_train / log->solve[e];
        cum += log->solve[e];
        if (!target_epoch && log->test_rmse[e] <= c->target) target_epoch = e + 1, to_target = cum;
    }
    double med = median(ups, log->n), best = 0;
    *ups_out = med;
    for (int e = 0; e < log->n; e++) best = ups[e] > best ? ups[e] : best;
    double used = peak - rss_base;
    double raw = raw_bytes((double)(n_train + n_test), n_rows, k);
    double final_rmse = log->n ? log->test_rmse[log->n - 1] : NAN;
    char tt[32];
    if (target_epoch)
        snprintf(tt, sizeof tt, "%.2f s (ep %d)", to_target, target_epoch);
    else
        snprintf(tt, sizeof tt, "not reached");
    printf("%4d %7d %13.2fM %10.2fM %16s %10.4f %10.0f %10.0f %8.0f %7.2f\n", k, threads, med / 1e6,
           best / 1e6, tt, final_rmse, peak / 1e6, used / 1e6, raw / 1e6, used / raw);
    FILE *jf = c->json ? fopen(c->json, "a") : NULL;
    if (jf) {
        fprintf(jf,
                "{\"trainer\":\"factorlens\",\"ratings\":%zu,\"n_train\":%zu,\"n_test\":%zu,\"factors\":%d,\"threads\":%d,"
                "\"epochs\":%d,\"updates_per_s\":%.0f,\"updates_per_s_best\":%.0f,\"solve_s_total\":%.4f,\"target_rmse\":%.4f,"
                "\"epochs_to_target\":%d,\"solve_s_to_target\":%.4f,\"final_test_rmse\":%.5f,"
                "\"peak_rss_mb\":%.1f,\"used_mb\":%.1f,\"raw_mb\":%.1f}\n",
                n_train + n_test, n_train, n_test, k, threads, log->n, med, best, cum, c->target,
                target_epoch, to_target, final_rmse, peak / 1e6, used / 1e6, raw / 1e6);
        fclose(jf);
    }
    fflush(stdout);
    fl_model_free(m);
    free(log);
    return 0;
}

/* LIBMF on the same split, in a forked child like run_point (its copies of the data
 * count in its peak: LIBMF is handed an array of (user, item, rating) nodes). */
static int run_libmf(const config *c, const fl_dataset *train, const fl_dataset *test, int k,
                     int threads, double rss_base, double *ups_out) {
    libmf_result r;
    char err[512];
    if (libmf_run(c->libmf, train, test, k, threads, c->epochs, &r, err, sizeof err)) {
        fprintf(stderr, "fl-bench-speed: LIBMF: %s\n", err);
        return 1;
    }
    *ups_out = r.updates_per_s;
    double peak = rss_peak();
    printf("%4d %7d %13.2fM %11s %16s %10.4f %10.0f %10.0f %8s %7s  <- LIBMF (T(1) %.2f s, T(%d) %.2f s)\n",
           k, threads, r.updates_per_s / 1e6, "-", "-", r.test_rmse, peak / 1e6,
           (peak - rss_base) / 1e6, "-", "-", r.t1_s, 1 + c->epochs, r.tn_s);
    FILE *jf = c->json ? fopen(c->json, "a") : NULL;
    if (jf) {
        fprintf(jf,
                "{\"trainer\":\"libmf\",\"ratings\":%zu,\"n_train\":%zu,\"factors\":%d,"
                "\"threads\":%d,\"epochs\":%d,\"updates_per_s\":%.0f,\"t1_s\":%.4f,\"tn_s\":%.4f,"
                "\"final_test_rmse\":%.5f,\"peak_rss_mb\":%.1f,\"used_mb\":%.1f}\n",
                train->n_ratings + test->n_ratings, train->n_ratings, k, threads, c->epochs,
                r.updates_per_s, r.t1_s, r.tn_s, r.test_rmse, peak / 1e6, (peak - rss_base) / 1e6);
        fclose(jf);
    }
    fflush(stdout);
    return 0;
}

/* What a forked grid-point child hands back. */
typedef struct child_out {
    double used; /* peak RSS minus the program's start */
    double ups;  /* median updates/s */
} child_out;

/* Runs one grid point (libmf: LIBMF's instead of factorlens's) in a forked child.
 * Returns 0 when the child succeeded. */
static int in_child(const config *c, fl_dataset *train, const fl_dataset *test, int k,
                    int threads, double rss_base, int libmf, child_out *out) {
    fflush(stdout);
    int fd[2];
    if (pipe(fd)) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        close(fd[0]);
        child_out o = {0};
        int crc = libmf ? run_libmf(c, train, test, k, threads, rss_base, &o.ups)
                        : run_point(c, train, test, k, threads, rss_base, &o.ups);
        o.used = rss_peak() - rss_base;
        if (write(fd[1], &o, sizeof o) < 0) crc = 1;
        _exit(crc);
    }
    close(fd[1]);
    memset(out, 0, sizeof *out);
    if (read(fd[0], out, sizeof *out) != (ssize_t)sizeof *out) memset(out, 0, sizeof *out);
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

/* ratio[g]: the largest measured used/raw at factors[g] (0 if none). */
static void paper(const config *c, const double *ratio) {
    double n = c->paper;
    double rows = n / 150 + n / 420;
    printf("\n'On paper' at %.0fM ratings (%.0fk users + %.0fk items, same shape):\n", n / 1e6,
           n / 150 / 1e3, n / 420 / 1e3);
    printf("%4s %14s %26s\n", "k", "raw (12 B/r)", "at the measured ratio above");
    for (int g = 0; g < c->n_factors; g++) {
        int k = c->factors[g];
        double raw = raw_bytes(n, rows, k);
        printf("%4d %11.2f GB", k, raw / 1e9);
        if (ratio[g] > 0) printf(" %23.2f GB", raw * ratio[g] / 1e9);
        printf("\n");
    }
}

int main(int argc, char **argv) {
    config c;
    int rc = configure(argc, argv, &c);
    if (rc) return rc;
    double rss_base = rss_now();

    fl_synth_opts so;
    fl_synth_opts_default(&so);
    so.n_users = c.n_users;
    so.n_items = c.n_items;
    so.n_ratings = c.n_ratings;
    so.rank = c.rank;
    so.noise_std = c.noise;
    so.zipf = c.zipf;
    so.seed = c.seed;
    fl_error err = {0};
    fl_dataset *all = NULL, *train = NULL, *test = NULL;
    if (fl_synth_generate(&so, &all, &err) != FL_OK ||
        fl_split_holdout(all, 0.1, c.seed, &train, &test, &err) != FL_OK) {
        fprintf(stderr, "fl-bench-speed: %s\n", err.msg);
        fl_dataset_free(all);
        return 1;
    }
    fl_dataset_free(all);
    double rss_data = rss_now();
    if (c.dump || c.dump_text) {
        const char *to = c.dump ? c.dump : c.dump_text;
        rc = (c.dump ? dump_split(c.dump, train, test) : dump_text(c.dump_text, train, test)) ? 1 : 0;
        if (rc) fprintf(stderr, "fl-bench-speed: cannot write %s\n", to);
        else fprintf(stderr, "wrote %s\n", to);
        fl_dataset_free(train);
        fl_dataset_free(test);
        return rc;
    }
    printf("Synthetic: %zu ratings (%zu train / %zu test), %u users x %u items seen, rank %d, "
           "noise %.2f, zipf %.2f, seed %llu\n",
           train->n_ratings + test->n_ratings, train->n_ratings, test->n_ratings,
           fl_idmap_size(train->user_ids), fl_idmap_size(train->item_ids), c.rank,
           (double)c.noise, c.zipf, (unsigned long long)c.seed);
    printf("Data resident after the split: %.0f MB (%.1f bytes/rating); target RMSE %.4f\n",
           (rss_data - rss_base) / 1e6,
           (rss_data - rss_base) / (double)(train->n_ratings + test->n_ratings), c.target);
    printf("biased model, %s, %d epochs; updates/s = n_train / solve_seconds, median over "
           "epochs (and the best epoch: the figure a quiet machine gives); time to target counts "
           "solve seconds only\n\n",
           fl_solver_name(c.solver), c.epochs);
    printf("%4s %7s %14s %11s %16s %10s %10s %10s %8s %7s\n", "k", "threads", "updates/s",
           "best epoch", "to target", "test RMSE", "peak MB", "used MB", "raw MB", "used/raw");
    double worst_ratio[MAX_GRID] = {0};
    double n_rows = (double)fl_idmap_size(train->user_ids) + fl_idmap_size(train->item_ids);
    int n_points = c.n_factors * c.n_threads;
    double *fl_ups = calloc((size_t)n_points * c.rounds, sizeof *fl_ups);
    double *mf_ups = calloc((size_t)n_points * c.rounds, sizeof *mf_ups);
    if (!fl_ups || !mf_ups) return 1;
    /* Rounds outermost: a slow spell of the host then hits every point, not one. */
    for (int round = 0; round < c.rounds; round++) {
        for (int g = 0; g < c.n_factors; g++) {
            for (int t = 0; t < c.n_threads; t++) {
                int at = (g * c.n_threads + t) * c.rounds + round;
                child_out o;
                if (in_child(&c, train, test, c.factors[g], c.threads[t], rss_base, 0, &o)) rc = 1;
                fl_ups[at] = o.ups;
                double raw = raw_bytes((double)(train->n_ratings + test->n_ratings), n_rows,
                                       c.factors[g]);
                if (o.used / raw > worst_ratio[g]) worst_ratio[g] = o.used / raw;
                if (c.libmf) {
                    if (in_child(&c, train, test, c.factors[g], c.threads[t], rss_base, 1, &o))
                        rc = 1;
                    mf_ups[at] = o.ups;
                }
            }
        }
    }
    if (c.rounds > 1 || c.libmf) {
        printf("\nOver %d round%s (medians; the ratio is the median of each round's "
               "factorlens/LIBMF):\n",
               c.rounds, c.rounds > 1 ? "s" : "");
        printf("%4s %7s %14s %14s %16s\n", "k", "threads", "factorlens", "LIBMF", "factorlens/LIBMF");
        for (int g = 0; g < c.n_factors; g++) {
            for (int t = 0; t < c.n_threads; t++) {
                double *f = fl_ups + (g * c.n_threads + t) * c.rounds;
                double *l = mf_ups + (g * c.n_threads + t) * c.rounds, ratio[MAX_EPOCHS];
                for (int r = 0; r < c.rounds; r++) ratio[r] = l[r] > 0 ? f[r] / l[r] : 0;
                printf("%4d %7d %13.2fM", c.factors[g], c.threads[t], median(f, c.rounds) / 1e6);
                if (c.libmf)
                    printf(" %13.2fM %15.2fx", median(l, c.rounds) / 1e6, median(ratio, c.rounds));
                printf("\n");
            }
        }
    }
    free(fl_ups);
    free(mf_ups);
    paper(&c, worst_ratio);
    fl_dataset_free(train);
    fl_dataset_free(test);
    return rc;
}
