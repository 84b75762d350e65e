// SPDX-License-Identifier: GPL-2.0
/*
 * bench_meta: the metadata loops of `make bench` (scripts/guest-bench.sh),
 * timed per operation with a deadline so a slow directory never hangs the
 * benchmark.
 *
 *   bench_meta dir  DIR N CAP_SECS        create N empty files in DIR, then
 *                                         stat them (dentry and inode caches
 *                                         dropped first), then unlink them
 *   bench_meta tree DIR FANOUT DEPTH FILES CAP_SECS
 *                                         a tree of FANOUT^1..FANOUT^DEPTH
 *                                         directories with FILES empty files
 *                                         each, then removed depth first
 *
 * One JSON object per phase on stdout:
 *   {"phase":"create","n":N,"done":D,"secs":S,"timeout":false}
 * A phase that reaches the deadline (CAP_SECS for the whole command) stops
 * there with "timeout":true and D operations done; the later phases are then
 * not run (reported with "done":0,"skipped":true). Exit 0 with or without a
 * timeout; exit 1 on an error (a failed syscall), with the errno on stderr.
 *
 * C rather than python: the per-operation figure then is the syscall and the
 * filesystem, not an interpreter's loop (under TCG a python loop iteration
 * costs as much as a cached create).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double t_start, deadline;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "bench_meta: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void drop_caches(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0)
		die("open", "/proc/sys/vm/drop_caches");
	if (write(fd, "3\n", 2) != 2)
		die("write", "/proc/sys/vm/drop_caches");
	close(fd);
}

static void report(const char *phase, long n, long done, double secs, int timeout, int skipped)
{
	printf("{\"phase\":\"%s\",\"n\":%ld,\"done\":%ld,\"secs\":%.6f,\"timeout\":%s%s}\n", phase, n, done,
	       secs, timeout ? "true" : "false", skipped ? ",\"skipped\":true" : "");
	fflush(stdout);
}

/* Every 64 operations: past the deadline? */
static int late(long i)
{
	return (i & 63) == 0 && now() > deadline;
}

static int cmd_dir(const char *dir, long n)
{
	static const char *phases[] = { "create", "stat", "unlink" };
	char path[4096];
	int timed_out = 0;

	if (mkdir(dir, 0755) && errno != EEXIST)
		die("mkdir", dir);
	for (int p = 0; p < 3; p++) {
		long i;
		double t0;

		if (timed_out) {
			report(phases[p], n, 0, 0, 0, 1);
			continue;
		}
		/* Lookups and unlinks from the disk's directory, not the dcache. */
		if (p > 0)
			drop_caches();
		t0 = now();
		for (i = 0; i < n; i++) {
			struct stat st;

			if (late(i)) {
				timed_out = 1;
				break;
			}
			snprintf(path, sizeof(path), "%s/f%07ld", dir, i);
			if (p == 0) {
				int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);

				if (fd < 0)
					die("create", path);
				close(fd);
			} else if (p == 1) {
				if (stat(path, &st))
					die("stat", path);
			} else if (unlink(path)) {
				die("unlink", path);
			}
		}
		report(phases[p], n, i, now() - t0, timed_out, 0);
	}
	return 0;
}

static long tree_ops, tree_n;
static int tree_late;

static void tree_make(const char *dir, int fanout, int depth, int files)
{
	char path[4096];

	for (int f = 0; f < files && !tree_late; f++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%d", dir, f);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			die("create", path);
		close(fd);
		tree_late = late(++tree_ops);
	}
	if (depth == 0)
		return;
	for (int d = 0; d < fanout && !tree_late; d++) {
		snprintf(path, sizeof(path), "%s/d%d", dir, d);
		if (mkdir(path, 0755))
			die("mkdir", path);
		tree_late = late(++tree_ops);
		tree_make(path, fanout, depth - 1, files);
	}
}

/* Removes what tree_make() made (all of it, or as far as it got). */
static void tree_remove(const char *dir, int fanout, int depth, int files)
{
	char path[4096];

	for (int f = 0; f < files && !tree_late; f++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, f);
		if (unlink(path) && errno != ENOENT)
			die("unlink", path);
		tree_late = late(++tree_ops);
	}
	if (depth == 0)
		return;
	for (int d = 0; d < fanout && !tree_late; d++) {
		snprintf(path, sizeof(path), "%s/d%d", dir, d);
		tree_remove(path, fanout, depth - 1, files);
		if (tree_late)
			return;
		if (rmdir(path) && errno != ENOENT)
			die("rmdir", path);
		tree_late = late(++tree_ops);
	}
}

static int cmd_tree(const char *dir, int fanout, int depth, int files)
{
	double t0;
	long dirs = 0, level = 1;

	for (int d = 0; d < depth; d++) {
		level *= fanout;
		dirs += level;
	}
	tree_n = dirs + (dirs + 1) * files;
	if (mkdir(dir, 0755) && errno != EEXIST)
		die("mkdir", dir);
	t0 = now();
	tree_make(dir, fanout, depth, files);
	report("tree_create", tree_n, tree_ops, now() - t0, tree_late, 0);
	if (tree_late) {
		report("tree_remove", tree_n, 0, 0, 0, 1);
		return 0;
	}
	drop_caches();
	tree_ops = 0;
	t0 = now();
	tree_remove(dir, fanout, depth, files);
	report("tree_remove", tree_n, tree_ops, now() - t0, tree_late, 0);
	return 0;
}

int main(int argc, char **argv)
{
	t_start = now();
	if (argc == 5 && !strcmp(argv[1], "dir")) {
		deadline = t_start + atof(argv[4]);
		return cmd_dir(argv[2], atol(argv[3]));
	}
	if (argc == 7 && !strcmp(argv[1], "tree")) {
		deadline = t_start + atof(argv[6]);
		return cmd_tree(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	}
	fprintf(stderr, "usage: bench_meta dir DIR N CAP_SECS | tree DIR FANOUT DEPTH FILES CAP_SECS\n");
	return 2;
}
