#!/usr/bin/env bash
# `make bench`: delafs (large folios, and mounted large_folios=0 as
# "delafs-4k") against XFS and ext4 in the same guest, each on a same-sized
# sparse raw virtio-blk disk made afresh (mkfs) before every run: fio jobs,
# metadata loops, tar -x, and scaling curves (directory size, file size).
# Every figure is the median of BENCH_RUNS runs with its min-max spread.
# Figures, not pass/fail: TCG makes absolute numbers slow, the ratios are what
# to compare. It exits non-zero if a workload fails or the guest dies (a
# workload that reaches its cap is a "timeout" cell, not a failure).
#
# Settings (environment):
#   BENCH_RUNS       runs of everything, per filesystem (5)
#   BENCH_MB         the file of the fio jobs, MiB (256)
#   BENCH_SIZES      sequential write scaling, file sizes in MiB (16 64 256 1024)
#   BENCH_DIR_SIZES  entries in one directory (1000 10000 100000)
#   BENCH_CAP_SECS   cap of every workload run (120)
#   BENCH_FIO_SECS   runtime of the time-based fio jobs (5)
#   BENCH_RAND_MB    I/O of the buffered random write (16)
#   BENCH_FSYNC_MB   file of the write+fsync job (4)
#   BENCH_TREE       "FANOUT DEPTH FILES" of the directory tree (8 3 4)
#   BENCH_QUICK=1    smoke test: 1 run, small sizes, 30 s cap (a few minutes)
# Results in build/results/bench/: report.txt (the tables), results.json (every
# raw sample), scaling.svg (the curves), samples.jsonl and fio/ (the guest's
# raw output).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build/results/bench
mkdir -p "$out"
t_start=$SECONDS

if [[ -n ${BENCH_QUICK:-} ]]; then
	: "${BENCH_RUNS:=1}" "${BENCH_MB:=32}" "${BENCH_SIZES:=16 64}" "${BENCH_DIR_SIZES:=100 1000}"
	: "${BENCH_CAP_SECS:=30}" "${BENCH_FIO_SECS:=2}" "${BENCH_RAND_MB:=4}" "${BENCH_FSYNC_MB:=1}"
	: "${BENCH_TREE:=4 2 4}"
fi
: "${BENCH_RUNS:=5}" "${BENCH_MB:=256}" "${BENCH_SIZES:=16 64 256 1024}"
: "${BENCH_DIR_SIZES:=1000 10000 100000}" "${BENCH_CAP_SECS:=120}" "${BENCH_FIO_SECS:=5}"
: "${BENCH_RAND_MB:=16}" "${BENCH_FSYNC_MB:=4}" "${BENCH_TREE:=8 3 4}"
for v in BENCH_RUNS BENCH_MB BENCH_CAP_SECS BENCH_FIO_SECS BENCH_RAND_MB BENCH_FSYNC_MB; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: $v must be a positive integer, not '${!v}'" >&2; exit 2; }
done
for v in BENCH_SIZES BENCH_DIR_SIZES BENCH_TREE; do
	[[ ${!v} =~ ^[0-9\ ]+$ ]] || { echo "bench: $v must be numbers, not '${!v}'" >&2; exit 2; }
done

scripts/setup.sh >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
kdir=$(scripts/kernel.sh)
make -s -C "$kdir" M="$top" $(scripts/kbuild-flags "$kdir") modules
cargo build --release --quiet
scripts/build-selftests.sh "$kdir" "$top/build/kselftest" >/dev/null

# The largest file written plus the fio file and the tarball, with room.
max_mb=$BENCH_MB
for s in $BENCH_SIZES; do ((s > max_mb)) && max_mb=$s; done
disk_mb=$(((max_mb + BENCH_MB) * 2 + 1024))
rm -rf "$out/fio" "$out/samples.jsonl" "$out/report.txt" "$out/results.json" "$out/scaling.svg"
{
	for v in BENCH_RUNS BENCH_MB BENCH_SIZES BENCH_DIR_SIZES BENCH_CAP_SECS BENCH_FIO_SECS \
		BENCH_RAND_MB BENCH_FSYNC_MB BENCH_TREE; do
		printf '%s=%q\n' "$v" "${!v}"
	done
	printf 'BENCH_DISK_MB=%s\nBENCH_ID=%s\n' "$disk_mb" "$(date +%Y%m%dT%H%M%S)-$$"
} >"$out/config.sh"

# tar -x unpacks a real tree: the host's /usr/include without its biggest
# vendored trees (boost, clang, llvm), about 90 MB in 6,000 files; in quick
# mode only linux/ (the kernel's uapi headers, 7 MB in 800 files). Only its
# directories and regular files: delafs has no symlinks (EPERM), and the
# host's tree has a few dozen.
tar_root=.
[[ -n ${BENCH_QUICK:-} ]] && tar_root=./linux
(cd /usr/include && find "$tar_root" \( -path ./boost -o -path './clang*' -o -path './llvm*' \) -prune \
	-o \( -type d -o -type f \) -print) >"$out/include.list"
tar -cf "$out/include.tar" -C /usr/include --no-recursion -T "$out/include.list"

disks=()
for fs in delafs xfs ext4; do
	rm -f "$out/$fs.img"
	truncate -s "${disk_mb}M" "$out/$fs.img"
	disks+=(--disk "$out/$fs.img")
done
echo "[bench] $BENCH_RUNS run(s); fio file $BENCH_MB MiB, write sizes $BENCH_SIZES MiB, directories of" \
	"$BENCH_DIR_SIZES entries, cap $BENCH_CAP_SECS s a workload, ${disk_mb} MiB disks"
# The guest's own limit: every workload is capped, so this only catches a hang.
guest_limit=$((BENCH_RUNS * 4 * (BENCH_CAP_SECS * 6 + 600) + 600))
set +e
qemu-image/run-guest --kernel "$kdir/arch/x86/boot/bzImage" --out "$out" --timeout "$guest_limit" \
	"${disks[@]}" -- bash "$top/scripts/guest-bench.sh" "$top/build/kselftest/delafs" "$out"
rc=$?
set -e
rm -f "$out"/{delafs,xfs,ext4}.img
scripts/scan-kernel-log "$out/console.log" >"$out/kernel-log.tap" || {
	echo "[bench] the guest kernel log has a kernel report:" >&2
	grep '^not ok' "$out/kernel-log.tap" >&2 || true
	((rc == 0)) && rc=1
}
report_rc=0
if [[ -s $out/samples.jsonl ]]; then
	python3 scripts/bench-report.py "$out" || report_rc=$?
fi
echo "[bench] make bench took $((SECONDS - t_start)) s; results in $out (report.txt, results.json, scaling.svg)"
if ((rc != 0)); then
	echo "[bench] FAILED: the guest exited $rc (a workload failed, or the guest died: see $out/console.log)" >&2
	exit 1
fi
exit $report_rc
