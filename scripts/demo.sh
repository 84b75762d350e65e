#!/usr/bin/env bash
# The main job (`make demo`): set up, build, boot the i440FX guest, run the
# December 2023 race on delafs and on XFS with both triggers in legacy then
# fixed mode, print one table for both, the first WARN of each next to the
# report's, and plot the race hit rate against the injected delay.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build/results/demo
rm -rf "$out"
mkdir -p "$out"
trials=${DEMO_TRIALS:-20}

scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
kdir=$(scripts/kernel.sh)
make -s modules
cargo build --release --quiet
scripts/build-selftests.sh "$kdir" "$top/build/kselftest" >/dev/null
truncate -s 256M "$out/scratch.img"
truncate -s 512M "$out/scratch-xfs.img"

qemu-image/run-guest --kernel "$kdir/arch/x86/boot/bzImage" --out "$out" --timeout 5400 \
	--disk "$out/scratch.img" --disk "$out/scratch-xfs.img" -- bash "$top/scripts/guest-demo.sh" "$top/build/kselftest/delafs" "$trials"

/usr/bin/python3 scripts/race-report.py "$out"
echo
echo "guest kernel log: $out/console.log"
