#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boundary tests of every file I/O entry point (boundaries.c): offsets and
# lengths at the filesystem's maximum file size (delafs 2^44, XFS 2^63-1)
# and at the loff_t limits, each with one exact expected result and a check
# of the file afterwards. XFS, the ground truth, runs first; then delafs.
# Each filesystem is checked (xfs_repair -n, fsck.delafs) after umount.
source "$(dirname "$0")"/lib.sh
require_root_and_disk
require_xfs_disk

# run_boundaries FS: the harness's variant FS; all its output goes to the
# log as comments (every case's result, for the side-by-side table).
run_boundaries() {
	"$DIR/boundaries" -v "$1" 2>&1 | sed 's/^/# /'
	if [ "${PIPESTATUS[0]}" = 0 ]; then
		ktap_test_pass "$1: every boundary case as expected"
	else
		ktap_test_fail "$1: every boundary case as expected"
	fi
}

# umount_within MNT SECONDS: a task that died in the filesystem (an oops)
# can leave it busy or umount stuck; say so instead of hanging the run.
umount_within() {
	local i
	umount "$1" >/dev/null 2>&1 &
	local pid=$!
	for ((i = 0; i < $2 * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" && return 0
			echo "umount $1 failed: $(grep " $1 " /proc/mounts)"
			return 1
		fi
		sleep 0.1
	done
	echo "umount $1 still blocked after $2 s"
	return 1
}

ktap_print_header
ktap_set_plan 4
fresh_xfs_mount || ktap_exit_fail_msg "cannot mount a fresh XFS"
run_boundaries xfs
check "xfs: umount, xfs_repair -n clean" eval 'umount_within "$XFS_MNT" 60 && xfs_repair -n "$XFS_DEV"'

load_module
fresh_mount || ktap_exit_fail_msg "cannot mount a fresh delafs"
run_boundaries delafs
# (The module stays loaded if umount did not finish.)
if umount_within "$MNT" 60 >/tmp/umount.log; then
	check "delafs: umount, fsck.delafs clean" "$FSCK" "$DEV"
	unload_module
else
	sed 's/^/# /' /tmp/umount.log
	ktap_test_fail "delafs: umount, fsck.delafs clean"
fi
ktap_finished
