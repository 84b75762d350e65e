#!/usr/bin/env bash
# `make crash-test`: unclean shutdowns in the middle of a write workload.
# Each of CRASH_ROUNDS rounds (default 4; seed CRASH_SEED, default the time,
# printed) boots the i440FX guest twice on one disk image that persists:
#
#  1. mount, (first round: free space filled with 0xa5 and freed again), run
#     crash_io's write workload (selftests/delafs/crash_io.c); 3-15 s (seeded)
#     after its start line shows on the console, SIGKILL the QEMU process: no
#     sync, no umount, whatever the guest had not submitted is lost;
#  2. fsck.delafs -n (what the crash left, by kind), -p, -y if -p left
#     problems, -n must then be clean; mount; crash_io verify reads every
#     block of every file buffered and O_DIRECT: each must be zeros or a valid
#     block of that file at that index (any generation), also in files fsck
#     relinked into the root as #INO (their id taken from their blocks);
#     umount; fsck -n clean.
#
# Both boots' kernel logs must have no kernel report (scripts/scan-kernel-log).
# Prints TAP (4 tests a round) and a summary; exits 1 on any failure.
# CRASH_FS=xfs runs the same on XFS (xfs_repair -n after log replay) as
# ground truth. CRASH_INJECT=marker|flip (a check of the check) damages a
# block of one file after the repair, before the verifier: the 0xa5 marker
# over it, or one bit flipped; the verify test must then fail.
# Results in build/results/crash-FS/.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rounds=${CRASH_ROUNDS:-4}
seed=${CRASH_SEED:-$(date +%s)}
fs=${CRASH_FS:-delafs}
inject=${CRASH_INJECT:-}
results=$top/build/results/crash-$fs
case $fs in
delafs) size=128M ;;
xfs) size=320M ;; # mkfs.xfs wants 300 MiB
*) echo "crash-test: CRASH_FS must be delafs or xfs" >&2; exit 2 ;;
esac

export PATH="$HOME/.cargo/bin:$PATH"
kdir=$(scripts/kernel.sh) || exit 1
{
	make -s modules && cargo build --release --quiet &&
		scripts/build-selftests.sh "$kdir" "$top/build/kselftest"
} >&2 || { echo "crash-test: build failed" >&2; exit 1; }
bin=$top/build/kselftest/delafs
kernel=$kdir/arch/x86/boot/bzImage

rm -rf "$results"
mkdir -p "$results"
img=$results/disk.img
truncate -s "$size" "$img"
[[ $fs == delafs ]] && { target/release/mkfs-delafs -q "$img" >/dev/null || exit 1; }

RANDOM=$seed
n=0 failed=0
t_total=0 files_total=0 blocks_total=0 zero_total=0 data_total=0 stale_total=0
declare -A level_count=() kind_total=()
echo "TAP version 13"
echo "# crash-test: $fs, $rounds rounds, CRASH_SEED=$seed, image $size${inject:+, CRASH_INJECT=$inject}"
tap() { # tap OK DESCRIPTION
	n=$((n + 1))
	if [[ $1 == 0 ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
# descendants PID: every process below PID.
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}
qemu_of() {
	local p
	for p in $(descendants "$1"); do
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == qemu-system* ]] && { echo "$p"; return; }
	done
}

for ((r = 1; r <= rounds; r++)); do
	out=$results/round-$r
	mkdir -p "$out"
	wseed=$((seed * 100 + r))
	delay_ms=$((3000 + (RANDOM * 32768 + RANDOM) % 12001))
	delay=$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))
	first=$((r == 1 ? 1 : 0))

	# Boot 1: the workload, killed.
	qemu-image/run-guest --kernel "$kernel" --out "$out/boot1" --timeout 900 --disk "$img" \
		-- "$top/scripts/guest-crash.sh" workload "$bin" "$fs" "$wseed" "$first" \
		>"$out/boot1.out" 2>&1 &
	rg=$!
	started=0 t0=$SECONDS
	while kill -0 $rg 2>/dev/null && ((SECONDS - t0 < 900)); do
		grep -q 'crash_io: workload started' "$out/boot1.out" 2>/dev/null && { started=1; break; }
		sleep 0.2
	done
	killed=0
	if ((started)); then
		sleep "$delay"
		q=$(qemu_of $rg)
		if [[ -n $q ]] && kill -KILL "$q" 2>/dev/null; then killed=1; fi
	fi
	wait $rg 2>/dev/null
	progress=$(grep -a 'crash_io: [0-9]*s ops' "$out/boot1.out" | tail -1 | sed 's/.*crash_io: //')
	grep -a '^@@ poisoned' "$out/boot1.out" | sed 's/^@@ /# /'
	tap $((started && killed ? 0 : 1)) \
		"round $r: workload (seed $wseed) killed ${delay} s after its start (last progress: ${progress:-none})"
	if ! ((started && killed)); then
		tail -n 20 "$out/boot1.out" | sed 's/^/# /'
		echo "# round $r: the workload never started or QEMU was not found; stopping"
		break
	fi
	t_total=$((t_total + delay_ms))

	# Boot 2: fsck, repair, verify.
	qemu-image/run-guest --kernel "$kernel" --out "$out/boot2" --timeout 900 --disk "$img" \
		-- "$top/scripts/guest-crash.sh" check "$bin" "$fs" "$inject" >"$out/boot2.out" 2>&1
	rc=$?
	o=$(grep -a '^@@ ' "$out/boot2.out" | tr -d '\r')
	grep -a '^@@ \(fsck\|kind\|xfs_repair\|inject\)' <<<"$o" | sed 's/^@@ /# /'
	level=$(sed -n 's/^@@ repair //p' <<<"$o")
	after=$(sed -n 's/^@@ after-repair rc=//p' <<<"$o")
	level_count[${level:-?}]=$((${level_count[${level:-?}]:-0} + 1))
	while read -r c k; do
		[[ -n $k ]] && kind_total[$k]=$((${kind_total[$k]:-0} + c))
	done < <(sed -n 's/^@@ kind n1 //p' <<<"$o")
	ok=1
	[[ $rc == 0 && $after == 0 && $level != unrepaired && -n $level ]] && ok=0
	tap $ok "round $r: repair needed: ${level:-?}; check clean after it (rc ${after:-?})"

	v=$(sed -n 's/^@@ VERIFY //p' <<<"$o")
	vrc=$(sed -n 's/^@@ verify rc=//p' <<<"$o")
	averify=$(sed -n 's/^@@ after-verify rc=//p' <<<"$o")
	grep -a -E '^f[0-9]+ |^crash_io: verify' "$out/boot2.out" | head -n 20 | sed 's/^/# /'
	get() { sed -n "s/.*\<$1=\([0-9]*\).*/\1/p" <<<"$v"; }
	files=$(get files) renamed=$(get renamed) blocks=$(get blocks) data=$(get data) zero=$(get zero) stale=$(get stale)
	files_total=$((files_total + ${files:-0})) blocks_total=$((blocks_total + ${blocks:-0}))
	data_total=$((data_total + ${data:-0})) zero_total=$((zero_total + ${zero:-0}))
	stale_total=$((stale_total + ${stale:-0}))
	ok=1
	# No file at all would mean the verifier saw nothing (fsync'd inodes
	# survive, relinked as #INO if their names did not).
	[[ $vrc == 0 && -n $v && $averify == 0 && ${files:-0} -gt 0 ]] && ok=0
	tap $ok "round $r: verify: ${files:-?} files (${renamed:-?} relinked by fsck), ${blocks:-?} blocks read twice: data ${data:-?}, zero ${zero:-?}, stale ${stale:-?}; check after umount rc ${averify:-?}"

	klog=0
	for b in boot1 boot2; do
		scripts/scan-kernel-log "$out/$b/console.log" >"$out/$b-kernel-log.tap" 2>&1 || {
			klog=1
			grep -a '^not ok\|^#' "$out/$b-kernel-log.tap" | sed "s/^/# $b: /"
		}
	done
	tap $klog "round $r: no kernel report in either boot's log"
	echo "# round $r: kill ${delay} s, repair ${level:-?}, ${files:-?} files, ${blocks:-?} blocks, stale ${stale:-?}"
done

echo "1..$n"
kinds=
for k in "${!kind_total[@]}"; do kinds+="${kinds:+, }${kind_total[$k]} x '$k'"; done
levels=
for l in "${!level_count[@]}"; do levels+="${levels:+, }$l ${level_count[$l]}"; done
echo "# summary: $fs, seed $seed, $((r - 1)) of $rounds rounds, kills after $(printf '%d.%03d' $((t_total / 1000)) $((t_total % 1000))) s of workload in all;" \
	"repairs: ${levels:-none}; fsck -n findings: ${kinds:-none}"
echo "# summary: $files_total files, $blocks_total blocks verified (each read buffered and O_DIRECT):" \
	"$data_total data reads, $zero_total zero reads, $stale_total stale; $failed of $n tests failed"
((failed == 0 && n == rounds * 4))
