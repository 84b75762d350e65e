// SPDX-License-Identifier: GPL-2.0
/*
 * The two things delafs needs from the page cache that 6.12 gives modules no
 * function for.
 *
 * mapping_set_large_folios() is a static inline in linux/pagemap.h, so Rust
 * cannot call it; this is its out-of-line copy.
 *
 * The release scan must know which blocks of a dirty large folio are dirty:
 * a clean block inside a dirty folio keeps a delalloc reservation that no
 * writeback will ever use (iomap_writepage_map() writes dirty blocks only),
 * so the scan punches it, as iomap_write_delalloc_ifs_punch() does. That
 * state lives in iomap's folio->private, struct iomap_folio_state, which
 * fs/iomap/buffered-io.c keeps private. The layout is mirrored here for the
 * one kernel series delafs builds against, and the build stops on any other.
 */
#include <linux/bitops.h>
#include <linux/pagemap.h>
#include <linux/spinlock.h>
#include <linux/version.h>

#include "iomap_folio.h"

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0) || LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#error "struct iomap_folio_state is mirrored from 6.12: re-check fs/iomap/buffered-io.c"
#endif

/* fs/iomap/buffered-io.c, 6.12. */
struct iomap_folio_state {
	spinlock_t state_lock;
	unsigned int read_bytes_pending;
	atomic_t write_bytes_pending;
	/* Blocks' uptodate bits, then their dirty bits. */
	unsigned long state[];
};

void delafs_mapping_set_large_folios(struct address_space *mapping)
{
	mapping_set_large_folios(mapping);
}

/*
 * Whether block @block of the locked folio @folio is dirty. Without iomap
 * state (a single-block folio, or one iomap never attached state to) the
 * folio's flag is the block's. The dirty bits change with the folio locked
 * (write_end, writeback submission), so the caller's lock keeps them stable.
 */
bool delafs_folio_block_dirty(struct folio *folio, unsigned int block)
{
	struct iomap_folio_state *ifs = folio_get_private(folio);
	unsigned int blocks = i_blocks_per_folio(folio->mapping->host, folio);

	if (!ifs || block >= blocks)
		return folio_test_dirty(folio);
	return test_bit(blocks + block, ifs->state);
}
