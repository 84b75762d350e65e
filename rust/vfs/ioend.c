// SPDX-License-Identifier: GPL-2.0
/*
 * Writeback completion that needs the filesystem: an ioend over unwritten
 * blocks must mark them written once its data is on disk, as xfs_end_bio()
 * and xfs_end_io() do. The bio completes in interrupt context, and the
 * extent update takes sleeping locks and allocates, so the completion only
 * queues the ioend; a work item runs the filesystem's callback and then
 * iomap's own completion, which ends writeback on the folios. Until then
 * the folios stay under writeback, so sync, truncate and eviction wait for
 * the conversion too.
 *
 * One queue serves every delafs superblock. Ioends are not merged
 * (iomap_ioend_try_merge() compares offsets and sectors, not inodes, and
 * the queue mixes inodes).
 */
#include <linux/bio.h>
#include <linux/blk_types.h>
#include <linux/blkdev.h>
#include <linux/iomap.h>
#include <linux/list.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "ioend.h"

static void delafs_ioend_work(struct work_struct *work);

static DEFINE_SPINLOCK(delafs_ioend_lock);
static LIST_HEAD(delafs_ioends);
static DECLARE_WORK(delafs_ioend_worker, delafs_ioend_work);

static void delafs_ioend_work(struct work_struct *work)
{
	struct list_head ioends;
	unsigned long flags;

	spin_lock_irqsave(&delafs_ioend_lock, flags);
	list_replace_init(&delafs_ioends, &ioends);
	spin_unlock_irqrestore(&delafs_ioend_lock, flags);

	while (!list_empty(&ioends)) {
		struct iomap_ioend *ioend =
			list_first_entry(&ioends, struct iomap_ioend, io_list);
		/* Set by delafs_ioend_defer(); iomap leaves bi_private alone. */
		delafs_ioend_done_fn done = ioend->io_bio.bi_private;
		int error = blk_status_to_errno(ioend->io_bio.bi_status);

		list_del_init(&ioend->io_list);
		/* A failed write leaves its blocks unwritten: they read as zeros. */
		if (!error)
			error = done(ioend->io_inode, ioend->io_offset,
				     ioend->io_size);
		iomap_finish_ioends(ioend, error);
		cond_resched();
	}
}

static void delafs_ioend_end_bio(struct bio *bio)
{
	struct iomap_ioend *ioend = iomap_ioend_from_bio(bio);
	unsigned long flags;

	spin_lock_irqsave(&delafs_ioend_lock, flags);
	if (list_empty(&delafs_ioends))
		queue_work(system_unbound_wq, &delafs_ioend_worker);
	list_add_tail(&ioend->io_list, &delafs_ioends);
	spin_unlock_irqrestore(&delafs_ioend_lock, flags);
}

/*
 * From iomap_writeback_ops::prepare_ioend: complete @ioend through @done,
 * in process context, before iomap ends writeback on its folios.
 */
void delafs_ioend_defer(struct iomap_ioend *ioend, delafs_ioend_done_fn done)
{
	ioend->io_bio.bi_private = done;
	ioend->io_bio.bi_end_io = delafs_ioend_end_bio;
}

/*
 * Waits until every ioend queued so far has completed; for unmount (after
 * writeback of the superblock) and module unload.
 */
void delafs_ioend_flush(void)
{
	flush_work(&delafs_ioend_worker);
}
