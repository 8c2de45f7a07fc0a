/* ratings_ranges.c — a plain ratings file read on several threads. The file
 * is cut into one byte range of whole lines per thread (as the parts of
 * fl_dataset_read_part are), then three fork-join steps:
 *   1. count: each thread counts its range's lines, so each knows the index
 *      of its first rating (on this path every line after the header is
 *      one rating);
 *   2. parse: each thread reads its lines by the fast path straight into
 *      the dataset's arrays from that index, ids as their numeric values;
 *   3. index: the values become dense indices in order of first appearance
 *      (on the calling thread, through a table by value), as one thread
 *      reading line by line would have numbered them.
 * Any line the fast path does not take (a blank line, quotes, a bad rating,
 * ...) stops every thread, and the caller reads the whole file the general
 * way: every message and dialect stays the general path's, and this path
 * only ever gives the dataset that one would.
 * Memory: the arrays are sized exactly from the count, 12 bytes a rating
 * (+4 with times), as the streaming reader's; each thread has a 256 KiB buffer;
 * step 3 a table of 4 bytes per id value up to the largest (kept to at most
 * a byte per rating, else ids go through the id map's hash alone). */
#include "data/idmap.h"
#include "data/ratings_parser.h"

#include "core/error.h"
#include "core/pool.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_THREADS 64
#define BYTES_PER_THREAD (1u << 20) /* n_threads 0: at most one thread per MiB */
/* Each thread's buffer: a longer line goes to the general path (which takes
 * lines up to 8 MiB). Two threads' buffers take less than the one MiB the
 * streaming reader's does, so reading's peak memory does not grow. */
#define RANGE_BUF (256u << 10)

typedef struct range {
    uint64_t begin, end;      /* bytes [begin, end) of the file: whole lines */
    size_t n_lines;           /* step 1 */
    size_t first;             /* index of its first rating */
    size_t first_line;        /* number of its first line (1-based) */
    char *buf;                /* RANGE_BUF bytes */
    fl_rating_values *values; /* its ratings' tally, when the parser keeps one */
    uint32_t max_user, max_item;
    int bail;                 /* a line not for the fast path, or a short read */
    _Atomic uint64_t done;    /* bytes parsed, for progress */
} range;

typedef struct job {
    const fl_ratings_parser *p;
    int fd;
    uint64_t size;
    range *r;
    int n, step;
    atomic_int stop;
    int cancelled;     /* set and read on the calling thread */
    uint64_t reported; /* the last count given to the hook, on the calling thread */
} job;

/* Newlines in b[0..n), eight bytes a step: a byte of x = w ^ "\n\n..." is
 * zero where w has a newline, and ((x & 0x7f..) + 0x7f..) | x has its high
 * bit clear exactly there. The per-byte flags add up in the bytes of acc,
 * folded into the count before any byte can pass 255. About a seventh of
 * the instructions of a loop over bytes (which GCC -O2 does not vectorise). */
static size_t count_newlines(const char *b, size_t n) {
    const uint64_t ones = 0x0101010101010101ULL, low7 = 0x7f7f7f7f7f7f7f7fULL;
    size_t c = 0, k = 0;
    while (n - k >= 8) {
        uint64_t acc = 0;
        for (int step = 0; step < 31 && n - k >= 8; step++, k += 8) {
            uint64_t w;
            memcpy(&w, b + k, 8);
            uint64_t x = w ^ (ones * '\n');
            acc += (~(((x & low7) + low7) | x) >> 7) & ones;
        }
        c += (size_t)((acc * ones) >> 56); /* the sum of acc's bytes, each <= 31 */
    }
    for (; k < n; k++) c += b[k] == '\n';
    return c;
}

/* Step 1: newlines in the range, plus a last line without one at the end of
 * the file. */
static void count_lines(job *j, range *r) {
    size_t n = 0;
    char last = '\n';
    for (uint64_t pos = r->begin; pos < r->end;) {
        size_t want = r->end - pos < RANGE_BUF ? (size_t)(r->end - pos) : RANGE_BUF;
        ssize_t got = pread(j->fd, r->buf, want, (off_t)pos);
        if (got <= 0) {
            r->bail = 1;
            return;
        }
        n += count_newlines(r->buf, (size_t)got);
        last = r->buf[got - 1];
        pos += (uint64_t)got;
    }
    r->n_lines = n + (last != '\n');
}

/* Tells the caller's progress hook the bytes parsed by all threads (each
 * count only grows, so the sum does); nonzero when it asks to stop. Called
 * on the calling thread alone (the pool's thread 0), as the header promises
 * of callbacks; it reports while it parses a range of its own. */
static int report(job *j) {
    const fl_read_opts *o = j->p->o;
    if (!o->progress) return 0;
    uint64_t done = 0;
    for (int t = 0; t < j->n; t++) done += atomic_load_explicit(&j->r[t].done, memory_order_relaxed);
    j->reported = done;
    if (!o->progress(o->progress_ctx, done, j->size)) return 0;
    j->cancelled = 1;
    atomic_store(&j->stop, 1);
    return 1;
}

/* Step 2: the range's lines into the arrays from index r->first. Lines end
 * at '\n' (a '\r' before it dropped); any other '\r' makes fast_line refuse
 * the line, as do blank lines, so line numbers run in step with ratings. */
static void parse_range(job *j, int t, int thread) {
    range *r = &j->r[t];
    const fl_ratings_parser *p = j->p;
    fl_dataset *d = p->b.d;
    size_t k = r->first, end_k = r->first + r->n_lines, line = r->first_line, have = 0;
    uint64_t pos = r->begin;
    for (;;) {
        if (atomic_load_explicit(&j->stop, memory_order_relaxed)) return;
        size_t want = RANGE_BUF - have;
        if (r->end - pos < want) want = (size_t)(r->end - pos);
        ssize_t got = want ? pread(j->fd, r->buf + have, want, (off_t)pos) : 0;
        if (got < 0 || (got == 0 && want)) goto bail; /* the file changed under us */
        pos += (uint64_t)got;
        have += (size_t)got;
        int at_end = pos == r->end;
        size_t c = 0;
        while (c < have) {
            const char *nl = memchr(r->buf + c, '\n', have - c);
            if (!nl && !at_end) break;
            size_t e = nl ? (size_t)(nl - r->buf) : have, len = e - c;
            if (len && r->buf[c + len - 1] == '\r') len--;
            fl_fast_rating fr;
            if (k == end_k || !fl_ratings_fast_line(p, r->buf + c, len, &fr)) goto bail;
            d->users[k] = fr.user;
            d->items[k] = fr.item;
            d->ratings[k] = fr.rating;
            if (d->times) d->times[k] = fr.time;
            if (fr.user > r->max_user) r->max_user = fr.user;
            if (fr.item > r->max_item) r->max_item = fr.item;
            if (r->values) fl_rating_values_add(r->values, fr.rating, line);
            k++, line++;
            c = nl ? e + 1 : have;
        }
        memmove(r->buf, r->buf + c, have - c);
        have -= c;
        atomic_store_explicit(&r->done, pos - r->begin - have, memory_order_relaxed);
        if (thread == 0 && report(j)) return;
        if (at_end) break;
        if (have == RANGE_BUF) goto bail; /* a line that long is for the general path */
    }
    if (k == end_k) return;
bail:
    r->bail = 1;
    atomic_store(&j->stop, 1);
}

static void run_step(void *ctx, int task, int thread) {
    job *j = ctx;
    if (j->step == 1)
        count_lines(j, &j->r[task]);
    else
        parse_range(j, task, thread);
}

/* Step 3: the values ids[0..n) replaced by dense indices, each new value
 * interned into m (as its decimal spelling) in order of first appearance. */
static fl_status index_ids(uint32_t *ids, size_t n, uint32_t max, fl_idmap *m) {
    uint64_t table_len = (uint64_t)max + 1;
    uint64_t room = n / 4 > (1u << 20) ? n / 4 : (1u << 20); /* 4 bytes an entry */
    uint32_t *table = table_len <= room ? calloc((size_t)table_len, sizeof *table) : NULL;
    char name[16];
    for (size_t k = 0; k < n; k++) {
        uint32_t v = ids[k];
        if (table && table[v]) {
            ids[k] = table[v] - 1;
            continue;
        }
        int len = snprintf(name, sizeof name, "%u", (unsigned)v);
        uint32_t index;
        if (fl_idmap_intern_number(m, v, name, (size_t)len, &index)) {
            free(table);
            return FL_ERR_NOMEM;
        }
        if (table) table[v] = index + 1;
        ids[k] = index;
    }
    free(table);
    return FL_OK;
}

static int threads_for(const fl_read_opts *o, uint64_t size) {
    int n = o->n_threads;
    if (n <= 0) {
        n = fl_cpu_count();
        if ((uint64_t)n > size / BYTES_PER_THREAD) n = (int)(size / BYTES_PER_THREAD);
    }
    return n > MAX_THREADS ? MAX_THREADS : n;
}

/* The file's first line through the general path: separator, header and
 * columns, as reading the whole file decides them. Returns the offset where
 * ratings start, or -1 when the first line is not a plain one (blank, with
 * a lone CR, longer than the buffer, malformed): the general path then. */
static int64_t read_head(fl_ratings_parser *p, int fd, char *buf, fl_error *err) {
    ssize_t got = pread(fd, buf, RANGE_BUF, 0);
    const char *nl = got > 0 ? memchr(buf, '\n', (size_t)got) : NULL;
    if (!nl) return -1;
    size_t head = (size_t)(nl - buf) + 1, used;
    p->probe = 1;
    fl_status st = fl_ratings_feed(p, buf, head, 0, &used, err);
    p->probe = 0;
    if (st || !p->ready || p->line != 1 || p->b.d->n_skipped) return -1;
    return p->seen_header ? (int64_t)head : 0;
}

/* Steps 1-3 over the open plain file fd; 0 when the general path must read
 * it, else 1 with *st. p has begun; it is finished here either way. */
static int read_ranges(fl_ratings_parser *p, int fd, uint64_t size, int n, fl_dataset **out,
                       fl_status *st, uint64_t *reported, fl_error *err) {
    range *r = calloc((size_t)n, sizeof *r);
    fl_pool *pool = NULL;
    int done = 0;
    *st = FL_OK;
    for (int t = 0; r && t < n; t++)
        if (!(r[t].buf = malloc(RANGE_BUF)) ||
            (p->values && !(r[t].values = malloc(sizeof *r[t].values))))
            goto out;
    if (!r) goto out;
    int64_t data = read_head(p, fd, r[0].buf, err);
    if (data < 0 || !(pool = fl_pool_new(n))) goto out;
    for (int t = 0; t < n; t++) {
        if (r[t].values) fl_rating_values_init(r[t].values);
        uint64_t at = 0;
        if (t > 0 && fl_ratings_part_bound(fd, size, t, n, p->name, &at, err)) goto out;
        r[t].begin = t == 0 || at < (uint64_t)data ? (uint64_t)data : at;
        if (t > 0) r[t - 1].end = r[t].begin;
    }
    r[n - 1].end = size;
    job j = {.p = p, .fd = fd, .size = size, .r = r, .n = n, .step = 1};
    atomic_init(&j.stop, 0);
    fl_pool_run(pool, n, run_step, &j);
    size_t total = 0, first_line = data ? 2 : 1;
    for (int t = 0; t < n; t++) {
        if (r[t].bail) goto out;
        r[t].first = total;
        r[t].first_line = first_line + total;
        total += r[t].n_lines;
    }
    if (total == 0) goto out; /* the general path says what is missing */
    fl_dataset_reserve(&p->b, total);
    if (p->b.cap < total) {
        *st = fl_fail(err, FL_ERR_NOMEM, "%s: out of memory", p->name);
        done = 1;
        goto out;
    }
    j.step = 2;
    fl_pool_run(pool, n, run_step, &j);
    *reported = j.reported;
    if (j.cancelled) {
        *st = fl_fail(err, FL_ERR_CANCELLED, "%s: reading was cancelled", p->name);
        done = 1;
        goto out;
    }
    for (int t = 0; t < n; t++)
        if (r[t].bail) goto out;
    fl_dataset *d = p->b.d;
    d->n_ratings = total;
    uint32_t max_user = 0, max_item = 0;
    for (int t = 0; t < n; t++) {
        if (r[t].max_user > max_user) max_user = r[t].max_user;
        if (r[t].max_item > max_item) max_item = r[t].max_item;
        if (p->values) fl_rating_values_merge(p->values, r[t].values);
    }
    p->line = first_line + total - 1;
    done = 1;
    if (index_ids(d->users, total, max_user, d->user_ids) ||
        index_ids(d->items, total, max_item, d->item_ids) ||
        (p->check_duplicates && fl_rating_lines_note_run(&p->lines, 0, first_line, total)))
        *st = fl_fail(err, FL_ERR_NOMEM, "%s: out of memory", p->name);
out:
    if (pool) fl_pool_free(pool);
    for (int t = 0; r && t < n; t++) free(r[t].buf), free(r[t].values);
    free(r);
    if (!done) {
        fl_ratings_finish(p, FL_ERR_DATA, out, err); /* frees what p holds */
        return 0;
    }
    *st = fl_ratings_finish(p, *st, out, err);
    return 1;
}

int fl_ratings_read_ranges(const char *path, const fl_read_opts *o, fl_dataset **out,
                           fl_status *st, uint64_t *reported, fl_error *err) {
    *reported = 0;
    if (strcmp(path, "-") == 0) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0; /* the general path says why */
    struct stat sb;
    unsigned char magic[2] = {0, 0};
    int n = 0;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
        !(pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b))
        n = threads_for(o, (uint64_t)sb.st_size);
    fl_ratings_parser p;
    int taken = n >= 2 && fl_ratings_begin(&p, path, o, NULL, err) == FL_OK &&
                read_ranges(&p, fd, (uint64_t)sb.st_size, n, out, st, reported, err);
    close(fd);
    return taken;
}
