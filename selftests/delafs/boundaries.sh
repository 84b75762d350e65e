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

ktap_print_header
ktap_set_plan 4
fresh_xfs_mount || ktap_exit_fail_msg "cannot mount a fresh XFS"
run_boundaries xfs
umount "$XFS_MNT"
check "xfs: xfs_repair -n clean" xfs_repair -n "$XFS_DEV"

load_module
fresh_mount || ktap_exit_fail_msg "cannot mount a fresh delafs"
run_boundaries delafs
umount "$MNT"
check "delafs: fsck.delafs clean" "$FSCK" "$DEV"
unload_module
ktap_finished
