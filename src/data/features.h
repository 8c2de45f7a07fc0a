/* features.h — side features as data: per raw id, a sparse row of (feature,
 * value); every feature in a named group. The fm trainer joins rows to the
 * dataset's ids; nothing here knows MovieLens columns beyond the readers
 * that turn its files into named features. */
#ifndef FL_DATA_FEATURES_H
#define FL_DATA_FEATURES_H

#include "factorlens.h"

#define FL_MAX_FEATURE_GROUPS 64

struct fl_features {
    fl_idmap *ids;          /* raw id -> row */
    uint64_t *start;        /* [n_rows + 1] into feat/val */
    uint32_t *feat;         /* dense feature index */
    float *val;
    fl_idmap *names;        /* "gender=F" -> feature index */
    uint8_t *group_of;      /* [n_features] */
    int n_groups;
    char *group_names[FL_MAX_FEATURE_GROUPS];
    uint32_t group_size[FL_MAX_FEATURE_GROUPS];
    char source[256];
};

/* The name the u.user reader gives a raw "age=25" (its bucket, "age=25-34")
 * or "zip=94043" (its first digit, "zip=9"), written to out; other names
 * are copied as they are. */
void fl_feature_canonical(const char *name, char *out, size_t cap);

#endif
