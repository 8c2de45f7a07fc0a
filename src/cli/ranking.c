/* ranking.c — top-n lists for people and for programs. Ids are the raw ids of
 * the ratings file, looked up through the model's id map. */
#include "cli/ranking.h"

#include "cli/json_out.h"
#include "cli/messages.h"

const char *cli_item_title(const fl_model *m, const fl_items *items, uint32_t i) {
    if (!items) return NULL;
    return fl_items_title(items, fl_idmap_name(fl_model_item_ids(m), i));
}

/* MovieLens ids are small integers in every release, so a titles file of
 * other data (movies.csv for an ml-100k model) still matches many ids, 75%
 * of ml-100k's, and labels them with other films. A file of the model's own
 * data names all its items (u.item every ml-100k item, movies.csv every
 * ml-latest-small one): a shortfall beyond 10% is the sign. */
void cli_check_titles(const fl_model *m, const char *model_path, const fl_items *items,
                      const char *items_path, const fl_scored *s, size_t n) {
    if (!items) return;
    const fl_idmap *ids = fl_model_item_ids(m);
    uint32_t n_items = fl_idmap_size(ids), titled = 0;
    for (uint32_t i = 0; i < n_items; i++)
        titled += fl_items_title(items, fl_idmap_name(ids, i)) != NULL;
    size_t listed = 0;
    for (size_t k = 0; k < n; k++) listed += cli_item_title(m, items, s[k].index) != NULL;
    if ((uint64_t)titled * 10 >= (uint64_t)n_items * 9 && listed * 2 >= n) return;
    cli_warn("only %u of the %u items in %s (and %zu of the %zu listed) have a title in %s; it "
             "may describe other data than the model was trained on, so titles shown may be "
             "wrong",
             titled, n_items, model_path, listed, n, items_path);
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
        if (score_key) json_object_set_new(o, score_key, cli_json_float(s[k].score));
        if (raw_key) json_object_set_new(o, raw_key, cli_json_float(s[k].raw));
        json_object_set_new(o, "title", title ? json_string(title) : json_null());
        json_array_append_new(arr, o);
    }
    return arr;
}
