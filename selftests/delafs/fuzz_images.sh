#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Structure-aware image fuzzing: fuzz.delafs mutates the metadata of a seed
# image that uses every on-disk structure (checksums recomputed, so only the
# semantic checks can catch it). Each of FUZZ_IMAGES images (campaign seed
# FUZZ_SEED), and then each spec of fuzz-regressions/, is
#   - checked by fsck.delafs, unmodified: fsck must not crash (exit >= 8 or a
#     signal) and must not call clean an image the kernel refused or that
#     made the kernel print a report;
#   - loop-mounted; if that works: walked and read, then written, fsynced,
#     renamed, linked, truncated, punched, unlinked, rmdir'ed, mkdir'ed,
#     unmounted, mounted again (must work), walked, unmounted.
# After each image the kernel log must have no WARNING, BUG, Oops, ... and at
# most FUZZ_MAX_KERNEL_LINES lines. Every image prints "# image N: SPEC"
# before the kernel sees it, so a crash that kills the guest is attributable.
# A failing image and its spec are copied to /tmp/results/fuzz-failures/.
#
# The dirindex family has its own seed (a directory of about 400 names with
# its index) and campaign: FUZZ_DIRINDEX_IMAGES images (default a third of
# FUZZ_IMAGES), run like the others after the classic campaign.
#
# One result per mutation family, one for the regression corpus, one for
# each seed image itself and one for the module unloading at the end.
# FUZZ_SKIP (a regex of families) is for development only.
source "$(dirname "$0")"/lib.sh

FUZZ=$DIR/fuzz.delafs
IMAGES=${FUZZ_IMAGES:-100}
DI_IMAGES=${FUZZ_DIRINDEX_IMAGES:-$(((IMAGES + 2) / 3))}
SEED=${FUZZ_SEED:-1}
MAX_LINES=${FUZZ_MAX_KERNEL_LINES:-20}
# Per-image limits; a slow kernel (the kasan flavour) raises them.
EXERCISE_SECS=${FUZZ_EXERCISE_SECS:-120}
FSCK_SECS=${FUZZ_FSCK_SECS:-60}
WORK=/tmp/fuzz-images
FAILDIR=/tmp/results/fuzz-failures
REPORT_RE='WARNING:|BUG:|Oops|general protection|kernel BUG|Call Trace|panicked|UBSAN|KASAN|hung_task|blocked for more than|soft lockup|rcu.*stall'
# Kernel lines a loop mount prints by itself, not counted.
NOISE_RE='loop[0-9]+: detected capacity change'

if [ "$(id -u)" != 0 ] || ! command -v losetup >/dev/null; then
	ktap_skip_all "needs root and loop devices"
	exit "$KSFT_SKIP"
fi

families=$("$FUZZ" --list-families)
ktap_print_header
ktap_set_plan $(($(wc -w <<<"$families") + 4))
load_module
rm -rf "$WORK"
mkdir -p "$WORK" "$FAILDIR"

declare -A fam_n fam_fail fam_mounted
total=0 mounted=0 refused=0 failed=0 fsck_agree=0 fsck_stricter=0 fsck_ok=0

mnt_cleanup() {
	mountpoint -q "$MNT" && { umount "$MNT" 2>/dev/null || umount -l "$MNT"; }
}

# Every process costs about 0.3 s under TCG: an image costs about ten, the
# kernel log is read once (dmesg -c) and filtered with bash alone.
# exercise: the workload on the mounted image (fuzz.delafs runs xfs_io).
exercise() {
	timeout -s KILL "$EXERCISE_SECS" "$FUZZ" --exercise "$MNT" || echo "fuzz.delafs --exercise: exit $?"
}

# run_image NAME FAMILY IMG SPEC: one image (mounted itself; fsck sees it
# first); prints its verdict, counts it, returns 1 if it failed. The caller
# regenerates a failed image from its spec for fuzz-failures/.
run_image() {
	local name=$1 fam=$2 img=$3 spec=$4 frc mrc=1 out why=() klog report= lines=0 line
	echo "# image $name: $spec"
	timeout -s KILL "$FSCK_SECS" "$FSCK" -n "$img" >"$WORK/fsck.out" 2>&1
	frc=$?
	if mount -t delafs -o loop "$img" "$MNT" 2>"$WORK/mount.err"; then
		mrc=0
		out=$(exercise 2>&1)
		[[ $out == exercise:* ]] || printf '%s\n' "$out" | sed 's/^/#   /'
		# 137: killed by the timeout (EXERCISE_SECS), or a crash.
		[[ $out == *"--exercise: exit "* ]] && why+=("workload failed or timed out (exit ${out##*--exercise: exit })")
		if ! umount "$MNT" 2>"$WORK/umount.err"; then
			why+=("umount failed: $(<"$WORK/umount.err")")
			mnt_cleanup
		elif ! mount -t delafs -o loop "$img" "$MNT" 2>"$WORK/mount2.err"; then
			why+=("remount failed: $(<"$WORK/mount2.err")")
		elif ! umount "$MNT"; then
			why+=("second umount failed")
			mnt_cleanup
		fi
	fi
	klog=$(dmesg -c)
	while IFS= read -r line; do
		[[ -z $line || $line =~ $NOISE_RE ]] && continue
		lines=$((lines + 1))
		[[ -z $report && $line =~ $REPORT_RE ]] && report=$line
	done <<<"$klog"
	[ $frc -ge 8 ] && why+=("fsck crashed or failed: exit $frc")
	[ -n "$report" ] && why+=("kernel report: $report")
	[ "$lines" -gt "$MAX_LINES" ] && why+=("kernel log flood: $lines lines")
	if [ $frc = 0 ] && { [ $mrc != 0 ] || [ -n "$report" ]; }; then
		why+=("fsck says clean, but the kernel $([ $mrc != 0 ] && echo refused it || echo reported)")
	fi

	total=$((total + 1))
	fam_n[$fam]=$((${fam_n[$fam]:-0} + 1))
	if [ $mrc = 0 ]; then
		mounted=$((mounted + 1))
		fam_mounted[$fam]=$((${fam_mounted[$fam]:-0} + 1))
	else
		refused=$((refused + 1))
		echo "#   refused: $(<"$WORK/mount.err")"
	fi
	case $frc in
	0) fsck_ok=$((fsck_ok + 1)) ;;
	4) if [ $mrc != 0 ] || [ -n "$report" ]; then fsck_agree=$((fsck_agree + 1)); else fsck_stricter=$((fsck_stricter + 1)); fi ;;
	esac
	if [ ${#why[@]} = 0 ]; then
		return 0
	fi
	failed=$((failed + 1))
	fam_fail[$fam]=$((${fam_fail[$fam]:-0} + 1))
	local IFS=';'
	echo "# FAIL image $name ($fam): $spec => ${why[*]}"
	unset IFS
	sed 's/^/#   fsck: /' "$WORK/fsck.out" | head -8
	head -n 60 <<<"$klog" | sed 's/^/#   dmesg: /'
	printf '%s\n' "$spec" >"$FAILDIR/$name.txt"
	"$FUZZ" --replay "$spec" -o "$FAILDIR/$name.img"
	return 1
}

# A seed itself: everything works, and fsck finds the result clean.
# seed_check WHAT [--family F]
seed_check() {
	local what=$1 seed_ok=1
	shift
	"$FUZZ" --build-seed "$WORK/seed.img" "$@"
	mount -t delafs -o loop "$WORK/seed.img" "$MNT" || seed_ok=0
	if [ $seed_ok = 1 ]; then
		exercise 2>&1 | sed "s/^/# $what: /"
		umount "$MNT" || seed_ok=0
		"$FSCK" "$WORK/seed.img" | sed "s/^/# $what after the workload: /"
		[ "${PIPESTATUS[0]}" = 0 ] || seed_ok=0
		mount -t delafs -o loop "$WORK/seed.img" "$MNT" && umount "$MNT" || seed_ok=0
	fi
	local klog
	klog=$(dmesg -c)
	[[ $klog =~ $REPORT_RE ]] && { printf '%s\n' "$klog" | sed "s/^/# $what dmesg: /"; seed_ok=0; }
	ktap_test_result "the $what image mounts, takes the workload, fsck finds it clean, remounts" [ $seed_ok = 1 ]
}
dmesg -c >/dev/null # the boot log
seed_check seed
seed_check "dirindex seed" --family dirindex

# FUZZ_FROM: the first image (scripts/fuzz.sh resumes after a crash).
FROM=${FUZZ_FROM:-0}
echo "# campaign: seed $SEED, images $FROM..$((FROM + IMAGES - 1)), kernel line limit $MAX_LINES"
t0=$SECONDS
BATCH=20
for ((i = FROM; i < FROM + IMAGES; i++)); do
	name=$(printf '%04d' $i)
	if [ $(((i - FROM) % BATCH)) = 0 ]; then
		rm -f "$WORK"/[0-9]*.img "$WORK"/[0-9]*.txt
		n=$((FROM + IMAGES - i < BATCH ? FROM + IMAGES - i : BATCH))
		"$FUZZ" -o "$WORK" -s "$SEED" --from $i -n $n || { echo "# fuzz.delafs failed at image $i"; break; }
	fi
	spec=$(<"$WORK/$name.txt")
	fam=${spec%%:*}
	if [ -n "${FUZZ_SKIP:-}" ] && [[ $fam =~ ^($FUZZ_SKIP)$ ]]; then
		continue
	fi
	run_image "$name" "$fam" "$WORK/$name.img" "$spec"
done
# The dirindex family: its own seed and campaign (so the classic one's
# images stay those of its seed); images di-NNNN.
echo "# dirindex campaign: seed $SEED, images $FROM..$((FROM + DI_IMAGES - 1))"
for ((i = FROM; i < FROM + DI_IMAGES; i++)); do
	[ -n "${FUZZ_SKIP:-}" ] && [[ dirindex =~ ^($FUZZ_SKIP)$ ]] && break
	name=$(printf '%04d' $i)
	if [ $(((i - FROM) % BATCH)) = 0 ]; then
		rm -f "$WORK"/[0-9]*.img "$WORK"/[0-9]*.txt
		n=$((FROM + DI_IMAGES - i < BATCH ? FROM + DI_IMAGES - i : BATCH))
		"$FUZZ" -o "$WORK" -s "$SEED" --from $i -n $n --family dirindex ||
			{ echo "# fuzz.delafs --family dirindex failed at image $i"; break; }
	fi
	spec=$(<"$WORK/$name.txt")
	run_image "di-$name" dirindex "$WORK/$name.img" "$spec"
done
t_campaign=$((SECONDS - t0))
campaign_images=$total

for fam in $families; do
	desc="family $fam: ${fam_n[$fam]:-0} images, ${fam_mounted[$fam]:-0} mounted, ${fam_fail[$fam]:-0} failed"
	if [ -n "${FUZZ_SKIP:-}" ] && [[ $fam =~ ^($FUZZ_SKIP)$ ]]; then
		ktap_test_skip "$desc (FUZZ_SKIP)"
	else
		ktap_test_result "$desc" [ "${fam_fail[$fam]:-0}" = 0 ]
	fi
done

# The regression corpus: specs of images that once failed, replayed.
reg_n=0 reg_fail=0
# FUZZ_REGRESSIONS=0 skips them (scripts/fuzz.sh replays them once).
for file in "$DIR"/fuzz-regressions/*.txt; do
	[ "${FUZZ_REGRESSIONS:-1}" = 1 ] || break
	[ -f "$file" ] || continue
	while IFS= read -r spec <&3; do
		case $spec in '' | '#'*) continue ;; esac
		reg_n=$((reg_n + 1))
		name=reg-$(basename "$file" .txt)-$(printf '%03d' $reg_n)
		if ! "$FUZZ" --replay "$spec" -o "$WORK/reg.img"; then
			echo "# FAIL $name: the spec does not apply: $spec"
			reg_fail=$((reg_fail + 1))
			continue
		fi
		run_image "$name" regression "$WORK/reg.img" "$spec" || reg_fail=$((reg_fail + 1))
	done 3<"$file"
done
if [ "${FUZZ_REGRESSIONS:-1}" = 1 ]; then
	ktap_test_result "regression corpus: $reg_n specs, $reg_fail failed" [ $reg_fail = 0 -a $reg_n -gt 0 ]
else
	ktap_test_skip "regression corpus (FUZZ_REGRESSIONS=0)"
fi

echo "# images: $total ($campaign_images fuzzed, $reg_n regressions), mounted: $mounted, refused: $refused," \
	"failed: $failed; fsck clean: $fsck_ok, fsck agreed (problems where the kernel refused or reported): $fsck_agree," \
	"fsck stricter (problems, kernel quiet): $fsck_stricter"
if [ "$campaign_images" -gt 0 ]; then
	echo "# campaign time: ${t_campaign} s, $((t_campaign * 100 / campaign_images)) s per 100 images"
fi
mnt_cleanup
check "no mount left behind, the module unloads" unload_module
rm -rf "$WORK"
ktap_finished
