#!/bin/bash
# A/B of delafs modules on the metadata loops of `make bench`, in one guest,
# run by `make shell CMD=...`:
#
#   make shell CMD='/path/to/scripts/guest-meta-ab.sh KSELFTEST_DIR MODDIR ROUNDS N "old new"'
#
# For each round and each NAME, loads MODDIR/NAME.ko, makes a fresh delafs on
# /dev/vda and runs `bench_meta tree` (fanout 8, depth 3, 4 files) and
# `bench_meta dir` (N files); then the same on the lab shell's XFS (/dev/vdb).
# Prints one line a round and module: µs per operation of every phase.
# Build the modules to compare beside each other first (e.g. `git worktree`
# at the older commit, `make modules`, copy delafs.ko to MODDIR/old.ko).
ks=${1:?usage: guest-meta-ab.sh KSELFTEST_DIR MODDIR ROUNDS N "NAME..."}
moddir=${2:?}; rounds=${3:-3}; n=${4:-10000}; mods=${5:-old new}
cd / || exit 1
per_op() {
	python3 -c '
import json, sys
print(" ".join("%s=%.0f" % (o["phase"], o["secs"] / o["n"] * 1e6)
               for o in map(json.loads, sys.stdin) if o["done"]))'
}
run() {
	{ "$ks/bench_meta" tree "$1/t" 8 3 4 300 && "$ks/bench_meta" dir "$1/d" "$n" 300; } | per_op
}
for r in $(seq "$rounds"); do
	for m in $mods; do
		umount /mnt/delafs 2>/dev/null
		rmmod delafs 2>/dev/null
		insmod "$moddir/$m.ko" || exit 1
		"$ks/mkfs.delafs" -q -N 65536 /dev/vda >/dev/null && mount -t delafs /dev/vda /mnt/delafs || exit 1
		echo "round $r $m: $(run /mnt/delafs)"
	done
	umount /mnt/xfs && mkfs.xfs -f -q /dev/vdb && mount -t xfs /dev/vdb /mnt/xfs || exit 1
	echo "round $r xfs: $(run /mnt/xfs)"
done
umount /mnt/delafs
rmmod delafs
