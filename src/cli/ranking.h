/* ranking.h — printing a top-n list (recommendations, similar items) as an
 * aligned table or as a JSON array, with titles when item data is given. */
#ifndef FL_CLI_RANKING_H
#define FL_CLI_RANKING_H

#include "factorlens.h"

#include <jansson.h>
#include <stdio.h>

/* One line per entry: rank, raw item id, score, title (items may be NULL). */
void cli_ranking_print(FILE *f, const fl_model *m, const fl_items *items, const fl_scored *s,
                       size_t n);
/* [{"rank":1,"item":"…","<score_key>":…,"<raw_key>":…,"title":…}, …]: the
 * score, and the raw score that orders the list; a NULL key leaves its
 * field out. */
json_t *cli_ranking_json(const fl_model *m, const fl_items *items, const fl_scored *s, size_t n,
                         const char *score_key, const char *raw_key);
/* Warns when the titles file seems to describe other data than the model:
 * fewer than 90% of the model's items, or fewer than half of the n listed,
 * have a title in it. Names both files. items may be NULL (nothing to do). */
void cli_check_titles(const fl_model *m, const char *model_path, const fl_items *items,
                      const char *items_path, const fl_scored *s, size_t n);
/* The title of the item at model index i, or NULL. */
const char *cli_item_title(const fl_model *m, const fl_items *items, uint32_t i);

#endif
