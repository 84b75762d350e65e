#!/usr/bin/env bash
# The project's test command (`make check`, what .ci/run calls): set up the
# host, build the kernel (cached), the module and the tests, then run host
# tests and the kselftests in the i440FX guest. The last thing printed is
# prove's verdict over every TAP stream the run produced.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
flavour=${FLAVOUR:-default}
results=$top/build/results/check-$flavour
tap=$results/tap
rm -rf "$results"
mkdir -p "$tap"

t_start=$SECONDS
t_last=$SECONDS
timings=()
stage() {
	local now=$SECONDS
	[[ -z ${stage_name:-} ]] || timings+=("$(printf '%-22s %5d s' "$stage_name" $((now - t_last)))")
	t_last=$now
	stage_name=$1
	[[ -z $1 ]] || printf '\n=== %s\n' "$1"
}

stage "set-up"
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

stage "kernel ($flavour)"
kdir=$(FLAVOUR=$flavour scripts/kernel.sh)

stage "module (clippy)"
# clippy and rustc share one build: any warning fails the check. The kasan
# flavour is a Clang tree: the module needs LLVM=1 too.
kflags=$(scripts/kbuild-flags "$kdir")
read -ra kflags <<<"$kflags"
make -s -C "$kdir" M="$top" "${kflags[@]}" clean >/dev/null
echo "$kdir" >.kdir
make -C "$kdir" M="$top" "${kflags[@]}" CLIPPY=1 modules 2>&1 | tee "$results/module-build.log"
if grep -E '(warning|error)(\[|:)' "$results/module-build.log" >/dev/null; then
	echo "check: the module build printed warnings (see above)" >&2
	exit 1
fi
rustfmt --check --edition 2021 rust/delafs.rs || { echo "check: run 'make fmt'" >&2; exit 1; }

stage "host tools and tests"
cargo build --release --quiet
cargo test --release 2>&1 | tee "$results/cargo-test.log"

stage "selftests build"
scripts/build-selftests.sh "$kdir" "$top/build/kselftest"

stage "guest kselftests"
# DELAFS_TESTS="delafs:fsx.sh delafs:tools.sh" runs only those (development).
only=
for t in ${DELAFS_TESTS:-}; do only+=" -t $t"; done
# `make soak`: the same tests, run long.
guest_env=(env FSX_OPS=3000 STRESS_SECS=15 NATURAL_SECS=10 STALE_SECS=${STALE_SECS:-5} FUZZ_IMAGES=${FUZZ_IMAGES:-100} ${FUZZ_DIRINDEX_IMAGES:+FUZZ_DIRINDEX_IMAGES=$FUZZ_DIRINDEX_IMAGES}
	FUZZ_SEED=${FUZZ_SEED:-1} ${NATURAL_FS:+"NATURAL_FS=$NATURAL_FS"})
if [[ -n ${DELAFS_SOAK:-} ]]; then
	# natural_race.sh: 6 runs of NATURAL_SECS (3 workloads x 2 filesystems).
	guest_env=(env FSX_OPS=50000 STRESS_SECS=600 NATURAL_SECS=${NATURAL_SECS:-300} STALE_SECS=${STALE_SECS:-60}
		FUZZ_IMAGES=${FUZZ_IMAGES:-500} ${NATURAL_FS:+"NATURAL_FS=$NATURAL_FS"}
		kselftest_override_timeout=7000)
fi
# The scratch disks the tests mkfs and mount: delafs (/dev/vda) and XFS
# (/dev/vdb; mkfs.xfs wants at least 300 MiB).
rm -f "$results/scratch.img" "$results/scratch-xfs.img"
# KASAN takes an eighth of the guest's memory for its shadow, plus quarantine
# and redzones on every slab object: give that flavour 3 GiB instead of 2.
# Under KASAN + kmemleak, TCG runs ACPI's _PRT so slowly that the AML loop
# times out and the virtio devices get no IRQ: route PCI IRQs without ACPI.
# Everything runs several times slower there (TCG, a shadow check on every
# access, a stack saved on every slab call): the per-test (kselftest), per-image
# (fuzz_images.sh) and whole-guest limits grow with it.
mem=2G guest_timeout=7200
if [[ $flavour == kasan ]]; then
	mem=3G guest_timeout=21600
	export DELAFS_APPEND="acpi=noirq${DELAFS_APPEND:+ $DELAFS_APPEND}"
	guest_env+=(FUZZ_EXERCISE_SECS=900 FUZZ_FSCK_SECS=300 kselftest_override_timeout=7200)
fi
truncate -s 256M "$results/scratch.img"
truncate -s 512M "$results/scratch-xfs.img"
qemu-image/run-guest --kernel "$kdir/arch/x86/boot/bzImage" --out "$results/guest" --timeout "$guest_timeout" --mem "$mem" \
	--disk "$results/scratch.img" --disk "$results/scratch-xfs.img" \
	-- "${guest_env[@]}" "$top/build/kselftest/run_kselftest.sh" $only | tee "$tap/kselftests.tap" || true
# Kernel reports a test declared as expected (one regex a line).
allow=()
if [[ -f $results/guest/expected-kernel-reports ]]; then
	while IFS= read -r re; do allow+=(--allow "$re"); done <"$results/guest/expected-kernel-reports"
fi
scripts/scan-kernel-log "$results/guest/console.log" "${allow[@]}" >"$tap/guest-kernel-log.tap" || true

stage "make shell"
# `make shell CMD=...` and the interactive shell through a pty (not with
# DELAFS_TESTS, which picks kselftests for development).
if [[ -z ${DELAFS_TESTS:-} ]]; then
	scripts/test-shell.py "$top" | tee "$tap/shell.tap" || true
fi

stage ""
printf '\n=== timings\n'
printf '%s\n' "${timings[@]}"
printf '%-22s %5d s\n' total $((SECONDS - t_start))
printf '\n=== verdict (guest log: %s)\n' "$results/guest/console.log"
cd "$tap"
exec prove --exec cat kselftests.tap guest-kernel-log.tap $(ls shell.tap 2>/dev/null)
