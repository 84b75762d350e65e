#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The cause upstream 7a9d43eace88 names: an asynchronous O_DIRECT write's
# completion (iomap_dio_complete() -> kiocb_invalidate_post_direct_write(),
# no inode lock) invalidating the page cache while the release loop sleeps
# between its seeks. On delafs with large folios and with 4 KiB folios
# (mount -o large_folios=0|1), and on XFS (large folios; it has no switch).
#
# The filesystem sits on a device-mapper delay device whose writes are held
# during each trial and flushed, by a table swap, once the release loop is
# inside its seek delay (race_repro.c, -D): the completion lands there on
# every trial. The page cache geometry decides whether it can race: the
# completion invalidates the folios overlapping the written range, so only a
# large folio reaching out of it into the release range opens the hole.
#
#  - large folios, legacy: every trial races and warns;
#  - large folios, fixed: every trial races, nothing warns, every file
#    verified over poisoned free space, with libaio and with io_uring;
#  - delafs: each race had a direct-write completion inside the delay
#    (the dio_completions_in_delay counter), and the control (the same trial
#    with the completion flushed after the write returned) never races;
#  - 4 KiB folios: the prediction "cannot race", as a bounded run;
#  - the buffered reads over the range being written read zeros, never the
#    old disk contents (free space is poisoned before each run);
#  - without the seek delay, completion 10 ms late: the natural rate, a
#    figure in dio-race-figures.txt.
source "$(dirname "$0")"/lib.sh
fs=${1:-delafs}
require_root_and_disk
[ "$fs" = xfs ] && require_xfs_disk
use_fs "$fs" || exit "$KSFT_FAIL"
TRIALS=${RACE_TRIALS:-20}
DELAY_US=${RACE_DELAY_US:-300000}
NATURAL_TRIALS=${DIO_NATURAL_TRIALS:-20}
FIGURES=/tmp/results/dio-race-figures.txt
if ! dm_delay_setup "$FS_DEV"; then
	ktap_skip_all "needs dmsetup and CONFIG_BLK_DEV_DM + CONFIG_DM_DELAY"
	exit "$KSFT_SKIP"
fi
dmdev=$DM_DEV fast=$DM_FAST slow=$DM_SLOW natural=$DM_NATURAL DM=$DM_NAME
cleanup() {
	umount "$FS_MNT" 2>/dev/null
	dm_delay_teardown
}
trap cleanup EXIT

# mount_fs [OPTIONS]: a fresh filesystem on the delay device.
mount_fs() {
	if [ "$fs" = delafs ]; then
		load_module && "$MKFS" -q "$dmdev" >/dev/null && mount -t delafs ${1:+-o "$1"} "$dmdev" "$FS_MNT"
	else
		mkfs.xfs -f -q "$dmdev" && mount -t xfs "$dmdev" "$FS_MNT"
	fi
}
umount_fs() {
	umount "$FS_MNT" || return 1
	if [ "$fs" = delafs ]; then "$FSCK" "$dmdev"; else xfs_repair -n "$dmdev" >/dev/null 2>&1; fi
}

# run LABEL TRIGGER MODE DELAY_US [race_repro options]: the SUMMARY line.
run() {
	local label=$1 trigger=$2 mode=$3 delay=$4
	shift 4
	knob release_mode "$mode"
	knob seek_delay_us "$delay"
	# Old data in free space, so a read of blocks not yet written shows.
	poison_free_space "$FS_MNT" 16
	"$DIR/race_repro" -q -m "$FS_MNT" -t "$trigger" -D "$DM" -F "$fast" "$@" |
		tee -a "$FIGURES.log" | grep '^SUMMARY' | sed "s/^SUMMARY/SUMMARY folios=$label/" | tee -a "$FIGURES"
}
counter() { cat "$FS_KNOBS/$1" 2>/dev/null || echo 0; }

# races_all SUMMARY: every trial raced and every file verified.
races_all() { [ "$(field "$1" race_trials)" = "$TRIALS" ] && [ "$(field "$1" verified)" = "$TRIALS" ]; }

if [ "$fs" = delafs ]; then
	configs="large small"
	ktap_print_header
	ktap_set_plan 15
else
	configs=large
	ktap_print_header
	ktap_set_plan 8
fi
echo "$FS_WARN" >>/tmp/results/expected-kernel-reports

for folios in $configs; do
	opts=
	[ "$fs" = delafs ] && opts=large_folios=$([ $folios = large ] && echo 1 || echo 0)
	mount_fs "$opts" || ktap_exit_fail_msg "cannot mount $fs on $dmdev"
	what="$fs $folios folios"

	if [ $folios = large ]; then
		s=$(run $folios dio legacy "$DELAY_US" -S "$slow" -n "$TRIALS")
		echo "# $s"
		check "$what: large folios seen (max order $(field "$s" max_order))" \
			[ "$(field "$s" max_order)" -gt 0 ]
		check "$what, legacy, libaio completion in the delay: $TRIALS/$TRIALS race and warn" \
			[ "$(field "$s" race_trials)" = "$TRIALS" -a "$(field "$s" warnings)" -ge "$TRIALS" ]
		c0=$(counter dio_completions_in_delay)
		s=$(run $folios dio fixed "$DELAY_US" -S "$slow" -n "$TRIALS")
		echo "# $s"
		check "$what, fixed, libaio: $TRIALS/$TRIALS race, no warning, files verified" \
			bash -c "[ '$(field "$s" race_trials)' = $TRIALS ] && [ '$(field "$s" verified)' = $TRIALS ] && [ '$(field "$s" warnings)' = 0 ]"
		if [ "$fs" = delafs ]; then
			c=$(($(counter dio_completions_in_delay) - c0))
			check "$what: a direct-write completion inside the delay for each race ($c)" \
				[ "$c" -ge "$(field "$s" race_trials)" ]
		fi
		stale=$(field "$s" stale_reads)
		s=$(run $folios uring fixed "$DELAY_US" -S "$slow" -n "$TRIALS")
		echo "# $s"
		check "$what, fixed, io_uring: $TRIALS/$TRIALS race, files verified" races_all "$s"
		stale=$((stale + $(field "$s" stale_reads)))
		s=$(run $folios dio fixed "$DELAY_US" -S "$slow" -n "$TRIALS" -C)
		echo "# $s"
		check "$what, control (completion after the write): no race" \
			[ "$(field "$s" race_trials)" = 0 -a "$(field "$s" verified)" = "$TRIALS" ]
		s=$(run $folios dio fixed 0 -S "$natural" -n "$NATURAL_TRIALS")
		echo "# natural: $s"
		check "$what, no seek delay, completion 10 ms late: files verified" \
			[ "$(field "$s" verified)" = "$NATURAL_TRIALS" ]
	else
		s=$(run $folios dio legacy "$DELAY_US" -S "$slow" -n "$TRIALS")
		echo "# $s"
		check "$what: every folio is one block (orders $(field "$s" orders))" \
			[ "$(field "$s" max_order)" = 0 ]
		check "$what, legacy, libaio completion in the delay: cannot race ($(field "$s" race_trials) races)" \
			[ "$(field "$s" race_trials)" = 0 -a "$(field "$s" warnings)" = 0 ]
		s2=$(run $folios uring fixed "$DELAY_US" -S "$slow" -n "$TRIALS")
		echo "# $s2"
		check "$what, fixed, io_uring: cannot race, files verified" \
			[ "$(field "$s2" race_trials)" = 0 -a "$(field "$s2" verified)" = "$TRIALS" ]
		stale=$(($(field "$s" stale_reads) + $(field "$s2" stale_reads)))
		s=$(run $folios dio fixed 0 -S "$natural" -n "$NATURAL_TRIALS")
		echo "# natural: $s"
		check "$what, no seek delay, completion 10 ms late: files verified" \
			[ "$(field "$s" verified)" = "$NATURAL_TRIALS" ]
	fi
	# A buffered read over a range an in-flight O_DIRECT write allocated must
	# read zeros, as XFS's unwritten extents give (delafs: blocks of an
	# unfinished direct write map as IOMAP_UNWRITTEN).
	check "$what: reads during the direct write saw only zeros ($stale stale bytes)" [ "$stale" = 0 ]
	check "$what: unmounts and checks clean" umount_fs
done
knob seek_delay_us 0
knob release_mode fixed
ktap_finished
