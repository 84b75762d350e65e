#!/bin/bash
# Runs in the guest for `make demo`.
set -eu
ko=$1
echo "== machine"
dmesg | grep -m1 'DMI:'
echo "== insmod $ko"
insmod "$ko"
echo "== /proc/filesystems"
grep -w delafs /proc/filesystems
echo "== /sys/kernel/debug/delafs/"
ls -l /sys/kernel/debug/delafs/
for f in /sys/kernel/debug/delafs/*; do
	printf '%s: %s\n' "$(basename "$f")" "$(cat "$f")"
done
echo "== rmmod delafs"
rmmod delafs
dmesg | grep -E 'delafs' || true
