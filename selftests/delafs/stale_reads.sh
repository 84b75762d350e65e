#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# No read returns bytes the file was not given (issue 13), on XFS (the
# ground truth) and on delafs: every free block is filled with 0xab first
# (poison_free_space_full), then stale_reads.c runs each workload for
# STALE_SECS (5) seconds on STALE_MIB (8) MiB files, readers (buffered,
# mmap, O_DIRECT) checking every byte they get is zero or the writer's:
#
#   dio-sync, dio-aio, dio-uring  O_DIRECT writes into holes of a sparse file
#   buffered                      buffered writes with POSIX_FADV_DONTNEED and
#                                 drop_caches alongside
#   falloc                        fallocate 0 / KEEP_SIZE, then filled
#   fault                         writes from faulting buffers into holes and
#                                 KEEP_SIZE blocks past EOF, then an extending
#                                 truncate
#
# One figure line a run ("STALE fs=... name=... reads=N bytes=N stale=N
# wrong=N ...") goes to the log and to /tmp/results/stale-figures.txt; any
# stale or wrong byte fails. A control run that writes the marker into a
# block on purpose must be caught. At the end fsck.delafs / xfs_repair -n
# clean.
source "$(dirname "$0")"/lib.sh
require_root_and_disk
require_xfs_disk

SECS=${STALE_SECS:-5}
MIB_FILE=${STALE_MIB:-8}
WORKLOADS="dio-sync dio-aio dio-uring buffered falloc fault"
FIGURES=/tmp/results/stale-figures.txt

# stale FS WORKLOAD: one run, its figure line logged and kept.
stale() {
	local out rc
	out=$("$DIR/stale_reads" -f "$FS_MNT" -w "$2" -t "$SECS" -s "$MIB_FILE" -m 0xab 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v '^STALE' | head -20 | sed 's/^# //; s/^/# /'
	printf '%s\n' "$out" | grep '^STALE' | sed "s/^STALE /STALE fs=$1 /" | tee -a "$FIGURES" | sed 's/^/# /'
	if [ $rc = "$KSFT_SKIP" ]; then
		ktap_test_skip "$1: $2: not available here"
	elif [ $rc = 0 ]; then
		ktap_test_pass "$1: $2: every byte read was the writer's or zero"
	else
		ktap_test_fail "$1: $2: every byte read was the writer's or zero"
	fi
}

# control FS: the checker itself, on a run that writes the marker into the
# first block on purpose: it must fail and count that block in both final
# passes (O_DIRECT and buffered), at least 2 x 4096 stale bytes.
control() {
	local out rc stale
	out=$("$DIR/stale_reads" -f "$FS_MNT" -w control -s "$MIB_FILE" -m 0xab 2>&1)
	rc=$?
	printf '%s\n' "$out" | tail -3
	stale=$(sed -n 's/^STALE .*\<stale=\([0-9]*\).*/\1/p' <<<"$out")
	[ "$rc" = 1 ] && [ "${stale:-0}" -ge $((2 * 4096)) ]
}

ktap_print_header
ktap_set_plan 18
mkdir -p /tmp/results
for fs in xfs delafs; do
	use_fs $fs
	fs_setup || ktap_exit_fail_msg "cannot mount a fresh $fs"
	check "$fs: free space poisoned with 0xab" poison_free_space_full
	for w in $WORKLOADS; do
		stale $fs $w
	done
	check_log "$fs: control: a block of marker bytes written on purpose is caught" control
	rm -f "$FS_MNT"/stale.*
	check "$fs: umount, $([ $fs = xfs ] && echo xfs_repair -n || echo fsck.delafs) clean" fs_teardown
done
ktap_finished
