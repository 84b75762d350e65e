#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Buffered writes from user buffers that fault part-way come up short; the
# file holds exactly what was written, and no delalloc reservation leaks:
# statfs free space is back to its earlier value once the file is gone.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

ktap_print_header
ktap_set_plan 5
load_module
fresh_mount || ktap_exit_fail_msg "cannot mount a fresh delafs"
F=$MNT/short
# The root directory's first block is allocated with its first entry.
touch "$MNT/placeholder"
sync
free0=$(free_blocks)

check "64 KiB write faulting after 4 KiB writes 4 KiB" \
	bash -c "[ \$($DIR/fault_write $F 0 65536 4096) = 4096 ] && [ \$(stat -c %s $F) = 4096 ]"
check "the written bytes read back" \
	bash -c "[ \"\$(head -c 26 $F)\" = abcdefghijklmnopqrstuvwxyz ]"
# Clean zeroed folios from reading holes, then a short write over them: the
# report's set-up, without a racing eviction.
check "short write over cached holes of a sparse file" \
	bash -c "truncate -s 4M $F.2 && for o in \$(seq 0 131072 4063232); do dd if=$F.2 of=/dev/null bs=64k skip=\$((o / 65536)) count=1 status=none; done &&
		[ \$($DIR/fault_write $F.2 0 4194304 4096) = 4096 ] && [ \$(stat -c %s $F.2) = 4194304 ]"
check "the rest of the sparse file still reads as zeroes" \
	bash -c "cmp -s -i 4096:4096 -n 4190208 $F.2 /dev/zero"
rm -f "$F" "$F.2"
sync
check "no reservation leaked: free space is back to $free0 blocks" \
	bash -c "[ \$(stat -f -c %f $MNT) = $free0 ]"
umount "$MNT"
unload_module
ktap_finished
