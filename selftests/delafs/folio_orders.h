/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The orders of the page cache folios that hold a file, measured rather
 * than assumed: mincore() says which pages are cached, a read through a
 * MADV_RANDOM mapping (no readahead, so nothing is added) maps each one,
 * /proc/self/pagemap gives its page frame and /proc/kpageflags says whether
 * that frame heads a compound page, continues one, or stands alone. A folio
 * of order N is a head followed by 2^N - 1 tails. Needs root (page frame
 * numbers) and CONFIG_PROC_PAGE_MONITOR.
 */
#ifndef FOLIO_ORDERS_H
#define FOLIO_ORDERS_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FOLIO_MAX_ORDER 12
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16

/*
 * Adds the folios of @fd's first @len bytes to @hist (folios per order).
 * Returns the number of cached pages, or -1 if the kernel cannot tell.
 */
static inline long folio_orders(int fd, long len, long hist[FOLIO_MAX_ORDER + 1])
{
	long pages = len / 4096, cached = 0, run = 0;
	unsigned char *vec = NULL;
	int pm = -1, kf = -1;
	char *map;

	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -1;
	madvise(map, len, MADV_RANDOM);
	vec = calloc(pages, 1);
	pm = open("/proc/self/pagemap", O_RDONLY);
	kf = open("/proc/kpageflags", O_RDONLY);
	if (!vec || pm < 0 || kf < 0 || mincore(map, len, vec))
		goto fail;
	for (long i = 0; i <= pages; i++) {
		uint64_t entry = 0, flags = 0;
		int head = 0, tail = 0;

		if (i < pages && (vec[i] & 1)) {
			(void)*(volatile char *)(map + i * 4096);
			if (pread(pm, &entry, 8, (off_t)((uintptr_t)(map + i * 4096) / 4096) * 8) != 8)
				goto fail;
			if (!(entry >> 63) || !(entry & ((1ULL << 55) - 1)))
				goto fail;	/* no frame numbers: not root */
			if (pread(kf, &flags, 8, (off_t)(entry & ((1ULL << 55) - 1)) * 8) != 8)
				goto fail;
			head = flags >> KPF_COMPOUND_HEAD & 1;
			tail = flags >> KPF_COMPOUND_TAIL & 1;
			cached++;
		}
		/* A run ends at an uncached page, a head or a lone page. */
		if (run && (!tail || i == pages)) {
			int order = 0;

			while ((1L << order) < run && order < FOLIO_MAX_ORDER)
				order++;
			hist[order]++;
			run = 0;
		}
		if (i < pages && (vec[i] & 1)) {
			if (head || !tail)
				run = 1;
			else if (run)
				run++;
		}
	}
	munmap(map, len);
	free(vec);
	close(pm);
	close(kf);
	return cached;
fail:
	munmap(map, len);
	free(vec);
	if (pm >= 0)
		close(pm);
	if (kf >= 0)
		close(kf);
	return -1;
}

/*
 * Whether the cached page at byte @off of @fd belongs to the same folio as
 * the page before it: 1 yes, 0 no (or not cached), -1 unknown.
 */
static inline int folio_continues(int fd, long off)
{
	uint64_t entry = 0, flags = 0;
	unsigned char vec = 0;
	int pm, kf, ret = -1;
	char *map;

	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, off);
	if (map == MAP_FAILED)
		return -1;
	madvise(map, 4096, MADV_RANDOM);
	pm = open("/proc/self/pagemap", O_RDONLY);
	kf = open("/proc/kpageflags", O_RDONLY);
	if (pm >= 0 && kf >= 0 && !mincore(map, 4096, &vec)) {
		if (!(vec & 1)) {
			ret = 0;
		} else {
			(void)*(volatile char *)map;
			if (pread(pm, &entry, 8, (off_t)((uintptr_t)map / 4096) * 8) == 8 &&
			    (entry >> 63) && (entry & ((1ULL << 55) - 1)) &&
			    pread(kf, &flags, 8, (off_t)(entry & ((1ULL << 55) - 1)) * 8) == 8)
				ret = flags >> KPF_COMPOUND_TAIL & 1;
		}
	}
	if (pm >= 0)
		close(pm);
	if (kf >= 0)
		close(kf);
	munmap(map, 4096);
	return ret;
}

/* "0:12,2:3": folios per order, for a SUMMARY line. */
static inline void folio_orders_format(const long hist[FOLIO_MAX_ORDER + 1], char *out, size_t size)
{
	size_t n = 0;

	out[0] = 0;
	for (int o = 0; o <= FOLIO_MAX_ORDER; o++)
		if (hist[o] && n < size)
			n += snprintf(out + n, size - n, "%s%d:%ld", n ? "," : "", o, hist[o]);
	if (!out[0])
		snprintf(out, size, "-");
}

static inline int folio_orders_max(const long hist[FOLIO_MAX_ORDER + 1])
{
	int max = -1;

	for (int o = 0; o <= FOLIO_MAX_ORDER; o++)
		if (hist[o])
			max = o;
	return max;
}

#endif
