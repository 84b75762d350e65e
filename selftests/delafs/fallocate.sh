#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fallocate(2) on XFS (the ground truth) and then on delafs, each result
# checked against what the call's arguments say it must leave:
#
# - mode 0 and KEEP_SIZE preallocate: the return value, i_size (mode 0
#   extends it, KEEP_SIZE does not), st_blocks covers the range, free space
#   drops by it, SEEK_DATA/SEEK_HOLE see holes while nothing is cached and
#   data where the page cache holds it (read, or written and not yet back),
#   `xfs_io fiemap -v` marks the range unwritten (0x800), and the file reads
#   zeros buffered, with O_DIRECT, after drop_caches and after umount+mount;
#   an extending truncate over KEEP_SIZE blocks past EOF reads zeros;
# - ZERO_RANGE (and with KEEP_SIZE) over written blocks and over dirty
#   cached data, partial blocks at both ends: the range reads zeros, the rest
#   is untouched, and no range SEEK_HOLE calls a hole holds a non-zero byte;
# - PUNCH_HOLE|KEEP_SIZE: zeros, the whole blocks inside become a hole;
# - modes the VFS refuses (PUNCH_HOLE without KEEP_SIZE, PUNCH|ZERO,
#   COLLAPSE|KEEP_SIZE, unknown bits): EOPNOTSUPP on both (6.12's
#   vfs_fallocate; older kernels said EINVAL), the file unchanged; COLLAPSE,
#   INSERT and UNSHARE: EOPNOTSUPP on delafs, the file unchanged (XFS
#   supports them: logged, not compared);
# - boundaries: len 0, negative offset or length EINVAL; off+len past
#   s_maxbytes (measured with ftruncate) or wrapping EFBIG, 2^63-1 included;
#   the last block below s_maxbytes accepted;
# - more than the free space: ENOSPC, free space and st_blocks unchanged;
# - a buffered write of part of a block and an O_DIRECT write of a block
#   into a preallocated range: the rest reads zeros, the written blocks are
#   the only data SEEK_DATA finds;
# - at the end fsck.delafs / xfs_repair -n clean.
source "$(dirname "$0")"/lib.sh
require_root_and_disk
require_xfs_disk

OP=$DIR/falloc_op
DIO=$DIR/dio_write
KIB=1024
MIB=1048576
BLOCK=4096
MODEL=/tmp/fallocate.model

falloc() { "$OP" falloc "$@"; }
blocks_of() { "$OP" blocks "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }
drop() { sync -f "$FS_MNT" && echo 3 >/proc/sys/vm/drop_caches; }

remount() {
	umount "$FS_MNT" && mount -t "$FS_TYPE" "$FS_DEV" "$FS_MNT"
}

# want WHAT GOT EXPECTED: equal, or say how not.
want() {
	[ "$2" = "$3" ] && return 0
	echo "$1: got '$2', want '$3'"
	return 1
}

# m_new SIZE: the model, an ordinary file in /tmp that gets the same bytes
# by plain writes (never fallocate), so the comparison owes nothing to
# the filesystem under test.
m_new() { rm -f "$MODEL" && truncate -s "$1" "$MODEL"; }
# m_put OFF LEN BYTE (0xNN): bytes written.
m_put() { xfs_io -c "pwrite -q -S $3 $1 $2" "$MODEL" >/dev/null; }
# m_zero OFF LEN: zeros within the file; past its end only with KEEP=0.
m_zero() {
	local off=$1 len=$2 keep=${3:-0} size
	size=$(size_of "$MODEL")
	if [ "$keep" = 1 ]; then
		[ "$off" -ge "$size" ] && return 0
		[ $((off + len)) -gt "$size" ] && len=$((size - off))
	fi
	m_put "$off" "$len" 0x00
}

# same_bytes F HOW: F (read HOW: buffered or direct) is the model.
same_bytes() {
	local f=$1 how=$2 size msize
	size=$(size_of "$f")
	msize=$(size_of "$MODEL")
	want "$f size" "$size" "$msize" || return 1
	if [ "$how" = direct ]; then
		"$OP" dread "$f" >/tmp/fallocate.dread || return 1
		cmp /tmp/fallocate.dread "$MODEL" >/tmp/fallocate.cmp 2>&1
	else
		cmp "$f" "$MODEL" >/tmp/fallocate.cmp 2>&1
	fi
	if [ $? != 0 ]; then
		echo "$f ($how): $(cat /tmp/fallocate.cmp)"
		return 1
	fi
}

# seek_holes_zero F: every byte of F that SEEK_DATA/SEEK_HOLE put in a hole
# is zero in the model (a hole over data would lose it).
seek_holes_zero() {
	local f=$1 segs s pos=0 size
	size=$(size_of "$MODEL")
	segs=$("$OP" seek "$f") || return 1
	[ "$segs" = none ] && segs=
	for s in $segs "$size-$size"; do
		local a=${s%-*} b=${s#*-}
		if [ "$a" -gt "$pos" ] && ! cmp -s -i "$pos:0" -n $((a - pos)) "$MODEL" /dev/zero; then
			echo "$f: SEEK_HOLE calls $pos..$a a hole, but it holds data (segments: $segs)"
			return 1
		fi
		pos=$b
	done
}

# verify F [SEEK]: F is the model buffered (from the cache), with O_DIRECT,
# after sync + drop_caches and after umount+mount (then also O_DIRECT);
# SEEK, when given, is the data layout SEEK_DATA/SEEK_HOLE must report
# while nothing is cached (after drop_caches, after mount), else it is only
# checked never to call data a hole.
verify() {
	local f=$1 seek=$2
	same_bytes "$f" buffered && same_bytes "$f" direct || return 1
	drop || return 1
	if [ -n "$seek" ]; then
		want "$f: SEEK_DATA/SEEK_HOLE after drop_caches" "$("$OP" seek "$f")" "$seek" || return 1
	else
		seek_holes_zero "$f" || return 1
	fi
	same_bytes "$f" buffered || return 1
	remount || return 1
	if [ -n "$seek" ]; then
		want "$f: SEEK_DATA/SEEK_HOLE after mount" "$("$OP" seek "$f")" "$seek" || return 1
	fi
	same_bytes "$f" buffered && same_bytes "$f" direct
}

# data_blocks OFF LEN ...: the block-aligned data segments that writes of
# these ranges leave (each range rounded out to blocks, neighbours merged),
# in "START-END" form like falloc_op seek.
data_blocks() {
	local out= ps=-1 pe=-1 a b
	while [ $# -ge 2 ]; do
		a=$(($1 / BLOCK * BLOCK))
		b=$((($1 + $2 + BLOCK - 1) / BLOCK * BLOCK))
		shift 2
		if [ "$a" -le "$pe" ]; then
			pe=$b
		else
			[ "$ps" -ge 0 ] && out+="${out:+ }$ps-$pe"
			ps=$a pe=$b
		fi
	done
	[ "$ps" -ge 0 ] && out+="${out:+ }$ps-$pe"
	echo "${out:-none}"
}

# unwritten_sectors F FIRST END: how many 512-byte sectors of [FIRST, END)
# `xfs_io fiemap -v` reports in extents flagged unwritten (0x800), from
# lines like "   0: [0..2047]:   96..2143   2048 0x801".
unwritten_sectors() {
	local line n=0 a b flags re='^ *[0-9]+: \[([0-9]+)\.\.([0-9]+)\]: +[0-9]+\.\.[0-9]+ +[0-9]+ +(0x[0-9a-f]+)'
	while IFS= read -r line; do
		[[ $line =~ $re ]] || continue
		a=${BASH_REMATCH[1]} b=$((BASH_REMATCH[2] + 1)) flags=${BASH_REMATCH[3]}
		((flags & 0x800)) || continue
		((a < $2)) && a=$2
		((b > $3)) && b=$3
		((b > a)) && n=$((n + b - a))
	done < <(xfs_io -c "fiemap -v" "$1")
	echo $n
}

# ---------------------------------------------------------------------------

# mode 0 on an empty file: 0, size 1 MiB, st_blocks and free space cover
# it, no data for SEEK_DATA.
prealloc_mode0() {
	local f=$FS_MNT/alloc free0 free1 bs
	: >"$f" && sync -f "$FS_MNT"
	free0=$(stat -f -c %f "$FS_MNT") bs=$(stat -f -c %S "$FS_MNT")
	want "fallocate 0 0 1m" "$(falloc "$f" 0 0 $MIB)" 0 || return 1
	sync -f "$FS_MNT"
	free1=$(stat -f -c %f "$FS_MNT")
	want "size" "$(size_of "$f")" $MIB || return 1
	[ "$(blocks_of "$f")" -ge $((MIB / 512)) ] ||
		{ echo "st_blocks $(blocks_of "$f") < $((MIB / 512))"; return 1; }
	[ $(((free0 - free1) * bs)) -ge $MIB ] ||
		{ echo "free space went from $free0 to $free1 blocks of $bs: less than 1 MiB"; return 1; }
	want "SEEK_DATA/SEEK_HOLE, nothing cached" "$("$OP" seek "$f")" none
}

prealloc_mode0_reads() {
	local f=$FS_MNT/alloc
	m_new $MIB && verify "$f" none || return 1
	# read whole, every folio is cached and uptodate: data to SEEK_DATA
	same_bytes "$f" buffered &&
		want "SEEK_DATA/SEEK_HOLE with the whole file cached" "$("$OP" seek "$f")" "0-$MIB"
}

# fiemap: [0, 1 MiB) unwritten; after a synced 4 KiB write at 256 KiB, that
# block written and the rest still unwritten.
prealloc_fiemap() {
	local f=$FS_MNT/fiemap n
	want "fallocate 0 0 1m" "$(falloc "$f" 0 0 $MIB)" 0 || return 1
	xfs_io -c "fiemap -v" "$f" 2>&1 | sed 's/^/fiemap: /'
	n=$(unwritten_sectors "$f" 0 $((MIB / 512)))
	want "unwritten sectors of [0, 1m)" "$n" $((MIB / 512)) || return 1
	xfs_io -c "pwrite -q -S 0x46 $((256 * KIB)) $BLOCK" -c fsync "$f" >/dev/null || return 1
	xfs_io -c "fiemap -v" "$f" 2>&1 | sed 's/^/after the write: /'
	n=$(unwritten_sectors "$f" 0 $((MIB / 512)))
	want "unwritten sectors of [0, 1m) after a 4 KiB write" "$n" $(((MIB - BLOCK) / 512)) || return 1
	n=$(unwritten_sectors "$f" $((256 * KIB / 512)) $(((256 * KIB + BLOCK) / 512)))
	want "unwritten sectors of the written block" "$n" 0
}

# KEEP_SIZE past the end of a 64 KiB file: size kept, blocks counted.
prealloc_keep() {
	local f=$FS_MNT/keep
	xfs_io -f -c "pwrite -q -S 0x4b 0 $((64 * KIB))" -c fsync "$f" >/dev/null || return 1
	want "fallocate KEEP_SIZE 64k 960k" "$(falloc "$f" keep $((64 * KIB)) $((960 * KIB)))" 0 || return 1
	want "size" "$(size_of "$f")" $((64 * KIB)) || return 1
	[ "$(blocks_of "$f")" -ge $((MIB / 512)) ] ||
		{ echo "st_blocks $(blocks_of "$f") < $((MIB / 512))"; return 1; }
	want "SEEK_DATA/SEEK_HOLE" "$("$OP" seek "$f")" "0-$((64 * KIB))"
}

# ... reads the 64 KiB; truncated up to 1 MiB the preallocated part reads
# zeros and is still a hole; st_blocks still covers it.
prealloc_keep_reads() {
	local f=$FS_MNT/keep
	m_new 0 && m_put 0 $((64 * KIB)) 0x4b && verify "$f" "0-$((64 * KIB))" || return 1
	truncate -s $MIB "$f" && truncate -s $MIB "$MODEL" || return 1
	verify "$f" "0-$((64 * KIB))" || return 1
	[ "$(blocks_of "$f")" -ge $((MIB / 512)) ] ||
		{ echo "st_blocks $(blocks_of "$f") < $((MIB / 512)) after the truncate"; return 1; }
}

# ZERO_RANGE over written blocks, over dirty cached data, across EOF with
# KEEP_SIZE, and past EOF without it; partial blocks at the ends.
zero_range() {
	local f=$FS_MNT/zero r
	m_new 0
	xfs_io -f -c "pwrite -q -S 0x41 0 $((256 * KIB))" -c fsync "$f" >/dev/null && m_put 0 $((256 * KIB)) 0x41 || return 1
	# dirty, not yet written back
	xfs_io -c "pwrite -q -S 0x42 $((128 * KIB)) $((64 * KIB))" "$f" >/dev/null && m_put $((128 * KIB)) $((64 * KIB)) 0x42 || return 1
	while read -r mode off len keep; do
		r=$(falloc "$f" "$mode" "$off" "$len")
		echo "fallocate $mode $off $len: $r"
		want "fallocate $mode $off $len" "$r" 0 || return 1
		m_zero "$off" "$len" "$keep"
		want "size after fallocate $mode $off $len" "$(size_of "$f")" "$(size_of "$MODEL")" || return 1
		same_bytes "$f" buffered || return 1
	done <<-EOF
		zero 1000 10000 0
		zero 130000 20000 0
		zero|keep 250000 100000 1
		zero 300000 5000 0
		zero|keep 200000 1 1
	EOF
	verify "$f" || return 1
	drop && echo "layout, nothing cached: $("$OP" seek "$f")"
}

# PUNCH_HOLE|KEEP_SIZE: zeros; the whole blocks inside are a hole.
punch() {
	local f=$FS_MNT/punch off=10000 len=50000 a b
	m_new 0
	xfs_io -f -c "pwrite -q -S 0x50 0 $((256 * KIB))" -c fsync "$f" >/dev/null && m_put 0 $((256 * KIB)) 0x50 || return 1
	want "punch $off $len" "$(falloc "$f" 'punch|keep' $off $len)" 0 || return 1
	m_zero $off $len 1
	a=$(((off + BLOCK - 1) / BLOCK * BLOCK)) b=$(((off + len) / BLOCK * BLOCK))
	verify "$f" "0-$a $b-$((256 * KIB))"
}

# The combinations vfs_fallocate (fs/open.c, 6.12) refuses before the
# filesystem sees them: EOPNOTSUPP for PUNCH_HOLE without KEEP_SIZE, two
# modes at once, COLLAPSE or INSERT with KEEP_SIZE, a bit outside the modes
# (NO_HIDE_STALE 0x04, 0x80); the file unchanged.
vfs_refused() {
	local f=$FS_MNT/refused mode
	m_new 0
	xfs_io -f -c "pwrite -q -S 0x52 0 $((64 * KIB))" -c fsync "$f" >/dev/null && m_put 0 $((64 * KIB)) 0x52 || return 1
	for mode in punch 'punch|zero' 'punch|zero|keep' 'collapse|keep' 'insert|keep' 'unshare|punch|keep' \
		0x04 '0x04|keep' 0x80; do
		want "fallocate $mode 0 4096" "$(falloc "$f" "$mode" 0 $BLOCK)" "error EOPNOTSUPP" || return 1
	done
	verify "$f" "0-$((64 * KIB))"
}

# COLLAPSE_RANGE, INSERT_RANGE, UNSHARE_RANGE: delafs refuses them
# (EOPNOTSUPP), the file unchanged.
delafs_refused() {
	local f=$FS_MNT/unsup mode
	m_new 0
	xfs_io -f -c "pwrite -q -S 0x55 0 $((64 * KIB))" -c fsync "$f" >/dev/null && m_put 0 $((64 * KIB)) 0x55 || return 1
	for mode in collapse insert unshare; do
		want "fallocate $mode 0 4096" "$(falloc "$f" "$mode" 0 $BLOCK)" "error EOPNOTSUPP" || return 1
	done
	verify "$f" "0-$((64 * KIB))"
}

# What XFS does with them, for the log.
xfs_supported() {
	local f=$FS_MNT/unsup mode
	xfs_io -f -c "pwrite -q -S 0x55 0 $((64 * KIB))" -c fsync "$f" >/dev/null
	for mode in collapse insert unshare; do
		echo "# xfs: fallocate $mode 0 4096 (size $(size_of "$f")): $(falloc "$f" "$mode" 0 $BLOCK)"
	done
}

# exp_falloc OFF LEN: vfs_fallocate's checks (offset < 0 or len <= 0
# EINVAL; off + len past s_maxbytes or wrapping EFBIG), else 0.
exp_falloc() {
	if [ "$1" -lt 0 ] || [ "$2" -le 0 ]; then
		echo "error EINVAL"
	elif [ $(($1 + $2)) -lt 0 ] || [ $(($1 + $2)) -gt "$MAXBYTES" ]; then
		echo "error EFBIG"
	else
		echo 0
	fi
}

# Offsets and lengths at the edges, in every mode delafs supports; after an
# accepted call at the top, the size is what the mode says and the last
# block reads zeros.
bounds() {
	local f=$FS_MNT/bounds mode off len r e t63=9223372036854775807 top size
	: >"$f"
	MAXBYTES=$("$OP" maxbytes "$f") || return 1
	echo "s_maxbytes (largest ftruncate): $MAXBYTES"
	top=$((MAXBYTES / BLOCK * BLOCK - BLOCK))
	for mode in 0 keep 'zero' 'zero|keep' 'punch|keep'; do
		while read -r off len; do
			rm -f "$f" && : >"$f"
			r=$(falloc "$f" "$mode" "$off" "$len")
			e=$(exp_falloc "$off" "$len")
			want "fallocate $mode $off $len" "$r" "$e" || return 1
			size=0
			if [ "$r" = 0 ] && [ "${mode#*keep}" = "$mode" ]; then
				size=$((off + len))
			fi
			want "size after fallocate $mode $off $len" "$(size_of "$f")" $size || return 1
			if [ "$size" -gt 0 ] && ! tail -c $BLOCK "$f" | cmp -s - <(head -c $BLOCK /dev/zero); then
				echo "the last block after fallocate $mode $off $len is not zeros"
				return 1
			fi
		done <<-EOF
			0 0
			4096 0
			-1 4096
			0 -1
			-4096 8192
			$t63 1
			$t63 0
			1 $t63
			$((t63 - BLOCK)) $((BLOCK * 2))
			$((MAXBYTES - BLOCK)) $((BLOCK * 2))
			$MAXBYTES 1
			$top $BLOCK
		EOF
	done
	rm -f "$f"
}

# More than the free space: ENOSPC, nothing allocated.
enospc() {
	local f=$FS_MNT/big free0 free1 bs mode r
	for mode in 0 keep; do
		rm -f "$f" && : >"$f" && sync -f "$FS_MNT"
		free0=$(stat -f -c %f "$FS_MNT") bs=$(stat -f -c %S "$FS_MNT")
		r=$(falloc "$f" "$mode" 0 $(((free0 + 4096) * bs)))
		sync -f "$FS_MNT"
		free1=$(stat -f -c %f "$FS_MNT")
		echo "fallocate $mode of $((free0 + 4096)) blocks with $free0 free: $r; then $free1 free"
		want "fallocate $mode past the free space" "$r" "error ENOSPC" || return 1
		want "free blocks" "$free1" "$free0" || return 1
		want "st_blocks and size" "$("$OP" blocks "$f")" "0 0" || return 1
	done
	rm -f "$f"
}

# Writes into a preallocated 1 MiB: 1000 bytes buffered inside a block,
# 4 KiB with O_DIRECT; everything else zeros; only those blocks are data.
write_into() {
	local f=$FS_MNT/into r seek
	want "fallocate 0 0 1m" "$(falloc "$f" 0 0 $MIB)" 0 || return 1
	m_new $MIB
	xfs_io -c "pwrite -q -S 0x57 8292 1000" "$f" >/dev/null && m_put 8292 1000 0x57 || return 1
	r=$("$DIO" -c 0x44 "$f" 65536 $BLOCK $BLOCK) || return 1
	want "O_DIRECT write 4096 @ 65536" "$r" $BLOCK || return 1
	m_put 65536 $BLOCK 0x44
	seek=$(data_blocks 8292 1000 65536 $BLOCK)
	want "SEEK_DATA/SEEK_HOLE with the buffered write cached" "$("$OP" seek "$f")" "$seek" || return 1
	verify "$f" "$seek" || return 1
	want "size" "$(size_of "$f")" $MIB
}

ktap_print_header
ktap_set_plan 26
for fs in xfs delafs; do
	use_fs $fs
	fs_setup || ktap_exit_fail_msg "cannot mount a fresh $fs"
	check "$fs: fallocate 0: returns 0, size 1 MiB, st_blocks and free space cover it, no SEEK_DATA" \
		prealloc_mode0
	check "$fs: fallocate 0: zeros buffered, O_DIRECT, after drop_caches, after mount; holes, data once cached" \
		prealloc_mode0_reads
	check "$fs: fallocate 0: fiemap shows it unwritten, a written block not" prealloc_fiemap
	check "$fs: KEEP_SIZE past EOF: size kept, st_blocks counts it, SEEK sees the data only" prealloc_keep
	check "$fs: KEEP_SIZE: reads; truncated up over it reads zeros and is a hole" prealloc_keep_reads
	check_log "$fs: ZERO_RANGE (and KEEP_SIZE) over written and dirty data, partial blocks: zeros" zero_range
	check "$fs: PUNCH_HOLE|KEEP_SIZE: zeros, whole blocks a hole" punch
	check "$fs: modes the VFS refuses: EOPNOTSUPP, file unchanged" vfs_refused
	if [ $fs = delafs ]; then
		check "$fs: COLLAPSE, INSERT, UNSHARE: EOPNOTSUPP, file unchanged" delafs_refused
	else
		xfs_supported
		ktap_test_skip "$fs: COLLAPSE, INSERT, UNSHARE: XFS supports them (delafs-only check)"
	fi
	check_log "$fs: boundaries: EINVAL, EFBIG at s_maxbytes and 2^63-1, the last block accepted" bounds
	check_log "$fs: more than the free space: ENOSPC, nothing allocated" enospc
	check "$fs: writes into preallocated space: the rest zeros, only written blocks are data" write_into
	rm -f "$FS_MNT"/*
	check "$fs: umount, $([ $fs = xfs ] && echo xfs_repair -n || echo fsck.delafs) clean" fs_teardown
done
rm -f "$MODEL" /tmp/fallocate.dread /tmp/fallocate.cmp
ktap_finished
