#!/usr/bin/env bash
# Build and install the kselftests into DEST with the kernel tree's own
# kselftest framework, laid out like an upstream kselftest install:
#   DEST/kselftest/   runner.sh, prefix.pl, ktap_helpers.sh (from KDIR)
#   DEST/delafs/      the tests, their config and settings, delafs.ko,
#                     mkfs.delafs, fsck.delafs and fuzz.delafs
#   DEST/kselftest-list.txt
set -euo pipefail
kdir=$1
mkdir -p "$2"
dest=$(cd "$2" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
ksft=$kdir/tools/testing/selftests
[[ -f $ksft/kselftest_harness.h ]] || { echo "no kselftest in $kdir" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest/kselftest"
cp "$ksft"/kselftest/{runner.sh,prefix.pl,ktap_helpers.sh} "$dest/kselftest/"
for t in delafs; do
	mkdir -p "$dest/obj/$t"
	make -s -C "$top/selftests/$t" KSFT_DIR="$ksft" OUTPUT="$dest/obj/$t" \
		INSTALL_PATH="$dest/$t" install
	make -s --no-print-directory -C "$top/selftests/$t" KSFT_DIR="$ksft" \
		OUTPUT="$dest/obj/$t" COLLECTION="$t" emit_tests >>"$dest/kselftest-list.txt"
done
cp "$top/delafs.ko" "$dest/delafs/"
# The userspace tools, built by cargo (scripts/check.sh builds them first).
# (cargo cannot name a binary with a dot; the tools are installed as users
# expect them.)
for tool in mkfs fsck fuzz; do
	cp "$top/target/release/$tool-delafs" "$dest/delafs/$tool.delafs"
done
cp "$top/selftests/run_kselftest.sh" "$dest/"
