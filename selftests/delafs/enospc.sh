#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ENOSPC: buffered writes fail at write time (delalloc reserves space), other
# files' data is untouched, and the space comes back after unlink.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

IMG=/tmp/small.img
ktap_print_header
ktap_set_plan 6
load_module
rm -f "$IMG"; truncate -s 8M "$IMG"
"$MKFS" -q "$IMG" >/dev/null
mount -t delafs -o loop "$IMG" "$MNT" || ktap_exit_fail_msg "cannot mount"

head -c 1M /dev/urandom >/tmp/keep
cp /tmp/keep "$MNT/keep" && sync
free0=$(free_blocks)
expect_fail "filling the filesystem ends in ENOSPC" "No space left" \
	dd if=/dev/zero of="$MNT/fill" bs=64k count=1000
check "statfs shows the filesystem full" bash -c "[ \$(stat -f -c %f $MNT) -lt 16 ]"
check "writes after ENOSPC still fail cleanly" \
	bash -c "! dd if=/dev/zero of=$MNT/more bs=64k count=10 2>/dev/null"
check "other data untouched (after sync and drop_caches)" \
	bash -c "sync; echo 3 >/proc/sys/vm/drop_caches; cmp /tmp/keep $MNT/keep"
rm -f "$MNT/fill" "$MNT/more"; sync
check "space comes back after unlink" bash -c "[ \$(stat -f -c %f $MNT) = $free0 ]"
umount "$MNT"
check "fsck.delafs: clean" "$FSCK" "$IMG"
rm -f "$IMG" /tmp/keep
unload_module
ktap_finished
