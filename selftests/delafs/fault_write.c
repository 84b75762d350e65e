// SPDX-License-Identifier: GPL-2.0
/*
 * A buffered writev() whose user buffer faults part-way: the first VALID
 * bytes are readable, the rest of the LEN-byte buffer is PROT_NONE. Prints
 * the byte count the kernel returned (a short write) or the error.
 *
 *   fault_write FILE OFFSET LEN VALID [REPEAT]
 *
 * With REPEAT, a benchmark of the short-write path: REPEAT times, recreate
 * FILE as a LEN-byte sparse file, read every other 64 KiB of it (clean
 * folios over holes, for the delalloc release loop to walk), then time the
 * writev(); prints the mean nanoseconds per writev().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE), off, len, valid, span;
	struct iovec iov;
	unsigned char *buf;
	ssize_t ret;
	int fd;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: fault_write FILE OFFSET LEN VALID [REPEAT]\n");
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

	fd = open(argv[1], O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		return perror("open"), 1;
	iov.iov_base = buf;
	iov.iov_len = len;
	if (argc == 6) {
		long repeat = atol(argv[5]);
		long long total = 0;
		static char chunk[65536];

		for (long r = 0; r < repeat; r++) {
			long long t0;

			if (ftruncate(fd, 0) || ftruncate(fd, off + len))
				return perror("ftruncate"), 1;
			for (long o = 0; o + (long)sizeof(chunk) <= off + len; o += 2 * sizeof(chunk))
				if (pread(fd, chunk, sizeof(chunk), o) < 0)
					return perror("pread"), 1;
			t0 = now_ns();
			ret = pwritev(fd, &iov, 1, off);
			total += now_ns() - t0;
			if (ret != valid) {
				fprintf(stderr, "writev returned %zd, want %ld\n", ret, valid);
				return 1;
			}
		}
		printf("%lld\n", total / repeat);
		return 0;
	}
	ret = pwritev(fd, &iov, 1, off);
	if (ret < 0) {
		printf("error %s\n", strerror(errno));
		return 1;
	}
	printf("%zd\n", ret);
	return 0;
}
