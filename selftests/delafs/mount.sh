#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Mounting: mkfs + mount + statfs; the module cannot be unloaded while
# mounted; repeated mount cycles; the large_folios option (0, 1, the
# default, bad values, unknown options, remount).
source "$(dirname "$0")"/lib.sh
require_root_and_disk

ktap_print_header
ktap_set_plan 14
load_module
check "mkfs.delafs" "$MKFS" "$DEV"
check "mount" mount -t delafs "$DEV" "$MNT"
check "statfs: delafs magic, 4096-byte blocks, free space" \
	bash -c "[ \"\$(stat -f -c '%t %S' $MNT)\" = 'de1af500 4096' ] && [ \$(stat -f -c %f $MNT) -gt 0 ] && [ \$(stat -f -c %d $MNT) -gt 0 ]"
expect_fail "rmmod while mounted" "in use" rmmod delafs
check "umount, then rmmod works" bash -c "umount $MNT && rmmod delafs && insmod $KO"
check "20 mount/umount cycles" \
	bash -c "for i in \$(seq 20); do mount -t delafs $DEV $MNT && umount $MNT || exit 1; done"

opt() { grep " $MNT delafs " /proc/mounts | grep -o 'large_folios=[01]'; }
check "default: large_folios=1 in /proc/mounts" \
	bash -c "mount -t delafs $DEV $MNT && [ \"\$(grep ' $MNT delafs ' /proc/mounts | grep -o 'large_folios=[01]')\" = large_folios=1 ]"
expect_fail "remount cannot change large_folios" "bad option" mount -o remount,large_folios=0 "$MNT"
check "remount with the same large_folios, and read-only and back" \
	bash -c "mount -o remount,large_folios=1 $MNT && mount -o remount,ro $MNT && mount -o remount,rw $MNT && touch $MNT/f"
check "umount" umount "$MNT"
check "large_folios=0 mounts and shows" \
	bash -c "mount -t delafs -o large_folios=0 $DEV $MNT && grep ' $MNT delafs ' /proc/mounts | grep -q large_folios=0 && umount $MNT"
for bad in large_folios=2 large_folios= large_folios=-1 large_folios=18446744073709551617; do
	mount -t delafs -o "$bad" "$DEV" "$MNT" 2>/dev/null && { umount "$MNT"; echo "# $bad mounted"; bad_ok=1; }
done
check "large_folios refuses 2, empty, -1, 2^64+1" [ -z "${bad_ok:-}" ]
expect_fail "an unknown option is refused" "" mount -t delafs -o no_such_option "$DEV" "$MNT"
check "nothing left mounted, no kernel warning" \
	bash -c "! grep -q ' $MNT ' /proc/mounts && ! dmesg | grep -qE 'WARNING:|BUG:|Oops'"
unload_module
ktap_finished
