#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The honest baseline: how often the race happens with no injected delay,
# on delafs and on XFS, under the seed's workload (stress_workload: four
# fsx processes and a drop_caches loop) and under race_repro's targeted
# workload with either evictor (drop_caches, fadvise), each for NATURAL_SECS
# (`make soak` runs them long).
# Fixed mode: races are counted, nothing may warn, all data must verify.
# Figures go to the results share as natural-race.txt (BASELINE lines).
# NATURAL_FS names the filesystems, "delafs xfs" by default (large folios
# on both); "delafs4k" adds delafs with 4 KiB folios (mount -o
# large_folios=0), the folio size the lab had before it had THP.
source "$(dirname "$0")"/lib.sh
require_root_and_disk
require_xfs_disk

SECS=${NATURAL_SECS:-10}
FIGURES=/tmp/results/natural-race.txt

# per_min RACES SECONDS
per_min() { awk -v r="$1" -v s="$2" 'BEGIN { printf "%.2f", (s > 0 ? r * 60 / s : 0) }'; }

FILESYSTEMS=${NATURAL_FS:-delafs xfs}
for fs in $FILESYSTEMS; do use_fs "$fs" || exit 1; done

ktap_print_header
ktap_set_plan $((5 * $(wc -w <<<"$FILESYSTEMS")))
for fs in $FILESYSTEMS; do
	use_fs "$fs"
	fs_setup || ktap_exit_fail_msg "cannot mount a fresh $fs"

	if s=$(stress_workload fixed 0 "$SECS"); then ok=1; else ok=0; fi
	secs=$(field "$s" elapsed_s)
	echo "BASELINE fs=$fs workload=stress delay_us=0 seconds=$secs races=$(field "$s" races)" \
		"races_per_min=$(per_min "$(field "$s" races)" "$secs") warnings=$(field "$s" warnings)" |
		tee -a "$FIGURES" | sed 's/^/# /'
	check "$fs, seed's workload for ${SECS}s without injection: all four exercisers verified" [ $ok = 1 ]
	warnings=$(field "$s" warnings)
	warnings=${warnings:-1}

	knob seek_delay_us 0
	for trigger in dropcaches fadvise; do
		s=$("$DIR/race_repro" -q -m "$FS_MNT" -t $trigger -T "$SECS" | grep '^SUMMARY')
		secs=$(field "$s" elapsed_s)
		echo "BASELINE fs=$fs workload=race_repro-$trigger delay_us=0 seconds=$secs" \
			"races=$(field "$s" races) races_per_min=$(per_min "$(field "$s" races)" "$secs")" \
			"warnings=$(field "$s" warnings) trials=$(field "$s" trials)" \
			"race_trials=$(field "$s" race_trials) orders=$(field "$s" orders)" \
			"write_orders=$(field "$s" write_orders)" | tee -a "$FIGURES" | sed 's/^/# /'
		check "$fs, race_repro $trigger for ${SECS}s without injection: every trial verified" \
			[ -n "$(field "$s" trials)" -a "$(field "$s" verified)" = "$(field "$s" trials)" ]
		# No SUMMARY (race_repro failed) counts as a warning too.
		w=$(field "$s" warnings)
		warnings=$((warnings + ${w:-1}))
	done
	check "$fs, fixed mode: no warning" [ "$warnings" = 0 ]
	check "$fs: unmounts and checks clean" fs_teardown
done
ktap_finished
