#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Real tools on delafs: xfs_io SEEK_HOLE/SEEK_DATA layouts and hole punching,
# preallocation (falloc, falloc -k) and fzero, fio verify jobs (buffered,
# O_DIRECT with libaio, buffered over fallocate=native), stress-ng's
# fallocate, hdd, iomix, mmap and fpunch stressors for a bounded time, then
# fsck.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

SECS=${STRESS_SECS:-15}
ktap_print_header
ktap_set_plan 12
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
# Preallocation (issue 13): unwritten blocks, zeros, holes to SEEK_DATA.
P=$MNT/prealloc
# prealloc_ok SIZE BLOCKS: P is SIZE bytes of zeros, at least BLOCKS
# 512-byte blocks, and SEEK_DATA finds no data while nothing is cached
# (reading caches zeroed folios, which SEEK_DATA then reports as data, on
# XFS as on delafs: so the layout first, the bytes after).
prealloc_ok() {
	local size blocks
	size=$(stat -c %s "$P") blocks=$(stat -c %b "$P")
	[ "$size" = "$1" ] || { echo "size $size, want $1"; return 1; }
	[ "$blocks" -ge "$2" ] || { echo "st_blocks $blocks, want >= $2"; return 1; }
	xfs_io -c "fadvise -d 0 0" "$P" || return 1
	[ "$(seek_map "$P")" = "HOLE 0" ] || { echo "layout: $(seek_map "$P")"; return 1; }
	cmp -n "$size" "$P" /dev/zero || return 1
}
check "xfs_io falloc 0 1m: size 1 MiB of zeros, blocks counted, no data" \
	eval 'xfs_io -f -c "falloc 0 1m" "$P" && prealloc_ok 1048576 2048'
check "xfs_io falloc -k 1m 1m: size kept, blocks counted" \
	eval 'xfs_io -c "falloc -k 1m 1m" "$P" && prealloc_ok 1048576 4096'
# fzero inside the data at 64 KiB of the layout file (0xcd, xfs_io's
# pattern): zeros there, the bytes around it kept.
fzero_ok() {
	xfs_io -c "fzero 4k 8k" "$F" || return 1
	cmp -i 4096:0 -n 8192 "$F" /dev/zero || return 1
	[ "$(od -An -tx1 -j 4095 -N 1 "$F")" = " cd" ] && [ "$(od -An -tx1 -j 12288 -N 1 "$F")" = " cd" ] ||
		{ echo "bytes next to the zeroed range changed"; return 1; }
}
check "xfs_io fzero 4k 8k: zeros there, the neighbours kept" fzero_ok
check "fio: buffered random writes, verified" \
	fio --name=buffered --directory="$MNT" --rw=randwrite --bs=4k --size=16M --ioengine=psync \
		--verify=crc32c --do_verify=1 --minimal
check "fio: O_DIRECT libaio random writes, verified" \
	fio --name=direct --directory="$MNT" --rw=randwrite --bs=4k --size=16M --ioengine=libaio \
		--iodepth=8 --direct=1 --verify=crc32c --do_verify=1 --minimal
# fio preallocates its files with fallocate(2), and quietly goes on without
# if that is refused: the laid-out file (create_only) must have its 16 MiB
# of blocks before the verify job runs on it.
fio_falloc() {
	local job=(--name=falloc --directory="$MNT" --rw=randwrite --bs=4k --size=16M --ioengine=psync
		--fallocate=native --unlink=0) blocks
	fio "${job[@]}" --create_only=1 --minimal >/dev/null || return 1
	blocks=$(stat -c %b "$MNT/falloc.0.0") || return 1
	[ "$blocks" -ge $((16 * 2048)) ] || { echo "fio's preallocated file has $blocks blocks of 512"; return 1; }
	fio "${job[@]}" --verify=crc32c --do_verify=1 --minimal || return 1
	rm -f "$MNT/falloc.0.0"
}
check "fio: fallocate=native lays out 16 MiB of blocks; buffered random writes over it, verified" fio_falloc
# (stress-ng counts its operations whether fallocate works or not: the
# checks above say whether it does; this one is for the kernel under load.)
check "stress-ng fallocate (--verify) for ${SECS}s" \
	stress-ng --temp-path "$MNT" --timeout "${SECS}s" --fallocate 1 --fallocate-bytes 16M --verify \
		--metrics-brief
check "stress-ng hdd, iomix, mmap, fpunch for ${SECS}s" \
	stress-ng --temp-path "$MNT" --timeout "${SECS}s" --hdd 1 --hdd-bytes 8M --iomix 1 \
		--iomix-bytes 8M --mmap 1 --mmap-bytes 8M --mmap-file --fpunch 1 --metrics-brief
rm -rf "${MNT:?}"/*
umount "$MNT"
check "fsck.delafs: clean" "$FSCK" "$DEV"
unload_module
ktap_finished
