#!/bin/bash
# Runs in the guest for `make demo` (scripts/demo.sh): the race in legacy
# and fixed mode with the injected delay, then the hit rate against the
# delay. Results go to the results share for the host to print and plot.
set -eu
bin=$1 trials=$2
out=/tmp/results
knobs=/sys/kernel/debug/delafs
mnt=/mnt/demo

echo "== machine: $(dmesg | sed -n 's/.*DMI: //p' | head -n1)"
insmod "$bin/delafs.ko"
echo "== /sys/kernel/debug/delafs: $(cd $knobs && echo *)"
"$bin/mkfs.delafs" -q /dev/vda >/dev/null
mkdir -p $mnt
mount -t delafs /dev/vda $mnt

run() { # TRIGGER MODE DELAY_US TRIALS
	echo "$2" >$knobs/release_mode
	echo "$3" >$knobs/seek_delay_us
	"$bin/race_repro" -q -m $mnt -t "$1" -n "$4" | grep '^SUMMARY'
}

: >$out/demo-table.txt
dmesg -C
for mode in legacy fixed; do
	for trigger in dropcaches dio; do
		s=$(run $trigger $mode 10000 "$trials")
		echo "$s" | tee -a $out/demo-table.txt
	done
done
dmesg | sed -n '/cut here/,/end trace/p' >$out/first-warn.txt

: >$out/demo-sweep.txt
for trigger in dropcaches dio; do
	for delay in 0 10 100 1000 10000 100000; do
		s=$(run $trigger fixed $delay "$trials")
		echo "$s" | tee -a $out/demo-sweep.txt
	done
done
echo 0 >$knobs/seek_delay_us
echo fixed >$knobs/release_mode
umount $mnt
"$bin/fsck.delafs" /dev/vda
rmmod delafs
