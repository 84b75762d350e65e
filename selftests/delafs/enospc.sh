#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ENOSPC: buffered writes fail at write time (delalloc reserves space), other
# files' data is untouched, and the space comes back after unlink: at once,
# without a sync, although an unlinked file's blocks wait (rust/fs/busy.rs)
# until its cleared inode slot is on disk. And they never go to another file
# before that: the slot is read from the image after the blocks were reused.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

IMG=/tmp/small.img
ktap_print_header
ktap_set_plan 11
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

# The inode slot of $1 (an inode number) in image $IMG, as hex: the superblock
# has inode_table_start at byte 48; inode n is 256 bytes at n * 256 of it.
raw_slot() {
	python3 - "$IMG" "$1" <<'PY'
import struct, sys
with open(sys.argv[1], "rb") as f:
    f.seek(48)
    start = struct.unpack("<Q", f.read(8))[0]
    f.seek(start * 4096 + int(sys.argv[2]) * 256)
    print(f.read(256).hex())
PY
}
zero_slot=$(printf '0%.0s' $(seq 512))
# All the free space in one file, on disk with its inode; then unlinked with
# no sync, and the same space written again at once, direct then buffered.
dd if=/dev/urandom of="$MNT/a" bs=64k count=$((free0 * 4 / 64 - 16)) status=none
sync
ino=$(stat -c %i "$MNT/a")
slot=$(raw_slot "$ino")
check "the file's inode slot is on disk" test "$slot" != "$zero_slot"
# Made first, so that it does not take the inode number about to be freed.
touch "$MNT/b"
rm "$MNT/a"
check "statfs counts an unlinked file's blocks free before any sync" \
	bash -c "[ \$(stat -f -c %f $MNT) = $free0 ]"
# Direct writes, and no fsync: nothing but the busy flush that ENOSPC forces
# writes the inode table before the check reads it (writeback leaves dirty
# buffers younger than 30 s alone).
check "its blocks can be written again at once (O_DIRECT)" \
	dd if=/dev/zero of="$MNT/b" bs=64k count=$((free0 * 4 / 64 - 16)) oflag=direct conv=notrunc status=none
slot=$(raw_slot "$ino")
check "the unlinked inode's slot reached the disk before its blocks were reused" \
	test "$slot" = "$zero_slot"
rm "$MNT/b"
check "and again buffered, with fsync" \
	dd if=/dev/zero of="$MNT/c" bs=64k count=$((free0 * 4 / 64 - 16)) conv=fsync status=none
rm "$MNT/c"
umount "$MNT"
check "fsck.delafs: clean" "$FSCK" "$IMG"
rm -f "$IMG" /tmp/keep
unload_module
ktap_finished
