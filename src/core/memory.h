/* memory.h — checking a memory estimate before allocating. Large jobs say
 * up front that they cannot fit ("needs 37.2 GiB, this machine has 23.5 GiB")
 * instead of dying in the kernel's OOM killer halfway through. */
#ifndef FL_CORE_MEMORY_H
#define FL_CORE_MEMORY_H

#include "factorlens.h"

/* Physical memory of the machine (or the address-space limit if lower), in
 * bytes; 0 when unknown. */
double fl_memory_available(void);
/* FL_ERR_NOMEM with the figures when bytes exceed what is available. */
fl_status fl_memory_check(double bytes, const char *what, fl_error *err);

/* Sets bytes at p to zero. On Linux the whole pages inside are handed back
 * (MADV_DONTNEED; private anonymous memory reads as zeros afterwards)
 * instead of written, so a large array nobody has written yet stays out of
 * the resident set until it is used; elsewhere, memset. */
void fl_memory_zero(void *p, size_t bytes);
/* Asks for 2 MiB pages under [p, p + bytes) (Linux MADV_HUGEPAGE): rows hit
 * at random then need a handful of TLB entries instead of hundreds. A hint. */
void fl_memory_prefer_huge(void *p, size_t bytes);

#endif
