/* train_scale.c — train --distributed / --checkpoint / --resume (see
 * train_scale.h). Every process runs this; only process 0 prints and writes
 * the model, the others stay quiet and return the same exit code. */
#include "cli/train_scale.h"

#include "cli/epoch_log.h"
#include "cli/json_out.h"
#include "cli/messages.h"
#include "mpi/comm_mpi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cli_scale_option(cli_args *a, cli_scale_opts *s) {
    return cli_flag(a, "--distributed", &s->distributed) || cli_flag(a, "--resume", &s->resume) ||
           cli_str(a, "--checkpoint", &s->checkpoint) ||
           cli_int(a, "--checkpoint-every", 1, 1000000, &s->checkpoint_every) ||
           cli_flag(a, "--out-of-core", &s->out_of_core) || cli_str(a, "--memory", &s->memory) ||
           cli_str(a, "--work-dir", &s->work_dir);
}

int cli_scale_wanted(const cli_scale_opts *s) {
    return s->distributed || s->resume || s->checkpoint || s->checkpoint_every || s->out_of_core ||
           s->memory || s->work_dir;
}

void cli_train_scale_help(FILE *f) {
    fputs("Scale (--model dot or biased; --ratings a plain file or a directory written by\n"
          "factorlens shard, --test optional):\n"
          "  --distributed        train over the processes of mpirun (Open MPI): each reads\n"
          "                       its byte range of the file (or its shard files) and holds\n"
          "                       a block of users and of items with about 1/N of the\n"
          "                       ratings; --solver als exchanges the rows each process\n"
          "                       uses, --solver sgd runs DSGD (item blocks passed round a\n"
          "                       ring); e.g. mpirun -np 4 factorlens train --distributed\n"
          "                       --solver als --threads 1 --ratings FILE --out M\n"
          "  --checkpoint DIR     write each process's state to DIR every --checkpoint-every\n"
          "                       epochs (default 1), atomically, with a manifest\n"
          "  --checkpoint-every N epochs between checkpoints (default 1)\n"
          "  --resume             continue from DIR's last complete checkpoint (same options,\n"
          "                       data and process count; sgd: threads laying out the same\n"
          "                       blocks): the same model as a run never stopped\n"
          "  --out-of-core        ALS on ratings larger than memory: converted once to row\n"
          "                       files (8 bytes a rating, by user and by item) and\n"
          "                       streamed block by block; the same model as in memory\n"
          "  --memory BYTES       ratings held in memory at a time out of core (K, M, G\n"
          "                       suffixes; default 256M)\n"
          "  --work-dir DIR       where the row files go (default: the directory of --out,\n"
          "                       else the current one); removed when training ends\n",
          f);
}

static void summary_json(const cli_scale_run *r, const fl_train_result *res,
                         const fl_dist_stats *st, int ranks, int threads) {
    json_t *o = json_object();
    json_object_set_new(o, "epochs", json_integer(res->epochs_run));
    json_object_set_new(o, "best_epoch", json_integer(res->best_epoch));
    json_object_set_new(o, "train_mse", cli_json_real(res->last.train_mse));
    json_object_set_new(o, "reg_penalty", cli_json_real(res->last.reg_penalty));
    json_object_set_new(o, "test_rmse", cli_json_real(res->last.test_rmse));
    json_object_set_new(o, "test_mae", cli_json_real(res->last.test_mae));
    json_object_set_new(o, "test_mse", cli_json_real(res->last.test_mse));
    json_object_set_new(o, "n_train", json_integer((json_int_t)st->n_ratings));
    json_object_set_new(o, "n_test", json_integer((json_int_t)st->n_test));
    json_object_set_new(o, "n_unknown_test",
                        json_integer((json_int_t)(st->n_unknown_users + st->n_unknown_items)));
    json_object_set_new(o, "seconds", cli_json_real(res->seconds));
    json_object_set_new(o, "model", json_string(fl_model_kind_name(r->p->kind)));
    json_object_set_new(o, "solver", json_string(fl_solver_name(r->p->solver)));
    json_object_set_new(o, "factors", json_integer(r->p->n_factors));
    json_object_set_new(o, "threads", json_integer(threads));
    json_object_set_new(o, "seed", json_integer((json_int_t)r->p->seed));
    json_object_set_new(o, "ranks", json_integer(ranks));
    json_object_set_new(o, "n_users", json_integer(st->n_users));
    json_object_set_new(o, "n_items", json_integer(st->n_items));
    json_object_set_new(o, "max_rank_ratings", json_integer((json_int_t)st->max_rank_ratings));
    json_object_set_new(o, "imbalance", cli_json_real(st->imbalance));
    if (st->stratum_imbalance > 0)
        json_object_set_new(o, "stratum_imbalance", cli_json_real(st->stratum_imbalance));
    json_object_set_new(o, "bytes_setup", json_integer((json_int_t)st->setup_bytes));
    json_object_set_new(o, "bytes_per_epoch", json_integer((json_int_t)st->epoch_bytes));
    json_object_set_new(o, "bytes_per_epoch_predicted",
                        json_integer((json_int_t)st->predicted_epoch_bytes));
    json_object_set_new(o, "bytes_model", json_integer((json_int_t)st->model_bytes));
    if (r->out) json_object_set_new(o, "out", json_string(r->out));
    cli_json_print(o);
}

static void summary_human(const cli_scale_run *r, const fl_train_result *res,
                          const fl_dist_stats *st, int ranks) {
    printf("model    %s (%s), %d factors, %d epoch%s in %.2f s on %d process%s\n",
           fl_model_kind_name(r->p->kind), fl_solver_name(r->p->solver), r->p->n_factors,
           res->epochs_run, res->epochs_run == 1 ? "" : "s", res->seconds, ranks,
           ranks == 1 ? "" : "es");
    printf("train    %zu rating%s from %s: train_mse %.6f, reg %.6f\n", st->n_ratings,
           cli_s(st->n_ratings), r->ratings, res->last.train_mse, res->last.reg_penalty);
    if (st->n_test) {
        printf("test     %zu rating%s: RMSE %.6f  MAE %.6f  MSE %.6f\n", st->n_test,
               cli_s(st->n_test), res->last.test_rmse, res->last.test_mae, res->last.test_mse);
        size_t unk = st->n_unknown_users + st->n_unknown_items;
        if (unk)
            printf("         %zu test rating%s had a user or item unseen in training "
                   "(unknown users: %zu, unknown items: %zu): predicted from the biases\n",
                   unk, cli_s(unk), st->n_unknown_users, st->n_unknown_items);
    }
    if (ranks > 1 && st->stratum_imbalance > 0)
        printf("balance  at most %llu ratings on one process, %.3f x the mean; sub-epochs' "
               "largest blocks %.3f x\n",
               (unsigned long long)st->max_rank_ratings, st->imbalance, st->stratum_imbalance);
    else if (ranks > 1)
        printf("balance  at most %llu ratings on one process, %.3f x the mean\n",
               (unsigned long long)st->max_rank_ratings, st->imbalance);
    if (ranks > 1)
        printf("network  %.3f MB per epoch between processes (model predicts %.3f MB), %.3f MB "
               "to set up, %.3f MB to gather the model\n",
               st->epoch_bytes / 1e6, st->predicted_epoch_bytes / 1e6, st->setup_bytes / 1e6,
               st->model_bytes / 1e6);
}

/* "64M" -> bytes; 0 when malformed. */
static double parse_bytes(const char *s) {
    char *end;
    double v = strtod(s, &end);
    double unit = 1;
    if (*end == 'K' || *end == 'k') unit = 1 << 10, end++;
    else if (*end == 'M' || *end == 'm') unit = 1 << 20, end++;
    else if (*end == 'G' || *end == 'g') unit = (double)(1 << 30), end++;
    if (*end == 'B' || *end == 'b') end++;
    if (end == s || *end || !(v > 0) || !isfinite(v)) return 0;
    return v * unit;
}

/* --out-of-core: one process, the ratings streamed from row files. */
static int train_out_of_core(const cli_scale_opts *s, const cli_scale_run *r) {
    double memory = 0;
    if (s->memory && !(memory = parse_bytes(s->memory)))
        return cli_error(2, "--memory takes a size in bytes, e.g. 67108864 or 64M (got '%s')",
                         s->memory);
    char dir[4096] = ".";
    if (s->work_dir) {
        snprintf(dir, sizeof dir, "%s", s->work_dir);
    } else if (r->out && strrchr(r->out, '/')) {
        snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(r->out, '/') - r->out), r->out);
        if (!dir[0]) snprintf(dir, sizeof dir, "/");
    }
    cli_interrupt_install();
    cli_epoch_log log;
    cli_epoch_log_init(&log, r->json, r->quiet, r->test != NULL, 0);
    fl_train_hooks hooks = cli_epoch_log_hooks(&log);
    fl_ooc_opts o = {r->ratings, r->test, r->ro, dir, memory};
    fl_model *m = NULL;
    fl_train_result res;
    fl_error err = {0};
    fl_status st = fl_train_out_of_core(&o, r->p, &hooks, &m, &res, &err);
    cli_progress_clear(&log.bar);
    if (st != FL_OK)
        return cli_interrupted() ? cli_error(1, "interrupted; training stopped and no model was written")
                                 : cli_fail(&err);
    int rc = 0;
    if (r->out && fl_model_save(m, r->out, &err) != FL_OK) rc = cli_fail(&err);
    fl_model_info info;
    fl_model_get_info(m, &info);
    fl_dist_stats stats = {.n_users = info.n_users, .n_items = info.n_items,
                           .n_ratings = info.n_train, .max_rank_ratings = info.n_train,
                           .imbalance = 1.0};
    if (rc == 0 && r->test) {
        /* The summary's test line counts the unknown ids as train's does. */
        fl_dataset *test = NULL;
        fl_metrics mt;
        if (fl_dataset_read(r->test, r->ro, &test, &err) == FL_OK &&
            fl_evaluate(m, test, FL_UNKNOWN_MEAN, &mt, &err) == FL_OK)
            stats.n_test = mt.n, stats.n_unknown_users = mt.n_unknown_users,
            stats.n_unknown_items = mt.n_unknown_items;
        fl_dataset_free(test);
    }
    if (rc == 0 && r->json)
        summary_json(r, &res, &stats, 1, info.params.n_threads);
    else if (rc == 0) {
        summary_human(r, &res, &stats, 1);
        if (r->out) printf("saved    %s\n", r->out);
    }
    fl_model_free(m);
    return rc;
}

int cli_train_scaled(const cli_scale_opts *s, const cli_scale_run *r) {
    if (r->other_split)
        return cli_error(2, "--distributed, --checkpoint and --resume train on --ratings and test "
                            "on a --test file; --holdout, --holdout-per-user, --temporal and "
                            "--folds are not available with them (write the split with "
                            "factorlens split first)");
    if ((s->resume || s->checkpoint_every) && !s->checkpoint)
        return cli_error(2, "--resume and --checkpoint-every need --checkpoint DIR");
    if ((s->memory || s->work_dir) && !s->out_of_core)
        return cli_error(2, "--memory and --work-dir go with --out-of-core");
    if (s->out_of_core && (s->distributed || s->checkpoint))
        return cli_error(2, "--out-of-core trains in one process, without checkpoints: it "
                            "cannot be combined with --distributed or --checkpoint");
    if (strcmp(r->ratings, "-") == 0 || (r->test && strcmp(r->test, "-") == 0))
        return cli_error(2, "--distributed, --checkpoint and --resume read files, not standard "
                            "input ('-')");
    if (s->out_of_core) return train_out_of_core(s, r);
    fl_comm comm;
    fl_error err = {0};
    if (s->distributed) {
        if (dist_mpi_open(NULL, NULL, &comm, &err) != FL_OK) return cli_fail(&err);
    } else {
        fl_comm_self(&comm);
    }
    const int lead = comm.rank == 0;
    cli_interrupt_install();
    cli_epoch_log log;
    cli_epoch_log_init(&log, r->json, r->quiet || !lead, r->test != NULL, 0);
    fl_train_hooks hooks = cli_epoch_log_hooks(&log);
    fl_dist_stats stats;
    fl_dist_opts o = {.ratings = r->ratings,
                      .test = r->test,
                      .read = r->ro,
                      .checkpoint_dir = s->checkpoint,
                      .checkpoint_every = s->checkpoint_every,
                      .resume = s->resume,
                      .stats = &stats};
    fl_model *m = NULL;
    fl_train_result res;
    fl_status st = fl_train_distributed(&comm, &o, r->p, &hooks, &m, &res, &err);
    cli_progress_clear(&log.bar);
    int rc = 0;
    if (st != FL_OK) {
        if (cli_interrupted())
            rc = lead ? cli_error(1, "interrupted; training stopped and no model was written") : 1;
        else
            rc = lead ? cli_fail(&err) : fl_status_exit_code(st);
    } else if (lead) {
        fl_model_info info;
        fl_model_get_info(m, &info);
        if (r->out && fl_model_save(m, r->out, &err) != FL_OK) rc = cli_fail(&err);
        if (rc == 0 && r->json) {
            summary_json(r, &res, &stats, comm.size, info.params.n_threads);
        } else if (rc == 0) {
            summary_human(r, &res, &stats, comm.size);
            if (r->out) printf("saved    %s\n", r->out);
        }
    }
    fl_model_free(m);
    if (s->distributed) dist_mpi_close(&comm, rc != 0);
    return rc;
}
