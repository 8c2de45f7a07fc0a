/* cmd_predict.c — `factorlens predict MODEL --user ID --item ID`: one
 * predicted rating from raw ids, as they appear in the ratings file. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/loaders.h"
#include "cli/messages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_help(void) {
    printf("Usage: factorlens predict MODEL --user ID --item ID [options]\n"
           "\n"
           "Prints the model's predicted rating of an item by a user (raw ids).\n"
           "\n"
           "  --user ID            user id as in the ratings file (required)\n"
           "  --item ID            item id as in the ratings file (required)\n"
           "  --user-feature NAME=VALUE\n"
           "                       fm models trained with --user-features: predict for a new\n"
           "                       user described by these features alone (repeat it: e.g.\n"
           "                       --user-feature gender=F --user-feature age=25); --user then\n"
           "                       only names the user. Names as the features file gave\n"
           "                       them; u.user's age and zip are bucketed as in training\n"
           "  --unknown error|mean an id the model never saw: fail naming it (exit 3), or\n"
           "                       predict from the global mean and the known side's bias\n"
           "                       (default error)\n"
           "  --json               print {\"user\",\"item\",\"rating\"} (default: the number)\n"
           "  -h, --help           this help\n");
    cli_print_exit_codes(stdout);
}

/* A new user from --user-feature values alone (fl_user_from_features). */
static int predict_from_features(const fl_model *m, const char *const *features, int n,
                                 const char *item, float *r) {
    fl_error err = {0};
    uint32_t i;
    if (!fl_idmap_find(fl_model_item_ids(m), item, strlen(item), &i))
        return cli_error(3, "item '%s' is not in the model (it had no training ratings)", item);
    size_t k = fl_model_fold_in_floats(m), used;
    float *factors = malloc(k * sizeof *factors), bias;
    if (!factors) return cli_error(1, "out of memory");
    int rc = 0;
    if (fl_user_from_features(m, features, NULL, (size_t)n, FL_UNKNOWN_ERROR, factors, &bias, &used,
                              &err) != FL_OK)
        rc = cli_fail(&err);
    else
        *r = fl_predict_folded(m, factors, bias, i);
    free(factors);
    return rc;
}

int cmd_predict(int argc, char **argv) {
    static const char *const unknown_choices[] = {"error", "mean", NULL};
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    const char *model_path = NULL, *user = NULL, *item = NULL;
    enum { MAX_FEATURES = 64 };
    const char *features[MAX_FEATURES];
    int json = 0, unknown = 0, n_features = 0;
    cli_args a;
    cli_args_init(&a, "predict", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            if (model_path) cli_unknown(&a);
            model_path = a.arg;
            continue;
        }
        (void)(cli_str(&a, "--user", &user) || cli_str(&a, "--item", &item) ||
               cli_str_repeat(&a, "--user-feature", features, MAX_FEATURES, &n_features) ||
               cli_choice(&a, "--unknown", unknown_choices, &unknown) ||
               cli_flag(&a, "--json", &json));
    }
    if (a.failed) return cli_usage_fail(&a);
    if (!model_path)
        return cli_error(2, "predict needs a MODEL file (see factorlens predict --help)");
    if (!user || !item)
        return cli_error(2,
                         "predict needs --user ID and --item ID (see factorlens predict --help)");

    fl_model *m = NULL;
    int rc = cli_load_model(model_path, &m);
    float r = 0;
    fl_error err = {0};
    if (rc == 0 && n_features)
        rc = predict_from_features(m, features, n_features, item, &r);
    else if (rc == 0 &&
        fl_predict(m, user, item, unknown ? FL_UNKNOWN_MEAN : FL_UNKNOWN_ERROR, &r, &err) != FL_OK)
        rc = cli_fail(&err);
    fl_model_info info = {0};
    if (rc == 0) fl_model_get_info(m, &info);
    /* ials and bpr score preferences: say so rather than pass a score off as
     * a rating ("rating" is null, "score" holds it). */
    int implicit = rc == 0 && fl_model_kind_implicit(info.kind);
    if (rc == 0 && implicit) {
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "user", json_string(user));
            json_object_set_new(o, "item", json_string(item));
            json_object_set_new(o, "rating", json_null());
            json_object_set_new(o, "score", cli_json_float(r));
            json_object_set_new(o, "kind", json_string(fl_model_kind_name(info.kind)));
            if (cli_json_print(o) != 0) rc = cli_error(1, "could not write to standard output");
        } else {
            printf("%.4f (a preference score of this %s model, for ranking; not a rating)\n",
                   (double)r, fl_model_kind_name(info.kind));
        }
    } else if (rc == 0) {
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "user", json_string(user));
            json_object_set_new(o, "item", json_string(item));
            json_object_set_new(o, "rating", cli_json_float(r));
            if (cli_json_print(o) != 0) rc = cli_error(1, "could not write to standard output");
        } else {
            printf("%.2f\n", (double)r);
        }
    }
    fl_model_free(m);
    return rc;
}
