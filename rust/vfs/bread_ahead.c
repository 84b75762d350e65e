// SPDX-License-Identifier: GPL-2.0
/*
 * A metadata read that also starts the reads of the blocks after it.
 *
 * A cold stat of the files of a directory, in the order they were made, reads
 * the directory's entry blocks and the inode table one after the other, each
 * 4 KiB block with its own synchronous request (XFS reads a 16 KiB inode
 * cluster at once). When the block asked for is not cached, the next ones
 * are read with it: under one plug, so the block layer sends the run as one
 * request, and sb_bread() then waits for the block asked for only.
 * sb_breadahead() skips a buffer that is up to date or locked (under I/O or
 * being changed), so it never reads over a newer cached copy.
 */
#include <linux/blkdev.h>
#include <linux/buffer_head.h>

#include "bread_ahead.h"

struct buffer_head *delafs_bread_ahead(struct super_block *sb, sector_t block,
				       unsigned int ahead)
{
	struct buffer_head *bh = sb_find_get_block(sb, block);
	struct blk_plug plug;
	unsigned int i;

	if (bh) {
		if (buffer_uptodate(bh))
			return bh;
		brelse(bh);
	}
	blk_start_plug(&plug);
	for (i = 0; i <= ahead; i++)
		sb_breadahead(sb, block + i);
	blk_finish_plug(&plug);
	return sb_bread(sb, block);
}
