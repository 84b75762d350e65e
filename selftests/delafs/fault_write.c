// SPDX-License-Identifier: GPL-2.0
/*
 * A buffered writev() whose user buffer faults part-way: the first VALID
 * bytes are readable, the rest of the LEN-byte buffer is PROT_NONE. Prints
 * the byte count the kernel returned (a short write) or the error.
 *
 *   fault_write FILE OFFSET LEN VALID
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE), off, len, valid, span;
	struct iovec iov;
	unsigned char *buf;
	ssize_t ret;
	int fd;

	if (argc != 5) {
		fprintf(stderr, "usage: fault_write FILE OFFSET LEN VALID\n");
		return 2;
	}
	off = atol(argv[2]);
	len = atol(argv[3]);
	valid = atol(argv[4]);
	if (valid % page || valid > len) {
		fprintf(stderr, "VALID must be a multiple of the page size, <= LEN\n");
		return 2;
	}
	span = (len + page - 1) / page * page;
	buf = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return perror("mmap"), 1;
	for (long i = 0; i < valid; i++)
		buf[i] = 'a' + i % 26;
	if (valid < span && mprotect(buf + valid, span - valid, PROT_NONE))
		return perror("mprotect"), 1;

	fd = open(argv[1], O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		return perror("open"), 1;
	iov.iov_base = buf;
	iov.iov_len = len;
	ret = pwritev(fd, &iov, 1, off);
	if (ret < 0) {
		printf("error %s\n", strerror(errno));
		return 1;
	}
	printf("%zd\n", ret);
	return 0;
}
