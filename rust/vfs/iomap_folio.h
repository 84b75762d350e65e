/* SPDX-License-Identifier: GPL-2.0 */
/* rust/vfs/iomap_folio.c, called from rust/vfs/folio.rs. */
#ifndef DELAFS_IOMAP_FOLIO_H
#define DELAFS_IOMAP_FOLIO_H

#include <linux/types.h>

struct address_space;
struct folio;

void delafs_mapping_set_large_folios(struct address_space *mapping);
bool delafs_folio_block_dirty(struct folio *folio, unsigned int block);

#endif
