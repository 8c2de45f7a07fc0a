/* epoch_log.c — training hooks for the CLI and the SIGINT flag.
 * The flag is the CLI's one piece of global state: a signal handler can
 * reach nothing else, and all it may do is set a volatile sig_atomic_t. */
#include "cli/epoch_log.h"

#include "cli/json_out.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

void cli_interrupt_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* the second Ctrl-C is not caught: an escape hatch */
    sigaction(SIGINT, &sa, NULL);
}

int cli_interrupted(void) { return interrupted != 0; }

void cli_epoch_log_init(cli_epoch_log *l, int json, int quiet, int has_test, int has_valid) {
    memset(l, 0, sizeof *l);
    l->json = json;
    l->quiet = quiet;
    l->has_test = has_test;
    l->has_valid = has_valid;
    cli_progress_init(&l->bar, !quiet && cli_stderr_is_tty());
}

static int on_progress(void *ctx, int epoch, int epochs, size_t done, size_t total) {
    cli_epoch_log *l = ctx;
    if (l->bar.enabled) {
        if (done == 0 || l->bar.start == 0) {
            char label[64];
            if (l->folds)
                snprintf(label, sizeof label, "fold %d/%d epoch %d/%d", l->fold, l->folds, epoch,
                         epochs);
            else
                snprintf(label, sizeof label, "epoch %d/%d", epoch, epochs);
            cli_progress_start(&l->bar, label, "ratings");
        }
        cli_progress_update(&l->bar, (double)done, (double)total);
    }
    return cli_interrupted();
}

/* The work before the first epoch and after the last, a bar of its own. */
static int on_phase(void *ctx, const char *phase, size_t done, size_t total) {
    cli_epoch_log *l = ctx;
    if (l->bar.enabled) {
        char label[64];
        if (l->folds)
            snprintf(label, sizeof label, "fold %d/%d %s", l->fold, l->folds, phase);
        else
            snprintf(label, sizeof label, "%s", phase);
        if (l->bar.start == 0 || strcmp(l->bar.label, label) != 0) {
            cli_progress_start(&l->bar, label, NULL);
            cli_progress_show(&l->bar, label);
        }
        cli_progress_update(&l->bar, (double)done, (double)total);
        if (done >= total) {
            cli_progress_clear(&l->bar);
            l->bar.start = 0; /* the next phase or epoch starts a new bar */
        }
    }
    return cli_interrupted();
}

static void print_header(cli_epoch_log *l) {
    if (!l->legend_done)
        printf("train_mse is the data loss; reg is the penalty added by regularisation (the sum is "
               "what the optimiser minimises, not an MSE)\n");
    l->legend_done = 1;
    if (l->folds) printf("fold %d/%d\n", l->fold, l->folds);
    printf("%9s %10s %10s", "epoch", "train_mse", "reg");
    if (l->has_test) printf(" %10s %10s", "test_rmse", "test_mae");
    if (l->has_valid) printf(" %10s", "valid_rmse");
    printf(" %10s %8s\n", "lr", "seconds");
    l->table_started = 1;
}

static int on_epoch_end(void *ctx, const fl_epoch_report *r) {
    cli_epoch_log *l = ctx;
    cli_progress_clear(&l->bar);
    l->bar.start = 0; /* the next progress call starts a new bar */
    if (l->quiet) return cli_interrupted();
    if (l->json) {
        json_t *o = json_object();
        if (l->folds) json_object_set_new(o, "fold", json_integer(l->fold));
        json_object_set_new(o, "epoch", json_integer(r->epoch));
        json_object_set_new(o, "epochs", json_integer(r->epochs));
        json_object_set_new(o, "train_mse", cli_json_real(r->train_mse));
        json_object_set_new(o, "reg_penalty", cli_json_real(r->reg_penalty));
        json_object_set_new(o, "test_rmse", cli_json_real(r->test_rmse));
        json_object_set_new(o, "test_mae", cli_json_real(r->test_mae));
        json_object_set_new(o, "test_mse", cli_json_real(r->test_mse));
        json_object_set_new(o, "valid_rmse", cli_json_real(r->valid_rmse));
        json_object_set_new(o, "lr", cli_json_real(r->lr));
        json_object_set_new(o, "seconds", cli_json_real(r->seconds));
        cli_json_print(o);
    } else {
        if (!l->table_started) print_header(l);
        char ep[32];
        snprintf(ep, sizeof ep, "%d/%d", r->epoch, r->epochs);
        printf("%9s %10.6f %10.6f", ep, r->train_mse, r->reg_penalty);
        if (l->has_test) printf(" %10.6f %10.6f", r->test_rmse, r->test_mae);
        if (l->has_valid) printf(" %10.6f", r->valid_rmse);
        printf(" %10.4g %8.2f\n", r->lr, r->seconds);
        fflush(stdout);
    }
    return cli_interrupted();
}

fl_train_hooks cli_epoch_log_hooks(cli_epoch_log *l) {
    fl_train_hooks h = {on_progress, on_epoch_end, l, on_phase};
    return h;
}
