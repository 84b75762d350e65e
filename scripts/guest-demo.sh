#!/bin/bash
# Runs in the guest for `make demo` (scripts/demo.sh): the race on delafs
# and on XFS (iomap's loop with patches/0004's knobs), legacy then fixed
# mode with the injected delay, then the hit rate against the delay.
# Results go to the results share for the host to print and plot.
set -eu
DIR=$1
trials=$2
out=/tmp/results
source "$DIR/lib.sh"

echo "== machine: $(dmesg | sed -n 's/.*DMI: //p' | head -n1)"
# run TRIGGER MODE DELAY_US TRIALS: one SUMMARY line for the use_fs filesystem.
run() {
	knob release_mode "$2"
	knob seek_delay_us "$3"
	"$DIR/race_repro" -q -m "$FS_MNT" -t "$1" -n "$4" | grep '^SUMMARY'
}

: >$out/demo-table.txt
: >$out/demo-sweep.txt
for fs in delafs xfs; do
	use_fs $fs
	fs_setup
	echo "== $fs: knobs and counters in $FS_KNOBS: $(cd "$FS_KNOBS" && echo *)"
	dmesg -C
	for mode in legacy fixed; do
		for trigger in dropcaches fadvise dio; do
			run $trigger $mode 10000 "$trials" | tee -a $out/demo-table.txt
		done
	done
	first_warn >$out/first-warn-$fs.txt
	for trigger in dropcaches fadvise dio; do
		for delay in 0 10 100 1000 10000 100000; do
			run $trigger fixed $delay "$trials" | tee -a $out/demo-sweep.txt
		done
	done
	knob seek_delay_us 0
	knob release_mode fixed
	fs_teardown && echo "== $fs: unmounted, checked clean"
done
