#!/bin/bash
# Runs in the guest for `make crash-test` (scripts/crash-test.sh), on the
# persistent disk /dev/vda:
#
#   guest-crash.sh workload BIN FS SEED FIRST   (FIRST=1: poison free space first)
#   guest-crash.sh check BIN FS [INJECT]
#
# workload: mount, on the first round fill every free block with 0xa5 (a
# marker file written to ENOSPC, synced, deleted, synced), then start
# crash_io's write workload, which runs until the host kills the guest.
# check: the filesystem as the crash left it. delafs: fsck.delafs -n, then
# -p, then -y if -p left problems, then -n must be clean; XFS: xfs_repair -n
# (a dirty log is expected), mount (log replay), umount, xfs_repair -n must be
# clean. Then mount, crash_io verify, umount, and the check again. INJECT
# (marker or flip) damages block 0 of the largest file before the verifier,
# to show that it fails.
# Lines the host parses start with "@@ ". Full fsck output in /tmp/results.
set -u
phase=$1 bin=$2 fs=$3
dev=/dev/vda mnt=/mnt/crash res=/tmp/results
mkdir -p "$mnt"
[ "$fs" = delafs ] && { grep -qw delafs /proc/filesystems || insmod "$bin/delafs.ko" || exit 1; }

poison() {
	# 1 MiB writes to ENOSPC, then block by block to fill the last MiB.
	xfs_io -f -c "pwrite -q -b 1048576 -S 0xa5 0 1g" "$mnt/marker" >/dev/null 2>&1
	sync -f "$mnt"
	xfs_io -c "pwrite -q -b 4096 -S 0xa5 $(stat -c %s "$mnt/marker") 64m" "$mnt/marker" >/dev/null 2>&1
	sync -f "$mnt"
	echo "@@ poisoned $(($(stat -c %s "$mnt/marker") >> 20)) MiB with 0xa5," \
		"free after: $(stat -f -c %f "$mnt") blocks"
	rm "$mnt/marker" && sync -f "$mnt"
}

# kinds FILE: fsck's problem lines, numbers masked, counted per kind.
kinds() {
	grep -v -e "^$dev: " -e '^fixed: ' "$1" | sed -E 's/^left: //; s/[0-9]+/N/g' |
		sort | uniq -c | sort -rn | sed 's/^ */@@ kind /'
}

# fsck_run TAG OPTION: fsck.delafs OPTION, output in $res/fsck-TAG.log; prints
# "@@ fsck TAG rc=N <summary>" and the kinds of problem it reported.
fsck_run() {
	local tag=$1 opt=$2 rc
	"$bin/fsck.delafs" "$opt" "$dev" >"$res/fsck-$tag.log" 2>&1
	rc=$?
	echo "@@ fsck $tag rc=$rc $(grep "^$dev: " "$res/fsck-$tag.log" | tail -1)"
	kinds "$res/fsck-$tag.log" | sed "s/^@@ kind /@@ kind $tag /"
	grep -c '^fixed: ' "$res/fsck-$tag.log" | sed "s/^/@@ fixes $tag /"
	return $rc
}

check_delafs() {
	local level=none
	fsck_run n1 -n
	if [ $? != 0 ]; then
		level=p
		fsck_run p -p
		if [ $? -ge 4 ]; then
			level=y
			fsck_run y -y
			[ $? -ge 4 ] && level=unrepaired
		fi
	fi
	echo "@@ repair $level"
	fsck_run n2 -n
	echo "@@ after-repair rc=$?"
	mount -t delafs "$dev" "$mnt" || { echo "@@ mount failed"; return 1; }
}

check_xfs() {
	xfs_repair -n "$dev" >"$res/xfs-repair-n1.log" 2>&1
	echo "@@ xfs_repair n1 rc=$? (before log replay)"
	mount -t xfs "$dev" "$mnt" && umount "$mnt" || { echo "@@ mount failed"; return 1; }
	xfs_repair -n "$dev" >"$res/xfs-repair-n2.log" 2>&1
	local rc=$?
	echo "@@ repair none"
	echo "@@ after-repair rc=$rc"
	mount -t xfs "$dev" "$mnt" || { echo "@@ mount failed"; return 1; }
}

case $phase in
workload)
	seed=$4 first=$5
	if [ "$fs" = xfs ] && [ "$first" = 1 ]; then
		mkfs.xfs -f -q "$dev" || exit 1
	fi
	mount -t "$fs" "$dev" "$mnt" || exit 1
	[ "$first" = 1 ] && poison
	mkdir -p "$mnt/w"
	echo "@@ files before: $(ls "$mnt/w" | wc -l), $(stat -f -c %f "$mnt") free blocks"
	exec "$bin/crash_io" write "$mnt/w" "$seed"
	;;
check)
	check_$fs || exit 1
	victim=$(find "$mnt" -type f -size +0 -printf '%s %p\n' | sort -rn | head -1 | cut -d' ' -f2-)
	case ${4:-} in
	marker) xfs_io -c "pwrite -q -S 0xa5 0 4096" -c fsync "$victim" && echo "@@ inject 0xa5 over block 0 of $victim" ;;
	flip) "$bin/crash_io" corrupt "$victim" 0 && echo "@@ inject a flipped bit in block 0 of $victim" ;;
	esac
	echo 3 >/proc/sys/vm/drop_caches
	"$bin/crash_io" verify "$mnt" | sed 's/^VERIFY/@@ VERIFY/'
	vrc=${PIPESTATUS[0]}
	echo "@@ verify rc=$vrc"
	umount "$mnt" || exit 1
	if [ "$fs" = delafs ]; then
		fsck_run n3 -n
		echo "@@ after-verify rc=$?"
	else
		xfs_repair -n "$dev" >"$res/xfs-repair-n3.log" 2>&1
		echo "@@ after-verify rc=$?"
	fi
	exit 0
	;;
*) echo "guest-crash.sh: unknown phase $phase" >&2; exit 2 ;;
esac
