// SPDX-License-Identifier: GPL-2.0
/*
 * No read returns bytes the file was not given: a writer fills the holes of
 * a file while reader threads (buffered pread, mmap, and O_DIRECT pread
 * next to O_DIRECT writers) read
 * the same ranges and check every byte they get is either zero or the byte
 * the writer puts at that offset. Run over free space filled with a marker
 * (stale_reads.sh poisons it first): a marker byte is a stale disk block
 * shown to a reader; any other wrong byte is someone else's data (a block
 * of an earlier round, freed and reused). Each round is a new file with its
 * own pattern; when the writer is done the readers stop and the whole file
 * is checked exactly (fdatasync, then O_DIRECT, then buffered after
 * POSIX_FADV_DONTNEED).
 *
 *   stale_reads -f DIR -w WORKLOAD [-t SECS] [-s MIB] [-m MARKER] [-n NAME]
 *
 * WORKLOAD:
 *   dio-sync, dio-aio, dio-uring   O_DIRECT writes of 64 KiB chunks into the
 *                                  holes of a sparse file (pwrite, libaio,
 *                                  io_uring; four in flight for the last two)
 *   buffered                       buffered writes (chunks split at unaligned
 *                                  points) with a thread dropping the file's
 *                                  cache (POSIX_FADV_DONTNEED) and the page
 *                                  cache (drop_caches), sync_file_range now
 *                                  and then
 *   falloc                         fallocate mode 0 (even rounds) or
 *                                  KEEP_SIZE + ftruncate (odd rounds), then
 *                                  chunks filled alternately O_DIRECT and
 *                                  buffered
 *   fault                          buffered (even rounds) and O_DIRECT (odd
 *                                  rounds) writes from buffers that fault
 *                                  part-way, into holes and into
 *                                  KEEP_SIZE-preallocated blocks past EOF;
 *                                  exactly the reported bytes count as
 *                                  written; then an extending ftruncate, and
 *                                  everything else must read zero
 *   control                        dio-sync for one round, but the first
 *                                  block is written with the marker: the
 *                                  checker must count it (4096 stale bytes
 *                                  at the end of the round, more if a reader
 *                                  saw it) and fail
 *
 * Prints one line: "STALE name=NAME reads=N bytes=N stale=N wrong=N
 * rounds=N writes=N secs=S" and exits 0 if stale and wrong are 0 and every
 * call did what it should; 1 otherwise; 4 (skip) if the workload's
 * interface (io_uring) is missing. A failed fallocate is a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <liburing.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLK 4096L
#define CHUNK (64 * 1024L)
#define KSFT_SKIP 4

static const char *dir, *workload, *name;
static long secs = 5, fsize = 8 << 20, nchunks;
static int marker = 0xab;
static char path[4096];
static atomic_int stop_readers;
static atomic_long n_reads, n_bytes, n_stale, n_wrong, n_writes;
static atomic_int failed;
static int falloc_failed;		/* fault: its KEEP_SIZE fallocate failed */
static unsigned salt;			/* the round's pattern */
static unsigned char *written;		/* fault: which bytes hold data */

static void failf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	failed = 1;
}

/* The writer's byte at off this round: never 0, never the marker. */
static unsigned char pat(long off)
{
	uint32_t x = (uint32_t)(off >> 2) * 2654435761u ^ salt;
	unsigned char b = 1 + (x >> 13) % 250;

	return b == marker ? b + 1 : b;
}

static void fill(unsigned char *p, long off, long len)
{
	for (long i = 0; i < len; i++)
		p[i] = pat(off + i);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * One read's bytes: zero or the pattern while the writer runs; with
 * exact, the pattern where written (all of the file unless the fault
 * workload's map says otherwise) and zero elsewhere.
 */
static void check_bytes(const unsigned char *p, long off, long n, int exact, const char *who)
{
	long stale = 0, wrong = 0, first = -1;

	for (long i = 0; i < n; i++) {
		unsigned char v = p[i], w = pat(off + i);
		int ok;

		if (exact)
			ok = v == ((!written || written[off + i]) ? w : 0);
		else
			ok = v == 0 || v == w;
		if (ok)
			continue;
		if (first < 0)
			first = i;
		if (v == marker)
			stale++;
		else
			wrong++;
	}
	n_reads++;
	n_bytes += n;
	if (stale || wrong) {
		n_stale += stale;
		n_wrong += wrong;
		failf("%s: read %ld+%ld (pattern %u): %ld marker bytes, %ld other wrong bytes;"
		      " first at %ld: 0x%02x, want 0x%02x%s", who, off, n, salt, stale, wrong,
		      off + first, p[first], pat(off + first), exact ? "" : " or 0");
	}
}

/* ---------------------------------------------------------------------- */
/* Readers. */

enum rkind { R_BUF, R_MMAP, R_DIO };

static void *reader(void *arg)
{
	enum rkind kind = (enum rkind)(long)arg;
	static const char *names[] = { "buffered", "mmap", "O_DIRECT" };
	uint64_t s = 0x9e3779b97f4a7c15ULL ^ (uint64_t)kind << 32 ^ salt;
	unsigned char *buf;
	int fd = open(path, O_RDONLY | (kind == R_DIO ? O_DIRECT : 0));

	if (fd < 0) {
		failf("%s reader: open: %s", names[kind], strerror(errno));
		return NULL;
	}
	if (posix_memalign((void **)&buf, BLK, 4 * CHUNK)) {
		close(fd);
		return NULL;
	}
	while (!stop_readers) {
		struct stat st;
		long size, off, len;
		ssize_t got;

		if (fstat(fd, &st))
			break;
		size = st.st_size;	/* sizes only grow within a round */
		if (size < BLK) {
			usleep(100);
			continue;
		}
		off = rnd(&s) % size;
		len = 1 + rnd(&s) % (4 * CHUNK);
		if (kind == R_DIO || kind == R_MMAP) {
			off &= ~(BLK - 1);
			len = (len + BLK - 1) & ~(BLK - 1);
		}
		if (off + len > size)
			len = size - off;
		if (len <= 0)
			continue;
		if (kind == R_MMAP) {
			unsigned char *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);

			if (m == MAP_FAILED) {
				failf("mmap %ld+%ld: %s", off, len, strerror(errno));
				break;
			}
			memcpy(buf, m, len);
			munmap(m, len);
			got = len;
		} else {
			got = pread(fd, buf, len, off);
			if (got < 0) {
				failf("%s pread %ld+%ld: %s", names[kind], off, len, strerror(errno));
				break;
			}
		}
		check_bytes(buf, off, got, 0, names[kind]);
	}
	free(buf);
	close(fd);
	return NULL;
}

/* The fadvise(DONTNEED) and drop_caches thread of the buffered workload. */
static void *dropper(void *arg)
{
	int fd = open(path, O_RDONLY), i = 0;

	(void)arg;
	while (!stop_readers) {
		if (fd >= 0)
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (++i % 50 == 0) {
			int dc = open("/proc/sys/vm/drop_caches", O_WRONLY);

			if (dc >= 0) {
				if (write(dc, "1", 1) != 1)
					failf("drop_caches: %s", strerror(errno));
				close(dc);
			}
		}
		usleep(1000);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Writers: each fills (or, for fault, tries to fill) every chunk once. */

static unsigned char *wbuf;		/* aligned, 4 * CHUNK */
static long *order;

static void shuffle(uint64_t *s)
{
	for (long i = 0; i < nchunks; i++)
		order[i] = i;
	for (long i = nchunks - 1; i > 0; i--) {
		long j = rnd(s) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
}

static int control;			/* -w control: the first chunk gets the marker */

static int dio_pwrite(int dfd, long off, long len)
{
	fill(wbuf, off, len);
	if (control && off == 0)
		memset(wbuf, marker, BLK);
	if (pwrite(dfd, wbuf, len, off) != len) {
		failf("O_DIRECT pwrite %ld+%ld: %s", off, len, strerror(errno));
		return -1;
	}
	n_writes++;
	return 0;
}

/* The chunk in up to three buffered pieces split at unaligned points. */
static int buf_write(int fd, long off, long len, uint64_t *s)
{
	long a = 1 + rnd(s) % (len - 1), b = a + rnd(s) % (len - a);
	long cut[4] = { 0, a, b, len };

	fill(wbuf, off, len);
	for (int i = 0; i < 3; i++) {
		long n = cut[i + 1] - cut[i];

		if (n && pwrite(fd, wbuf + cut[i], n, off + cut[i]) != n) {
			failf("pwrite %ld+%ld: %s", off + cut[i], n, strerror(errno));
			return -1;
		}
	}
	n_writes++;
	if (rnd(s) % 8 == 0)
		sync_file_range(fd, off, len, SYNC_FILE_RANGE_WRITE);
	return 0;
}

static int write_aio(int dfd)
{
	io_context_t ctx = 0;
	int ret = io_setup(4, &ctx);

	if (ret)
		return failf("io_setup: %s", strerror(-ret)), -1;
	for (long i = 0; i < nchunks && !failed; i += 4) {
		struct iocb cb[4], *cbs[4];
		struct io_event ev[4];
		int n = nchunks - i < 4 ? nchunks - i : 4;

		for (int k = 0; k < n; k++) {
			long off = order[i + k] * CHUNK;

			fill(wbuf + k * CHUNK, off, CHUNK);
			io_prep_pwrite(&cb[k], dfd, wbuf + k * CHUNK, CHUNK, off);
			cbs[k] = &cb[k];
		}
		ret = io_submit(ctx, n, cbs);
		if (ret != n) {
			failf("io_submit: %d", ret);
			break;
		}
		if (io_getevents(ctx, n, n, ev, NULL) != n) {
			failf("io_getevents failed");
			break;
		}
		for (int k = 0; k < n; k++)
			if ((long)ev[k].res != CHUNK)
				failf("libaio write: %ld", (long)ev[k].res);
		n_writes += n;
	}
	io_destroy(ctx);
	return failed ? -1 : 0;
}

static int write_uring(int dfd)
{
	struct io_uring ring;
	int ret = io_uring_queue_init(4, &ring, 0);

	if (ret)
		return failf("io_uring_queue_init: %s", strerror(-ret)), -1;
	for (long i = 0; i < nchunks && !failed; i += 4) {
		int n = nchunks - i < 4 ? nchunks - i : 4;

		for (int k = 0; k < n; k++) {
			long off = order[i + k] * CHUNK;
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			fill(wbuf + k * CHUNK, off, CHUNK);
			io_uring_prep_write(sqe, dfd, wbuf + k * CHUNK, CHUNK, off);
		}
		ret = io_uring_submit(&ring);
		if (ret != n) {
			failf("io_uring_submit: %d", ret);
			break;
		}
		for (int k = 0; k < n; k++) {
			struct io_uring_cqe *cqe;

			if (io_uring_wait_cqe(&ring, &cqe)) {
				failf("io_uring_wait_cqe failed");
				break;
			}
			if (cqe->res != CHUNK)
				failf("io_uring write: %d", cqe->res);
			io_uring_cqe_seen(&ring, cqe);
		}
		n_writes += n;
	}
	io_uring_queue_exit(&ring);
	return failed ? -1 : 0;
}

/*
 * A write of a chunk from a buffer whose first valid bytes are readable
 * and the rest PROT_NONE; only the bytes it reports count as written.
 */
static unsigned char *fbuf;		/* CHUNK readable + CHUNK PROT_NONE */

static void fault_write(int fd, int dfd, long off, int direct, uint64_t *s)
{
	long valid = (rnd(s) % (CHUNK / BLK)) * BLK;	/* 0 .. CHUNK - BLK */
	unsigned char *p = fbuf + CHUNK - valid;
	ssize_t ret;

	fill(p, off, valid);
	ret = pwrite(direct ? dfd : fd, p, CHUNK, off);
	if (ret < 0) {
		if (errno != EFAULT)
			failf("faulting %s pwrite %ld+%ld: %s", direct ? "O_DIRECT" : "buffered",
			      off, CHUNK, strerror(errno));
		return;
	}
	if (ret > valid) {
		failf("faulting pwrite %ld: %zd bytes, only %ld readable", off, ret, valid);
		return;
	}
	memset(written + off, 1, ret);
	n_writes++;
}

static int run_round(unsigned round, uint64_t *s)
{
	int fd, dfd, falloc_mode = round % 2 ? FALLOC_FL_KEEP_SIZE : 0;
	int nr = 0, drop = !strcmp(workload, "buffered");
	pthread_t th[4];
	long size;

	salt = round * 0x01000193u + 0x811c9dc5u;
	snprintf(path, sizeof(path), "%s/stale.%u", dir, round);
	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	dfd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0 || dfd < 0)
		return failf("open %s: %s", path, strerror(errno)), -1;
	if (!strcmp(workload, "falloc")) {
		if (fallocate(fd, falloc_mode, 0, fsize))
			return failf("fallocate %s 0 %ld: %s", falloc_mode ? "KEEP_SIZE" : "0", fsize,
				     strerror(errno)), -1;
	}
	if (!strcmp(workload, "fault")) {
		/* half the file in holes, half preallocated past EOF; size 0 */
		memset(written, 0, fsize);
		/* a failure fails the run, but the holes are still tried */
		if (fallocate(fd, FALLOC_FL_KEEP_SIZE, fsize / 2, fsize / 2) && !falloc_failed++)
			printf("# fallocate KEEP_SIZE %ld %ld: %s (going on with holes only)\n",
			       fsize / 2, fsize / 2, strerror(errno));
	} else if (ftruncate(fd, fsize)) {
		return failf("ftruncate: %s", strerror(errno)), -1;
	}
	shuffle(s);
	stop_readers = 0;
	/*
	 * O_DIRECT readers only next to O_DIRECT writers: next to buffered
	 * writes a direct read can meet a delalloc extent and fail with EIO
	 * ("Direct I/O collision with buffered writes", docs/findings.md).
	 */
	for (long k = R_BUF; k <= (strncmp(workload, "dio-", 4) && !control ? R_MMAP : R_DIO); k++)
		pthread_create(&th[nr++], NULL, reader, (void *)k);
	if (drop)
		pthread_create(&th[nr++], NULL, dropper, NULL);

	if (!strcmp(workload, "dio-aio")) {
		write_aio(dfd);
	} else if (!strcmp(workload, "dio-uring")) {
		write_uring(dfd);
	} else {
		for (long i = 0; i < nchunks && !failed; i++) {
			long off = order[i] * CHUNK;

			if (!strcmp(workload, "dio-sync") || control)
				dio_pwrite(dfd, off, CHUNK);
			else if (!strcmp(workload, "buffered"))
				buf_write(fd, off, CHUNK, s);
			else if (!strcmp(workload, "falloc"))
				i % 2 ? dio_pwrite(dfd, off, CHUNK) : buf_write(fd, off, CHUNK, s);
			else	/* apart, as fsx.sh runs them (docs/findings.md) */
				fault_write(fd, dfd, off, round % 2, s);
		}
	}
	stop_readers = 1;
	for (int i = 0; i < nr; i++)
		pthread_join(th[i], NULL);

	/* The whole file, exactly: extended first if the writes left it short. */
	size = fsize;
	if (!strcmp(workload, "fault") && ftruncate(fd, fsize))
		return failf("ftruncate %ld: %s", fsize, strerror(errno)), -1;
	if (fdatasync(fd))
		failf("fdatasync: %s", strerror(errno));
	for (int pass = 0; pass < 2; pass++) {
		int rfd = pass ? fd : dfd;

		if (pass && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED))
			failf("fadvise: %s", strerror(errno));
		for (long off = 0; off < size; off += 4 * CHUNK) {
			long n = size - off < 4 * CHUNK ? size - off : 4 * CHUNK;
			ssize_t got = pread(rfd, wbuf, n, off);

			if (got != n) {
				failf("final %s pread %ld+%ld: %zd", pass ? "buffered" : "O_DIRECT", off, n, got);
				break;
			}
			check_bytes(wbuf, off, n, 1, pass ? "final buffered" : "final O_DIRECT");
		}
	}
	close(dfd);
	close(fd);
	unlink(path);
	return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	uint64_t s = 88172645463325252ULL;
	unsigned round = 0;
	double el;
	int opt;

	while ((opt = getopt(argc, argv, "f:w:t:s:m:n:")) != -1) {
		switch (opt) {
		case 'f': dir = optarg; break;
		case 'w': workload = optarg; break;
		case 't': secs = atol(optarg); break;
		case 's': fsize = atol(optarg) << 20; break;
		case 'm': marker = strtol(optarg, NULL, 0); break;
		case 'n': name = optarg; break;
		default: goto usage;
		}
	}
	if (!dir || !workload || fsize < CHUNK)
		goto usage;
	control = !strcmp(workload, "control");
	if (control)	/* one round is enough to be caught */
		secs = 0;
	if (strcmp(workload, "dio-sync") && strcmp(workload, "dio-aio") && strcmp(workload, "dio-uring") &&
	    !control &&
	    strcmp(workload, "buffered") && strcmp(workload, "falloc") && strcmp(workload, "fault"))
		goto usage;
	if (!name)
		name = workload;
	if (!strcmp(workload, "dio-uring")) {
		struct io_uring ring;

		if (io_uring_queue_init(1, &ring, 0)) {
			printf("# io_uring unavailable\n");
			return KSFT_SKIP;
		}
		io_uring_queue_exit(&ring);
	}
	nchunks = fsize / CHUNK;
	fsize = nchunks * CHUNK;
	order = calloc(nchunks, sizeof(*order));
	written = !strcmp(workload, "fault") ? calloc(1, fsize) : NULL;
	fbuf = mmap(NULL, 2 * CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!order || (!strcmp(workload, "fault") && !written) || fbuf == MAP_FAILED ||
	    mprotect(fbuf + CHUNK, CHUNK, PROT_NONE) || posix_memalign((void **)&wbuf, BLK, 4 * CHUNK))
		return perror("setup"), 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (run_round(round++, &s))
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	} while (el < secs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	el = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("STALE name=%s reads=%ld bytes=%ld stale=%ld wrong=%ld rounds=%u writes=%ld secs=%.1f\n",
	       name, n_reads, n_bytes, n_stale, n_wrong, round, n_writes, el);
	return failed || falloc_failed || n_stale || n_wrong ? 1 : 0;
usage:
	fprintf(stderr, "usage: stale_reads -f DIR -w dio-sync|dio-aio|dio-uring|buffered|falloc|fault|control"
			" [-t SECS] [-s MIB] [-m MARKER] [-n NAME]\n");
	return 1;
}
