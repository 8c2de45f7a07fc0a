/* ranking.c — top-n lists for people and for programs. Ids are the raw ids of
 * the ratings file, looked up through the model's id map. */
#include "cli/ranking.h"

#include "cli/json_out.h"

const char *cli_item_title(const fl_model *m, const fl_items *items, uint32_t i) {
    if (!items) return NULL;
    return fl_items_title(items, fl_idmap_name(fl_model_item_ids(m), i));
}

void cli_ranking_print(FILE *f, const fl_model *m, const fl_items *items, const fl_scored *s,
                       size_t n) {
    const fl_idmap *ids = fl_model_item_ids(m);
    for (size_t k = 0; k < n; k++) {
        const char *title = cli_item_title(m, items, s[k].index);
        fprintf(f, "%2zu. %-8s %6.3f%s%s\n", k + 1, fl_idmap_name(ids, s[k].index),
                (double)s[k].score, title ? "  " : "", title ? title : "");
    }
}

json_t *cli_ranking_json(const fl_model *m, const fl_items *items, const fl_scored *s, size_t n,
                         const char *score_key, const char *raw_key) {
    const fl_idmap *ids = fl_model_item_ids(m);
    json_t *arr = json_array();
    for (size_t k = 0; k < n; k++) {
        const char *title = cli_item_title(m, items, s[k].index);
        json_t *o = json_object();
        json_object_set_new(o, "rank", json_integer((json_int_t)(k + 1)));
        json_object_set_new(o, "item", json_string(fl_idmap_name(ids, s[k].index)));
        json_object_set_new(o, score_key, cli_json_float(s[k].score));
        if (raw_key) json_object_set_new(o, raw_key, cli_json_float(s[k].raw));
        json_object_set_new(o, "title", title ? json_string(title) : json_null());
        json_array_append_new(arr, o);
    }
    return arr;
}
