/* test_model_file.c — model files: bit-exact round trips of every model
 * kind, the on-disk layout the docs promise, and refusal (never a crash) of
 * corrupt, truncated, hand-edited or missing files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/digest.h"
#include "core/rng.h"
#include "models/model.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char RATINGS[] = "1\t10\t4\n1\t11\t3\n2\t10\t5\n2\t12\t2\n3\t13\t4\n3\t10\t1\n"
                              "4\t14\t3\n4\t11\t5\n1\t14\t2\nbob\t12\t4.5\nbob\t10\t3\n"
                              "2\t15\t1\n";

/* ---------------------------------------------------------------- helpers */

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture;

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/fl_model_file_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/m.flm", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    remove_tree(f->dir);
    free(f);
    return 0;
}

static fl_dataset *make_dataset(void) {
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.header = 0;
    fl_dataset *d = NULL;
    fl_error err = {0};
    assert_int_equal(fl_dataset_parse("mem", RATINGS, strlen(RATINGS), &o, &d, &err), FL_OK);
    assert_int_equal(d->n_ratings, 12);
    return d;
}

static float rnd(fl_rng *r) { return (float)fl_rng_normal(r) * 0.7f; }

/* A model of the given kind with random finite parameters. The padding of
 * training rows is poisoned with NaN: it must never reach the file. */
static fl_model *make_model(fl_model_kind kind, int squash, const fl_dataset *d) {
    fl_params p;
    fl_params_default(&p, kind);
    p.n_factors = 5;
    p.lr = 0.0123456789f;
    p.seed = 12345678901234567ULL;
    p.valid_fraction = 0.1;
    p.n_threads = 3;
    if (kind == FL_MODEL_NN) {
        p.n_layers = 2;
        p.layers[0] = 7;
        p.layers[1] = 3;
        p.dropout[1] = 0.25f;
        p.dropout[2] = 1.0f / 3.0f;
    }
    if (squash) p.y_lo = 0.5f, p.y_hi = 5.5f;
    p.y_auto = kind == FL_MODEL_BIASED || kind == FL_MODEL_NN; /* both values must survive */
    if (fl_model_kind_implicit(kind)) { /* no validation split; settings of their own */
        p.valid_fraction = 0.0;
        p.alpha = 0.7654321f;
        p.positive_min = 3.5f;
    }
    assert_null(fl_params_check(&p));
    fl_model *m = NULL;
    fl_error err = {0};
    assert_int_equal(fl_model_alloc(&p, d->user_ids, d->item_ids, &m, &err), FL_OK);
    assert_true(m->stride > m->n_factors);
    fl_rng r;
    fl_rng_seed(&r, 99 + (uint64_t)kind * 7 + (uint64_t)squash);
    for (uint32_t u = 0; u < m->n_users; u++)
        for (uint32_t f = 0; f < m->stride; f++)
            m->P[(size_t)u * m->stride + f] = f < m->n_factors ? rnd(&r) : NAN;
    for (uint32_t i = 0; i < m->n_items; i++)
        for (uint32_t f = 0; f < m->stride; f++)
            m->Q[(size_t)i * m->stride + f] = f < m->n_factors ? rnd(&r) : NAN;
    if (m->bu) {
        for (uint32_t u = 0; u < m->n_users; u++) m->bu[u] = rnd(&r);
        for (uint32_t i = 0; i < m->n_items; i++) m->bi[i] = rnd(&r);
    }
    for (int l = 0; l < m->n_dense; l++) {
        fl_dense *dl = &m->dense[l];
        for (int k = 0; k < dl->n_in * dl->n_out; k++) dl->w[k] = rnd(&r);
        for (int k = 0; k < dl->n_out; k++) dl->b[k] = rnd(&r);
    }
    m->offset = 3.1415927f;
    m->global_mean = fl_dataset_mean(d);
    m->rating_lo = 1.0f;
    m->rating_hi = 5.0f;
    m->epochs_run = 7;
    m->train_seconds = 1.0 / 3.0;
    snprintf(m->source, sizeof m->source, "data/ratings \"v2\".tsv");
    assert_int_equal(fl_model_set_seen(m, d, &err), FL_OK);
    return m;
}

static int same_float(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

#define FL_PARAMS_SIZE_KNOWN 176 /* LP64: 37 four-byte fields, seed, valid_fraction, patience */

/* Every fl_params field is stored in the file's metadata. A new field
 * changes this size: add it to model_file.c, the docs and the checks here.
 * (burn_in, ensemble_rank and implicit are fm and svdpp's: stored for those
 * kinds only, time_bins only when set; test_fm round-trips such models.) */
static void test_params_fields_known(void **state) {
    assert_int_equal(sizeof(fl_params), FL_PARAMS_SIZE_KNOWN);
}

static void assert_same_params(const fl_params *a, const fl_params *b) {
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->solver, b->solver);
    assert_int_equal(a->n_factors, b->n_factors);
    assert_int_equal(a->epochs, b->epochs);
    assert_true(same_float(a->lr, b->lr));
    assert_true(same_float(a->reg_factors, b->reg_factors));
    assert_true(same_float(a->reg_bias, b->reg_bias));
    assert_true(same_float(a->y_lo, b->y_lo));
    assert_true(same_float(a->y_hi, b->y_hi));
    assert_int_equal(a->y_auto, b->y_auto);
    assert_true(same_float(a->init_std, b->init_std));
    assert_int_equal(a->batch_size, b->batch_size);
    assert_int_equal(a->n_layers, b->n_layers);
    for (int l = 0; l < FL_MAX_LAYERS; l++) assert_int_equal(a->layers[l], b->layers[l]);
    for (int l = 0; l <= FL_MAX_LAYERS; l++) assert_true(same_float(a->dropout[l], b->dropout[l]));
    assert_int_equal(a->n_threads, b->n_threads);
    assert_true(a->seed == b->seed);
    assert_memory_equal(&a->valid_fraction, &b->valid_fraction, sizeof(double));
    assert_int_equal(a->patience, b->patience);
    /* Stored for the implicit kinds only: the others never read them. */
    if (fl_model_kind_implicit(a->kind)) {
        assert_true(same_float(a->alpha, b->alpha));
        assert_true(same_float(a->positive_min, b->positive_min));
    }
}

static void assert_same_model(const fl_model *a, const fl_model *b) {
    fl_model_info x, y;
    fl_model_get_info(a, &x);
    fl_model_get_info(b, &y);
    assert_int_equal(x.kind, y.kind);
    assert_same_params(&x.params, &y.params);
    assert_int_equal(x.n_users, y.n_users);
    assert_int_equal(x.n_items, y.n_items);
    assert_int_equal(x.n_train, y.n_train);
    assert_true(same_float(x.global_mean, y.global_mean));
    assert_true(same_float(x.rating_lo, y.rating_lo));
    assert_true(same_float(x.rating_hi, y.rating_hi));
    assert_int_equal(x.epochs_run, y.epochs_run);
    /* Files carry no wall-clock times (byte-identical files for one seed). */
    assert_true(y.train_seconds == -1.0 || y.train_seconds == x.train_seconds);
    assert_string_equal(x.source, y.source);
    assert_int_equal(strlen(y.created), 20);
    assert_true(same_float(a->offset, b->offset));
    uint32_t k = a->n_factors;
    for (uint32_t u = 0; u < x.n_users; u++) {
        assert_memory_equal(fl_model_user_factors(a, u), fl_model_user_factors(b, u), k * 4);
        assert_true(same_float(fl_model_user_bias(a, u), fl_model_user_bias(b, u)));
        assert_string_equal(fl_idmap_name(fl_model_user_ids(a), u),
                            fl_idmap_name(fl_model_user_ids(b), u));
    }
    for (uint32_t i = 0; i < x.n_items; i++) {
        assert_memory_equal(fl_model_item_factors(a, i), fl_model_item_factors(b, i), k * 4);
        assert_true(same_float(fl_model_item_bias(a, i), fl_model_item_bias(b, i)));
        assert_int_equal(fl_model_item_count(a, i), fl_model_item_count(b, i));
        float ma = fl_model_item_mean(a, i), mb = fl_model_item_mean(b, i);
        assert_true(same_float(ma, mb) || (isnan(ma) && isnan(mb)));
        assert_string_equal(fl_idmap_name(fl_model_item_ids(a), i),
                            fl_idmap_name(fl_model_item_ids(b), i));
    }
    assert_int_equal(a->n_dense, b->n_dense);
    for (int l = 0; l < a->n_dense; l++) {
        assert_int_equal(a->dense[l].n_in, b->dense[l].n_in);
        assert_int_equal(a->dense[l].n_out, b->dense[l].n_out);
        assert_memory_equal(a->dense[l].w, b->dense[l].w,
                            (size_t)a->dense[l].n_in * a->dense[l].n_out * 4);
        assert_memory_equal(a->dense[l].b, b->dense[l].b, (size_t)a->dense[l].n_out * 4);
    }
    assert_memory_equal(a->seen_start, b->seen_start, (x.n_users + 1) * sizeof(uint64_t));
    assert_memory_equal(a->seen_items, b->seen_items, x.n_train * sizeof(uint32_t));
    for (uint32_t u = 0; u < x.n_users; u++)
        for (uint32_t i = 0; i < x.n_items; i++) {
            float pa = fl_predict_index(a, u, i), pb = fl_predict_index(b, u, i);
            assert_true(isfinite(pa));
            assert_true(same_float(pa, pb));
        }
}

/* memmem is a GNU extension; this is the portable few lines. */
static unsigned char *find_bytes(const void *hay, size_t n, const void *needle, size_t k) {
    const unsigned char *h = hay;
    for (size_t i = 0; k <= n && i + k <= n; i++)
        if (memcmp(h + i, needle, k) == 0) return (unsigned char *)h + i;
    return NULL;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const void *buf, size_t len) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (len) assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Loading must fail as a bad model file, with a sentence naming the file. */
static void assert_refused(const char *path, const char *expect_in_msg) {
    fl_model *m = (fl_model *)&m; /* must be reset to NULL */
    fl_error err = {0};
    fl_status st = fl_model_load(path, &m, &err);
    if (st != FL_ERR_MODEL_FILE) fail_msg("expected FL_ERR_MODEL_FILE, got %d: %s", st, err.msg);
    assert_null(m);
    assert_int_equal(err.code, FL_ERR_MODEL_FILE);
    assert_non_null(strstr(err.msg, path));
    if (expect_in_msg && !strstr(err.msg, expect_in_msg))
        fail_msg("message '%s' lacks '%s'", err.msg, expect_in_msg);
}

/* ---------------------------------------------------------------- round trips */

static void round_trip(fixture *f, fl_model_kind kind, int squash) {
    fl_dataset *d = make_dataset();
    fl_model *m = make_model(kind, squash, d);
    fl_error err = {0};
    assert_int_equal(fl_model_save(m, f->path, &err), FL_OK);
    fl_model *back = NULL;
    if (fl_model_load(f->path, &back, &err) != FL_OK) fail_msg("load: %s", err.msg);
    assert_non_null(back->map.addr);
    assert_null(back->block);
    assert_int_equal(back->stride, back->n_factors);
    assert_same_model(m, back);

    /* Raw ids still resolve to the same indices. */
    for (size_t r = 0; r < d->n_ratings; r++) {
        const char *uid = fl_idmap_name(d->user_ids, d->users[r]);
        const char *iid = fl_idmap_name(d->item_ids, d->items[r]);
        uint32_t u, i;
        assert_true(fl_idmap_find(fl_model_user_ids(back), uid, strlen(uid), &u));
        assert_true(fl_idmap_find(fl_model_item_ids(back), iid, strlen(iid), &i));
        assert_int_equal(u, d->users[r]);
        assert_int_equal(i, d->items[r]);
        float pa, pb;
        assert_int_equal(fl_predict(m, uid, iid, FL_UNKNOWN_ERROR, &pa, &err), FL_OK);
        assert_int_equal(fl_predict(back, uid, iid, FL_UNKNOWN_ERROR, &pb, &err), FL_OK);
        assert_true(same_float(pa, pb));
    }

    /* Saving the loaded (mapped, unpadded) model gives the same bytes. */
    char again[160];
    snprintf(again, sizeof again, "%s/again.flm", f->dir);
    assert_int_equal(fl_model_save(back, again, &err), FL_OK);
    size_t n1, n2;
    unsigned char *b1 = slurp(f->path, &n1), *b2 = slurp(again, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1), free(b2);

    fl_model_free(back);
    fl_model_free(m);
    fl_dataset_free(d);
}

/* Per-item mean ratings: computed in training, saved, read back from the
 * mapping; a file without them (as written before they were kept) loads with
 * NAN means. The checksum accessor gives the file's checksum once loaded. */
static void test_item_means_and_checksum(void **state) {
    fixture *f = *state;
    fl_dataset *d = make_dataset();
    fl_model *m = make_model(FL_MODEL_BIASED, 0, d);
    fl_error err = {0};
    uint32_t i10, i15;
    assert_true(fl_idmap_find(fl_model_item_ids(m), "10", 2, &i10));
    assert_true(fl_idmap_find(fl_model_item_ids(m), "15", 2, &i15));
    assert_true(fl_model_item_mean(m, i10) == 3.25f); /* 4, 5, 1, 3 */
    assert_true(fl_model_item_mean(m, i15) == 1.0f);
    assert_true(isnan(fl_model_item_mean(m, m->n_items)));
    assert_string_equal(fl_model_checksum(m), "");
    assert_int_equal(fl_model_save(m, f->path, &err), FL_OK);
    fl_model *back = NULL;
    if (fl_model_load(f->path, &back, &err) != FL_OK) fail_msg("load: %s", err.msg);
    /* Every tensor is used in place, not copied: processes serving one file share it. */
    assert_null(back->item_mean_heap);
    const char *lo = back->map.addr, *hi = lo + back->map.len;
    const void *in_place[] = {back->P, back->Q, back->bu, back->bi, back->item_mean,
                              back->seen_start, back->seen_items, back->item_count};
    for (size_t k = 0; k < sizeof in_place / sizeof in_place[0]; k++)
        assert_true((const char *)in_place[k] >= lo && (const char *)in_place[k] < hi);
    assert_true(fl_model_item_mean(back, i10) == 3.25f);
    size_t n;
    unsigned char *b = slurp(f->path, &n);
    uint64_t hl;
    memcpy(&hl, b, 8);
    json_t *root = json_loadb((const char *)b + 8, hl, 0, NULL);
    assert_non_null(root);
    assert_string_equal(fl_model_checksum(back), json_string_value(json_object_get(
                                                     json_object_get(root, "__metadata__"), "checksum")));
    json_decref(root);
    free(b);
    fl_model_free(back);

    m->item_mean = NULL; /* what a writer before the means saved */
    assert_int_equal(fl_model_save(m, f->path, &err), FL_OK);
    if (fl_model_load(f->path, &back, &err) != FL_OK) fail_msg("load without means: %s", err.msg);
    assert_true(isnan(fl_model_item_mean(back, i10)));
    assert_int_equal(fl_model_item_count(back, i10), 4);
    fl_model_free(back);
    fl_model_free(m);
    fl_dataset_free(d);
}

/* Models now record the threads they ran on; files from before hold 0 ("all
 * cores") and still load, keeping it. */
static void test_thread_count_zero_loads(void **state) {
    fixture *f = *state;
    fl_dataset *d = make_dataset();
    fl_model *m = make_model(FL_MODEL_BIASED, 0, d);
    m->params.n_threads = 0;
    fl_error err = {0};
    assert_int_equal(fl_model_save(m, f->path, &err), FL_OK);
    fl_model *back = NULL;
    if (fl_model_load(f->path, &back, &err) != FL_OK) fail_msg("load: %s", err.msg);
    fl_model_info in;
    fl_model_get_info(back, &in);
    assert_int_equal(in.params.n_threads, 0);
    fl_model_free(back);
    fl_model_free(m);
    fl_dataset_free(d);
}

static void test_round_trip_dot(void **state) { round_trip(*state, FL_MODEL_DOT, 0); }
static void test_round_trip_biased(void **state) { round_trip(*state, FL_MODEL_BIASED, 0); }
static void test_round_trip_biased_yrange(void **state) { round_trip(*state, FL_MODEL_BIASED, 1); }
static void test_round_trip_nn(void **state) { round_trip(*state, FL_MODEL_NN, 1); }
static void test_round_trip_ials(void **state) { round_trip(*state, FL_MODEL_IALS, 0); }
static void test_round_trip_bpr(void **state) { round_trip(*state, FL_MODEL_BPR, 0); }

/* The layout docs/model-format.md promises to other readers. */
static void test_layout(void **state) {
    fixture *f = *state;
    fl_dataset *d = make_dataset();
    fl_model *m = make_model(FL_MODEL_NN, 0, d);
    fl_error err = {0};
    assert_int_equal(fl_model_save(m, f->path, &err), FL_OK);
    size_t n;
    unsigned char *b = slurp(f->path, &n);
    uint64_t hl;
    memcpy(&hl, b, 8);
    assert_true(8 + hl <= n);
    assert_int_equal((8 + hl) % 64, 0);
    assert_int_equal(b[8], '{');
    json_error_t je;
    json_t *root = json_loadb((const char *)b + 8, hl, 0, &je);
    assert_non_null(root);
    json_t *meta = json_object_get(root, "__metadata__");
    assert_string_equal(json_string_value(json_object_get(meta, "format")), "factorlens");
    assert_string_equal(json_string_value(json_object_get(meta, "format_version")), "1");
    assert_string_equal(json_string_value(json_object_get(meta, "kind")), "nn");
    assert_string_equal(json_string_value(json_object_get(meta, "layers")), "7,3");
    assert_string_equal(json_string_value(json_object_get(meta, "n_train")), "12");
    const char *v;
    json_t *val;
    json_object_foreach(meta, v, val) assert_true(json_is_string(val));

    /* Checksum: SHA-256 of the file with its own 64 characters zeroed. */
    const char *hex = json_string_value(json_object_get(meta, "checksum"));
    assert_int_equal(strlen(hex), 64);
    unsigned char *at = find_bytes(b, n, hex, 64);
    assert_non_null(at);
    memset(at, '0', 64);
    char got[65];
    assert_true(fl_sha256_hex(b, n, got));
    assert_string_equal(got, hex);

    struct {
        const char *name, *dtype;
        size_t elem;
    } want[] = {{"seen_start", "U64", 8},   {"user_factors", "F32", 4}, {"item_factors", "F32", 4},
                {"user_bias", "F32", 4},    {"item_bias", "F32", 4},
                {"dense.0.weight", "F32", 4}, {"dense.0.bias", "F32", 4},
                {"dense.1.weight", "F32", 4}, {"dense.1.bias", "F32", 4},
                {"dense.2.weight", "F32", 4}, {"dense.2.bias", "F32", 4},
                {"item_mean", "F32", 4},    {"seen_items", "U32", 4},   {"item_count", "U32", 4},   {"user_ids", "U8", 1},
                {"item_ids", "U8", 1}};
    uint64_t end = 0, prev_elem = 8;
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        json_t *t = json_object_get(root, want[k].name);
        assert_non_null(t);
        assert_string_equal(json_string_value(json_object_get(t, "dtype")), want[k].dtype);
        json_t *off = json_object_get(t, "data_offsets");
        uint64_t b0 = (uint64_t)json_integer_value(json_array_get(off, 0));
        uint64_t b1 = (uint64_t)json_integer_value(json_array_get(off, 1));
        assert_int_equal((8 + hl + b0) % want[k].elem, 0);
        assert_true(want[k].elem <= prev_elem); /* decreasing element size */
        prev_elem = want[k].elem;
        if (b1 > end) end = b1;
    }
    assert_int_equal(json_object_size(root), 1 + sizeof want / sizeof want[0]);
    assert_int_equal(8 + hl + end, n);
    json_t *w = json_object_get(json_object_get(root, "dense.1.weight"), "shape");
    assert_int_equal(json_integer_value(json_array_get(w, 0)), 3);
    assert_int_equal(json_integer_value(json_array_get(w, 1)), 7);

    /* user_ids: the ids joined by '\n', in index order. */
    json_t *uo = json_object_get(json_object_get(root, "user_ids"), "data_offsets");
    uint64_t u0 = (uint64_t)json_integer_value(json_array_get(uo, 0));
    uint64_t u1 = (uint64_t)json_integer_value(json_array_get(uo, 1));
    assert_int_equal(u1 - u0, strlen("1\n2\n3\n4\nbob"));
    assert_memory_equal(b + 8 + hl + u0, "1\n2\n3\n4\nbob", u1 - u0);

    json_decref(root);
    free(b);
    fl_model_free(m);
    fl_dataset_free(d);
}

/* ---------------------------------------------------------------- corruption */

static unsigned char *saved_biased(fixture *f, size_t *n) {
    fl_dataset *d = make_dataset();
    fl_model *m = make_model(FL_MODEL_BIASED, 1, d);
    fl_error err = {0};
    assert_int_equal(fl_model_save(m, f->path, &err), FL_OK);
    fl_model_free(m);
    fl_dataset_free(d);
    return slurp(f->path, n);
}

static void test_byte_flips(void **state) {
    fixture *f = *state;
    size_t n;
    unsigned char *orig = saved_biased(f, &n);
    unsigned char *copy = malloc(n);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/flipped.flm", f->dir);
    fl_rng r;
    fl_rng_seed(&r, 2024);
    /* Random positions, then every position once with a random change. */
    for (size_t trial = 0; trial < 2000 + n; trial++) {
        size_t pos = trial < 2000 ? (size_t)fl_rng_below(&r, n) : trial - 2000;
        memcpy(copy, orig, n);
        copy[pos] ^= (unsigned char)(1 + fl_rng_below(&r, 255));
        spit(bad, copy, n);
        assert_refused(bad, NULL);
    }
    /* The untouched copy still loads: the failures above are the flips. */
    spit(bad, orig, n);
    fl_model *m = NULL;
    fl_error err = {0};
    assert_int_equal(fl_model_load(bad, &m, &err), FL_OK);
    fl_model_free(m);
    free(copy);
    free(orig);
}

static void test_truncations(void **state) {
    fixture *f = *state;
    size_t n;
    unsigned char *orig = saved_biased(f, &n);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/short.flm", f->dir);
    fl_rng r;
    fl_rng_seed(&r, 7);
    size_t fixed[] = {0, 1, 7, 8, 9, 64, n - 1};
    for (size_t trial = 0; trial < 600; trial++) {
        size_t len = trial < 7 ? fixed[trial] : (size_t)fl_rng_below(&r, n);
        spit(bad, orig, len);
        assert_refused(bad, NULL);
    }
    spit(bad, orig, 7);
    assert_refused(bad, "truncated");
    spit(bad, orig, n - 1);
    assert_refused(bad, "truncated");
    spit(bad, orig, 100);
    assert_refused(bad, "truncated: header says");
    free(orig);
}

static void test_garbage_empty_missing(void **state) {
    fixture *f = *state;
    char bad[160];
    snprintf(bad, sizeof bad, "%s/garbage.flm", f->dir);
    fl_rng r;
    fl_rng_seed(&r, 11);
    unsigned char junk[4096];
    for (size_t k = 0; k < sizeof junk; k++) junk[k] = (unsigned char)fl_rng_next(&r);
    spit(bad, junk, sizeof junk);
    assert_refused(bad, NULL);
    /* Plausible length prefix, then text that is not a model. */
    const char fake[] = "\x10\0\0\0\0\0\0\0{\"a\":1}         ";
    spit(bad, fake, sizeof fake - 1);
    assert_refused(bad, NULL);
    const char empty_json[] = "\x08\0\0\0\0\0\0\0{}      ";
    spit(bad, empty_json, sizeof empty_json - 1);
    assert_refused(bad, NULL);
    spit(bad, "", 0);
    assert_refused(bad, "empty");

    char missing[160];
    snprintf(missing, sizeof missing, "%s/no-such.flm", f->dir);
    fl_model *m = (fl_model *)&m;
    fl_error err = {0};
    assert_int_equal(fl_model_load(missing, &m, &err), FL_ERR_IO);
    assert_null(m);
    assert_non_null(strstr(err.msg, missing));
    /* A directory is not a model file either. */
    assert_int_equal(fl_model_load(f->dir, &m, &err), FL_ERR_IO);
    assert_null(m);
}

/* ---------------------------------------------------------------- hand-edited files */

/* Re-serialises a saved file's header after edit(root) and recomputes the
 * checksum, so that only the edited meaning is wrong. */
static void rewrite(const unsigned char *orig, size_t n, const char *out,
                    void (*edit)(json_t *root, void *ctx), void *ctx) {
    uint64_t hl;
    memcpy(&hl, orig, 8);
    json_error_t je;
    json_t *root = json_loadb((const char *)orig + 8, hl, 0, &je);
    assert_non_null(root);
    json_t *meta = json_object_get(root, "__metadata__");
    json_object_set_new(meta, "checksum", json_string("0000000000000000000000000000000000000000"
                                                      "000000000000000000000000"));
    edit(root, ctx);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    size_t tl = strlen(text);
    uint64_t nl = (8 + tl + 63) / 64 * 64 - 8;
    size_t data = n - 8 - hl;
    size_t total = 8 + nl + data;
    unsigned char *b = malloc(total);
    memcpy(b, &nl, 8);
    memcpy(b + 8, text, tl);
    memset(b + 8 + tl, ' ', nl - tl);
    memcpy(b + 8 + nl, orig + 8 + hl, data);
    free(text);
    unsigned char *at = find_bytes(b + 8, nl, "\"checksum\":\"0000000000000000", 28);
    if (at) {
        at += strlen("\"checksum\":\"");
        char hex[65];
        assert_true(fl_sha256_hex(b, total, hex));
        memcpy(at, hex, 64);
    }
    spit(out, b, total);
    free(b);
}

typedef struct meta_edit {
    const char *key, *value; /* value NULL: delete */
} meta_edit;

static void edit_meta(json_t *root, void *ctx) {
    meta_edit *e = ctx;
    json_t *meta = json_object_get(root, "__metadata__");
    if (e->value) json_object_set_new(meta, e->key, json_string(e->value));
    else json_object_del(meta, e->key);
}

static void edit_nothing(json_t *root, void *ctx) {}

static void edit_dtype(json_t *root, void *ctx) {
    json_object_set_new(json_object_get(root, "item_count"), "dtype", json_string("I32"));
}

static void edit_meta_int(json_t *root, void *ctx) {
    json_object_set_new(json_object_get(root, "__metadata__"), "epochs_run", json_integer(3));
}

/* Swaps the offsets of two 24-byte tensors (item_bias F32[6], item_count
 * U32[6]): still a valid tiling, but the values are now wrong. */
static void edit_swap(json_t *root, void *ctx) {
    json_t *a = json_object_get(root, "item_bias"), *b = json_object_get(root, "item_count");
    json_t *tmp = json_deep_copy(json_object_get(a, "data_offsets"));
    json_object_set(a, "data_offsets", json_object_get(b, "data_offsets"));
    json_object_set_new(b, "data_offsets", tmp);
}

/* Slides a tensor back by one element: it overlaps its neighbour and leaves
 * a hole behind it. */
static void edit_overlap(json_t *root, void *ctx) {
    json_t *off = json_object_get(json_object_get(root, "seen_items"), "data_offsets");
    for (int k = 0; k < 2; k++)
        json_array_set_new(off, k, json_integer(json_integer_value(json_array_get(off, k)) - 4));
}

static void edit_extra_tensor(json_t *root, void *ctx) {
    json_object_set_new(root, "extra", json_pack("{s:s,s:[i],s:[i,i]}", "dtype", "U8", "shape", 0,
                                                 "data_offsets", 0, 0));
}

static void edit_drop_tensor(json_t *root, void *ctx) { json_object_del(root, "item_bias"); }

static void test_hand_edited(void **state) {
    fixture *f = *state;
    size_t n;
    unsigned char *orig = saved_biased(f, &n);
    char p[160];
    snprintf(p, sizeof p, "%s/edited.flm", f->dir);

    /* The rewrite itself is faithful: unedited, it loads. */
    rewrite(orig, n, p, edit_nothing, NULL);
    fl_model *m = NULL;
    fl_error err = {0};
    if (fl_model_load(p, &m, &err) != FL_OK) fail_msg("%s", err.msg);
    fl_model_free(m);

    struct {
        meta_edit e;
        const char *expect;
    } metas[] = {
        {{"format_version", "2"}, "version"},
        {{"format", "other"}, "not a factorlens model"},
        {{"kind", "dot"}, "unexpected tensor"},
        {{"kind", "nn"}, NULL},
        {{"kind", "fancy"}, "unknown model kind"},
        {{"n_factors", "4"}, "shape"},
        {{"n_factors", "0"}, NULL},
        {{"n_factors", " 5"}, NULL},
        {{"lr", "nan"}, NULL},
        {{"lr", "1e999"}, NULL},
        {{"epochs", "0"}, "invalid parameters"},
        {{"n_train", "11"}, NULL},
        {{"n_train", "-12"}, NULL},
        {{"dropout", "0,0"}, "dropout"},
        {{"layers", "3,,4"}, NULL},
        {{"seed", "-1"}, NULL},
        {{"global_mean", "inf"}, NULL},
        {{"checksum", NULL}, "checksum"},
        {{"kind", NULL}, "kind"},
        {{"epochs_run", NULL}, "epochs_run"},
    };
    for (size_t k = 0; k < sizeof metas / sizeof metas[0]; k++) {
        rewrite(orig, n, p, edit_meta, &metas[k].e);
        assert_refused(p, metas[k].expect);
    }
    rewrite(orig, n, p, edit_dtype, NULL);
    assert_refused(p, "dtype");
    rewrite(orig, n, p, edit_meta_int, NULL);
    assert_refused(p, "not a string");
    rewrite(orig, n, p, edit_swap, NULL);
    assert_refused(p, "inconsistent");
    rewrite(orig, n, p, edit_overlap, NULL);
    assert_refused(p, "holes and overlaps");
    rewrite(orig, n, p, edit_extra_tensor, NULL);
    assert_refused(p, "unexpected tensor");
    rewrite(orig, n, p, edit_drop_tensor, NULL);
    assert_refused(p, NULL);
    free(orig);
}

/* Data edits with a recomputed checksum: the values themselves are checked. */
static void test_bad_values(void **state) {
    fixture *f = *state;
    size_t n;
    unsigned char *orig = saved_biased(f, &n);
    uint64_t hl;
    memcpy(&hl, orig, 8);
    json_error_t je;
    json_t *root = json_loadb((const char *)orig + 8, hl, 0, &je);
    assert_non_null(root);
    char p[160];
    snprintf(p, sizeof p, "%s/values.flm", f->dir);
    const char *hex = json_string_value(json_object_get(json_object_get(root, "__metadata__"),
                                                        "checksum"));
    size_t ck = (size_t)((unsigned char *)find_bytes(orig, n, hex, 64) - orig);

#define AT(name, k)                                                                               \
    (8 + hl + (size_t)json_integer_value(json_array_get(                                          \
                  json_object_get(json_object_get(root, name), "data_offsets"), 0)) + (k))
    struct {
        size_t pos;
        const void *bytes;
        size_t len;
        const char *expect;
    } edits[] = {
        {AT("user_factors", 4), &(float){NAN}, 4, "not finite"},
        {AT("item_bias", 0), &(float){INFINITY}, 4, "not finite"},
        {AT("seen_items", 0), &(uint32_t){6}, 4, "not an item index"},
        {AT("seen_items", 0), &(uint32_t){5}, 4, "ascending"},
        {AT("seen_start", 8), &(uint64_t){99}, 8, "passes n_train"},
        {AT("seen_start", 0), &(uint64_t){1}, 8, "seen_start[0]"},
        {AT("item_count", 0), &(uint32_t){0}, 4, "item_count"},
        {AT("user_ids", 0), "2", 1, "twice"},
        {AT("user_ids", 1), "\0", 1, "NUL"},
        {AT("user_ids", 1), "x", 1, "exactly"},
        {AT("item_ids", 1), "\n", 1, "exactly"},
    };
#undef AT
    unsigned char *copy = malloc(n);
    for (size_t k = 0; k < sizeof edits / sizeof edits[0]; k++) {
        memcpy(copy, orig, n);
        memcpy(copy + edits[k].pos, edits[k].bytes, edits[k].len);
        memset(copy + ck, '0', 64);
        char got[65];
        assert_true(fl_sha256_hex(copy, n, got));
        memcpy(copy + ck, got, 64);
        spit(p, copy, n);
        assert_refused(p, edits[k].expect);
    }
    free(copy);
    json_decref(root);
    free(orig);
}

/* Random changes followed by a valid checksum reach every check past the
 * checksum: whatever the change, the load either succeeds or fails cleanly
 * (ASan/UBSan turn any out-of-bounds read into a failure). */
static void test_fuzz_past_checksum(void **state) {
    fixture *f = *state;
    size_t n;
    unsigned char *orig = saved_biased(f, &n);
    uint64_t hl;
    memcpy(&hl, orig, 8);
    unsigned char *at = find_bytes(orig, n, "\"checksum\":\"", 12);
    assert_non_null(at);
    size_t ck = (size_t)(at - orig) + 12;
    char p[160];
    snprintf(p, sizeof p, "%s/fuzz.flm", f->dir);
    unsigned char *copy = malloc(n);
    fl_rng r;
    fl_rng_seed(&r, 4242);
    int loaded = 0, refused = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(copy, orig, n);
        int changes = 1 + (int)fl_rng_below(&r, 3);
        for (int c = 0; c < changes; c++) {
            size_t pos;
            do pos = 8 + (size_t)fl_rng_below(&r, n - 8); /* keep the length prefix */
            while (pos >= ck && pos < ck + 64);
            /* Mostly JSON-ish characters so the header often still parses. */
            static const char pick[] = "0123456789,:[]{}\" -.e\n";
            copy[pos] = fl_rng_below(&r, 2) ? (unsigned char)pick[fl_rng_below(&r, sizeof pick - 1)]
                                            : (unsigned char)fl_rng_next(&r);
        }
        memset(copy + ck, '0', 64);
        char hex[65];
        assert_true(fl_sha256_hex(copy, n, hex));
        memcpy(copy + ck, hex, 64);
        spit(p, copy, n);
        fl_model *m = NULL;
        fl_error err = {0};
        fl_status st = fl_model_load(p, &m, &err);
        if (st == FL_OK) {
            /* Whatever loaded is usable. */
            for (uint32_t u = 0; u < m->n_users; u++)
                for (uint32_t i = 0; i < m->n_items; i++) (void)fl_predict_index(m, u, i);
            fl_model_free(m);
            loaded++;
        } else {
            assert_int_equal(st, FL_ERR_MODEL_FILE);
            assert_null(m);
            assert_non_null(strstr(err.msg, p));
            refused++;
        }
    }
    /* Both outcomes happen, so the fuzzing reached deep into the checks. */
    assert_true(loaded > 0);
    assert_true(refused > 0);
    free(copy);
    free(orig);
}

/* ---------------------------------------------------------------- saving */

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_failed_save(void **state) {
    fixture *f = *state;
    fl_dataset *d = make_dataset();
    fl_model *m = make_model(FL_MODEL_BIASED, 0, d);
    fl_error err = {0};
    char p[200];
    snprintf(p, sizeof p, "%s/no-such-dir/m.flm", f->dir);
    assert_int_equal(fl_model_save(m, p, &err), FL_ERR_IO);
    assert_non_null(strstr(err.msg, "no-such-dir"));
    assert_int_equal(count_entries(f->dir), 0);

    /* The rename fails (the destination is a non-empty directory) after the
     * temp file was written: the temp file must be gone, the target intact. */
    snprintf(p, sizeof p, "%s/taken", f->dir);
    assert_int_equal(mkdir(p, 0700), 0);
    char inner[260];
    snprintf(inner, sizeof inner, "%s/keep", p);
    spit(inner, "x", 1);
    assert_int_equal(fl_model_save(m, p, &err), FL_ERR_IO);
    assert_int_equal(count_entries(f->dir), 1);
    assert_int_equal(count_entries(p), 1);

    /* Overwriting an existing model replaces it whole. */
    assert_int_equal(fl_model_save(m, f->path, &err), FL_OK);
    m->epochs_run = 99;
    assert_int_equal(fl_model_save(m, f->path, &err), FL_OK);
    assert_int_equal(count_entries(f->dir), 2);
    fl_model *back = NULL;
    assert_int_equal(fl_model_load(f->path, &back, &err), FL_OK);
    assert_int_equal(back->epochs_run, 99);
    fl_model_free(back);

    /* A model whose parameters are not finite is refused, not written. */
    m->P[0] = NAN;
    char q[200];
    snprintf(q, sizeof q, "%s/nan.flm", f->dir);
    assert_int_equal(fl_model_save(m, q, &err), FL_ERR_USAGE);
    assert_int_equal(access(q, F_OK), -1);
    assert_int_equal(count_entries(f->dir), 2);

    fl_model_free(m);
    fl_dataset_free(d);
}

/* Saving tells its progress: growing byte counts ending at the total, twice
 * the file (hashed, then written). A save the callback cancels writes
 * nothing and leaves the file it would have replaced as it was. */
typedef struct told {
    uint64_t last, total;
    int calls, cancel_at;
} told;

static int tell_save(void *ctx, uint64_t done, uint64_t total) {
    told *t = ctx;
    assert_true(done >= t->last && done <= total);
    t->last = done, t->total = total;
    return ++t->calls == t->cancel_at;
}

static void test_save_progress(void **state) {
    fixture *f = *state;
    fl_dataset *d = make_dataset();
    fl_model *m = make_model(FL_MODEL_BIASED, 0, d);
    fl_error err = {0};
    told t = {0};
    assert_int_equal(fl_model_save_progress(m, f->path, tell_save, &t, &err), FL_OK);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_true(t.calls >= 2); /* the hash pass and the write pass */
    assert_true(t.last == t.total);
    assert_true(t.total == 2 * (uint64_t)sb.st_size);
    size_t n0 = 0, n1 = 0;
    unsigned char *before = slurp(f->path, &n0);
    m->epochs_run = 77;
    for (int at = 1; at <= 2; at++) { /* cancelled while hashing, then while writing */
        told c = {.cancel_at = at};
        assert_int_equal(fl_model_save_progress(m, f->path, tell_save, &c, &err), FL_ERR_CANCELLED);
        assert_int_equal(count_entries(f->dir), 1);
        unsigned char *after = slurp(f->path, &n1);
        assert_int_equal(n0, n1);
        assert_memory_equal(before, after, n0);
        free(after);
    }
    free(before);
    fl_model_free(m);
    fl_dataset_free(d);
}

/* ---------------------------------------------------------------- learning curves */

typedef struct epochs_seen {
    fl_epoch_report r[8];
    int n;
} epochs_seen;

static int keep_epoch(void *ctx, const fl_epoch_report *r) {
    epochs_seen *s = ctx;
    if (s->n < 8) s->r[s->n++] = *r;
    return 0;
}

static int same_double(double a, double b) {
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

/* The history holds what the epoch hook saw; the file keeps it bit for bit
 * (less the wall-clock times); files without it load with none; a file
 * with part of it or a wrong count is refused. */
static void test_history(void **state) {
    fixture *f = *state;
    fl_dataset *d = make_dataset();
    fl_params p;
    fl_params_init(&p, FL_MODEL_BIASED, FL_SOLVER_SGD);
    p.n_factors = 3, p.epochs = 4, p.n_threads = 1;
    epochs_seen seen = {.n = 0};
    fl_train_hooks hooks = {.epoch_end = keep_epoch, .ctx = &seen};
    fl_model *m = NULL;
    fl_train_result res;
    fl_error err = {0};
    assert_int_equal(fl_train(d, d, &p, &hooks, &m, &res, &err), FL_OK);
    size_t n = 99;
    const fl_epoch_report *h = fl_model_history(m, &n);
    assert_int_equal(n, 4);
    assert_int_equal(seen.n, 4);
    assert_memory_equal(h, seen.r, 4 * sizeof *h);
    assert_true(isnan(h[0].valid_rmse));
    assert_false(isnan(h[3].test_rmse));
    assert_true(h[3].train_mse < h[0].train_mse);

    assert_int_equal(fl_model_save(m, f->path, &err), FL_OK);
    fl_model *back = NULL;
    if (fl_model_load(f->path, &back, &err) != FL_OK) fail_msg("load: %s", err.msg);
    size_t nb = 0;
    const fl_epoch_report *hb = fl_model_history(back, &nb);
    assert_int_equal(nb, 4);
    for (int e = 0; e < 4; e++) {
        assert_int_equal(hb[e].epoch, e + 1);
        assert_int_equal(hb[e].epochs, 4);
        assert_true(same_double(hb[e].train_mse, h[e].train_mse));
        assert_true(same_double(hb[e].reg_penalty, h[e].reg_penalty));
        assert_true(same_double(hb[e].valid_rmse, h[e].valid_rmse));
        assert_true(same_double(hb[e].test_rmse, h[e].test_rmse));
        assert_true(same_double(hb[e].test_mae, h[e].test_mae));
        assert_true(same_double(hb[e].test_mse, h[e].test_mse));
        assert_true(same_double(hb[e].lr, h[e].lr));
        assert_true(hb[e].seconds == -1.0 && hb[e].solve_seconds == -1.0);
    }
    fl_model_free(back);
    fl_model_free(m);

    size_t len;
    unsigned char *orig = slurp(f->path, &len);
    assert_non_null(find_bytes(orig, len, "\"history_valid_rmse\":\"nan,nan,nan,nan\"", 38));
    char p2[160];
    snprintf(p2, sizeof p2, "%s/edited.flm", f->dir);
    static const char *const keys[] = {"history_train_mse", "history_reg_penalty",
                                       "history_valid_rmse", "history_test_rmse",
                                       "history_test_mae", "history_test_mse", "history_lr"};
    /* A file from before the history: none of the keys. */
    for (size_t k = 0; k < 7; k++) {
        meta_edit e = {keys[k], NULL};
        rewrite(orig, len, p2, edit_meta, &e);
        free(orig);
        orig = slurp(p2, &len);
        if (k == 0) assert_refused(p2, "history");
    }
    if (fl_model_load(p2, &back, &err) != FL_OK) fail_msg("load without history: %s", err.msg);
    assert_null(fl_model_history(back, &nb));
    assert_int_equal(nb, 0);
    fl_model_free(back);
    free(orig);

    orig = slurp(f->path, &len);
    meta_edit bad[] = {{"history_test_rmse", "1,2,3"},     {"history_lr", "1,2,3,4,5"},
                       {"history_train_mse", "1,2,,4"},   {"history_reg_penalty", "1,2,3,x"},
                       {"history_test_mae", "1,2,3,4,"}, {"history_test_mse", "inf,1,2,3"}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        rewrite(orig, len, p2, edit_meta, &bad[k]);
        assert_refused(p2, bad[k].key);
    }
    free(orig);
    fl_dataset_free(d);
}

/* A model that never trained (no history) writes no history keys. */
static void test_no_history_no_keys(void **state) {
    fixture *f = *state;
    fl_dataset *d = make_dataset();
    fl_model *m = make_model(FL_MODEL_BIASED, 0, d);
    fl_error err = {0};
    assert_int_equal(fl_model_save(m, f->path, &err), FL_OK);
    size_t len;
    unsigned char *b = slurp(f->path, &len);
    assert_null(find_bytes(b, len, "history_", 8));
    free(b);
    fl_model_free(m);
    fl_dataset_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_fields_known),
        cmocka_unit_test_setup_teardown(test_round_trip_dot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_count_zero_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_biased, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_biased_yrange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_nn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_ials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_bpr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_means_and_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_flips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_empty_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hand_edited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_past_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_save, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_progress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_history_no_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
