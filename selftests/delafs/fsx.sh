#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The integrity exerciser (fsx.c) on delafs for a fixed number of operations
# and seeds, then the same with fallocate operations (-A: preallocation and
# zero-range, issue 13), then fsck.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

OPS=${FSX_OPS:-3000}
ktap_print_header
ktap_set_plan 6
load_module
fresh_mount || ktap_exit_fail_msg "cannot mount a fresh delafs"
# Faulting writes and O_DIRECT are run apart: together they trip the
# kernel's "Direct I/O collision with buffered writes" (ext4 too).
for seed in 1 2; do
	check "fsx seed $seed, $OPS ops, with O_DIRECT" \
		"$DIR/fsx" -d "$DEV" -m "$MNT" -s "$seed" -n "$OPS" -c 500 -F
done
check "fsx seed 3, $OPS ops, with faulting writes" \
	"$DIR/fsx" -d "$DEV" -m "$MNT" -s 3 -n "$OPS" -c 500 -D
check "fsx seed 4, $OPS ops, with O_DIRECT and fallocate (0, KEEP_SIZE, ZERO_RANGE)" \
	"$DIR/fsx" -d "$DEV" -m "$MNT" -s 4 -n "$OPS" -c 500 -F -A
check "fsx seed 5, $OPS ops, with faulting writes and fallocate" \
	"$DIR/fsx" -d "$DEV" -m "$MNT" -s 5 -n "$OPS" -c 500 -D -A
umount "$MNT"
check "fsck.delafs: clean" "$FSCK" "$DEV"
unload_module
ktap_finished
