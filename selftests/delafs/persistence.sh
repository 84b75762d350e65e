#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Data survives: a tree of real files copied in (cp and tar) reads back byte
# for byte after drop_caches, after umount + mount, and fsck finds the image
# clean.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

ktap_print_header
ktap_set_plan 7
load_module
fresh_mount || ktap_exit_fail_msg "cannot mount a fresh delafs"

SRC=/usr/include/linux
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
want=$(sums "$SRC")
export want
export -f sums

check "cp -a of $SRC" cp -a "$SRC" "$MNT/cp"
check "tar x of $SRC" bash -c "tar -C $SRC -cf - . | tar -C $MNT -xf - --one-top-level=tar"
check "contents right in the page cache" bash -c "[ \"\$(sums $MNT/cp)\" = \"\$want\" ]"
echo 3 >/proc/sys/vm/drop_caches
check "contents right after drop_caches" bash -c "[ \"\$(sums $MNT/tar)\" = \"\$want\" ]"
umount "$MNT" && mount -t delafs "$DEV" "$MNT"
check "contents right after umount + mount" \
	bash -c "[ \"\$(sums $MNT/cp)\" = \"\$want\" ] && [ \"\$(sums $MNT/tar)\" = \"\$want\" ]"
check "rm -r gives the space back" \
	bash -c "before=\$(stat -f -c %f $MNT); rm -rf $MNT/cp $MNT/tar; sync; [ \$(stat -f -c %f $MNT) -gt \$before ]"
umount "$MNT"
check "fsck.delafs: clean" "$FSCK" "$DEV"
unload_module
ktap_finished
