/* idmap.h — what the library does to an id map beyond the public calls. */
#ifndef FL_DATA_IDMAP_H
#define FL_DATA_IDMAP_H

#include "factorlens.h"

/* fl_idmap_intern for an id whose bytes id[0..len) are number's canonical
 * decimal spelling (no sign, no leading zero): the readers' fast path has
 * the value already, so a known small number is found without reparsing. */
fl_status fl_idmap_intern_number(fl_idmap *m, uint32_t number, const char *id, size_t len,
                                 uint32_t *index);

/* Renumbers the ids: index k afterwards is the id that had index at[k]
 * (at is a permutation of 0..size-1). The names are laid out again in the
 * new order (a name's length is the distance to the next one). On failure
 * (FL_ERR_NOMEM) the map is unchanged. */
fl_status fl_idmap_renumber(fl_idmap *m, const uint32_t *at);

#endif
