#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Mounting: mkfs + mount + statfs; the module cannot be unloaded while
# mounted; repeated mount cycles.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

ktap_print_header
ktap_set_plan 6
load_module
check "mkfs.delafs" "$MKFS" "$DEV"
check "mount" mount -t delafs "$DEV" "$MNT"
check "statfs: delafs magic, 4096-byte blocks, free space" \
	bash -c "[ \"\$(stat -f -c '%t %S' $MNT)\" = 'de1af500 4096' ] && [ \$(stat -f -c %f $MNT) -gt 0 ] && [ \$(stat -f -c %d $MNT) -gt 0 ]"
expect_fail "rmmod while mounted" "in use" rmmod delafs
check "umount, then rmmod works" bash -c "umount $MNT && rmmod delafs && insmod $KO"
check "20 mount/umount cycles" \
	bash -c "for i in \$(seq 20); do mount -t delafs $DEV $MNT && umount $MNT || exit 1; done"
unload_module
ktap_finished
