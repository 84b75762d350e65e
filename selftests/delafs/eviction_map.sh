#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The eviction paths that 6.12's source says cannot open the hole between
# the release loop's two seeks, each as a bounded run that fails if it
# races anyway, on delafs and on XFS, with the seek delay armed:
#
#  - madvise(MADV_PAGEOUT) over a mapping of the cached pages: reclaims
#    them through shrink_folio_list(), which leaves a shadow entry per
#    folio, and mapping_seek_hole_data() counts shadows as data;
#  - fallocate(PUNCH_HOLE) (and truncate, which locks the same way): takes
#    the inode lock and the invalidate lock, so it waits for the writer.
#
# memory.reclaim also leaves shadows, but it runs the shrinkers too, and
# the workingset shadow-node shrinker frees nodes holding only shadows:
# it can race, and is measured (make demo), not asserted here.
source "$(dirname "$0")"/lib.sh
require_root_and_disk
require_xfs_disk
TRIALS=${EVICTION_TRIALS:-10}

# pageout_evicts FILE: prints "BEFORE AFTER", the cached pages of a 4 MiB
# file read after drop_caches, before and after MADV_PAGEOUT over a mapping
# of all of it.
pageout_evicts() {
	local f=$1 before after
	xfs_io -f -c "pwrite -q 0 4m" -c fsync "$f" && echo 3 >/proc/sys/vm/drop_caches
	# Read and page out from one process on one CPU, as race_repro's
	# evictor does. Debian 12's Python has no mmap.MADV_PAGEOUT: 21 is its
	# value in <asm-generic/mman-common.h>.
	taskset -c 0 python3 -c 'import mmap, os, subprocess, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
while os.read(fd, 1 << 20):
    pass
print(subprocess.run([sys.argv[2], sys.argv[1]], capture_output=True, text=True).stdout, file=sys.stderr)
m = mmap.mmap(fd, os.fstat(fd).st_size, prot=mmap.PROT_READ)
for i in range(0, len(m), 4096):
    m[i]
m.madvise(getattr(mmap, "MADV_PAGEOUT", 21))' "$f" "$DIR/folio_orders" 2>/tmp/pageout-before
	before=$(sed -n 's/.*cached_pages=\([0-9]*\).*/\1/p' /tmp/pageout-before)
	after=$("$DIR/folio_orders" "$f" | sed -n 's/.*cached_pages=\([0-9]*\).*/\1/p')
	rm -f "$f"
	echo "${before:-0} ${after:-0}"
}

ktap_print_header
ktap_set_plan 12
for config in "delafs 0" "delafs 1" "xfs -"; do
	set -- $config
	fs=$1 large=$2
	use_fs $fs
	if [ $fs = delafs ]; then
		load_module && "$MKFS" -q "$FS_DEV" >/dev/null &&
			mount -t delafs -o large_folios=$large "$FS_DEV" "$FS_MNT" ||
			ktap_exit_fail_msg "cannot mount delafs"
		what="delafs, large_folios=$large"
	else
		fs_setup || ktap_exit_fail_msg "cannot mount a fresh $fs"
		what="xfs"
	fi
	knob release_mode fixed
	knob seek_delay_us 100000
	# That pageout cannot race must not be because it evicted nothing.
	read -r before after <<<"$(pageout_evicts "$FS_MNT/pageout-check")"
	if [ "$after" -lt $((before / 2)) ]; then
		s=$("$DIR/race_repro" -q -m "$FS_MNT" -t pageout -n "$TRIALS" | grep '^SUMMARY')
		echo "# $s"
		check "$what: pageout (evicts: $before -> $after cached pages) cannot race ($(field "$s" race_trials)/$TRIALS), files verified" \
			[ "$(field "$s" race_trials)" = 0 -a "$(field "$s" verified)" = "$TRIALS" ]
	else
		ktap_test_skip "$what: pageout evicted nothing ($before -> $after cached pages): no race to rule out"
	fi
	s=$("$DIR/race_repro" -q -m "$FS_MNT" -t punch -n "$TRIALS" | grep '^SUMMARY')
	echo "# $s"
	check "$what: punch with the delay armed: cannot race ($(field "$s" race_trials)/$TRIALS), files verified" \
		[ "$(field "$s" race_trials)" = 0 -a "$(field "$s" verified)" = "$TRIALS" ]
	s=$("$DIR/race_repro" -q -m "$FS_MNT" -t dropcaches -n 3 | grep '^SUMMARY')
	echo "# $s"
	check "$what: control, drop_caches with the same delay races ($(field "$s" race_trials)/3)" \
		[ "$(field "$s" race_trials)" -gt 0 ]
	knob seek_delay_us 0
	check "$what: unmounts and checks clean" fs_teardown
done
ktap_finished
