// SPDX-License-Identifier: GPL-2.0
/*
 * Reproducer of the delalloc release race of the December 2023 report
 * (WARN_ON_ONCE(data_end <= start_byte) in iomap_write_delalloc_release(),
 * fixed upstream by 7a9d43eace88).
 *
 * Each trial: a 4 MiB sparse file; read every other 64 KiB chunk so clean,
 * zero-filled folios sit in the page cache over holes; a buffered writev()
 * of 4 MiB whose user buffer faults after 4 KiB, so the write comes up short
 * and the filesystem runs its delalloc release loop over those folios; and
 * an evictor that drops the clean folios while the loop runs:
 *
 *   dropcaches  echo 1 > /proc/sys/vm/drop_caches (the report)
 *   fadvise     posix_fadvise(POSIX_FADV_DONTNEED)
 *   pageout     madvise(MADV_PAGEOUT) over a mapping of the cached pages
 *   reclaim     memory.reclaim of a memory cgroup race_repro joins (v2)
 *   punch       fallocate(PUNCH_HOLE) of the file's last chunk, a hole
 *   dio, uring  the page cache invalidation that ends an asynchronous
 *               O_DIRECT write (libaio, io_uring): the cause the upstream
 *               fix names, iomap_dio_complete() ->
 *               kiocb_invalidate_post_direct_write(), run on the dio/<sb>
 *               workqueue (or io_uring's task work) with no inode lock.
 *
 * The direct-I/O triggers set the trial up differently, because the write
 * allocates its range when it is submitted (XFS: unwritten extents; delafs:
 * blocks), so the short write's delalloc mapping cannot overlap it. Block 0
 * is written and synced first, so the buffered write's first mapping is
 * that block and its second, the delalloc range [4 KiB, DIO_START), copies
 * nothing and is released whole. The O_DIRECT write of zeros covers
 * [DIO_START, 4 MiB), where DIO_START = READ_AT + 4 KiB; after submission
 * (which invalidates its range) the evictor reads READ_LEN bytes from
 * READ_AT: the only cached data in the release range is its first 4 KiB. Its completion
 * invalidates the folios overlapping [DIO_START, 4 MiB): with 4 KiB folios
 * none of them is in the release range, so nothing can race; with a large
 * folio over READ_AT that reaches past DIO_START, the completion takes the
 * very folio SEEK_DATA found. -D makes the completion late on purpose: the
 * device-mapper delay device NAME gets the table in file -S (writes held)
 * before the submission and the table in file -F (no delay) after, and
 * swapping tables flushes the held writes (dm-delay's presuspend), so with
 * the seek delay armed the completion lands inside it. Without -D it lands
 * whenever the device completes. -C (the control) flushes only once the
 * buffered write returned: the same trial with the completion after the
 * release loop, which must not race. The bytes the evictor read must be zeros
 * (the file is a hole there, or the zeros being written): anything else is
 * stale disk data, counted as stale_reads.
 *
 * The filesystem is whatever is mounted at MNT: delafs runs its own release
 * loop (knobs and counters in /sys/kernel/debug/delafs), any other iomap
 * filesystem, XFS in the lab, runs iomap's (/sys/kernel/debug/iomap, from
 * patches/0004). -k overrides the directory.
 *
 * With the filesystem's seek_delay_us knob armed, the evictor waits until
 * the loop is inside the delay (the "delays" counter moves) and evicts
 * then; without it, it evicts as fast as it can (the natural race).
 *
 * After each trial the file is checked (4 KiB of data, then zeros, size
 * 4 MiB, also after its data was written back and dropped from the cache)
 * and, once it is unlinked, statfs free space must be back where it was:
 * no reservation leaked or wrongly punched, no dirty data lost. (XFS frees
 * an unlinked inode's blocks in the background, so that check waits for up
 * to FREE_SPACE_WAIT_S.)
 *
 *   race_repro -m MNT -t dropcaches|fadvise|dio|uring|pageout|reclaim|punch [-n TRIALS] [-T SECONDS]
 *              [-k COUNTERS_DIR] [-D DM_NAME -S SLOW_TABLE -F FAST_TABLE [-C]] [-q]
 *
 * The last line is a summary for scripts:
 *   SUMMARY fs=FS trigger=T mode=M delay_us=D trials=N race_trials=R races=R
 *     warnings=W verified=V first_race_ms=F elapsed_s=E stale_reads=S
 *     orders=ORDER:FOLIOS,... max_order=O straddles=T
 * where orders are the page cache folios over the file after the first
 * trial's reads (folio_orders.h), before the write, and straddles counts
 * the direct-I/O trials whose folio over READ_AT reached into the written
 * range (the only ones that can race). For the other triggers the line
 * ends with
 *     write_orders=ORDER:FOLIOS,...
 * the folios over the file's first WRITE_SPAN bytes once the short write
 * has returned, summed over all trials: the folio the write dirtied and
 * whatever the evictor left around it.
 */

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <linux/dm-ioctl.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "folio_orders.h"

#define FILE_SIZE (4L << 20)
#define CHUNK (64L << 10)
#define WRITTEN 4096L
/* What the write-side folio measurement covers: the largest folio at 0. */
#define WRITE_SPAN (2L << 20)
#define FREE_SPACE_WAIT_S 5.0
#define DELAFS_MAGIC 0xde1af500
/* The direct-I/O triggers: see the top of the file. */
#define READ_AT (1L << 20)
#define DIO_START (READ_AT + 4096)
/*
 * Larger than the device's largest I/O, so readahead treats it as a stream
 * and builds large folios (page_cache_sync_ra() -> page_cache_ra_order());
 * a small read away from the file's start is a "random" read, done in
 * single pages.
 */
#define READ_LEN (2L << 20)

enum trigger { DROPCACHES, FADVISE, DIO, URING, PAGEOUT, RECLAIM, PUNCH };

static const char *mnt, *counters, *fs_name, *dm_name, *dm_slow, *dm_fast;
static int control;
static long straddles;
static double t_moved, t_flushed, t_done;
static long stale_reads, trial_no, order_hist[FOLIO_MAX_ORDER + 1];
static long write_hist[FOLIO_MAX_ORDER + 1];
static int write_hist_unknown;
static unsigned char *pattern;
static enum trigger trigger;
static char path[4096];
static int quiet;

static atomic_int writer_done, evictor_ready;
static int file_fd;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* A counter or knob of the filesystem under test; -1 if it has none. */
static long read_counter(const char *name)
{
	char p[512], buf[64];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", counters, name);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

static void read_knob(const char *name, char *out, size_t len)
{
	char p[512];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", counters, name);
	strcpy(out, "-");
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, out, len - 1);
	close(fd);
	if (n > 0) {
		out[n] = 0;
		out[strcspn(out, "\n")] = 0;
	}
}

static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * Clean zero-filled folios over holes: every other 64 KiB chunk. Page 0 is
 * read first, alone (POSIX_FADV_RANDOM: no readahead), so it is a folio of
 * its own and readahead starts at page 1: with large folios, a folio over
 * page 0 would also cover 4 KiB, where the release loop's first SEEK_DATA
 * lands, and the short write would make it dirty, which no eviction takes.
 */
static void read_holes(int fd)
{
	static char buf[CHUNK];
	int single = open(path, O_RDONLY);

	if (single < 0 || posix_fadvise(single, 0, 0, POSIX_FADV_RANDOM) ||
	    pread(single, buf, 4096, 0) != 4096)
		die("read page 0");
	close(single);
	for (long off = 0; off < FILE_SIZE; off += 2 * CHUNK)
		if (pread(fd, buf, CHUNK, off) != CHUNK)
			die("pread");
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd < 0 || write(fd, "1", 1) != 1)
		die("drop_caches");
	close(fd);
}

/* pageout: the evictor's mapping of the file, each cached page mapped. */
static char *pageout_map;
/* reclaim: memory.reclaim of the cgroup race_repro moved itself into. */
static char reclaim_file[256];

static void map_cached_pages(void)
{
	static unsigned char vec[FILE_SIZE / 4096];

	pageout_map = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, file_fd, 0);
	if (pageout_map == MAP_FAILED)
		die("mmap");
	/* No readahead: only what is cached gets mapped. */
	madvise(pageout_map, FILE_SIZE, MADV_RANDOM);
	if (mincore(pageout_map, FILE_SIZE, vec))
		die("mincore");
	for (long i = 0; i < FILE_SIZE / 4096; i++)
		if (vec[i] & 1)
			(void)*(volatile char *)(pageout_map + i * 4096);
}

/*
 * A memory cgroup of our own, so memory.reclaim reclaims our page cache:
 * cgroup2 mounted if it is not, the memory controller enabled below the
 * root, the whole process (both threads) moved in.
 */
static void setup_reclaim(void)
{
	const char *root = "/sys/fs/cgroup";
	char p[256], pid[32];
	int fd;

	snprintf(p, sizeof(p), "%s/cgroup.subtree_control", root);
	if (access(p, F_OK) && system("mount -t cgroup2 none /sys/fs/cgroup"))
		die("mount cgroup2");
	fd = open(p, O_WRONLY);
	if (fd < 0 || write(fd, "+memory", 7) != 7)
		die("enable the memory controller");
	close(fd);
	snprintf(p, sizeof(p), "%s/race_repro", root);
	if (mkdir(p, 0755) && errno != EEXIST)
		die("mkdir cgroup");
	snprintf(p, sizeof(p), "%s/race_repro/cgroup.procs", root);
	snprintf(pid, sizeof(pid), "%d", getpid());
	fd = open(p, O_WRONLY);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		die("join cgroup");
	close(fd);
	snprintf(reclaim_file, sizeof(reclaim_file), "%s/race_repro/memory.reclaim", root);
}

static void evict(void)
{
	if (trigger == DROPCACHES)
		drop_caches();
	else if (trigger == FADVISE) {
		/* Returns the error; a kernel without ADVISE_SYSCALLS says ENOSYS. */
		int err = posix_fadvise(file_fd, 0, 0, POSIX_FADV_DONTNEED);

		if (err) {
			errno = err;
			die("posix_fadvise");
		}
	} else if (trigger == PAGEOUT) {
		/* Reclaims the mapped clean folios at once, leaving shadows. */
		if (madvise(pageout_map, FILE_SIZE, MADV_PAGEOUT))
			die("madvise(MADV_PAGEOUT)");
	} else if (trigger == RECLAIM) {
		int fd = open(reclaim_file, O_WRONLY);

		/* EAGAIN: less than asked could be reclaimed, which is fine. */
		if (fd < 0 || (write(fd, "64M", 3) < 0 && errno != EAGAIN))
			die("memory.reclaim");
		close(fd);
	} else if (trigger == PUNCH) {
		/* The last chunk, a hole: the file's contents do not change.
		 * Takes the inode lock, so it waits for the writer. */
		if (fallocate(file_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      FILE_SIZE - CHUNK, CHUNK))
			die("fallocate(PUNCH_HOLE)");
	}
}

/* One device-mapper ioctl on dm_name; @extra follows the header. */
static void dm_ioctl_cmd(unsigned long cmd, unsigned int flags, const void *extra, size_t len)
{
	static char buf[16384];
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	int fd = open("/dev/mapper/control", O_RDWR);

	if (fd < 0 || sizeof(*io) + len > sizeof(buf))
		die("/dev/mapper/control");
	memset(buf, 0, sizeof(*io));
	io->version[0] = DM_VERSION_MAJOR;
	io->data_size = sizeof(buf);
	io->data_start = sizeof(*io);
	io->flags = flags;
	io->target_count = extra ? 1 : 0;
	snprintf(io->name, sizeof(io->name), "%s", dm_name);
	if (extra)
		memcpy(buf + sizeof(*io), extra, len);
	if (ioctl(fd, cmd, io))
		die("device-mapper ioctl");
	close(fd);
}

/*
 * Swaps the delay device's table for the one-target table in file @table
 * ("START LENGTH delay ARGS...", as dmsetup takes it): load, suspend
 * without freezing the filesystem (a buffered write sits in its release
 * loop), resume. dm-delay's presuspend sends every write it holds. The
 * ioctls directly: three dmsetup runs would take longer than the delay.
 */
static void dm_swap(const char *table)
{
	char line[1024], spec_buf[sizeof(struct dm_target_spec) + 1024];
	struct dm_target_spec *spec = (struct dm_target_spec *)spec_buf;
	unsigned long long start, length;
	int n = 0;
	FILE *f = fopen(table, "r");
	size_t len;

	if (!f || !fgets(line, sizeof(line), f))
		die(table);
	fclose(f);
	line[strcspn(line, "\n")] = 0;
	memset(spec_buf, 0, sizeof(spec_buf));
	if (sscanf(line, "%llu %llu %15s %n", &start, &length, spec->target_type, &n) != 3 || !n) {
		fprintf(stderr, "%s: not a one-target table\n", table);
		exit(1);
	}
	spec->sector_start = start;
	spec->length = length;
	snprintf(spec_buf + sizeof(*spec), sizeof(spec_buf) - sizeof(*spec), "%s", line + n);
	len = sizeof(*spec) + strlen(line + n) + 1;
	len = (len + 7) & ~7UL;
	spec->next = len;
	dm_ioctl_cmd(DM_TABLE_LOAD, 0, spec_buf, len);
	dm_ioctl_cmd(DM_DEV_SUSPEND, DM_SUSPEND_FLAG | DM_SKIP_LOCKFS_FLAG, NULL, 0);
	dm_ioctl_cmd(DM_DEV_SUSPEND, 0, NULL, 0);
}

/* The first trial measures the folios the reads built. */
static void measure_folios(void)
{
	if (trial_no == 0 && folio_orders(file_fd, FILE_SIZE, order_hist) < 0)
		order_hist[0] = -1;
}

/*
 * io_uring may hand the write to a worker (XFS refuses to allocate under
 * IOCB_NOWAIT), so submission can still be running when io_uring_submit()
 * returns, and its invalidation would then drop the folios the reads are
 * about to build. iomap invalidates before it maps, and mapping allocates,
 * so once the written range is allocated the submission's invalidation is
 * over. XFS counts the unwritten blocks in st_blocks at once; delafs maps
 * real blocks, which SEEK_DATA reports (it counts st_blocks only when the
 * inode is written).
 */
static void wait_dio_submitted(void)
{
	double t0 = now();
	struct stat st;

	do {
		if (fstat(file_fd, &st))
			die("fstat");
		if (st.st_blocks * 512 >= FILE_SIZE - DIO_START ||
		    lseek(file_fd, DIO_START, SEEK_DATA) == DIO_START)
			return;
		usleep(100);
	} while (now() - t0 < 5);
	fprintf(stderr, "the O_DIRECT write allocated nothing in 5 s (%ld blocks)\n",
		(long)st.st_blocks);
	exit(1);
}

/*
 * The direct-I/O evictor: submit, read over the release range, wait until
 * the release loop sleeps (if the delay is armed), let the completion come.
 */
static void dio_evictor(int armed, long delays0)
{
	static char rbuf[READ_LEN];
	struct io_uring ring;
	struct iocb cb, *cbs[1] = { &cb };
	io_context_t ctx = 0;
	struct io_event ev;
	void *zeros = NULL;
	double t0;
	long res;
	int dfd;

	if (posix_memalign(&zeros, 4096, FILE_SIZE))
		die("posix_memalign");
	memset(zeros, 0, FILE_SIZE);
	dfd = open(path, O_RDWR | O_DIRECT);
	if (dfd < 0)
		die("open O_DIRECT");
	if (dm_name)
		dm_swap(dm_slow);
	if (trigger == DIO) {
		if (io_setup(1, &ctx))
			die("io_setup");
		io_prep_pwrite(&cb, dfd, zeros, FILE_SIZE - DIO_START, DIO_START);
		if (io_submit(ctx, 1, cbs) != 1)
			die("io_submit");
	} else {
		struct io_uring_sqe *sqe;

		if (io_uring_queue_init(2, &ring, 0))
			die("io_uring_queue_init");
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_write(sqe, dfd, zeros, FILE_SIZE - DIO_START, DIO_START);
		if (io_uring_submit(&ring) != 1)
			die("io_uring_submit");
	}
	wait_dio_submitted();
	if (pread(file_fd, rbuf, READ_LEN, READ_AT) != READ_LEN)
		die("pread");
	for (long i = 0; i < READ_LEN; i++)
		stale_reads += rbuf[i] != 0;
	measure_folios();
	/* The folio over READ_AT reaches into the written range. */
	straddles += folio_continues(file_fd, DIO_START) == 1;
	t0 = now();
	atomic_store(&evictor_ready, 1);

	if (control)
		while (!atomic_load(&writer_done))
			;
	else if (armed)
		while (read_counter("delays") == delays0 && !atomic_load(&writer_done))
			;
	t_moved = now() - t0;
	if (dm_name && (armed || control))
		dm_swap(dm_fast);
	t_flushed = now() - t0;
	if (trigger == DIO) {
		if (io_getevents(ctx, 1, 1, &ev, NULL) != 1)
			die("io_getevents");
		res = ev.res;
		io_destroy(ctx);
	} else {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(&ring, &cqe))
			die("io_uring_wait_cqe");
		res = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		io_uring_queue_exit(&ring);
	}
	t_done = now() - t0;
	if (dm_name && !armed && !control)
		dm_swap(dm_fast);
	if (res != FILE_SIZE - DIO_START) {
		fprintf(stderr, "O_DIRECT write returned %ld\n", res);
		exit(1);
	}
	close(dfd);
	free(zeros);
}

/*
 * The evictor. It reads the holes itself, pinned to CPU 0 while the writer
 * runs on CPU 1, so that the two really run side by side on the guest's two
 * vCPUs and the eviction lands while the writer sleeps in the delay.
 */
static void *evictor(void *arg)
{
	long delays0 = read_counter("delays");
	int armed = *(int *)arg;

	pin_to_cpu(0);
	if (trigger == DIO || trigger == URING) {
		dio_evictor(armed, delays0);
		return NULL;
	}
	read_holes(file_fd);
	measure_folios();
	if (trigger == PAGEOUT)
		map_cached_pages();
	atomic_store(&evictor_ready, 1);

	while (!atomic_load(&writer_done)) {
		if (armed) {
			/* Evict once the release loop is inside the delay. */
			long d = read_counter("delays");

			if (d == delays0)
				continue;
			delays0 = d;
		}
		evict();
	}
	if (pageout_map) {
		munmap(pageout_map, FILE_SIZE);
		pageout_map = NULL;
	}
	return NULL;
}

static int verify(void)
{
	static unsigned char buf[FILE_SIZE];
	struct stat st;

	if (fstat(file_fd, &st) || st.st_size != FILE_SIZE) {
		printf("# size %ld, want %ld\n", (long)st.st_size, FILE_SIZE);
		return 0;
	}
	if (pread(file_fd, buf, FILE_SIZE, 0) != FILE_SIZE)
		die("pread");
	for (long i = 0; i < FILE_SIZE; i++) {
		unsigned char want = i < WRITTEN ? 'a' + i % 26 : 0;

		if (buf[i] != want) {
			printf("# byte %ld is 0x%02x, want 0x%02x\n", i, buf[i], want);
			return 0;
		}
	}
	return 1;
}

static unsigned long free_blocks(void)
{
	struct statfs sf;

	if (statfs(mnt, &sf))
		die("statfs");
	return sf.f_bfree;
}

/* The free blocks, once they are back to want or FREE_SPACE_WAIT_S passed. */
static unsigned long settled_free_blocks(unsigned long want)
{
	double t0 = now();
	unsigned long n;

	while ((n = free_blocks()) != want && now() - t0 < FREE_SPACE_WAIT_S)
		usleep(10000);
	return n;
}

/* Which release loop runs on MNT, and so where its knobs are. */
static void identify_fs(void)
{
	struct statfs sf;

	if (statfs(mnt, &sf))
		die("statfs");
	if ((unsigned long)sf.f_type == DELAFS_MAGIC) {
		fs_name = "delafs";
		if (!counters)
			counters = "/sys/kernel/debug/delafs";
	} else {
		fs_name = (unsigned long)sf.f_type == 0x58465342 ? "xfs" : "other";
		if (!counters)
			counters = "/sys/kernel/debug/iomap";
	}
}

static void syncfs_mnt(void)
{
	int fd = open(mnt, O_RDONLY | O_DIRECTORY);

	if (fd < 0 || syncfs(fd))
		die("syncfs");
	close(fd);
}

int main(int argc, char **argv)
{
	long trials = 20, trial, races = 0, race_trials = 0, warnings = 0, verified = 0;
	long delay_us, races0, warns0;
	double t_start, first_race = -1, seconds = 0;
	unsigned long free0;
	unsigned char *buf;
	char mode[32], tname[32], orders[256], write_orders[256];
	struct iovec iov[2];
	int opt, armed;

	while ((opt = getopt(argc, argv, "m:t:n:T:k:D:S:F:Cq")) != -1) {
		switch (opt) {
		case 'm': mnt = optarg; break;
		case 't':
			if (!strcmp(optarg, "dropcaches"))
				trigger = DROPCACHES;
			else if (!strcmp(optarg, "fadvise"))
				trigger = FADVISE;
			else if (!strcmp(optarg, "dio"))
				trigger = DIO;
			else if (!strcmp(optarg, "uring"))
				trigger = URING;
			else if (!strcmp(optarg, "pageout"))
				trigger = PAGEOUT;
			else if (!strcmp(optarg, "reclaim"))
				trigger = RECLAIM;
			else if (!strcmp(optarg, "punch"))
				trigger = PUNCH;
			else
				goto usage;
			snprintf(tname, sizeof(tname), "%s", optarg);
			break;
		case 'n': trials = atol(optarg); break;
		case 'T': seconds = atof(optarg); break;
		case 'k': counters = optarg; break;
		case 'D': dm_name = optarg; break;
		case 'S': dm_slow = optarg; break;
		case 'F': dm_fast = optarg; break;
		case 'C': control = 1; break;
		case 'q': quiet = 1; break;
		default:
			goto usage;
		}
	}
	if (!mnt || !tname[0] || (dm_name && (!dm_slow || !dm_fast))) {
usage:
		fprintf(stderr, "usage: race_repro -m MNT -t dropcaches|fadvise|dio|uring|pageout|reclaim|punch [-n TRIALS] [-T SECONDS] [-k COUNTERS_DIR] [-D DM_NAME -S SLOW_TABLE -F FAST_TABLE [-C]] [-q]\n");
		return 2;
	}
	identify_fs();
	if (trigger == RECLAIM)
		setup_reclaim();
	read_knob("release_mode", mode, sizeof(mode));
	delay_us = read_counter("seek_delay_us");
	armed = delay_us > 0;

	/* The user buffer: 4 KiB readable, the rest PROT_NONE. */
	buf = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	for (long i = 0; i < WRITTEN; i++)
		buf[i] = 'a' + i % 26;
	if (mprotect(buf + WRITTEN, FILE_SIZE - WRITTEN, PROT_NONE))
		die("mprotect");
	iov[0].iov_base = buf;
	iov[0].iov_len = WRITTEN;
	pattern = buf;
	iov[1].iov_base = buf + WRITTEN;
	iov[1].iov_len = FILE_SIZE - WRITTEN;

	snprintf(path, sizeof(path), "%s/race_repro.data", mnt);
	/* The directory's first block, so free space is comparable. */
	close(open(path, O_CREAT | O_WRONLY, 0644));
	syncfs_mnt();
	free0 = free_blocks();
	pin_to_cpu(1);

	t_start = now();
	for (trial = 0; seconds ? now() - t_start < seconds : trial < trials; trial++) {
		pthread_t thread;
		double t0 = now();
		ssize_t ret;
		long r, w;
		int ok;

		file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (file_fd < 0 || ftruncate(file_fd, FILE_SIZE))
			die("open/ftruncate");
		trial_no = trial;
		/* Direct-I/O triggers: block 0 on disk, so the write's delalloc
		 * mapping starts after it (see the top of the file). */
		if ((trigger == DIO || trigger == URING) &&
		    (pwrite(file_fd, pattern, WRITTEN, 0) != WRITTEN || fdatasync(file_fd)))
			die("pwrite/fdatasync block 0");
		atomic_store(&writer_done, 0);
		atomic_store(&evictor_ready, 0);
		races0 = read_counter("races");
		warns0 = read_counter("legacy_warnings");
		if (pthread_create(&thread, NULL, evictor, &armed))
			die("pthread_create");
		while (!atomic_load(&evictor_ready))
			;
		ret = pwritev(file_fd, iov, 2, 0);
		atomic_store(&writer_done, 1);
		pthread_join(thread, NULL);
		/* Before verify() reads the file and fills its holes. */
		if (trigger != DIO && trigger != URING &&
		    folio_orders(file_fd, WRITE_SPAN, write_hist) < 0)
			write_hist_unknown = 1;
		if (ret != WRITTEN) {
			printf("# trial %ld: writev returned %zd (%s), want %ld\n", trial, ret,
			       ret < 0 ? strerror(errno) : "short", WRITTEN);
			return 1;
		}
		r = read_counter("races") - races0;
		w = read_counter("legacy_warnings") - warns0;

		/* Check from the cache, then from disk. */
		ok = verify();
		if (ok) {
			if (fsync(file_fd))
				die("fsync");
			drop_caches();
			ok = verify();
		}
		close(file_fd);
		if (unlink(path))
			die("unlink");
		close(open(path, O_CREAT | O_WRONLY, 0644));
		syncfs_mnt();
		if (settled_free_blocks(free0) != free0) {
			printf("# trial %ld: %lu free blocks after the file is gone, want %lu\n",
			       trial, free_blocks(), free0);
			ok = 0;
		}
		verified += ok;
		if (r > 0) {
			race_trials++;
			races += r;
			if (first_race < 0)
				first_race = (now() - t_start) * 1000;
		}
		if (w > 0)
			warnings += w;
		if (!quiet)
			printf("# trial %ld: races %ld, legacy warnings %ld, verified %d, %.1f ms"
			       " (direct I/O: straddles %ld, loop asleep at %.1f ms, flushed %.1f ms,"
			       " completed %.1f ms)\n",
			       trial, r, w, ok, (now() - t0) * 1000, straddles,
			       t_moved * 1000, t_flushed * 1000, t_done * 1000);
	}
	unlink(path);
	if (order_hist[0] < 0)
		snprintf(orders, sizeof(orders), "unknown");
	else
		folio_orders_format(order_hist, orders, sizeof(orders));
	if (write_hist_unknown)
		snprintf(write_orders, sizeof(write_orders), "unknown");
	else
		folio_orders_format(write_hist, write_orders, sizeof(write_orders));
	printf("SUMMARY fs=%s trigger=%s mode=%s delay_us=%ld trials=%ld race_trials=%ld races=%ld "
	       "warnings=%ld verified=%ld first_race_ms=%.1f elapsed_s=%.2f stale_reads=%ld "
	       "orders=%s max_order=%d straddles=%ld",
	       fs_name, tname, mode, delay_us, trial, race_trials, races, warnings, verified,
	       first_race, now() - t_start, stale_reads,
	       orders, order_hist[0] < 0 ? -1 : folio_orders_max(order_hist), straddles);
	if (trigger != DIO && trigger != URING)
		printf(" write_orders=%s", write_orders);
	printf("\n");
	return verified == trial ? 0 : 1;
}
