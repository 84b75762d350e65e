#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The seed's workload: a concurrent stress in the spirit of fsstress +
# drop_caches. Four fsx processes (buffered and faulting writev, hole reads,
# mmap writes, truncates, fsync, O_DIRECT, punch; every read verified; two
# with faulting writes, two with O_DIRECT) run
# on their own files while a loop drops the page cache. In fixed mode, with
# and without the injected delay, nothing warns and every byte checks out;
# legacy mode must keep the data too. Figures (races, time to the first
# one) go to race-figures.txt.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

KNOBS=/sys/kernel/debug/delafs
OPS=${STRESS_OPS:-1500}
FIGURES=/tmp/results/race-figures.txt
knob() { echo "$2" >"$KNOBS/$1"; }

# stress MODE DELAY_US: runs the workload; prints "races=N warnings=N
# first_race_s=S elapsed_s=S" and fails if any fsx failed.
stress() {
	local mode=$1 delay=$2 pids=() rc=0 t0 races0 warns0 first=-1
	knob release_mode "$mode"
	knob seek_delay_us "$delay"
	races0=$(cat $KNOBS/races)
	warns0=$(cat $KNOBS/legacy_warnings)
	t0=$(date +%s.%N)
	mkdir -p "$MNT/w"
	for i in 1 2 3 4; do
		mkdir -p "$MNT/w/$i"
		# Two with faulting writes, two with O_DIRECT (fsx.c says why
		# not both in one).
		"$DIR/fsx" -d "$DEV" -m "$MNT/w/$i" -s "$i$delay" -n "$OPS" -c 0 -l 1048576 \
			$([ $i -le 2 ] && echo -D || echo -F) >/tmp/stress.$i.log 2>&1 &
		pids+=($!)
	done
	(while :; do echo 1 >/proc/sys/vm/drop_caches; sleep 0.05; done) &
	local dropper=$!
	while kill -0 "${pids[@]}" 2>/dev/null; do
		if [ "$first" = -1 ] && [ "$(cat $KNOBS/races)" != "$races0" ]; then
			first=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
		fi
		sleep 0.01
	done
	kill "$dropper"; wait "$dropper" 2>/dev/null
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { rc=1; sed 's/^/# /' /tmp/stress.$((i + 1)).log | tail -20; }
	done
	rm -rf "$MNT/w"
	echo "races=$(($(cat $KNOBS/races) - races0)) warnings=$(($(cat $KNOBS/legacy_warnings) - warns0))" \
		"first_race_s=$first elapsed_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
	return $rc
}
field() { sed -n "s/.*\<$2=\([^ ]*\).*/\1/p" <<<"$1"; }

ktap_print_header
ktap_set_plan 6
load_module
fresh_mount || ktap_exit_fail_msg "cannot mount a fresh delafs"
echo 'WARNING: CPU: [0-9]+ PID: [0-9]+ at delafs/rust/fs/release.rs:[0-9]+ .*warn_empty_data_range' \
	>/tmp/results/expected-kernel-reports

for delay in 0 1000; do
	if s=$(stress fixed $delay); then ok=1; else ok=0; fi
	echo "STRESS mode=fixed delay_us=$delay ops=4x$OPS $s" | tee -a "$FIGURES" | sed 's/^/# /'
	check "fixed, delay ${delay}us: all four exercisers verified" [ $ok = 1 ]
	check "fixed, delay ${delay}us: no warning" [ "$(field "$s" warnings)" = 0 ]
done
if s=$(stress legacy 1000); then ok=1; else ok=0; fi
echo "STRESS mode=legacy delay_us=1000 ops=4x$OPS $s" | tee -a "$FIGURES" | sed 's/^/# /'
check "legacy, delay 1000us: all four exercisers verified" [ $ok = 1 ]
knob seek_delay_us 0
knob release_mode fixed
umount "$MNT"
check "fsck.delafs: clean" "$FSCK" "$DEV"
unload_module
ktap_finished
