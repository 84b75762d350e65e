#!/usr/bin/env bash
# The main job (`make demo`): set up the host, build the kernel and the module,
# boot the i440FX guest and show delafs loaded there.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build/results/demo
mkdir -p "$out"

scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
kdir=$(scripts/kernel.sh)
make -s -C "$kdir" M="$top" modules

qemu-image/run-guest --kernel "$kdir/arch/x86/boot/bzImage" --out "$out" --timeout 300 \
	-- bash "$top/scripts/guest-demo.sh" "$top/delafs.ko"
echo "guest kernel log: $out/console.log"
