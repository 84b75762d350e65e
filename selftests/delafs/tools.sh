#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Real tools on delafs: xfs_io SEEK_HOLE/SEEK_DATA layouts and hole punching,
# fio verify jobs (buffered and O_DIRECT with libaio), stress-ng's hdd,
# iomix, mmap and fpunch stressors for a bounded time, then fsck.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

SECS=${STRESS_SECS:-15}
ktap_print_header
ktap_set_plan 8
load_module
fresh_mount || ktap_exit_fail_msg "cannot mount a fresh delafs"
F=$MNT/layout


xfs_io -f -c "pwrite -q 0 64k" -c "pwrite -q 1m 4k" "$F"
check "SEEK_DATA/SEEK_HOLE over delalloc data" \
	bash -c "[ \"\$(xfs_io -c 'seek -a -r 0' $F | awk 'NR > 1 { printf \"%s %s \", \$2, \$3 }')\" = 'DATA 0 HOLE 65536 DATA 1048576 HOLE 1052672 ' ]"
sync
check "SEEK_DATA/SEEK_HOLE after writeback" \
	bash -c "[ \"\$(xfs_io -c 'seek -a -r 0' $F | awk 'NR > 1 { printf \"%s %s \", \$2, \$3 }')\" = 'DATA 0 HOLE 65536 DATA 1048576 HOLE 1052672 ' ]"
xfs_io -c "fpunch 16k 16k" "$F"
check "punching a hole makes one" \
	bash -c "[ \"\$(xfs_io -c 'seek -a -r 0' $F | awk 'NR > 1 { printf \"%s %s \", \$2, \$3 }')\" = 'DATA 0 HOLE 16384 DATA 32768 HOLE 65536 DATA 1048576 HOLE 1052672 ' ] &&
		cmp -s -i 16384:0 -n 16384 $F /dev/zero"
expect_fail "fallocate preallocation is refused (no unwritten extents)" "Operation not supported" \
	xfs_io -c "falloc 0 1m" "$F"
check "fio: buffered random writes, verified" \
	fio --name=buffered --directory="$MNT" --rw=randwrite --bs=4k --size=16M --ioengine=psync \
		--verify=crc32c --do_verify=1 --minimal
check "fio: O_DIRECT libaio random writes, verified" \
	fio --name=direct --directory="$MNT" --rw=randwrite --bs=4k --size=16M --ioengine=libaio \
		--iodepth=8 --direct=1 --verify=crc32c --do_verify=1 --minimal
check "stress-ng hdd, iomix, mmap, fpunch for ${SECS}s" \
	stress-ng --temp-path "$MNT" --timeout "${SECS}s" --hdd 1 --hdd-bytes 8M --iomix 1 \
		--iomix-bytes 8M --mmap 1 --mmap-bytes 8M --mmap-file --fpunch 1 --metrics-brief
rm -rf "${MNT:?}"/*
umount "$MNT"
check "fsck.delafs: clean" "$FSCK" "$DEV"
unload_module
ktap_finished
