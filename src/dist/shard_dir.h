/* shard_dir.h — a pre-sharded ratings directory (factorlens shard): N part
 * files, each a ratings file of its own (the source's format, header
 * included; gzip-compressed with --gzip), holding consecutive lines of the
 * source in order, and DIR/shards.txt naming each part with its rating
 * count, byte size and SHA-256. A distributed run's process r of P reads
 * parts [N*r/P, N*(r+1)/P) and nothing else, so its ids appear in the
 * source's order and the training is the one from the source file itself. */
#ifndef FL_DIST_SHARD_DIR_H
#define FL_DIST_SHARD_DIR_H

#include "factorlens.h"

/* 1 when path is a directory (a shard directory or not). */
int fl_shard_is_dir(const char *path);
/* Process rank of size's parts of the shard directory dir, as one dataset
 * (ids in order of first appearance), each part checked against the
 * manifest first. A process with no part gets an empty dataset. */
fl_status fl_shard_read_mine(const char *dir, const fl_read_opts *o, int rank, int size,
                             fl_dataset **out, fl_error *err);

#endif
