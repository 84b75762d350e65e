// SPDX-License-Identifier: GPL-2.0
/*
 * lockdep's assertions for Rust: lockdep_assert_held_write() and
 * lockdep_assert_held() are macros, so bindgen cannot see them. Without
 * CONFIG_LOCKDEP (the default lab kernel) they compile to nothing; the debug
 * flavour (make check-debug) checks the lock contracts rust/vfs states.
 */
#include <linux/lockdep.h>
#include <linux/rwsem.h>

#include "lockdep.h"

void delafs_assert_rwsem_held_write(struct rw_semaphore *sem)
{
	lockdep_assert_held_write(sem);
}

void delafs_assert_rwsem_held(struct rw_semaphore *sem)
{
	lockdep_assert_held(sem);
}
