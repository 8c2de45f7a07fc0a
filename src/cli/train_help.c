/* train_help.c — `factorlens train --help`. Every default it names is read
 * from fl_params_init for each solver and for nn, so the help cannot drift
 * from the library (tests/e2e_docs.sh holds README and docs/defaults.md to
 * it in turn). */
#include "cli/train_help.h"

#include "cli/messages.h"
#include "cli/read_options.h"
#include "cli/train_scale.h"

#include <stdarg.h>
#include <string.h>

/* Joins a value to its solver's name in per_solver's lists: a line never
 * breaks between "5" and "nn". */
#define NBSP '\a'

/* The defaults a user can end up with: the biased model with each solver
 * (dot shares them) and the nn, which has its own. */
typedef struct defaults {
    fl_params sgd, adam, als, nn;
} defaults;

static void load_defaults(defaults *d) {
    fl_params_init(&d->sgd, FL_MODEL_BIASED, FL_SOLVER_SGD);
    fl_params_init(&d->adam, FL_MODEL_BIASED, FL_SOLVER_ADAM);
    fl_params_init(&d->als, FL_MODEL_BIASED, FL_SOLVER_ALS);
    fl_params_init(&d->nn, FL_MODEL_NN, FL_SOLVER_DEFAULT);
}

/* Appends to buf (always terminated). */
static void add(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *buf, size_t len, const char *fmt, ...) {
    size_t used = strlen(buf);
    if (used + 1 >= len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* "20 sgd, 10 adam, 10 als, 5 nn", or the one value when all four agree.
 * A value of `none` (e.g. als has no learning rate) is left out of the list
 * and named after it: "...; als uses none". */
static void per_solver(char *buf, size_t len, const double v[4], int has_none, double none) {
    static const char *const names[4] = {"sgd", "adam", "als", "nn"};
    buf[0] = '\0';
    if (v[0] == v[1] && v[1] == v[2] && v[2] == v[3]) {
        add(buf, len, "%g", v[0]);
        return;
    }
    int n = 0;
    for (int k = 0; k < 4; k++)
        if (!(has_none && v[k] == none))
            add(buf, len, "%s%g%c%s", n++ ? ", " : "", v[k], NBSP, names[k]);
    for (int k = 0; k < 4; k++)
        if (has_none && v[k] == none) add(buf, len, "; %s%cuses%cnone", names[k], NBSP, NBSP);
}

/* One option: name in a 21-column field, then the text wrapped to 90
 * columns under itself (a long name gets the text on the next line). */
static void row(FILE *f, const char *option, const char *text) {
    enum { INDENT = 23, WIDTH = 90 };
    int col = fprintf(f, "  %s", option);
    if (col + 1 > INDENT) {
        fputc('\n', f);
        col = 0;
    }
    fprintf(f, "%*s", INDENT - col, "");
    col = INDENT;
    const char *p = text;
    while (*p) {
        size_t word = strcspn(p, " ");
        if (col > INDENT && col + 1 + (int)word > WIDTH) {
            fprintf(f, "\n%*s", INDENT, "");
            col = INDENT;
        } else if (col > INDENT) {
            fputc(' ', f);
            col++;
        }
        for (size_t k = 0; k < word; k++) fputc(p[k] == NBSP ? ' ' : p[k], f);
        col += (int)word;
        p += word;
        while (*p == ' ') p++;
    }
    fputc('\n', f);
}

static void rowf(FILE *f, const char *option, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void rowf(FILE *f, const char *option, const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    row(f, option, text);
}

static void y_range_text(char *buf, size_t len, const fl_params *p) {
    if (p->y_auto)
        snprintf(buf, len, "the training ratings' range widened by 10%% of its span at each end");
    else if (p->y_lo < p->y_hi)
        snprintf(buf, len, "%g,%g", (double)p->y_lo, (double)p->y_hi);
    else
        snprintf(buf, len, "none");
}

static void model_options(FILE *f, const defaults *d) {
    const fl_params *s = &d->sgd, *a = &d->adam, *l = &d->als, *nn = &d->nn;
    char buf[256], nn_buf[128];
    rowf(f, "--model dot|biased|nn|ials|bpr|fm|svdpp",
         "(default %s; ials and bpr learn from which items were rated, fm and svdpp sample "
         "over feature groups: see below)",
         fl_model_kind_name(s->kind));
    rowf(f, "--solver sgd|adam|als|mcmc",
         "(default %s; %s for nn; %s for fm and svdpp). Picking a solver also picks its "
         "defaults for --lr, --reg, --reg-bias and --epochs",
         fl_solver_name(s->solver), fl_solver_name(nn->solver), fl_solver_name(FL_SOLVER_MCMC));
    double v[4];
#define PER_SOLVER(field) (v[0] = s->field, v[1] = a->field, v[2] = l->field, v[3] = nn->field)
    PER_SOLVER(n_factors);
    per_solver(buf, sizeof buf, v, 0, 0);
    rowf(f, "--factors K", "latent factors (default %s)", buf);
    PER_SOLVER(epochs);
    per_solver(buf, sizeof buf, v, 0, 0);
    rowf(f, "--epochs N", "passes over the data (default %s)", buf);
    PER_SOLVER(lr);
    per_solver(buf, sizeof buf, v, 1, 0.0);
    rowf(f, "--lr X", "learning rate (default %s)", buf);
    PER_SOLVER(reg_factors);
    per_solver(buf, sizeof buf, v, 0, 0);
    rowf(f, "--reg X", "L2 on factors/weights (default %s)", buf);
    PER_SOLVER(reg_bias);
    per_solver(buf, sizeof buf, v, 0, 0);
    rowf(f, "--reg-bias X", "L2 on biases (default %s)", buf);
    y_range_text(buf, sizeof buf, s);
    y_range_text(nn_buf, sizeof nn_buf, nn);
    rowf(f, "--y-range LO,HI",
         "squash predictions into (LO, HI) with a sigmoid, or none (default %s; nn: %s)", buf,
         nn_buf);
    PER_SOLVER(init_std);
    per_solver(buf, sizeof buf, v, 0, 0);
    rowf(f, "--init-std X", "factors start ~ N(0, X^2) (default %s)", buf);
    rowf(f, "--batch-size N", "mini-batch size for adam and nn (default %d)", a->batch_size);
    buf[0] = '\0', nn_buf[0] = '\0';
    for (int k = 0; k < nn->n_layers; k++) {
        add(buf, sizeof buf, "%s%d", k ? "," : "", nn->layers[k]);
        add(nn_buf, sizeof nn_buf, "%s%g", k ? "," : "", (double)nn->dropout[k + 1]);
    }
    rowf(f, "--layers W1,W2,...", "nn hidden layer widths (default %s)", buf);
    rowf(f, "--dropout D1,D2,...", "nn dropout after each hidden layer (default %s)", nn_buf);
    rowf(f, "--emb-dropout X", "nn dropout on the embeddings (default %g)", (double)nn->dropout[0]);
    rowf(f, "--valid F",
         "hold out a fraction F of the training ratings for early stopping (default %g: none)",
         s->valid_fraction);
    rowf(f, "--patience N", "epochs without validation improvement before stopping (default %d)",
         s->patience);
    rowf(f, "--threads N", "worker threads for reading and training, 0 = all cores (default %d)",
         s->n_threads);
    rowf(f, "--seed S", "seed for initialisation, shuffling and splits (default %llu)",
         (unsigned long long)s->seed);
#undef PER_SOLVER
}

/* The implicit kinds' own options and the defaults they start from. */
static void implicit_options(FILE *f) {
    fl_params i, b;
    fl_params_init(&i, FL_MODEL_IALS, FL_SOLVER_DEFAULT);
    fl_params_init(&b, FL_MODEL_BPR, FL_SOLVER_DEFAULT);
    fputs("Implicit feedback (--model ials or bpr; both rank, neither rates):\n", f);
    rowf(f, "--alpha X", "ials: confidence 1 + X * rating of a rated item (default %g)",
         (double)i.alpha);
    rowf(f, "--positive-min R",
         "ials, bpr: train on the ratings >= R only (default: every rating)");
    rowf(f, "--ranking",
         "report ranking metrics at 10 on the test set (always for ials and bpr; their "
         "test RMSE is not reported)");
    fprintf(f,
            "  Defaults: ials %d factors, %d epochs, reg %g, alpha %g (solver als, rows by\n"
            "  conjugate gradient); bpr %d factors, %d epochs, lr %g, reg %g, init-std %g\n"
            "  (solver sgd). The options of Model change them.\n",
            i.n_factors, i.epochs, (double)i.reg_factors, (double)i.alpha, b.n_factors, b.epochs,
            (double)b.lr, (double)b.reg_factors, (double)b.init_std);
}

/* fm and svdpp: feature groups, Gibbs sampling and its defaults. */
static void fm_options(FILE *f) {
    fl_params m, v, g;
    fl_params_init(&m, FL_MODEL_FM, FL_SOLVER_DEFAULT);
    fl_params_init(&v, FL_MODEL_FM, FL_SOLVER_ALS);
    fl_params_init(&g, FL_MODEL_FM, FL_SOLVER_SGD);
    fputs("Factorization machines (--model fm, or svdpp: biased MF + the user's rated items):\n", f);
    row(f, "--user-features FILE",
        "fm: user side features: ml-100k u.user (age bucket, gender, occupation, zip's first "
        "digit), ml-1m users.dat, or lines of id,feature[,value] (the group is the feature's "
        "name up to '=')");
    row(f, "--item-features FILE",
        "fm: item side features: u.item or movies.csv/movies.dat (genres, release decade), or "
        "id,feature[,value] lines. Users and items without a row are allowed");
    row(f, "--implicit",
        "fm: add each user's rated items and each item's raters as feature groups (weights "
        "1/sqrt(count)); the raters ('flipped') gained 0.012 RMSE on ml-100k u1 (svdpp has the "
        "rated items only)");
    row(f, "--time-bins N",
        "fm, svdpp: timeSVD++'s item bias per time bin: the training period cut into N equal "
        "bins, a bias per item and bin (needs timestamps; exit 2 without). A rating is scored "
        "in its timestamp's bin (the nearest one outside the period); predict and recommend, "
        "which have no timestamp, use the item's latest bin with training ratings (default 0: "
        "off)");
    rowf(f, "--samples N", "mcmc: Gibbs samples drawn, the same as --epochs (default %d)", m.epochs);
    rowf(f, "--burn-in N", "mcmc: first samples left out of the average (default %d)", m.burn_in);
    rowf(f, "--ensemble-rank R",
         "mcmc: the model averages every sample after burn-in; their interactions are kept "
         "as a matrix of rank R, the saved model's row width (default %d; the file holds "
         "(users + items) x R floats)",
         m.ensemble_rank);
    fprintf(f,
            "  Defaults: fm and svdpp %d factors, solver %s, init-std %g; no learning rate or\n"
            "  regularisation to tune (--reg %g and --reg-bias %g serve fold-in only). Each\n"
            "  sample prints the test RMSE of the average so far; the last is the saved\n"
            "  model's.\n"
            "  With --solver als: libFM's coordinate descent on the same model, the\n"
            "  conditional means with fixed priors (plain L2: --reg %g, --reg-bias %g,\n"
            "  %d epochs).\n"
            "  With --solver sgd: plain SGD on the same model, one thread (the implicit\n"
            "  groups' shared vectors would make parallel steps depend on scheduling), a\n"
            "  step of --lr %g decaying 7%% an epoch, --reg %g and --reg-bias %g per\n"
            "  rating, %d epochs; fold-in then uses the mcmc strengths above.\n",
            m.n_factors, fl_solver_name(m.solver), (double)m.init_std, (double)m.reg_factors,
            (double)m.reg_bias, (double)v.reg_factors,
            (double)v.reg_bias, v.epochs, (double)g.lr, (double)g.reg_factors, (double)g.reg_bias,
            g.epochs);
}

void cli_train_help(FILE *f) {
    defaults d;
    load_defaults(&d);
    fputs("Usage: factorlens train --ratings FILE [options]\n"
          "\n"
          "Trains a model on explicit ratings and reports its error on a test set.\n"
          "\n"
          "Data:\n",
          f);
    row(f, "--ratings FILE", "training ratings (required); - reads standard input, plain or gzip");
    row(f, "--config FILE",
        "options from FILE, one 'name value' a line as tune writes them; an option on the "
        "command line wins");
    row(f, "--test FILE",
        "test ratings, read like --ratings (default: none); only one of the two "
        "may be -");
    row(f, "--holdout F", "instead, test on a random fraction F of --ratings (uses --seed)");
    row(f, "--holdout-per-user F",
        "instead, test on a random fraction F of each user's ratings (uses --seed)");
    row(f, "--temporal F", "instead, test on each user's latest fraction F (needs timestamps)");
    row(f, "--folds K",
        "instead, K-fold cross-validation: K models, each fold's test metrics and their mean "
        "(cannot be combined with --out)");
    fputs("Model:\n", f);
    model_options(f, &d);
    implicit_options(f);
    fm_options(f);
    cli_train_scale_help(f);
    fputs("Output:\n", f);
    row(f, "--out FILE", "save the trained model (default: not saved)");
    row(f, "--json",
        "one JSON object per epoch, and a summary object as the last line (default: aligned "
        "table)");
    row(f, "--quiet", "no epoch lines and no progress bar");
    row(f, "-h, --help", "this help");
    cli_read_options_help(f);
    fputs("\nWhile training, each epoch prints train_mse (the data loss), reg (the penalty\n"
          "added by regularisation), test and validation RMSE, learning rate and seconds.\n"
          "On a terminal a progress bar runs on stderr while each file is read, while\n"
          "training prepares, during every epoch, while it finishes and while the model\n"
          "is saved. Ctrl-C stops cleanly, saving nothing.\n",
          f);
    cli_print_exit_codes(f);
}
