// SPDX-License-Identifier: GPL-2.0
/*
 * crash_io: the write workload and the verifier of scripts/crash-test.sh.
 *
 *   crash_io write DIR SEED     write until killed (prints a start marker)
 *   crash_io verify DIR         check every regular file under DIR, buffered
 *                               and O_DIRECT (a file fsck relinked as #INO:
 *                               its id from its blocks)
 *   crash_io corrupt FILE BLOCK flip one byte of a block (to show that the
 *                               verifier fails)
 *
 * Every 4 KiB block the workload writes describes itself: a header (magic,
 * file id, block index, generation), a filler derived from those, and a
 * checksum over the whole block. After a crash each block of each file must
 * read as all zeros or as a valid block of that file at that index, of any
 * generation. Anything else is stale or wrong data: the free-space marker
 * (0xa5), a block of another file or index, a bad checksum (torn or garbled).
 *
 * The workload, on NFILES files f00..f05 of at most MAXBLK blocks: buffered
 * writes, O_DIRECT writes into holes (found with SEEK_HOLE), fallocate (mode
 * 0 and KEEP_SIZE), writes (buffered or direct) into the last preallocated
 * range, extending and (rarely) shrinking truncates, fsync, fdatasync and
 * sync_file_range to start writeback. Sizes stay multiples of 4 KiB.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BS 4096
#define NFILES 6
#define MAXBLK 1024 /* 4 MiB a file */
#define MAGIC 0x44434b42u /* "BKCD" little-endian */
#define MARKER 0xa5

struct hdr {
	uint32_t magic;
	uint32_t file;
	uint64_t index;
	uint64_t gen;
	uint64_t sum; /* FNV-1a 64 of the block with this field zero */
};

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

static uint64_t block_sum(const unsigned char *b)
{
	unsigned char tmp[BS];

	memcpy(tmp, b, BS);
	((struct hdr *)tmp)->sum = 0;
	return fnv(tmp, BS);
}

static void fill_block(unsigned char *b, uint32_t file, uint64_t index, uint64_t gen)
{
	struct hdr *h = (struct hdr *)b;
	uint64_t x = (gen << 20) ^ (index << 4) ^ file ^ 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = sizeof(*h); i < BS; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
	h->magic = MAGIC;
	h->file = file;
	h->index = index;
	h->gen = gen;
	h->sum = 0;
	h->sum = block_sum(b);
}

static const char *dir;
static int fd_buf[NFILES], fd_dio[NFILES];
static uint64_t gen_base, gen_next;
static unsigned char *iobuf; /* aligned, up to 16 blocks */

static void die(const char *what)
{
	fprintf(stderr, "crash_io: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void path_of(char *p, size_t n, int f) { snprintf(p, n, "%s/f%02d", dir, f); }

static void open_files(int create)
{
	char p[4096];
	int f;

	for (f = 0; f < NFILES; f++) {
		path_of(p, sizeof(p), f);
		fd_buf[f] = open(p, O_RDWR | (create ? O_CREAT : 0), 0644);
		if (fd_buf[f] < 0)
			die(p);
		fd_dio[f] = open(p, O_RDWR | O_DIRECT);
		if (fd_dio[f] < 0)
			die(p);
	}
}

static off_t fsize(int f)
{
	struct stat st;

	if (fstat(fd_buf[f], &st))
		die("fstat");
	return st.st_size;
}

/* Write n self-describing blocks at block idx of file f. */
static void put(int f, uint64_t idx, int n, int direct)
{
	int i;
	ssize_t r;

	if (idx >= MAXBLK)
		return;
	if (idx + n > MAXBLK)
		n = MAXBLK - idx;
	for (i = 0; i < n; i++)
		fill_block(iobuf + (size_t)i * BS, f, idx + i, gen_next++);
	r = pwrite(direct ? fd_dio[f] : fd_buf[f], iobuf, (size_t)n * BS, (off_t)idx * BS);
	if (r < 0 && errno != ENOSPC)
		die(direct ? "O_DIRECT pwrite" : "pwrite");
}

static struct {
	int f;
	uint64_t idx, n;
} prealloc = { .f = -1 };

static long long ops[8];

static void one_op(void)
{
	int f = below(NFILES), n = 1 + below(16), op = below(100);
	uint64_t size = fsize(f) / BS, idx;
	off_t hole;

	if (op < 30) {
		/* buffered write, mostly near or past EOF */
		idx = below(100) < 60 ? size + below(8) - (size ? below(size < 8 ? size : 8) : 0)
				      : below(MAXBLK);
		put(f, idx, n, 0);
		ops[0]++;
	} else if (op < 45) {
		/* O_DIRECT write into a hole */
		idx = below(MAXBLK);
		hole = lseek(fd_buf[f], (off_t)idx * BS, SEEK_HOLE);
		if (hole < 0)
			hole = (off_t)idx * BS;
		put(f, (uint64_t)hole / BS, n, 1);
		ops[1]++;
	} else if (op < 55) {
		/* fallocate: mode 0 or KEEP_SIZE */
		int keep = below(2);

		idx = below(100) < 50 ? size + below(16) : below(MAXBLK);
		if (idx >= MAXBLK)
			idx = MAXBLK - 1;
		if (idx + n > MAXBLK)
			n = MAXBLK - idx;
		if (fallocate(fd_buf[f], keep ? FALLOC_FL_KEEP_SIZE : 0, (off_t)idx * BS,
			      (off_t)n * BS) && errno != ENOSPC)
			die("fallocate");
		prealloc.f = f;
		prealloc.idx = idx;
		prealloc.n = n;
		ops[2]++;
	} else if (op < 70) {
		/* write into the last preallocated range, buffered or direct */
		if (prealloc.f < 0)
			return;
		idx = prealloc.idx + below(prealloc.n);
		n = 1 + below(prealloc.idx + prealloc.n - idx);
		put(prealloc.f, idx, n, below(2));
		ops[3]++;
	} else if (op < 80) {
		/* truncate: mostly extending, sometimes shrinking */
		uint64_t to = below(100) < 75 ? size + 1 + below(64) : below(size + 1);

		if (to > MAXBLK)
			to = MAXBLK;
		if (ftruncate(fd_buf[f], (off_t)to * BS))
			die("ftruncate");
		ops[4]++;
	} else if (op < 85) {
		if (below(2) ? fsync(fd_buf[f]) : fdatasync(fd_buf[f]))
			die("fsync");
		ops[5]++;
	} else {
		/* start writeback of a range, do not wait */
		sync_file_range(fd_buf[f], (off_t)below(MAXBLK) * BS, (off_t)64 * BS,
				SYNC_FILE_RANGE_WRITE);
		ops[6]++;
	}
}

static __attribute__((noreturn)) void do_write(unsigned long long seed)
{
	struct timespec t0, t;
	long long n = 0;
	int last = 0;

	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	/* Generations of different runs differ: the seed is the high part. */
	gen_base = (seed & 0xffffff) << 36;
	gen_next = gen_base;
	open_files(1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	printf("crash_io: workload started, seed %llu\n", seed);
	fflush(stdout);
	for (;;) {
		one_op();
		n++;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > last) {
			last = t.tv_sec - t0.tv_sec;
			printf("crash_io: %ds ops %lld (buffered %lld, dio-hole %lld, falloc %lld, "
			       "prealloc-write %lld, truncate %lld, fsync %lld, sfr %lld)\n",
			       last, n, ops[0], ops[1], ops[2], ops[3], ops[4], ops[5], ops[6]);
			fflush(stdout);
		}
	}
}

enum kind { ZERO, DATA, MARK, FOREIGN, MISPLACED, BADSUM, OTHER, NKINDS };
static const char *const kind_name[] = { "zero", "data", "marker", "foreign",
					 "misplaced", "badsum", "other" };

static enum kind classify(const unsigned char *b, uint32_t file, uint64_t index)
{
	const struct hdr *h = (const struct hdr *)b;
	size_t i;
	int zero = 1, mark = 1;

	for (i = 0; i < BS; i++) {
		zero &= b[i] == 0;
		mark &= b[i] == MARKER;
	}
	if (zero)
		return ZERO;
	if (mark)
		return MARK;
	if (h->magic != MAGIC)
		return OTHER;
	if (block_sum(b) != h->sum)
		return BADSUM;
	if (h->file != file)
		return FOREIGN;
	if (h->index != index)
		return MISPLACED;
	return DATA;
}

static long long counts[2][NKINDS];

/* Read file f through fd, every block classified; returns bad blocks. */
static long long check_fd(int fd, int f, int direct, off_t size)
{
	long long bad = 0;
	uint64_t idx;

	for (idx = 0; (off_t)(idx * BS) < size; idx++) {
		ssize_t r = pread(fd, iobuf, BS, (off_t)idx * BS);
		enum kind k;

		if (r != BS) {
			printf("f%02d block %llu: %s read returned %zd (%s)\n", f,
			       (unsigned long long)idx, direct ? "O_DIRECT" : "buffered", r,
			       r < 0 ? strerror(errno) : "short");
			bad++;
			continue;
		}
		k = classify(iobuf, f, idx);
		counts[direct][k]++;
		if (k != ZERO && k != DATA) {
			const struct hdr *h = (const struct hdr *)iobuf;

			if (bad < 10)
				printf("f%02d block %llu (%s): %s (magic %08x file %u index %llu "
				       "gen %llx, first byte %02x)\n",
				       f, (unsigned long long)idx, direct ? "O_DIRECT" : "buffered",
				       kind_name[k], h->magic, h->file, (unsigned long long)h->index,
				       (unsigned long long)h->gen, iobuf[0]);
			bad++;
		}
	}
	return bad;
}

static long long bad_total, blocks_total;
static int files_total, files_renamed;

/*
 * The file id of a file fsck relinked under another name (#INO): the id most
 * of its valid blocks carry (-1 if none: then only zeros are right).
 */
static int infer_id(int fd, off_t size)
{
	long long votes[NFILES] = { 0 };
	int best = -1, f;
	uint64_t idx;

	for (idx = 0; (off_t)(idx * BS) < size; idx++) {
		const struct hdr *h = (const struct hdr *)iobuf;

		if (pread(fd, iobuf, BS, (off_t)idx * BS) != BS)
			continue;
		if (h->magic == MAGIC && h->file < NFILES && block_sum(iobuf) == h->sum)
			votes[h->file]++;
	}
	for (f = 0; f < NFILES; f++)
		if (votes[f] && (best < 0 || votes[f] > votes[best]))
			best = f;
	return best;
}

static int verify_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	const char *base = p + ftw->base;
	int fb, fdd, id;
	off_t size;
	struct stat st;

	(void)sb;
	if (type != FTW_F)
		return 0;
	fb = open(p, O_RDONLY);
	fdd = open(p, O_RDONLY | O_DIRECT);
	if (fb < 0 || fdd < 0 || fstat(fb, &st))
		die(p);
	size = st.st_size;
	if (strlen(base) == 3 && base[0] == 'f' && base[1] >= '0' && base[1] <= '9' &&
	    base[2] >= '0' && base[2] <= '9' && atoi(base + 1) < NFILES) {
		id = atoi(base + 1);
	} else {
		id = infer_id(fb, size);
		files_renamed++;
		printf("crash_io: %s (not a name the workload gave): file id %d by its blocks\n", p,
		       id);
	}
	files_total++;
	if (size % BS) {
		printf("%s: size %lld is not a multiple of %d\n", p, (long long)size, BS);
		bad_total++;
	}
	blocks_total += size / BS;
	/* buffered first (fills the page cache), then from disk */
	bad_total += check_fd(fb, id, 0, size);
	bad_total += check_fd(fdd, id, 1, size);
	close(fb);
	close(fdd);
	return 0;
}

/* Every regular file under DIR: the workload's, and any fsck relinked. */
static int do_verify(void)
{
	if (nftw(dir, verify_one, 16, FTW_PHYS))
		die(dir);
	for (int d = 0; d < 2; d++) {
		printf("crash_io: verify %s:", d ? "O_DIRECT" : "buffered");
		for (int k = 0; k < NKINDS; k++)
			printf(" %s=%lld", kind_name[k], counts[d][k]);
		printf("\n");
	}
	/* blocks: each read twice (reads); data, zero: over all reads */
	printf("VERIFY files=%d renamed=%d blocks=%lld reads=%lld data=%lld zero=%lld stale=%lld\n",
	       files_total, files_renamed, blocks_total, 2 * blocks_total,
	       counts[0][DATA] + counts[1][DATA], counts[0][ZERO] + counts[1][ZERO], bad_total);
	return bad_total ? 1 : 0;
}

static int do_corrupt(const char *file, long long block)
{
	int fd = open(file, O_RDWR);
	unsigned char c;
	off_t off = (off_t)block * BS + 100;

	if (fd < 0 || pread(fd, &c, 1, off) != 1)
		die(file);
	c ^= 0x01;
	if (pwrite(fd, &c, 1, off) != 1 || fsync(fd))
		die(file);
	printf("crash_io: flipped a bit of %s block %lld\n", file, block);
	return 0;
}

int main(int argc, char **argv)
{
	if (posix_memalign((void **)&iobuf, BS, 16 * BS))
		die("posix_memalign");
	if (argc == 4 && !strcmp(argv[1], "write")) {
		dir = argv[2];
		do_write(strtoull(argv[3], NULL, 0));
	}
	if (argc == 3 && !strcmp(argv[1], "verify")) {
		dir = argv[2];
		return do_verify();
	}
	if (argc == 4 && !strcmp(argv[1], "corrupt"))
		return do_corrupt(argv[2], strtoll(argv[3], NULL, 0));
	fprintf(stderr, "usage: crash_io write DIR SEED | verify DIR | corrupt FILE BLOCK\n");
	return 2;
}
