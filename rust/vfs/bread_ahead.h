/* SPDX-License-Identifier: GPL-2.0 */
/* rust/vfs/bread_ahead.c, called from rust/vfs/sb.rs. */
#ifndef DELAFS_BREAD_AHEAD_H
#define DELAFS_BREAD_AHEAD_H

#include <linux/types.h>

struct buffer_head;
struct super_block;

struct buffer_head *delafs_bread_ahead(struct super_block *sb, sector_t block,
				       unsigned int ahead);

#endif
