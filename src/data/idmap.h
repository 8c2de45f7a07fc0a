/* idmap.h — interning an id the caller has already read as a number. */
#ifndef FL_DATA_IDMAP_H
#define FL_DATA_IDMAP_H

#include "factorlens.h"

/* fl_idmap_intern for an id whose bytes id[0..len) are number's canonical
 * decimal spelling (no sign, no leading zero): the readers' fast path has
 * the value already, so a known small number is found without reparsing. */
fl_status fl_idmap_intern_number(fl_idmap *m, uint32_t number, const char *id, size_t len,
                                 uint32_t *index);

#endif
