#!/usr/bin/env bash
# `make shell`: the lab by hand. Sets up and builds what `make demo` does, then
# boots the report's machine (i440FX + PIIX) with virtme-ng, delafs.ko loaded,
# a scratch delafs at /mnt/delafs and a scratch XFS at /mnt/xfs, and gives an
# interactive shell (scripts/guest-shell.sh prints what to try). With
# CMD='...' (`make shell CMD='race_repro -m /mnt/delafs -t dropcaches -n 3'`),
# runs that one command there instead and exits with its status.
# SHELL_TIMEOUT (seconds, default 7200 interactive, 900 with CMD) bounds it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=${SHELL_OUT:-$top/build/results/shell}
mkdir -p "$out"

quiet() { "$@" >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; exit 1; }; }
echo "[shell] set-up, kernel, module, tools, selftests (log: $out/build.log)" >&2
quiet scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
kdir=$(scripts/kernel.sh 2>>"$out/build.log")
quiet make -s modules
quiet cargo build --release --quiet
quiet scripts/build-selftests.sh "$kdir" "$top/build/kselftest"
rm -f "$out/scratch.img" "$out/scratch-xfs.img"
truncate -s 256M "$out/scratch.img"
truncate -s 512M "$out/scratch-xfs.img"

guest=(qemu-image/run-guest --kernel "$kdir/arch/x86/boot/bzImage" --out "$out/guest"
	--disk "$out/scratch.img" --disk "$out/scratch-xfs.img")
ks=$top/build/kselftest/delafs
if [[ -n ${CMD:-} ]]; then
	exec "${guest[@]}" --timeout "${SHELL_TIMEOUT:-900}" -- "$top/scripts/guest-shell.sh" "$ks" -c "$CMD"
fi
# vng's --shell is a program with no arguments: a wrapper that knows the path.
printf '#!/bin/bash\nexec %q %q\n' "$top/scripts/guest-shell.sh" "$ks" >"$out/lab-shell"
chmod +x "$out/lab-shell"
echo "[shell] booting the guest (TCG: ~20 s); the kernel log goes to $out/guest/console.log" >&2
exec "${guest[@]}" --timeout "${SHELL_TIMEOUT:-7200}" --shell -- "$out/lab-shell"
