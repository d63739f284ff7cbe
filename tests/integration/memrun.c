/* memrun - run a program's bytes from an anonymous memory file (memfd), as a
 * fileless attacker does: memrun PATH ARGV0 [ARGS...] copies PATH into a memfd
 * named "x" and fexecve()s it, so the process has no executable on any filesystem. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct stat st;
	int in, mem;

	if (argc < 3) {
		fprintf(stderr, "usage: memrun PATH ARGV0 [ARGS...]\n");
		return 2;
	}
	in = open(argv[1], O_RDONLY | O_CLOEXEC);
	mem = memfd_create("x", MFD_CLOEXEC);
	if (in < 0 || mem < 0 || fstat(in, &st) < 0) {
		perror("memrun: open");
		return 1;
	}
	for (off_t off = 0; off < st.st_size;) {
		if (sendfile(mem, in, &off, (size_t)(st.st_size - off)) <= 0) {
			perror("memrun: copy");
			return 1;
		}
	}
	fexecve(mem, argv + 2, environ);
	perror("memrun: fexecve");
	return 1;
}
