#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The integrity exerciser (fsx.c) on delafs for a fixed number of operations
# and seeds, then fsck.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

OPS=${FSX_OPS:-3000}
ktap_print_header
ktap_set_plan 3
load_module
fresh_mount || ktap_exit_fail_msg "cannot mount a fresh delafs"
for seed in 1 2; do
	check "fsx seed $seed, $OPS ops" "$DIR/fsx" -d "$DEV" -m "$MNT" -s "$seed" -n "$OPS" -c 500
done
umount "$MNT"
check "fsck.delafs: clean" "$FSCK" "$DEV"
unload_module
ktap_finished
