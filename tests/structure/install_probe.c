/* install_probe.c — a user's first program, built by tests/abi/install.sh
 * against the installed header and library alone (pkg-config). */
#include <factorlens.h>

#include <stdio.h>

int main(void) {
    fl_error err;
    fl_synth_opts so;
    fl_synth_opts_default(&so);
    so.n_users = 200, so.n_items = 100, so.n_ratings = 4000;
    fl_dataset *d = NULL;
    if (fl_synth_generate(&so, &d, &err) != FL_OK) goto fail;
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.epochs = 3, p.n_threads = 1;
    fl_model *m = NULL;
    fl_train_result res;
    if (fl_train(d, NULL, &p, NULL, &m, &res, &err) != FL_OK) goto fail;
    float r;
    if (fl_predict(m, "u1", "i1", FL_UNKNOWN_MEAN, &r, &err) != FL_OK) goto fail;
    printf("ok: %s, %d epochs, predict(u1, i1) = %.3f\n", FL_VERSION, res.epochs_run, r);
    fl_model_free(m);
    fl_dataset_free(d);
    return 0;
fail:
    fprintf(stderr, "install_probe: %s\n", err.msg);
    return 1;
}
