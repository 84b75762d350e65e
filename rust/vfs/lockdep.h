/* SPDX-License-Identifier: GPL-2.0 */
/* rust/vfs/lockdep.c, called from rust/vfs/inode.rs. */
#ifndef DELAFS_LOCKDEP_H
#define DELAFS_LOCKDEP_H

struct rw_semaphore;

void delafs_assert_rwsem_held_write(struct rw_semaphore *sem);
void delafs_assert_rwsem_held(struct rw_semaphore *sem);

#endif
