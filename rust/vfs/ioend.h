/* SPDX-License-Identifier: GPL-2.0 */
/* rust/vfs/ioend.c, called from rust/vfs/aops.rs. */
#ifndef DELAFS_IOEND_H
#define DELAFS_IOEND_H

#include <linux/types.h>

struct inode;
struct iomap_ioend;

/*
 * Finishes the filesystem's part of a written ioend, in process context:
 * the ioend's data, @size bytes at @offset of @inode, is on disk.
 */
typedef int (*delafs_ioend_done_fn)(struct inode *inode, loff_t offset,
				    size_t size);

void delafs_ioend_defer(struct iomap_ioend *ioend, delafs_ioend_done_fn done);
void delafs_ioend_flush(void);

#endif
