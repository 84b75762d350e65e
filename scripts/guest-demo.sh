#!/bin/bash
# Runs in the guest for `make demo` (scripts/demo.sh): the race on delafs
# (with large folios and with 4 KiB folios) and on XFS (iomap's loop with
# patches/0004's knobs; large folios), legacy then fixed mode with the
# injected delay, then the hit rate against the delay. Every filesystem sits
# on a device-mapper delay device, so the direct-I/O triggers (libaio and
# io_uring) can hold the write's completion until the release loop sleeps
# (race_repro.c). Results go to the results share for the host.
set -eu
DIR=$1
trials=$2
out=/tmp/results
source "$DIR/lib.sh"

echo "== machine: $(dmesg | sed -n 's/.*DMI: //p' | head -n1)"
# run LABEL TRIGGER MODE DELAY_US TRIALS: one SUMMARY line, with the folio
# setting as folios=LABEL.
run() {
	local label=$1 trigger=$2
	knob release_mode "$3"
	knob seek_delay_us "$4"
	# Direct I/O: the completion is held until the loop sleeps; with no
	# delay to wait for, it comes 10 ms late instead (the natural case).
	local dm=() slow=$DM_SLOW
	[ "$4" = 0 ] && slow=$DM_NATURAL
	case $trigger in dio | uring) dm=(-D "$DM_NAME" -F "$DM_FAST" -S "$slow") ;; esac
	"$DIR/race_repro" -q -m "$FS_MNT" -t "$trigger" -n "$5" "${dm[@]}" | grep '^SUMMARY' |
		sed "s/^SUMMARY/SUMMARY folios=$label/"
}

: >$out/demo-table.txt
: >$out/demo-sweep.txt
: >$out/demo-matrix.txt
for config in "delafs large" "delafs small" "xfs large"; do
	set -- $config
	fs=$1 folios=$2
	use_fs "$fs"
	dm_delay_setup "$FS_DEV"
	if [ "$fs" = delafs ]; then
		load_module
		"$MKFS" -q "$DM_DEV" >/dev/null
		mount -t delafs -o large_folios=$([ "$folios" = large ] && echo 1 || echo 0) "$DM_DEV" "$FS_MNT"
	else
		mkfs.xfs -f -q "$DM_DEV" && mount -t xfs "$DM_DEV" "$FS_MNT"
	fi
	echo "== $fs, $folios folios: knobs and counters in $FS_KNOBS: $(cd "$FS_KNOBS" && echo *)"
	dmesg -C
	for mode in legacy fixed; do
		# Releasing the held completion (a table swap) takes 10-40 ms here,
		# so the direct-I/O rows sleep longer.
		for trigger in dropcaches fadvise dio uring; do
			delay=10000
			case $trigger in dio | uring) delay=300000 ;; esac
			run "$folios" $trigger $mode $delay "$trials" | tee -a $out/demo-table.txt
		done
	done
	if [ "$folios" = large ]; then
		# The map of eviction paths: each trigger with the delay and without.
		for trigger in dropcaches fadvise dio uring pageout reclaim punch; do
			for delay in 300000 0; do
				run "$folios" $trigger fixed $delay "$trials" | tee -a $out/demo-matrix.txt
			done
		done
		first_warn >$out/first-warn-$fs.txt
		for trigger in dropcaches fadvise dio; do
			for delay in 0 10 100 1000 10000 100000; do
				run "$folios" $trigger fixed $delay "$trials" | tee -a $out/demo-sweep.txt
			done
		done
	fi
	knob seek_delay_us 0
	knob release_mode fixed
	umount "$FS_MNT"
	if [ "$fs" = delafs ]; then "$FSCK" "$DM_DEV"; else xfs_repair -n "$DM_DEV" >/dev/null 2>&1; fi &&
		echo "== $fs, $folios folios: unmounted, checked clean"
	dm_delay_teardown
	if [ "$fs" = delafs ]; then unload_module; fi
done
