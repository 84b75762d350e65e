// SPDX-License-Identifier: GPL-2.0
/*
 * The system calls fallocate.sh needs with exact arguments and exact
 * results (xfs_io takes neither negative offsets nor every mode):
 *
 *   falloc_op falloc FILE MODE OFF LEN  one fallocate(2); prints "0" or
 *                                       "error ENAME"; MODE is 0 or names
 *                                       joined by '|': keep, punch, zero,
 *                                       collapse, insert, unshare, or a
 *                                       number (0x80)
 *   falloc_op seek FILE                 the data segments SEEK_DATA and
 *                                       SEEK_HOLE report from 0 to EOF:
 *                                       "START-END ..." or "none"
 *   falloc_op dread FILE                the whole file read with O_DIRECT,
 *                                       to stdout (4 KiB aligned reads; the
 *                                       last one stops at EOF)
 *   falloc_op maxbytes FILE             the largest size ftruncate() takes
 *                                       (s_maxbytes), found by bisection
 *                                       over EFBIG; FILE is left empty
 *   falloc_op blocks FILE               st_blocks (512-byte units) and
 *                                       st_size: "BLOCKS SIZE"
 *
 * OFF and LEN are signed 64-bit (strtoll, any base). Exit 0 once the call
 * was made, whatever it returned; 1 if it could not be tried.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *name;
	int flag;
} modes[] = {
	{ "keep", FALLOC_FL_KEEP_SIZE },
	{ "punch", FALLOC_FL_PUNCH_HOLE },
	{ "zero", FALLOC_FL_ZERO_RANGE },
	{ "collapse", FALLOC_FL_COLLAPSE_RANGE },
	{ "insert", FALLOC_FL_INSERT_RANGE },
	{ "unshare", FALLOC_FL_UNSHARE_RANGE },
};

static int parse_mode(const char *s, int *mode)
{
	char *copy = strdup(s), *tok, *save;

	*mode = 0;
	for (tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
		size_t i;

		if (tok[0] >= '0' && tok[0] <= '9') {	/* a raw value: 0, 0x80 */
			*mode |= strtol(tok, NULL, 0);
			continue;
		}
		for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			if (!strcmp(tok, modes[i].name))
				break;
		if (i == sizeof(modes) / sizeof(modes[0])) {
			fprintf(stderr, "unknown mode '%s'\n", tok);
			free(copy);
			return -1;
		}
		*mode |= modes[i].flag;
	}
	free(copy);
	return 0;
}

static int parse_ll(const char *s, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "bad number '%s'\n", s);
		return -1;
	}
	return 0;
}

static void print_err(int err)
{
	const char *n = strerrorname_np(err);

	printf("error %s\n", n ? n : "E?");
}

static int do_falloc(const char *path, const char *ms, const char *os, const char *ls)
{
	long long off, len;
	int mode, fd;

	if (parse_mode(ms, &mode) || parse_ll(os, &off) || parse_ll(ls, &len))
		return 1;
	fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		return perror(path), 1;
	if (fallocate(fd, mode, off, len))
		print_err(errno);
	else
		printf("0\n");
	return 0;
}

static int do_seek(const char *path)
{
	int fd = open(path, O_RDONLY), any = 0;
	off_t pos = 0, data, hole;

	if (fd < 0)
		return perror(path), 1;
	for (;;) {
		data = lseek(fd, pos, SEEK_DATA);
		if (data < 0) {
			if (errno != ENXIO)
				return perror("SEEK_DATA"), 1;
			break;
		}
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return perror("SEEK_HOLE"), 1;
		printf("%s%lld-%lld", any ? " " : "", (long long)data, (long long)hole);
		any = 1;
		if (hole <= data)	/* never loop on a broken answer */
			break;
		pos = hole;
	}
	printf("%s\n", any ? "" : "none");
	return 0;
}

static int do_dread(const char *path)
{
	static char buf[1 << 20] __attribute__((aligned(4096)));
	int fd = open(path, O_RDONLY | O_DIRECT);
	off_t off = 0;

	if (fd < 0)
		return perror(path), 1;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off), w = 0;

		if (n < 0)
			return perror("O_DIRECT pread"), 1;
		if (n == 0)
			return 0;
		while (w < n) {
			ssize_t k = write(1, buf + w, n - w);

			if (k <= 0)
				return perror("write"), 1;
			w += k;
		}
		off += n;
	}
}

static int do_maxbytes(const char *path)
{
	long long lo = 0, hi = LLONG_MAX;	/* lo accepted; above hi refused */
	int fd = open(path, O_RDWR | O_CREAT, 0644);

	if (fd < 0)
		return perror(path), 1;
	if (ftruncate(fd, hi) == 0) {
		lo = hi;
	} else {
		while (lo < hi - 1) {
			long long mid = lo + (hi - lo) / 2;

			if (ftruncate(fd, mid) == 0)
				lo = mid;
			else if (errno == EFBIG)
				hi = mid;
			else
				return perror("ftruncate"), 1;
		}
	}
	if (ftruncate(fd, 0))
		return perror("ftruncate 0"), 1;
	printf("%lld\n", lo);
	return 0;
}

static int do_blocks(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return perror(path), 1;
	printf("%lld %lld\n", (long long)st.st_blocks, (long long)st.st_size);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "falloc"))
		return do_falloc(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 3 && !strcmp(argv[1], "seek"))
		return do_seek(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "dread"))
		return do_dread(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "maxbytes"))
		return do_maxbytes(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "blocks"))
		return do_blocks(argv[2]);
	fprintf(stderr, "usage: falloc_op falloc FILE MODE OFF LEN | seek FILE | dread FILE |"
			" maxbytes FILE | blocks FILE\n");
	return 1;
}
