#!/usr/bin/env bash
# `make runner-bench`: boot-to-first-test of the two guest runners (virtme-ng
# and QEMU started directly with qemu-image/guest-init), on the same kernel and
# disks, alternating, ROUNDS (3) times each: the wall time from run-guest's
# start to the first line a command prints, and to its end (the guest powered
# off). Figures, not pass/fail.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build/results/runner-bench
rm -rf "$out"
mkdir -p "$out"
scripts/setup.sh >/dev/null
kdir=$(scripts/kernel.sh)
truncate -s 256M "$out/a.img"
truncate -s 512M "$out/b.img"

rounds=${ROUNDS:-3}
declare -A first total
for ((i = 1; i <= rounds; i++)); do
	for runner in vng qemu; do
		rm -f "$out/first"
		t0=$(date +%s.%N)
		DELAFS_RUNNER=$runner qemu-image/run-guest --kernel "$kdir/arch/x86/boot/bzImage" \
			--out "$out/$runner" --timeout 600 --disk "$out/a.img" --disk "$out/b.img" \
			-- sh -c 'echo first-line' | while IFS= read -r line; do
			# the qemu runner's serial line ends in CR LF
			[[ ${line%$'\r'} == first-line ]] && date +%s.%N >"$out/first"
		done
		t2=$(date +%s.%N)
		[[ -s $out/first ]] || { echo "runner-bench: $runner: the command's output never came" >&2; exit 1; }
		f=$(awk -v a="$t0" -v b="$(cat "$out/first")" 'BEGIN { printf "%.1f", b - a }')
		t=$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.1f", b - a }')
		printf 'round %d  %-5s  first line %6s s  powered off %6s s\n' "$i" "$runner" "$f" "$t"
		first[$runner]+="$f "
		total[$runner]+="$t "
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '\n%-6s %22s %22s\n' runner "first line (median, s)" "powered off (median, s)"
for runner in vng qemu; do
	printf '%-6s %22s %22s\n' "$runner" "$(median <<<"${first[$runner]}")" "$(median <<<"${total[$runner]}")"
done
