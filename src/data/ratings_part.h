/* ratings_part.h — one part of a ratings file, for training spread over
 * processes: each reads only its byte range of the file (split at line
 * boundaries, so every line belongs to exactly one part), parsed as the whole
 * file would be (separator, header and columns decided from the file's
 * head; messages name the file's own line numbers). */
#ifndef FL_DATA_RATINGS_PART_H
#define FL_DATA_RATINGS_PART_H

#include "factorlens.h"

/* Part `part` (0-based) of n_parts of the plain file at path; its id maps
 * hold the part's ids in order of first appearance. A part may hold no
 * ratings. n_parts 1 reads the whole file as fl_dataset_read (gzip and "-"
 * included); more parts refuse a gzip-compressed file with a sentence. */
fl_status fl_dataset_read_part(const char *path, const fl_read_opts *o, int part, int n_parts,
                               fl_dataset **out, fl_error *err);

#endif
