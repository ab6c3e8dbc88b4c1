/*
 * An MPI job as Open MPI runs it under mpirun: a token goes round the ranks, rank 0 sends rank 1 2 MiB
 * (the shared-memory transport's rendezvous path, its segments mapped shared by both ranks) and every
 * rank takes part in an allreduce, each step checked: "FAIL ..." and MPI_Abort on a wrong value.
 * Rank 0 prints "ready" after the first step and "it N" every 20 steps (50 steps a second at most).
 */
#include <mpi.h>
#include <stdio.h>
#include <unistd.h>

#define BIG (1 << 18)

static double big[BIG];

int main(int argc, char **argv)
{
	int rank, size;
	long token = 0;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	for (long it = 1;; it++) {
		if (rank == 0) {
			token++;
			MPI_Send(&token, 1, MPI_LONG, 1 % size, 0, MPI_COMM_WORLD);
			MPI_Recv(&token, 1, MPI_LONG, size - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else {
			MPI_Recv(&token, 1, MPI_LONG, rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
			token++;
			MPI_Send(&token, 1, MPI_LONG, (rank + 1) % size, 0, MPI_COMM_WORLD);
		}
		for (int i = 0; i < BIG; i++)
			big[i] = it + rank;
		if (rank == 0 && size > 1)
			MPI_Send(big, BIG, MPI_DOUBLE, 1, 1, MPI_COMM_WORLD);
		if (rank == 1) {
			MPI_Recv(big, BIG, MPI_DOUBLE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
			for (int i = 0; i < BIG; i++)
				if (big[i] != it) {
					printf("FAIL step %ld: element %d is %f\n", it, i, big[i]);
					fflush(stdout);
					MPI_Abort(MPI_COMM_WORLD, 2);
				}
		}
		long sum = 0, mine = it * (rank + 1);
		MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
		if (sum != it * size * (size + 1) / 2 || (rank == 0 && token != it * size)) {
			printf("FAIL step %ld: sum %ld token %ld\n", it, sum, token);
			fflush(stdout);
			MPI_Abort(MPI_COMM_WORLD, 3);
		}
		if (rank == 0 && it == 1)
			printf("ready\n");
		if (rank == 0 && it % 20 == 0)
			printf("it %ld\n", it);
		fflush(stdout);
		usleep(20000);
	}
}
