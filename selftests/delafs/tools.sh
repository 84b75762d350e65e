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


# The file's layout as SEEK_DATA/SEEK_HOLE report it: "DATA 0 HOLE 65536 ...".
seek_map() { xfs_io -c "seek -a -r 0" "$1" | awk 'NR > 1 { printf "%s%s %s", sep, $1, $2; sep = " " }'; }
# expect_layout DESCRIPTION LAYOUT
expect_layout() {
	local got
	got=$(seek_map "$F")
	if [ "$got" = "$2" ]; then
		ktap_test_pass "$1"
	else
		printf '# got:  %s\n# want: %s\n' "$got" "$2"
		ktap_test_fail "$1"
	fi
}

xfs_io -f -c "pwrite -q 0 64k" -c "pwrite -q 1m 4k" "$F"
expect_layout "SEEK_DATA/SEEK_HOLE over delalloc data" "DATA 0 HOLE 65536 DATA 1048576 HOLE 1052672"
sync
expect_layout "SEEK_DATA/SEEK_HOLE after writeback" "DATA 0 HOLE 65536 DATA 1048576 HOLE 1052672"
xfs_io -c "fpunch 16k 16k" "$F"
expect_layout "punching a hole makes one" \
	"DATA 0 HOLE 16384 DATA 32768 HOLE 65536 DATA 1048576 HOLE 1052672"
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
