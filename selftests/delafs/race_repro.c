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
 *   dio         the page cache invalidation that ends an asynchronous
 *               O_DIRECT write (libaio) over the same range (the cause the
 *               upstream fix names)
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
 *   race_repro -m MNT -t dropcaches|fadvise|dio [-n TRIALS] [-T SECONDS]
 *              [-k COUNTERS_DIR] [-q]
 *
 * The last line is a summary for scripts:
 *   SUMMARY fs=FS trigger=T mode=M delay_us=D trials=N race_trials=R races=R
 *     warnings=W verified=V first_race_ms=F elapsed_s=E
 */

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FILE_SIZE (4L << 20)
#define CHUNK (64L << 10)
#define WRITTEN 4096L
#define FREE_SPACE_WAIT_S 5.0
#define DELAFS_MAGIC 0xde1af500

enum trigger { DROPCACHES, FADVISE, DIO };

static const char *mnt, *counters, *fs_name;
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

/* Clean zero-filled folios over holes: every other 64 KiB chunk. */
static void read_holes(int fd)
{
	static char buf[CHUNK];

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
	}
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
	io_context_t ctx = 0;
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	void *zeros = NULL;
	int dfd = -1;

	pin_to_cpu(0);
	if (trigger == DIO) {
		if (io_setup(1, &ctx))
			die("io_setup");
		if (posix_memalign(&zeros, 4096, FILE_SIZE))
			die("posix_memalign");
		memset(zeros, 0, FILE_SIZE);
		dfd = open(path, O_RDWR | O_DIRECT);
		if (dfd < 0)
			die("open O_DIRECT");
		/*
		 * Zeros over everything after the block the writer writes, where
		 * the file is a hole: the contents do not change. Submission
		 * invalidates the range at once; completion invalidates it
		 * again, without the inode lock, while the writer may be in its
		 * release loop, whose first SEEK_DATA lands at WRITTEN.
		 */
		io_prep_pwrite(&cb, dfd, zeros, FILE_SIZE - WRITTEN, WRITTEN);
		if (io_submit(ctx, 1, cbs) != 1)
			die("io_submit");
	}
	read_holes(file_fd);
	atomic_store(&evictor_ready, 1);

	if (trigger == DIO) {
		if (io_getevents(ctx, 1, 1, &ev, NULL) != 1 || (long)ev.res < 0) {
			fprintf(stderr, "O_DIRECT write failed: %ld\n", (long)ev.res);
			exit(1);
		}
		io_destroy(ctx);
		close(dfd);
		free(zeros);
		return NULL;
	}
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
	char mode[32], tname[32];
	struct iovec iov[2];
	int opt, armed;

	while ((opt = getopt(argc, argv, "m:t:n:T:k:q")) != -1) {
		switch (opt) {
		case 'm': mnt = optarg; break;
		case 't':
			if (!strcmp(optarg, "dropcaches"))
				trigger = DROPCACHES;
			else if (!strcmp(optarg, "fadvise"))
				trigger = FADVISE;
			else if (!strcmp(optarg, "dio"))
				trigger = DIO;
			else
				goto usage;
			snprintf(tname, sizeof(tname), "%s", optarg);
			break;
		case 'n': trials = atol(optarg); break;
		case 'T': seconds = atof(optarg); break;
		case 'k': counters = optarg; break;
		case 'q': quiet = 1; break;
		default:
			goto usage;
		}
	}
	if (!mnt || !tname[0]) {
usage:
		fprintf(stderr, "usage: race_repro -m MNT -t dropcaches|fadvise|dio [-n TRIALS] [-T SECONDS] [-k COUNTERS_DIR] [-q]\n");
		return 2;
	}
	identify_fs();
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
			printf("# trial %ld: races %ld, legacy warnings %ld, verified %d, %.1f ms\n",
			       trial, r, w, ok, (now() - t0) * 1000);
	}
	unlink(path);
	printf("SUMMARY fs=%s trigger=%s mode=%s delay_us=%ld trials=%ld race_trials=%ld races=%ld "
	       "warnings=%ld verified=%ld first_race_ms=%.1f elapsed_s=%.2f\n",
	       fs_name, tname, mode, delay_us, trial, race_trials, races, warnings, verified,
	       first_race, now() - t_start);
	return verified == trial ? 0 : 1;
}
