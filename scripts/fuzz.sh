#!/usr/bin/env bash
# `make fuzz`: a long image-fuzzing campaign, fuzz_images.sh in the i440FX
# guest for FUZZ_IMAGES images (default 3000) of campaign FUZZ_SEED (default:
# the time, printed). An image that crashes the guest does not end the
# campaign: the guest boots with oops=panic (and panics on soft lockups and
# hung tasks), and the next boot resumes after the image it last named, up to
# FUZZ_MAX_BOOTS boots. The regression corpus is make check's job
# (FUZZ_REGRESSIONS=1 adds it to the first boot).
#
# Results in build/results/fuzz/: one directory and TAP stream per boot,
# failures/ (NNNN.img + NNNN.txt, the spec: `fuzz-delafs --replay`), and
# summary.txt, one line per failed image. Exits 1 if any image failed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
images=${FUZZ_IMAGES:-3000}
seed=${FUZZ_SEED:-$(date +%s)}
max_boots=${FUZZ_MAX_BOOTS:-50}
results=$top/build/results/fuzz
rm -rf "$results"
mkdir -p "$results/failures"

scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
kdir=$(scripts/kernel.sh)
make -s modules
cargo build --release --quiet
scripts/build-selftests.sh "$kdir" "$top/build/kselftest"

echo "=== fuzz: seed $seed, $images images"
t0=$SECONDS
from=0 boot=0 crashes=0 done=0
summary=$results/summary.txt
: >"$summary"
while ((from < images && boot < max_boots)); do
	out=$results/boot-$boot
	regressions=0
	[[ $boot = 0 ]] && regressions=${FUZZ_REGRESSIONS:-0}
	DELAFS_APPEND="oops=panic softlockup_panic=1 hung_task_panic=1 ${DELAFS_APPEND:-}" \
		qemu-image/run-guest --kernel "$kdir/arch/x86/boot/bzImage" --out "$out" \
		--timeout "${FUZZ_GUEST_TIMEOUT:-36000}" \
		-- env FUZZ_IMAGES=$((images - from)) FUZZ_FROM=$from FUZZ_SEED="$seed" \
		FUZZ_REGRESSIONS="$regressions" kselftest_override_timeout=36000 \
		"$top/build/kselftest/run_kselftest.sh" -t delafs:fuzz_images.sh | tee "$out.tap" || true
	sed -i 's/\r$//' "$out.tap"
	cp "$out"/fuzz-failures/* "$results/failures/" 2>/dev/null || true
	grep -h '^# # FAIL image' "$out.tap" | sed 's/^# # FAIL image //' >>"$summary" || true
	if [[ -s $out/exit-status ]]; then
		done=1
		break
	fi
	# The guest died: blame the last image it named.
	last=$(sed -n 's/^# # image \([0-9]*\): .*/\1/p' "$out.tap" | tail -1)
	if [[ -z $last ]]; then
		echo "fuzz: boot $boot died before any image; stopping" >&2
		break
	fi
	spec=$(sed -n "s/^# # image $last: //p" "$out.tap" | tail -1)
	report=$(grep -m1 -E 'BUG:|Oops|general protection|WARNING:|Kernel panic|soft lockup|blocked for more than' \
		"$out/console.log" | sed -E 's/^\[ *[0-9.]+\] //' || true)
	echo "$last (crash): $spec => $report" | tee -a "$summary"
	printf '%s\n' "$spec" >"$results/failures/$last.txt"
	target/release/fuzz-delafs --replay "$spec" -o "$results/failures/$last.img" || true
	crashes=$((crashes + 1))
	from=$((10#$last + 1))
	boot=$((boot + 1))
done

printf '\n=== fuzz summary (seed %s, %d boots, %d s)\n' "$seed" $((boot + 1)) $((SECONDS - t0))
grep -h '^# # images:' "$results"/boot-*.tap | sed 's/^# # /boot: /' || true
grep -h '^# # campaign time:' "$results"/boot-*.tap | sed 's/^# # /boot: /' || true
echo "guest crashes: $crashes; failed images: $(wc -l <"$summary") (build/results/fuzz/summary.txt):"
cat "$summary"
[[ $done = 1 ]] || echo "fuzz: stopped before the end (FUZZ_MAX_BOOTS=$max_boots)"
[[ ! -s $summary && $done = 1 ]]
