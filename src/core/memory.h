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

#endif
