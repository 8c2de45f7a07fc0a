/* comm_mpi.h — fl_comm over MPI (MPI_COMM_WORLD), for `mpirun -np N
 * factorlens train --distributed`. Only the command links it, so the library
 * never needs libmpi: a program that does not train over processes loads no
 * MPI at all. MPI's errors come back as sentences, never as an abort. */
#ifndef FL_MPI_COMM_MPI_H
#define FL_MPI_COMM_MPI_H

#include "factorlens.h"

/* Starts MPI (once per process) and fills c: this process's rank, the
 * world's size. Without MPI in the build, fails with a sentence. */
fl_status dist_mpi_open(int *argc, char ***argv, fl_comm *c, fl_error *err);
/* Ends MPI; after a failure, aborting the other processes (they may be
 * waiting in a collective this process will never join). */
void dist_mpi_close(fl_comm *c, int failed);

#endif
