/*
 * marker: the first thing it does is create the file named by argv[1] (or
 * /tmp/vigil-marker), then it sleeps argv[2] ms. If the file exists after a
 * run, the binary executed instructions of its own.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fd = open(argc > 1 ? argv[1] : "/tmp/vigil-marker", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct timespec ts;
	long ms = argc > 2 ? atol(argv[2]) : 0;

	if (fd >= 0)
		close(fd);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
	return 0;
}
