/* unzip.h — unpacking a downloaded dataset zip (via libzip) into a directory,
 * keeping only the files the registry names, refusing unsafe entry names and
 * checking every entry's size and SHA-256 before it is committed to disk. */
#ifndef FL_IO_UNZIP_H
#define FL_IO_UNZIP_H

#include "factorlens.h"
#include "io/dataset_registry.h"

/* Extracts d's files from zip_path into out_dir (which must exist). Entries
 * may sit under a top directory named d->name ("ml-100k/u.data") or at the
 * root; others are skipped. label names the archive in messages. Fails with
 * FL_ERR_DATA on a damaged, truncated or tampered archive, leaving in out_dir
 * only files that were complete and verified (the caller removes out_dir). */
fl_status fl_unzip_dataset(const char *zip_path, const char *label, const fl_dataset_entry *d,
                           const char *out_dir, fl_error *err);

#endif
