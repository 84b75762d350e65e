#!/usr/bin/env bash
# What the disarmed seek-delay hook costs: the short-write path (where the
# delalloc release loop and its hook run) timed with delafs.ko built with
# the hook and without it (`make DELAFS_NO_DELAY_HOOK=1`), alternating
# module builds over ROUNDS rounds in one guest. Prints ns per writev() and
# the ratio. A figure, not a test.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build/results/hook-cost
rm -rf "$out"
mkdir -p "$out"
scripts/setup.sh >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
kdir=$(scripts/kernel.sh)
cargo build --release --quiet
scripts/build-selftests.sh "$kdir" "$top/build/kselftest" >/dev/null
make -s DELAFS_NO_DELAY_HOOK=1 modules && cp delafs.ko "$out/nohook.ko"
touch rust/delafs.rs && make -s modules && cp delafs.ko "$out/hook.ko"
truncate -s 256M "$out/scratch.img"
cat >"$out/guest.sh" <<EOS
bin=$top/build/kselftest/delafs
mkdir -p /mnt/h
for round in \$(seq ${ROUNDS:-5}); do
	for kind in hook nohook; do
		insmod $out/\$kind.ko
		\$bin/mkfs.delafs -q /dev/vda >/dev/null
		mount -t delafs /dev/vda /mnt/h
		echo "\$kind \$(\$bin/fault_write /mnt/h/f 0 4194304 4096 ${REPEAT:-200})"
		umount /mnt/h
		rmmod delafs
	done
done
EOS
qemu-image/run-guest --kernel "$kdir/arch/x86/boot/bzImage" --out "$out" --timeout 1800 \
	--disk "$out/scratch.img" -- bash "$out/guest.sh" | tee "$out/times.txt"
awk '{ s[$1] += $2; n[$1]++ } END {
	h = s["hook"] / n["hook"]; o = s["nohook"] / n["nohook"];
	printf "short writev over 32 cached holes: hook disarmed %.0f ns, hook compiled out %.0f ns, ratio %.3f\n", h, o, h / o }' \
	"$out/times.txt"
