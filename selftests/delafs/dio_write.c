// SPDX-License-Identifier: GPL-2.0
/*
 * One write to FILE at OFFSET of LEN bytes from a user buffer of which only
 * the first VALID bytes are readable (the rest is PROT_NONE, so the write
 * faults there; VALID = LEN: no fault). The buffer holds BYTE (default 'D').
 * Prints the count the write returned, or "error ENAME" (the errno's name),
 * and exits 0 either way; 1 if it could not even try.
 *
 *   dio_write [-b] [-a] [-c BYTE] FILE OFFSET LEN VALID
 *
 *   (default)  O_DIRECT pwrite()
 *   -b         buffered pwrite()
 *   -a         O_DIRECT through libaio (io_submit + io_getevents); a refused
 *              submission prints "error ENAME" like a failed write
 *
 * FILE is created if missing (mode 0644) and never truncated.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int result(long long ret, int err)
{
	if (ret < 0) {
		const char *n = strerrorname_np(err);

		printf("error %s\n", n ? n : "E?");
	} else {
		printf("%lld\n", ret);
	}
	return 0;
}

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE), span;
	int opt, buffered = 0, aio = 0, fd, byte = 'D';
	long long off, len, valid;
	unsigned char *buf;

	while ((opt = getopt(argc, argv, "bac:")) != -1) {
		switch (opt) {
		case 'b': buffered = 1; break;
		case 'a': aio = 1; break;
		case 'c': byte = strtol(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (argc - optind != 4 || (buffered && aio))
		goto usage;
	off = atoll(argv[optind + 1]);
	len = atoll(argv[optind + 2]);
	valid = atoll(argv[optind + 3]);
	if (valid % page || valid > len || len % page) {
		fprintf(stderr, "LEN and VALID must be multiples of the page size, VALID <= LEN\n");
		return 1;
	}
	span = len ? len : page;
	buf = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return perror("mmap"), 1;
	memset(buf, byte, valid);
	if (valid < span && mprotect(buf + valid, span - valid, PROT_NONE))
		return perror("mprotect"), 1;
	fd = open(argv[optind], O_RDWR | O_CREAT | (buffered ? 0 : O_DIRECT), 0644);
	if (fd < 0)
		return perror("open"), 1;
	if (aio) {
		io_context_t ctx = 0;
		struct iocb cb, *cbs[1] = { &cb };
		struct io_event ev;
		int ret = io_setup(1, &ctx);

		if (ret)
			return fprintf(stderr, "io_setup: %s\n", strerror(-ret)), 1;
		io_prep_pwrite(&cb, fd, buf, len, off);
		ret = io_submit(ctx, 1, cbs);
		if (ret != 1)
			return result(-1, ret < 0 ? -ret : EIO);
		ret = io_getevents(ctx, 1, 1, &ev, NULL);
		if (ret != 1)
			return fprintf(stderr, "io_getevents: %s\n", strerror(-ret)), 1;
		return result((long)ev.res, -(long)ev.res);
	}
	{
		ssize_t ret = pwrite(fd, buf, len, off);

		return result(ret, errno);
	}
usage:
	fprintf(stderr, "usage: dio_write [-b] [-a] [-c BYTE] FILE OFFSET LEN VALID\n");
	return 1;
}
