#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Failed writes leave nothing behind, over poisoned free space (every free
# block holds 0xab), on XFS (the ground truth) and on delafs:
#
# - O_DIRECT (pwrite and libaio) and buffered writes whose user buffer
#   faults: after 64 KiB (B: EFAULT with size 0, or a short write whose
#   bytes are there), B deleted, then at once (C: EFAULT, size 0); the
#   filesystem checks clean (umount, fsck, mount); then `truncate -s 1m C`
#   reads only zeros, never 0xab nor B's bytes;
# - on a nearly full filesystem, a 1 MiB O_DIRECT (and a buffered) write to
#   a new file fails with ENOSPC or comes up short; the filesystem checks
#   clean (umount, fsck, mount); after `truncate -s 1m`
#   the file holds exactly the bytes the write reported, then zeros;
# - at the end the filesystem checks clean (fsck.delafs, xfs_repair -n).
source "$(dirname "$0")"/lib.sh
require_root_and_disk
require_xfs_disk

MIB=1048576
POISON='\253'	# 0xab
DIO=$DIR/dio_write

# bytes_of FILE CHAR: how many bytes of FILE are CHAR (a tr octal escape).
bytes_of() { tr -cd "$2" <"$1" | wc -c; }

# content_ok FILE SIZE N BYTE: FILE is SIZE bytes, N bytes of BYTE (a
# character), then zeros.
content_ok() {
	local f=$1 size=$2 n=$3 byte=$4 got
	got=$(stat -c %s "$f")
	if [ "$got" != "$size" ]; then
		echo "$f: size $got, want $size"
		return 1
	fi
	if [ "$n" -gt 0 ] && ! cmp -s -n "$n" "$f" <(head -c "$n" /dev/zero | tr '\0' "$byte"); then
		echo "$f: the first $n bytes are not all '$byte'"
		return 1
	fi
	if ! cmp -s -i "$n:0" -n $((size - n)) "$f" /dev/zero; then
		echo "$f: bytes $n..$size are not all zero: $(bytes_of "$f" "$POISON") bytes of 0xab (stale free space)," \
			"$(bytes_of "$f" B) of 'B' (a deleted file's), $(bytes_of "$f" "$byte") of '$byte' (the failed write's own)," \
			"first difference: $(cmp -i "$n:0" -n $((size - n)) "$f" /dev/zero 2>&1 | head -1)"
		return 1
	fi
}

# remount_fsck: umount, check the filesystem (a failed write must not leave
# extents past a file's size: fsck.delafs reports "extents reach file
# block ... past the size"), mount again.
remount_fsck() {
	umount "$FS_MNT" || return 1
	if [ "$FS_TYPE" = delafs ]; then
		"$FSCK" "$FS_DEV" || { mount -t delafs "$FS_DEV" "$FS_MNT"; return 1; }
		mount -t delafs "$FS_DEV" "$FS_MNT"
	else
		xfs_repair -n "$FS_DEV" >/dev/null 2>&1 || { echo "xfs_repair -n: problems"; mount "$FS_DEV" "$FS_MNT"; return 1; }
		mount -t xfs "$FS_DEV" "$FS_MNT"
	fi
}

# write_ok RESULT FILE MAXN BYTE ERRNO: RESULT (dio_write's output) is
# "error ERRNO" and FILE is empty, or a count 0 < N <= MAXN (a multiple of
# 4096) and FILE holds exactly those N bytes of BYTE.
write_ok() {
	local out=$1 f=$2 max=$3 byte=$4 err=$5
	echo "$f: write returned: $out"
	case $out in
	"error $err") content_ok "$f" 0 0 "$byte" ;;
	'' | *[!0-9]*) echo "want error $err or a count <= $max"; return 1 ;;
	*)
		if [ "$out" -le 0 ] || [ "$out" -gt "$max" ] || [ $((out % 4096)) != 0 ]; then
			echo "want error $err or a count 0 < N <= $max, N a multiple of 4096"
			return 1
		fi
		content_ok "$f" "$out" "$out" "$byte"
		;;
	esac
}

# faulting FLAGS TAG: B (faults after 64 KiB) deleted, then C (faults at
# once) extended to 1 MiB must read zeros. FLAGS: dio_write's (-a, -b).
faulting() {
	local flags=$1 tag=$2 out
	out=$("$DIO" $flags -c 0x42 "$FS_MNT/B$tag" 0 $MIB 65536) || return 1
	write_ok "$out" "$FS_MNT/B$tag" 65536 B EFAULT || return 1
	rm "$FS_MNT/B$tag" && sync -f "$FS_MNT" || return 1
	out=$("$DIO" $flags -c 0x43 "$FS_MNT/C$tag" 0 $MIB 0) || return 1
	echo "$FS_MNT/C$tag: write returned: $out"
	if [ "$out" != "error EFAULT" ]; then
		echo "C: want error EFAULT"
		return 1
	fi
	content_ok "$FS_MNT/C$tag" 0 0 C || return 1
	echo "umount, fsck, mount after the failed writes"
	remount_fsck || return 1
	truncate -s 1m "$FS_MNT/C$tag" && content_ok "$FS_MNT/C$tag" $MIB 0 C || return 1
	# and again from disk
	sync -f "$FS_MNT" && echo 3 >/proc/sys/vm/drop_caches && content_ok "$FS_MNT/C$tag" $MIB 0 C
}

# buffered_short: a buffered write faulting after 64 KiB is short (64 KiB);
# extended to 1 MiB the rest reads zeros.
buffered_short() {
	local out
	out=$("$DIO" -b -c 0x44 "$FS_MNT/D" 0 $MIB 65536) || return 1
	echo "$FS_MNT/D: write returned: $out"
	[ "$out" = 65536 ] || { echo "want 65536"; return 1; }
	truncate -s 1m "$FS_MNT/D" && content_ok "$FS_MNT/D" $MIB 65536 D || return 1
	sync -f "$FS_MNT" && echo 3 >/proc/sys/vm/drop_caches && content_ok "$FS_MNT/D" $MIB 65536 D
}

# nearly_full: fill the filesystem with 0xab to ENOSPC, then give back
# 256 KiB of it, so every free block holds the marker.
nearly_full() {
	fill_to_enospc "$FS_MNT/filler"
	sync -f "$FS_MNT" && truncate -s -256K "$FS_MNT/filler" && sync -f "$FS_MNT" &&
		echo "free: $(stat -f -c '%f blocks of %S' "$FS_MNT")"
}

# full_write FLAGS NAME: a 1 MiB write to a new file on the nearly full
# filesystem fails with ENOSPC or is short, then truncate -s 1m: exactly
# what it reported, then zeros.
full_write() {
	local flags=$1 f=$FS_MNT/$2 out
	out=$("$DIO" $flags -c 0x41 "$f" 0 $MIB $MIB) || return 1
	write_ok "$out" "$f" $((MIB - 4096)) A ENOSPC || return 1
	[ "${out#error}" = "$out" ] || out=0
	echo "umount, fsck, mount after the failed write"
	remount_fsck || return 1
	truncate -s 1m "$f" && content_ok "$f" $MIB "$out" A || return 1
	sync -f "$FS_MNT" && echo 3 >/proc/sys/vm/drop_caches && content_ok "$f" $MIB "$out" A
}

ktap_print_header
ktap_set_plan 18
for fs in xfs delafs; do
	use_fs $fs
	fs_setup || ktap_exit_fail_msg "cannot mount a fresh $fs"
	check "$fs: free space poisoned with 0xab" poison_free_space_full
	check_log "$fs: O_DIRECT writes faulting after 64 KiB / at once: C reads zeros after truncate -s 1m" \
		faulting "" dio
	# Each case's files go once checked, so a later fsck speaks of its own.
	rm -f "$FS_MNT"/Cdio
	check_log "$fs: the same with libaio" faulting -a aio
	rm -f "$FS_MNT"/Caio
	check_log "$fs: the same with buffered writes" faulting -b buf
	rm -f "$FS_MNT"/Cbuf
	check_log "$fs: a buffered write faulting after 64 KiB is short, the rest of the file zeros" buffered_short
	check_log "$fs: nearly full, every free block 0xab" nearly_full
	check_log "$fs: nearly full: O_DIRECT 1 MiB write: ENOSPC or short, then only its bytes and zeros" \
		full_write "" A
	rm -f "$FS_MNT"/A
	check_log "$fs: nearly full: buffered 1 MiB write: ENOSPC or short, then only its bytes and zeros" \
		full_write -b A2
	# with the files that are left (filler, A2, D)
	check "$fs: umount, $([ $fs = xfs ] && echo xfs_repair -n || echo fsck.delafs) clean" fs_teardown
done
ktap_finished
