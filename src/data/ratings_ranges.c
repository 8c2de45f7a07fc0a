/* ratings_ranges.c — a plain ratings file read on several threads. The file
 * is cut into one byte range of whole lines per thread (as the parts of
 * fl_dataset_read_part are), then fork-join steps:
 *   1. count: each thread counts its range's lines, so each knows the index
 *      of its first rating (on this path every line after the header is
 *      one rating);
 *   2. parse: each thread reads its lines by the fast path straight into
 *      the dataset's arrays from that index, ids as their numeric values;
 *   3. index, for users then items: each thread lists the values first seen
 *      in its range, in order; the calling thread walks those lists range by
 *      range, giving each value not seen before the next index (interning
 *      its decimal spelling), which is the order of first appearance in the
 *      file; then each thread replaces its range's values by their indices
 *      through that table by value. Only distinct ids are serial.
 *   4. repeats: where the duplicate check applies and the file keeps each
 *      user's ratings together (the common case), each thread looks for a
 *      repeated (user, item) pair in the users' runs that start in its
 *      ranges; with none anywhere, fl_dedupe (serial) has nothing to do and
 *      is skipped. Otherwise it runs as ever, with its messages.
 * Any line the fast path does not take (a blank line, quotes, a bad rating,
 * ...) stops every thread, and the caller reads the whole file the general
 * way: every message and dialect stays the general path's, and this path
 * only ever gives the dataset that one would.
 * Memory: the arrays are sized exactly from the count, 12 bytes a rating
 * (+4 with times), as the streaming reader's; each thread has a 256 KiB
 * buffer; step 3 a table of 4 bytes per id value up to the largest and a bit
 * per value per thread (kept to a few bits per rating: beyond that, ids go
 * through the id map's hash alone, on the calling thread). */
#include "data/idmap.h"
#include "data/ratings_parser.h"

#include "core/error.h"
#include "core/pool.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_THREADS 64
/* Ranges per thread: threads take ranges as they finish earlier ones, so
 * lines of unequal lengths (ids grow through a file) or a thread held up
 * elsewhere do not leave the others waiting at the join. */
#define RANGES_PER_THREAD 4
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
    fl_rating_values *values; /* its ratings' tally, when the parser keeps one */
    uint32_t max_user, max_item;
    int bail;        /* a line not for the fast path, or a short read */
    int nomem;       /* step 3 */
    int no_repeat;   /* step 4: its runs hold no repeated pair */
    uint32_t *fresh; /* step 3: values first seen in the range, in order */
    size_t n_fresh, cap_fresh;
    _Atomic uint64_t done; /* bytes parsed, for progress */
} range;

/* What the pool runs on each range (steps 1-4 above; 3 in two parts). */
enum { COUNT = 1, PARSE, FIRST_SEEN, TO_INDICES, REPEATS };

/* One side's ids (users or items) in step 3. */
typedef struct side {
    uint32_t *ids; /* the dataset's array: values, then indices */
    uint32_t max;
    uint32_t *table; /* [max + 1]: index + 1 of each value, 0 while unseen */
    fl_idmap *m;
} side;

typedef struct job {
    const fl_ratings_parser *p;
    int fd;
    uint64_t size;
    range *r;
    int n, step; /* ranges; the step the pool runs */
    char **buf;  /* [thread]: RANGE_BUF bytes each */
    side *side;
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
static void count_lines(job *j, range *r, char *buf) {
    size_t n = 0;
    char last = '\n';
    for (uint64_t pos = r->begin; pos < r->end;) {
        size_t want = r->end - pos < RANGE_BUF ? (size_t)(r->end - pos) : RANGE_BUF;
        ssize_t got = pread(j->fd, buf, want, (off_t)pos);
        if (got <= 0) {
            r->bail = 1;
            return;
        }
        n += count_newlines(buf, (size_t)got);
        last = buf[got - 1];
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
    for (int t = 0; t < j->n; t++)
        done += atomic_load_explicit(&j->r[t].done, memory_order_relaxed);
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
    char *buf = j->buf[thread];
    const fl_ratings_parser *p = j->p;
    fl_dataset *d = p->b.d;
    size_t k = r->first, end_k = r->first + r->n_lines, line = r->first_line, have = 0;
    uint64_t pos = r->begin;
    for (;;) {
        if (atomic_load_explicit(&j->stop, memory_order_relaxed)) return;
        size_t want = RANGE_BUF - have;
        if (r->end - pos < want) want = (size_t)(r->end - pos);
        ssize_t got = want ? pread(j->fd, buf + have, want, (off_t)pos) : 0;
        if (got < 0 || (got == 0 && want)) goto bail; /* the file changed under us */
        pos += (uint64_t)got;
        have += (size_t)got;
        int at_end = pos == r->end;
        size_t c = 0;
        while (c < have) {
            const char *nl = memchr(buf + c, '\n', have - c);
            if (!nl && !at_end) break;
            size_t e = nl ? (size_t)(nl - buf) : have, len = e - c;
            if (len && buf[c + len - 1] == '\r') len--;
            fl_fast_rating fr;
            if (k == end_k || !fl_ratings_fast_line(p, buf + c, len, &fr)) goto bail;
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
        memmove(buf, buf + c, have - c);
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

/* Step 3, on each thread: the values first seen in the range, in order. */
static void first_seen(const side *sd, range *r) {
    uint64_t *seen = calloc(((size_t)sd->max >> 6) + 1, sizeof *seen);
    r->n_fresh = 0;
    if (!seen) {
        r->nomem = 1;
        return;
    }
    const uint32_t *ids = sd->ids + r->first;
    for (size_t k = 0; k < r->n_lines; k++) {
        uint32_t v = ids[k];
        uint64_t bit = 1ULL << (v & 63);
        if (seen[v >> 6] & bit) continue;
        seen[v >> 6] |= bit;
        if (r->n_fresh == r->cap_fresh) {
            size_t cap = r->cap_fresh ? 2 * r->cap_fresh : 1024;
            uint32_t *f = realloc(r->fresh, cap * sizeof *f);
            if (!f) {
                r->nomem = 1;
                break;
            }
            r->fresh = f, r->cap_fresh = cap;
        }
        r->fresh[r->n_fresh++] = v;
    }
    free(seen);
}

/* Step 3, on each thread again: values to indices through the table. */
static void to_indices(const side *sd, const range *r) {
    uint32_t *ids = sd->ids + r->first;
    for (size_t k = 0; k < r->n_lines; k++) ids[k] = sd->table[ids[k]] - 1;
}

/* Step 4 for one range: 1 in r->no_repeat when users move by 0 or +1 from
 * line to line across the range (so, numbered by first appearance, each
 * user's ratings lie in one run) and no run starting in the range (it may
 * end in a later one) holds an item twice. */
static void check_repeats(const fl_dataset *d, range *r) {
    const uint32_t *users = d->users, *items = d->items;
    size_t s = r->first, e = r->first + r->n_lines, n = d->n_ratings;
    for (size_t k = s ? s : 1; k < e; k++)
        if (users[k] - users[k - 1] > 1u) return; /* a user seen before, further up */
    size_t k = s;
    while (k < e && k > 0 && users[k] == users[k - 1]) k++; /* the previous range's run */
    unsigned char *bits = calloc((size_t)fl_idmap_size(d->item_ids) / 8 + 1, 1);
    if (!bits) return;
    int repeated = 0;
    while (k < e && !repeated) {
        size_t a = k;
        for (uint32_t u = users[a]; k < n && users[k] == u; k++) {
            uint32_t it = items[k];
            repeated |= bits[it >> 3] >> (it & 7) & 1;
            bits[it >> 3] |= (unsigned char)(1u << (it & 7));
        }
        for (size_t q = a; q < k; q++) bits[items[q] >> 3] = 0;
    }
    free(bits);
    r->no_repeat = !repeated;
}

static void run_step(void *ctx, int task, int thread) {
    job *j = ctx;
    switch (j->step) {
    case COUNT:
        count_lines(j, &j->r[task], j->buf[thread]);
        break;
    case PARSE:
        parse_range(j, task, thread);
        break;
    case FIRST_SEEN:
        first_seen(j->side, &j->r[task]);
        break;
    case TO_INDICES:
        to_indices(j->side, &j->r[task]);
        break;
    default:
        check_repeats(j->p->b.d, &j->r[task]);
    }
}

/* Interns value v as its decimal spelling into m (by hand: snprintf was
 * a third of the calling thread's work in step 3). */
static fl_status intern_value(fl_idmap *m, uint32_t v, uint32_t *index) {
    char name[10];
    size_t len = 0;
    for (uint32_t x = v; len == 0 || x; x /= 10) len++;
    for (uint32_t x = v, k = (uint32_t)len; k-- > 0; x /= 10) name[k] = (char)('0' + x % 10);
    return fl_idmap_intern_number(m, v, name, len, index);
}

/* Step 3 for one side: the values in sd->ids[0..n) replaced by dense
 * indices, each new value interned into sd->m in order of first appearance. */
static fl_status index_side(job *j, fl_pool *pool, side *sd, size_t n) {
    uint64_t table_len = (uint64_t)sd->max + 1;
    uint64_t room = n / 4 > (1u << 20) ? n / 4 : (1u << 20); /* 4 bytes an entry */
    sd->table = table_len <= room ? calloc((size_t)table_len, sizeof *sd->table) : NULL;
    if (!sd->table) { /* large or scattered values: the id map's hash, one by one */
        for (size_t k = 0; k < n; k++)
            if (intern_value(sd->m, sd->ids[k], &sd->ids[k])) return FL_ERR_NOMEM;
        return FL_OK;
    }
    fl_status st = FL_OK;
    j->side = sd;
    j->step = FIRST_SEEN;
    fl_pool_run(pool, j->n, run_step, j);
    for (int t = 0; t < j->n && st == FL_OK; t++) {
        const range *r = &j->r[t];
        if (r->nomem) st = FL_ERR_NOMEM;
        for (size_t k = 0; k < r->n_fresh && st == FL_OK; k++) {
            uint32_t v = r->fresh[k], index;
            if (sd->table[v]) continue;
            st = intern_value(sd->m, v, &index);
            sd->table[v] = index + 1;
        }
    }
    j->step = TO_INDICES;
    if (st == FL_OK) fl_pool_run(pool, j->n, run_step, j);
    free(sd->table);
    return st;
}

static int threads_for(const fl_read_opts *o, uint64_t size) {
    int n = o->n_threads;
    if (n <= 0) {
        n = fl_cpu_count();
        if ((uint64_t)n > size / BYTES_PER_THREAD) n = (int)(size / BYTES_PER_THREAD);
    }
    return n > MAX_THREADS ? MAX_THREADS : n < 1 ? 1 : n;
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

/* Steps 1-4 over the open plain file fd; 0 when the general path must read
 * it, else 1 with *st. p has begun; it is finished here either way. */
static int read_ranges(fl_ratings_parser *p, int fd, uint64_t size, int threads, fl_dataset **out,
                       fl_status *st, uint64_t *reported, fl_error *err) {
    int n = threads * RANGES_PER_THREAD;
    range *r = calloc((size_t)n, sizeof *r);
    char **buf = calloc((size_t)threads, sizeof *buf);
    fl_pool *pool = NULL;
    int done = 0;
    *st = FL_OK;
    if (!r || !buf) goto out;
    for (int t = 0; t < threads; t++)
        if (!(buf[t] = malloc(RANGE_BUF))) goto out;
    for (int t = 0; t < n; t++)
        if (p->values && !(r[t].values = malloc(sizeof *r[t].values))) goto out;
    int64_t data = read_head(p, fd, buf[0], err);
    if (data < 0 || !(pool = fl_pool_new(threads))) goto out;
    for (int t = 0; t < n; t++) {
        if (r[t].values) fl_rating_values_init(r[t].values);
        uint64_t at = 0;
        if (t > 0 && fl_ratings_part_bound(fd, size, t, n, p->name, &at, err)) goto out;
        /* line starts, in order, none before the first rating's line */
        r[t].begin = t == 0 ? (uint64_t)data : at > r[t - 1].begin ? at : r[t - 1].begin;
        if (t > 0) r[t - 1].end = r[t].begin;
    }
    r[n - 1].end = size;
    job j = {.p = p, .fd = fd, .size = size, .r = r, .n = n, .step = COUNT, .buf = buf};
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
    j.step = PARSE;
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
    side users = {d->users, max_user, NULL, d->user_ids};
    side items = {d->items, max_item, NULL, d->item_ids};
    if (index_side(&j, pool, &users, total) || index_side(&j, pool, &items, total) ||
        (p->check_duplicates && fl_rating_lines_note_run(&p->lines, 0, first_line, total)))
        *st = fl_fail(err, FL_ERR_NOMEM, "%s: out of memory", p->name);
    if (*st == FL_OK && p->check_duplicates && total >= 2 && total <= UINT32_MAX) {
        j.step = REPEATS;
        fl_pool_run(pool, n, run_step, &j);
        int clean = 1;
        for (int t = 0; t < n; t++) clean &= r[t].no_repeat;
        if (clean) p->check_duplicates = 0; /* fl_dedupe would find nothing */
    }
out:
    if (pool) fl_pool_free(pool);
    for (int t = 0; r && t < n; t++) free(r[t].values), free(r[t].fresh);
    for (int t = 0; buf && t < threads; t++) free(buf[t]);
    free(r);
    free(buf);
    if (!done) {
        fl_ratings_finish(p, FL_ERR_DATA, out, err); /* frees what p holds */
        return 0;
    }
    *st = fl_ratings_finish(p, *st, out, err);
    return 1;
}

int fl_ratings_read_ranges(const char *path, const fl_read_opts *o, fl_dataset **out, fl_status *st,
                           uint64_t *reported, fl_error *err) {
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
    int taken = n >= 1 && fl_ratings_begin(&p, path, o, NULL, err) == FL_OK &&
                read_ranges(&p, fd, (uint64_t)sb.st_size, n, out, st, reported, err);
    close(fd);
    return taken;
}
