// SPDX-License-Identifier: GPL-2.0
/*
 * folio_orders FILE...: the orders of the page cache folios holding each
 * FILE (see folio_orders.h), one line each:
 *   FILE cached_pages=N orders=ORDER:COUNT,... max_order=M
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "folio_orders.h"

int main(int argc, char **argv)
{
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		long hist[FOLIO_MAX_ORDER + 1] = { 0 }, cached;
		char orders[256];
		struct stat st;
		int fd = open(argv[i], O_RDONLY);

		if (fd < 0 || fstat(fd, &st)) {
			perror(argv[i]);
			ret = 1;
			continue;
		}
		cached = st.st_size ? folio_orders(fd, (st.st_size + 4095) & ~4095L, hist) : 0;
		close(fd);
		if (cached < 0) {
			fprintf(stderr, "%s: cannot read page flags (root? CONFIG_PROC_PAGE_MONITOR?)\n",
				argv[i]);
			ret = 1;
			continue;
		}
		folio_orders_format(hist, orders, sizeof(orders));
		printf("%s cached_pages=%ld orders=%s max_order=%d\n", argv[i], cached, orders,
		       folio_orders_max(hist));
	}
	return ret;
}
