// SPDX-License-Identifier: GPL-2.0
/*
 * A data-integrity exerciser in the spirit of fstests' fsx: random buffered
 * and direct writes and reads, mmap writes and reads, truncates, hole
 * punches, preallocations and zero-ranges (-A), fsyncs, page cache drops
 * and unmount/mount checkpoints on one
 * file, checked against an in-memory copy after every read, and writes
 * from user buffers that fault part-way (short writes). Seeded, so a
 * failure reproduces with the same arguments.
 *
 *   fsx -d DEVICE -m MOUNTPOINT [-t FSTYPE] [-s SEED] [-n OPS] [-l MAXLEN]
 *       [-c CHECKPOINT_EVERY] [-D] [-F] [-A]
 *
 *   -D: no O_DIRECT, -F: no faulting writes, -A: fallocate operations too
 *   (mode 0, KEEP_SIZE, ZERO_RANGE, ZERO_RANGE|KEEP_SIZE; off by default so
 *   a seed without -A keeps its sequence of operations)
 *
 * O_DIRECT and faulting writes together trip "Direct I/O collision with
 * buffered writes" (and then EIO) on ext4 as on delafs; see docs/findings.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"

#define BLK 4096

static const char *dev, *mnt, *fstype = "delafs";
static char path[4096];
static uint64_t rng_state;
static unsigned long long seed = 1;
static long maxlen = 4 << 20;
static unsigned char *model, *buf, *dbuf;
static long size;
static int fd = -1, use_direct = 1, use_fault = 1, use_falloc;
static long op_no;

/* The last operations, printed when something goes wrong. */
#define LOG_LEN 32
static char oplog[LOG_LEN][96];

static void logop(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(oplog[op_no % LOG_LEN], sizeof(oplog[0]), fmt, ap);
	va_end(ap);
}

static void die(const char *fmt, ...)
{
	va_list ap;
	long i;

	va_start(ap, fmt);
	printf("# op %ld: ", op_no);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	printf("# last operations:\n");
	for (i = op_no - LOG_LEN + 1; i <= op_no; i++)
		if (i >= 0)
			printf("#  %6ld %s\n", i, oplog[i % LOG_LEN]);
	ksft_test_result_fail("fsx seed %llu\n", seed);
	ksft_finished();
}

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static long rnd_below(long n)
{
	return n > 0 ? (long)(rnd() % (uint64_t)n) : 0;
}

static void fill_random(unsigned char *p, long n)
{
	for (long i = 0; i < n; i++)
		p[i] = rnd() >> 56;
}

static void open_file(void)
{
	fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
}

static void check(long off, const unsigned char *got, long n, const char *what)
{
	for (long i = 0; i < n; i++) {
		if (got[i] != model[off + i])
			die("%s: byte %ld is 0x%02x, want 0x%02x", what, off + i,
			    got[i], model[off + i]);
	}
}

static void verify_all(const char *what)
{
	struct stat st;
	long off = 0;

	if (fstat(fd, &st))
		die("fstat: %s", strerror(errno));
	if (st.st_size != size)
		die("%s: size %ld, want %ld", what, (long)st.st_size, size);
	while (off < size) {
		long n = size - off < (1 << 20) ? size - off : (1 << 20);
		ssize_t got = pread(fd, buf, n, off);

		if (got != n)
			die("%s: pread %ld at %ld: %zd (%s)", what, n, off, got, strerror(errno));
		check(off, buf, n, what);
		off += n;
	}
}

static void op_write(void)
{
	long off = rnd_below(maxlen), len = 1 + rnd_below(maxlen / 8);

	if (off + len > maxlen)
		len = maxlen - off;
	fill_random(buf, len);
	logop("write %ld+%ld", off, len);
	if (pwrite(fd, buf, len, off) != len)
		die("pwrite %ld+%ld: %s", off, len, strerror(errno));
	if (off > size)
		memset(model + size, 0, off - size);
	memcpy(model + off, buf, len);
	if (off + len > size)
		size = off + len;
}

/*
 * A buffered writev() whose user buffer faults part-way: the write comes up
 * short (the delalloc release loop runs), or fails with EFAULT if nothing
 * could be copied. Only the bytes the kernel reports written change.
 */
static unsigned char *fault_buf;

static void op_fault_write(void)
{
	long off = rnd_below(maxlen), len = 1 + rnd_below(maxlen / 4);
	long valid = rnd_below(4) * BLK;
	struct iovec iov;
	ssize_t ret;

	if (off + len > maxlen)
		len = maxlen - off;
	if (valid > len)
		valid = len / BLK * BLK;
	/* fault_buf: BLK * 4 readable bytes, then PROT_NONE up to maxlen. */
	fill_random(fault_buf + 4 * BLK - valid, valid);
	iov.iov_base = fault_buf + 4 * BLK - valid;
	iov.iov_len = len;
	logop("fault_write %ld+%ld valid %ld", off, len, valid);
	ret = pwritev(fd, &iov, 1, off);
	if (ret < 0) {
		if (errno != EFAULT || valid)
			die("fault_write: %s", strerror(errno));
		return;
	}
	if (ret > valid)
		die("fault_write wrote %zd bytes, only %ld were readable", ret, valid);
	if (off > size && ret)
		memset(model + size, 0, off - size);
	memcpy(model + off, iov.iov_base, ret);
	if (ret && off + ret > size)
		size = off + ret;
}

static void op_read(void)
{
	long off, len;
	ssize_t got;

	if (!size)
		return;
	off = rnd_below(size);
	len = 1 + rnd_below(size - off);
	logop("read %ld+%ld", off, len);
	got = pread(fd, buf, len, off);
	if (got != len)
		die("pread %ld+%ld: %zd (%s)", off, len, got, strerror(errno));
	check(off, buf, len, "read");
}

static void op_truncate(void)
{
	long newsize = rnd_below(maxlen);

	logop("truncate %ld -> %ld", size, newsize);
	if (ftruncate(fd, newsize))
		die("ftruncate %ld: %s", newsize, strerror(errno));
	if (newsize > size)
		memset(model + size, 0, newsize - size);
	size = newsize;
}

static void op_mapwrite(void)
{
	long off, len, pg;
	unsigned char *p;

	if (!size)
		return;
	off = rnd_below(size);
	len = 1 + rnd_below(size - off < maxlen / 8 ? size - off : maxlen / 8);
	pg = off / BLK * BLK;
	logop("mapwrite %ld+%ld", off, len);
	p = mmap(NULL, off + len - pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, pg);
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	fill_random(model + off, len);
	memcpy(p + (off - pg), model + off, len);
	if (rnd_below(2) && msync(p, off + len - pg, MS_SYNC))
		die("msync: %s", strerror(errno));
	munmap(p, off + len - pg);
}

static void op_mapread(void)
{
	long off, len, pg;
	unsigned char *p;

	if (!size)
		return;
	off = rnd_below(size);
	len = 1 + rnd_below(size - off);
	pg = off / BLK * BLK;
	logop("mapread %ld+%ld", off, len);
	p = mmap(NULL, off + len - pg, PROT_READ, MAP_SHARED, fd, pg);
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	check(off, p + (off - pg), len, "mapread");
	munmap(p, off + len - pg);
}

static int open_direct(void)
{
	int dfd = open(path, O_RDWR | O_DIRECT);

	if (dfd < 0)
		die("open O_DIRECT: %s", strerror(errno));
	return dfd;
}

static void op_dio_write(void)
{
	long off = rnd_below(maxlen / BLK) * BLK;
	long len = (1 + rnd_below(maxlen / 8 / BLK)) * BLK;
	int dfd;

	if (off + len > maxlen)
		len = (maxlen - off) / BLK * BLK;
	if (!len)
		return;
	fill_random(dbuf, len);
	logop("dio_write %ld+%ld", off, len);
	dfd = open_direct();
	if (pwrite(dfd, dbuf, len, off) != len)
		die("O_DIRECT pwrite %ld+%ld: %s", off, len, strerror(errno));
	close(dfd);
	if (off > size)
		memset(model + size, 0, off - size);
	memcpy(model + off, dbuf, len);
	if (off + len > size)
		size = off + len;
}

static void op_dio_read(void)
{
	long off, len;
	ssize_t got;
	int dfd;

	if (size < BLK)
		return;
	off = rnd_below(size / BLK) * BLK;
	len = (1 + rnd_below((size - off) / BLK)) * BLK;
	logop("dio_read %ld+%ld", off, len);
	dfd = open_direct();
	got = pread(dfd, dbuf, len, off);
	close(dfd);
	if (got < 0)
		die("O_DIRECT pread %ld+%ld: %s", off, len, strerror(errno));
	/* A direct read stops at EOF, which need not be block aligned. */
	if (got != (off + len > size ? size - off : len))
		die("O_DIRECT pread %ld+%ld returned %zd", off, len, got);
	check(off, dbuf, got, "dio_read");
}

static void op_punch(void)
{
	long off, len;

	if (!size)
		return;
	off = rnd_below(size);
	len = 1 + rnd_below(size - off);
	logop("punch %ld+%ld", off, len);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len))
		die("punch %ld+%ld: %s", off, len, strerror(errno));
	memset(model + off, 0, len);
}

/*
 * fallocate: preallocation (mode 0 extends the size, KEEP_SIZE does not)
 * leaves the bytes as they were, zeros past the old size; ZERO_RANGE zeroes
 * the range, within the size with KEEP_SIZE.
 */
static void op_falloc(void)
{
	static const struct {
		int mode;
		const char *name;
	} modes[] = {
		{ 0, "falloc" },
		{ FALLOC_FL_KEEP_SIZE, "falloc_keep" },
		{ FALLOC_FL_ZERO_RANGE, "zero_range" },
		{ FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, "zero_range_keep" },
	};
	int k = rnd_below(4), mode = modes[k].mode;
	long off = rnd_below(maxlen), len = 1 + rnd_below(maxlen / 8), end;

	if (off + len > maxlen)
		len = maxlen - off;
	end = off + len;
	logop("%s %ld+%ld", modes[k].name, off, len);
	if (fallocate(fd, mode, off, len))
		die("%s %ld+%ld: %s", modes[k].name, off, len, strerror(errno));
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > size) {
		memset(model + size, 0, end - size);
		size = end;
	}
	if (mode & FALLOC_FL_ZERO_RANGE && off < size)
		memset(model + off, 0, (end < size ? end : size) - off);
}

static void op_fsync(void)
{
	logop("fsync");
	if (fsync(fd))
		die("fsync: %s", strerror(errno));
}

static void drop_caches(void)
{
	int dc = open("/proc/sys/vm/drop_caches", O_WRONLY);

	logop("drop_caches");
	if (dc < 0 || write(dc, "3", 1) != 1)
		die("drop_caches: %s", strerror(errno));
	close(dc);
}

static void checkpoint(void)
{
	logop("umount/mount");
	close(fd);
	if (umount(mnt))
		die("umount %s: %s", mnt, strerror(errno));
	if (mount(dev, mnt, fstype, 0, NULL))
		die("mount %s: %s", dev, strerror(errno));
	open_file();
	verify_all("after remount");
}

int main(int argc, char **argv)
{
	long ops = 10000, every = 1000, i;
	struct timespec t0, t1;
	double secs;
	int opt;

	while ((opt = getopt(argc, argv, "d:m:t:s:n:l:c:DFA")) != -1) {
		switch (opt) {
		case 'd': dev = optarg; break;
		case 'm': mnt = optarg; break;
		case 't': fstype = optarg; break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'n': ops = atol(optarg); break;
		case 'l': maxlen = atol(optarg) / BLK * BLK; break;
		case 'c': every = atol(optarg); break;
		case 'D': use_direct = 0; break;
		case 'F': use_fault = 0; break;
		case 'A': use_falloc = 1; break;
		default:
			fprintf(stderr, "usage: fsx -d DEV -m MNT [-t FSTYPE] [-s SEED] [-n OPS] [-l MAXLEN] [-c EVERY] [-D] [-F] [-A]\n");
			return KSFT_FAIL;
		}
	}
	ksft_print_header();
	ksft_set_plan(1);
	if (!dev || !mnt || maxlen < 4 * BLK)
		ksft_exit_fail_msg("need -d DEV -m MNT and -l >= 16384\n");

	rng_state = seed ? seed : 1;
	fault_buf = mmap(NULL, maxlen + 4 * BLK, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fault_buf == MAP_FAILED || mprotect(fault_buf + 4 * BLK, maxlen, PROT_NONE))
		ksft_exit_fail_msg("fault buffer: %s\n", strerror(errno));
	model = calloc(1, maxlen);
	buf = malloc(maxlen);
	if (posix_memalign((void **)&dbuf, BLK, maxlen) || !model || !buf)
		ksft_exit_fail_msg("out of memory\n");
	snprintf(path, sizeof(path), "%s/fsx.data", mnt);
	unlink(path);
	open_file();
	if (ftruncate(fd, 0))
		die("ftruncate: %s", strerror(errno));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < ops; i++) {
		int nops = use_direct ? 13 : 11, r;

		op_no = i;
		/* -A adds two slots after the others, so the rest keep their odds */
		r = rnd_below(nops + (use_falloc ? 2 : 0));
		if (r >= nops) {
			op_falloc();
			r = -1;
		}
		switch (r) {
		case 0: case 1: op_write(); break;
		case 2: case 3: op_read(); break;
		case 4: op_truncate(); break;
		case 5: op_mapwrite(); break;
		case 6: op_mapread(); break;
		case 7: op_punch(); break;
		case 8: op_fsync(); break;
		case 9: if (rnd_below(8) == 0) drop_caches(); else op_read(); break;
		case 10: if (use_fault) op_fault_write(); else op_write(); break;
		case 11: op_dio_write(); break;
		case 12: op_dio_read(); break;
		}
		if (every && (i + 1) % every == 0)
			checkpoint();
	}
	op_no = i;
	verify_all("final");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	ksft_print_msg("%ld ops in %.1f s: %.0f ops/s (seed %llu, max file %ld)\n",
		       ops, secs, ops / secs, seed, maxlen);
	ksft_test_result_pass("fsx %ld ops, seed %llu\n", ops, seed);
	ksft_finished();
}
