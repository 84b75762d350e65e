#!/bin/bash
# The direct-I/O trigger on null_blk with timer completions instead of
# dm-delay (issue 11: measure both). Run in the guest, e.g.
#   make shell CMD="$PWD/scripts/guest-nullblk.sh $PWD/build/kselftest/delafs"
# A memory-backed null_blk device (configfs) with irqmode=2 (timer) and
# completion_nsec=N completes every bio N ns after submission, reads as well
# as writes; race_repro -t dio runs without -D (nothing releases the
# completion on demand) and with a 300 ms seek delay, on delafs and on XFS,
# for a few completion times. Prints one SUMMARY line per run.
set -u
ks=${1:?usage: guest-nullblk.sh KSELFTEST_DIR [TRIALS]}
trials=${2:-10}
cfg=/sys/kernel/config/nullb
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
grep -qw delafs /proc/filesystems || insmod "$ks/delafs.ko"
mkdir -p /mnt/nb

for nsec in 1000000 10000000 50000000; do
	for fs in delafs xfs; do
		dir=$cfg/lab
		mkdir "$dir" || exit 1
		echo 1 >"$dir/memory_backed"
		echo 4096 >"$dir/blocksize"
		echo 512 >"$dir/size"
		echo 2 >"$dir/irqmode"
		echo "$nsec" >"$dir/completion_nsec"
		echo 1 >"$dir/power" || exit 1
		# 6.12 names a configfs null_blk disk after its directory.
		dev=/dev/${dir##*/}
		for _ in 1 2 3 4 5; do [ -b "$dev" ] && break; sleep 1; done
		[ -b "$dev" ] || { echo "no $dev: $(ls /sys/block)"; exit 1; }
		if [ $fs = delafs ]; then
			"$ks/mkfs.delafs" -q "$dev" >/dev/null && mount -t delafs "$dev" /mnt/nb || exit 1
			knobs=/sys/kernel/debug/delafs
		else
			mkfs.xfs -f -q "$dev" && mount -t xfs "$dev" /mnt/nb || exit 1
			knobs=/sys/kernel/debug/iomap
		fi
		echo 300000 >"$knobs/seek_delay_us"
		echo "== $fs on $dev, completion_nsec=$nsec"
		"$ks/race_repro" -m /mnt/nb -t dio -n "$trials" -q | grep SUMMARY | sed "s/^/nullb completion_nsec=$nsec /"
		echo 0 >"$knobs/seek_delay_us"
		umount /mnt/nb
		echo 0 >"$dir/power"
		rmdir "$dir"
	done
done
