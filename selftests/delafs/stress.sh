#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The seed's workload (stress_workload in lib.sh: four fsx processes and a
# drop_caches loop) on delafs. In fixed mode, with
# and without the injected delay, nothing warns and every byte checks out;
# legacy mode must keep the data too. Figures (races, time to the first
# one) go to race-figures.txt.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

use_fs delafs
OPS=${STRESS_OPS:-1500}
FIGURES=/tmp/results/race-figures.txt

ktap_print_header
ktap_set_plan 6
load_module
fresh_mount || ktap_exit_fail_msg "cannot mount a fresh delafs"
echo "$FS_WARN" >>/tmp/results/expected-kernel-reports

for delay in 0 1000; do
	if s=$(stress_workload fixed $delay 0); then ok=1; else ok=0; fi
	echo "STRESS mode=fixed delay_us=$delay ops=4x$OPS $s" | tee -a "$FIGURES" | sed 's/^/# /'
	check "fixed, delay ${delay}us: all four exercisers verified" [ $ok = 1 ]
	check "fixed, delay ${delay}us: no warning" [ "$(field "$s" warnings)" = 0 ]
done
if s=$(stress_workload legacy 1000 0); then ok=1; else ok=0; fi
echo "STRESS mode=legacy delay_us=1000 ops=4x$OPS $s" | tee -a "$FIGURES" | sed 's/^/# /'
check "legacy, delay 1000us: all four exercisers verified" [ $ok = 1 ]
knob seek_delay_us 0
knob release_mode fixed
umount "$MNT"
check "fsck.delafs: clean" "$FSCK" "$DEV"
unload_module
ktap_finished
