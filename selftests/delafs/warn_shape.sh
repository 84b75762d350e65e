#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# delafs models the reported system faithfully: its legacy WARN and XFS's
# (iomap's loop, patches/0004) have the same shape, and both have the shape
# of the December 2023 report (report-warn.txt): the same kind of warning
# site, the same caller chain modulo the filesystem's own frames, the same
# Hardware name line (warn_signature.py says exactly what is compared).
#
# race.sh and xfs_race.sh leave their first WARN in the results share; when
# they did not run, this test makes its own (a few legacy trials each).
source "$(dirname "$0")"/lib.sh
require_root_and_disk
require_xfs_disk

SIG=$DIR/warn_signature.py

# capture FS: the first legacy WARN of FS in /tmp/results/first-warn-FS.txt.
capture() {
	local out=/tmp/results/first-warn-$1.txt
	use_fs "$1"
	[ -s "$out" ] && return 0
	echo "# no $out yet: a few legacy trials on $1"
	fs_setup || return 1
	echo "$FS_WARN" >>/tmp/results/expected-kernel-reports
	dmesg -C
	knob release_mode legacy
	knob seek_delay_us 100000
	"$DIR/race_repro" -q -m "$FS_MNT" -t dropcaches -n 3 | sed 's/^/# /'
	knob seek_delay_us 0
	knob release_mode fixed
	first_warn >"$out"
	fs_teardown
}

ktap_print_header
ktap_set_plan 5
for fs in delafs xfs; do
	capture "$fs"
	# iomap's WARN_ON_ONCE prints once per boot: if it fired earlier
	# without race.sh saving it, the log no longer has it.
	check "$fs: its legacy WARN was captured" grep -E "$FS_WARN" "/tmp/results/first-warn-$fs.txt"
done
check "delafs and XFS WARN signatures match (site, hardware, chain)" \
	"$SIG" --compare /tmp/results/first-warn-delafs.txt /tmp/results/first-warn-xfs.txt
check "both match the December 2023 report's" \
	"$SIG" --compare "$DIR/report-warn.txt" /tmp/results/first-warn-delafs.txt /tmp/results/first-warn-xfs.txt
# The comparison can fail: the XFS WARN without iomap_iter in its trace.
grep -v ' iomap_iter+' /tmp/results/first-warn-xfs.txt >/tmp/warn-doctored.txt
check "a different caller chain does not match" \
	bash -c "! '$SIG' --compare /tmp/results/first-warn-xfs.txt /tmp/warn-doctored.txt"
ktap_finished
