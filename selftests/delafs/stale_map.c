// SPDX-License-Identifier: GPL-2.0
/*
 * Writeback inside a buffered write, on purpose: the way an ordinary writer
 * reaches the delalloc release loop.
 *
 *   stale_map FILE MAP_DELAYS
 *
 * FILE is emptied and gets 256 KiB of 'a' at 0 (dirty, delalloc). A second
 * thread then writes 256 KiB of 'b' at 256 KiB; with delafs's map_delay_us
 * armed for FILE's inode, its ->iomap_begin reserves that range and sleeps
 * before iomap writes a byte. As soon as the debugfs counter MAP_DELAYS
 * moves (the writer is asleep), this thread writes the first 256 KiB back
 * and waits for it: writeback allocates them, the extent map changes, and
 * the sleeping writer's mapping is stale when it wakes. iomap_valid must
 * catch that (the caller reads stale_mappings and calls); this program
 * checks that both writes completed and that the file reads back as
 * written. Exit 0 on success, 1 on a failure, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HALF (256 * 1024)

static int fd;
static unsigned char wbuf[HALF];
static ssize_t written;

static long long read_counter(const char *path)
{
	char text[32] = "";
	long long v = -1;
	int c = open(path, O_RDONLY);

	if (c < 0)
		return -1;
	if (read(c, text, sizeof(text) - 1) > 0)
		v = strtoll(text, NULL, 10);
	close(c);
	return v;
}

static void *second_write(void *arg)
{
	(void)arg;
	written = pwrite(fd, wbuf, HALF, HALF);
	return NULL;
}

int main(int argc, char **argv)
{
	static unsigned char buf[2 * HALF];
	struct timespec tick = { 0, 1000000 };
	long long before, now = -1;
	pthread_t writer;
	int waited;

	if (argc != 3) {
		fprintf(stderr, "usage: stale_map FILE MAP_DELAYS\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return perror(argv[1]), 1;
	memset(buf, 'a', HALF);
	if (pwrite(fd, buf, HALF, 0) != HALF)
		return perror("first write"), 1;
	before = read_counter(argv[2]);
	if (before < 0)
		return fprintf(stderr, "cannot read %s\n", argv[2]), 1;

	memset(wbuf, 'b', HALF);
	if (pthread_create(&writer, NULL, second_write, NULL))
		return fprintf(stderr, "pthread_create failed\n"), 1;
	/* Up to 60 s for the writer to reach the delay (a KASAN guest is slow). */
	for (waited = 0; waited < 60000; waited++) {
		now = read_counter(argv[2]);
		if (now != before)
			break;
		nanosleep(&tick, NULL);
	}
	if (now == before)
		fprintf(stderr, "the second write never slept in map_delay_us\n");
	else if (sync_file_range(fd, 0, HALF, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
				 SYNC_FILE_RANGE_WAIT_AFTER))
		return perror("sync_file_range"), 1;
	pthread_join(writer, NULL);
	if (written != HALF) {
		fprintf(stderr, "second write returned %zd (%s)\n", written,
			written < 0 ? strerror(errno) : "short");
		return 1;
	}
	if (now == before)
		return 1;
	if (fsync(fd))
		return perror("fsync"), 1;
	memset(buf, 0, sizeof(buf));
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return perror("read back"), 1;
	for (size_t i = 0; i < sizeof(buf); i++) {
		if (buf[i] != (i < HALF ? 'a' : 'b')) {
			fprintf(stderr, "byte %zu reads 0x%02x\n", i, buf[i]);
			return 1;
		}
	}
	printf("stale_map: writeback ran while the second write slept; %d ms to reach the delay\n",
	       waited);
	return 0;
}
