#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The race lab's acceptance: the delalloc release race of the December 2023
# report, on demand, on delafs (race.sh) or on XFS through iomap's own loop
# and patches/0004's knobs (xfs_race.sh, which is race.sh xfs):
#
#  - legacy mode + injected delay: every trial races and warns, and the
#    first warning is a real kernel WARN with the report's machine line;
#  - fixed mode + the same delay: races are seen, nothing warns, and every
#    file and every reservation checks out;
#  - fixed mode + delay + fadvise, which also writes the dirty folio back
#    while the loop sleeps: races, and every file verified over free space
#    that holds old data (no stale blocks exposed);
#  - the O_DIRECT completion trigger with the delay, and each trigger
#    without any delay for a fixed time: figures for the summary (data must
#    still verify).
#
# The delay is 100 ms: on the lockdep kernel a drop_caches took longer
# than 10 ms once in 20 trials (the demo sweeps shorter delays).
# Figures go to the results share as race-figures.txt, the first WARN as
# first-warn-FS.txt (warn_shape.sh compares them).
source "$(dirname "$0")"/lib.sh
fs=${1:-delafs}
require_root_and_disk
[ "$fs" = xfs ] && require_xfs_disk
use_fs "$fs" || exit "$KSFT_FAIL"

TRIALS=${RACE_TRIALS:-20}
DELAY_US=${RACE_DELAY_US:-100000}
BASELINE_SECS=${RACE_BASELINE_SECS:-10}
FIGURES=/tmp/results/race-figures.txt

# run TRIGGER MODE DELAY_US [race_repro options]: prints the SUMMARY line.
run() {
	local trigger=$1 mode=$2 delay=$3
	shift 3
	knob release_mode "$mode"
	knob seek_delay_us "$delay"
	"$DIR/race_repro" -q -m "$FS_MNT" -t "$trigger" "$@" | tee -a "$FIGURES.log" | grep '^SUMMARY' |
		tee -a "$FIGURES"
}

ktap_print_header
ktap_set_plan 10
fs_setup || ktap_exit_fail_msg "cannot mount a fresh $fs"
# The one kernel report this test expects; scan-kernel-log allows it.
echo "$FS_WARN" >>/tmp/results/expected-kernel-reports

dmesg -C
s=$(run dropcaches legacy "$DELAY_US" -n "$TRIALS")
echo "# $s"
if [ "$(field "$s" race_trials)" = "$TRIALS" ] && [ "$(field "$s" warnings)" -ge "$TRIALS" ]; then
	ktap_test_pass "$fs legacy + ${DELAY_US}us delay + drop_caches: $TRIALS of $TRIALS trials race and warn"
else
	ktap_test_fail "$fs legacy + ${DELAY_US}us delay + drop_caches: $TRIALS of $TRIALS trials race and warn"
fi
check "$fs legacy: every file and reservation verified" [ "$(field "$s" verified)" = "$TRIALS" ]
first_warn >"/tmp/results/first-warn-$fs.txt"
# WARN_ON_ONCE: iomap's prints once per boot (delafs's once per module load).
check "$fs legacy: a real kernel WARN at the release loop" grep -E "$FS_WARN" "/tmp/results/first-warn-$fs.txt"
check "$fs legacy: the WARN names the report's machine" grep -F "$HARDWARE_LINE" "/tmp/results/first-warn-$fs.txt"

dmesg -C
s=$(run dropcaches fixed "$DELAY_US" -n "$TRIALS")
echo "# $s"
check "$fs fixed + ${DELAY_US}us delay + drop_caches: races seen" [ "$(field "$s" race_trials)" -gt 0 ]
check "$fs fixed: no warning" [ "$(field "$s" warnings)" = 0 ]
check "$fs fixed: every file and reservation verified" [ "$(field "$s" verified)" = "$TRIALS" ]

# Figures: the other triggers with the delay, and every trigger without.
# Free space holds old data first: fadvise writes back the dirty folio
# while the release loop sleeps, and a writeback that allocated more than
# it wrote would show that data in the file (delafs did; XFS allocates
# unwritten extents).
poison_free_space "$FS_MNT" 64
s=$(run fadvise fixed "$DELAY_US" -n "$TRIALS")
echo "# $s"
check "$fs fixed + ${DELAY_US}us delay + fadvise: races seen, every file verified (no stale blocks)" \
	[ "$(field "$s" race_trials)" -gt 0 -a "$(field "$s" verified)" = "$TRIALS" ]
[ "$(field "$s" verified)" = "$TRIALS" ] || grep '^# ' "$FIGURES.log" | tail -n 4
ok=1
s=$(run dio fixed "$DELAY_US" -n "$TRIALS")
echo "# $s"
[ "$(field "$s" verified)" = "$(field "$s" trials)" ] || ok=0
for trigger in dropcaches fadvise dio; do
	s=$(run "$trigger" fixed 0 -T "$BASELINE_SECS")
	echo "# $s"
	[ "$(field "$s" verified)" = "$(field "$s" trials)" ] || ok=0
done
check "$fs fixed, O_DIRECT trigger and no delay: data verified" [ "$ok" = 1 ]
knob seek_delay_us 0
knob release_mode fixed

check "$fs: unmounts and checks clean" fs_teardown
ktap_finished
