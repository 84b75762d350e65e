#!/bin/bash
# Runs in the guest for `make bench` (scripts/bench.sh): /dev/vda, vdb, vdc
# are scratch disks for delafs, XFS and ext4. delafs runs twice: with large
# folios (the default) and mounted large_folios=0 ("delafs-4k").
set -eu
bin=$1 mb=$2
insmod "$bin/delafs.ko"
mnt=/mnt/bench
mkdir -p "$mnt"

mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

declare -A wr rd cu fx
for fs in delafs delafs-4k xfs ext4; do
	type=$fs opts=
	case $fs in
	delafs) dev=/dev/vda; "$bin/mkfs.delafs" -q $dev >/dev/null ;;
	delafs-4k) dev=/dev/vda type=delafs opts=-olarge_folios=0; "$bin/mkfs.delafs" -q $dev >/dev/null ;;
	xfs) dev=/dev/vdb; mkfs.xfs -q -f $dev ;;
	ext4) dev=/dev/vdc; mkfs.ext4 -q -F $dev ;;
	esac
	mount -t $type $opts $dev $mnt
	echo "[bench] $fs: sequential write and read, create + unlink, fsx" >&2
	t0=$(now)
	dd if=/dev/zero of=$mnt/seq bs=1M count="$mb" conv=fsync status=none
	t1=$(now)
	echo 3 >/proc/sys/vm/drop_caches
	t2=$(now)
	dd if=$mnt/seq of=/dev/null bs=1M status=none
	t3=$(now)
	wr[$fs]=$(mbps $((mb << 20)) "$(elapsed "$t0" "$t1")")
	rd[$fs]=$(mbps $((mb << 20)) "$(elapsed "$t2" "$t3")")
	rm $mnt/seq
	cu[$fs]=$(python3 - "$mnt" <<'PY'
import os, sys, time
d = os.path.join(sys.argv[1], "cu")
os.mkdir(d)
n = 2000
t = time.monotonic()
for i in range(n):
    os.close(os.open(os.path.join(d, "f%d" % i), os.O_CREAT | os.O_WRONLY, 0o644))
for i in range(n):
    os.unlink(os.path.join(d, "f%d" % i))
print("%.0f" % (2 * n / (time.monotonic() - t)))
PY
)
	fx[$fs]=$("$bin/fsx" -d $dev -m $mnt -t $type -s 7 -n 2000 -c 1000 | sed -n 's/.* \([0-9]*\) ops\/s.*/\1/p')
	umount $mnt
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '\n%-34s %9s %9s %9s %9s %11s %11s %11s\n' "benchmark ($mb MiB file)" delafs delafs-4k xfs ext4 \
	"delafs/xfs" "4k/xfs" "delafs/ext4"
row() {
	local name=$1
	local -n arr=$2
	printf '%-34s %9s %9s %9s %9s %11s %11s %11s\n' "$name" "${arr[delafs]}" "${arr[delafs-4k]}" \
		"${arr[xfs]}" "${arr[ext4]}" "$(ratio "${arr[delafs]}" "${arr[xfs]}")" \
		"$(ratio "${arr[delafs-4k]}" "${arr[xfs]}")" "$(ratio "${arr[delafs]}" "${arr[ext4]}")"
}
row "sequential write + fsync, MB/s" wr
row "sequential read, cold cache, MB/s" rd
row "create + unlink, ops/s" cu
row "fsx (integrity exerciser), ops/s" fx
rmmod delafs
