#!/usr/bin/env bash
# `make bench`: throughput of delafs against XFS and ext4 on the same guest
# and the same kind of disk (a sparse raw file on virtio-blk), printed as a
# table with ratios. Figures, not pass/fail: TCG makes absolute numbers slow,
# the ratios are what to compare.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build/results/bench
mkdir -p "$out"

scripts/setup.sh >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
kdir=$(scripts/kernel.sh)
make -s -C "$kdir" M="$top" $(scripts/kbuild-flags "$kdir") modules
cargo build --release --quiet
scripts/build-selftests.sh "$kdir" "$top/build/kselftest" >/dev/null

disks=()
for fs in delafs xfs ext4; do
	rm -f "$out/$fs.img"
	truncate -s 1G "$out/$fs.img"
	disks+=(--disk "$out/$fs.img")
done
qemu-image/run-guest --kernel "$kdir/arch/x86/boot/bzImage" --out "$out" --timeout 3000 \
	"${disks[@]}" -- bash "$top/scripts/guest-bench.sh" "$top/build/kselftest/delafs" "${BENCH_MB:-256}"
