#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# How often an ordinary workload, with no faulting writes, reaches the
# delalloc release loop, on XFS (iomap's loop) and on delafs (its own), and
# through which door. Two workloads, RATE_SECS each (default 15):
#
#  - stress: the seed's exercisers (fsx, as stress_workload in lib.sh, but
#    none with faulting writes: two with O_DIRECT, two buffered) with a
#    drop_caches loop;
#  - writeback: one task appends 256 KiB buffered writes to a file while
#    another keeps writing it back (fdatasync); the file is emptied every
#    16 MiB, so every write reserves new space. Writeback turns the
#    delalloc extent the writer's mapping came from into allocated blocks,
#    so the writer's next folio finds the mapping stale (iomap_valid) and
#    iomap ends the iteration early: iomap_end, then the release loop over
#    what the stale mapping did not write: XFS's mechanism since 6.1, and
#    now delafs's (its `stale_mappings` counter).
#
# Release-loop calls, stale mappings (delafs) and operations go to
# /tmp/results/release-rate.txt as RELEASE_RATE lines. Checks: the
# exercisers verify every byte; on delafs the writeback workload reaches
# the release loop, through stale mappings. XFS does not there: its
# speculative preallocation past EOF means an appending write maps space an
# earlier one reserved, not new space, so iomap_end has nothing to give
# back; its figure is reported.
source "$(dirname "$0")"/lib.sh
require_root_and_disk
require_xfs_disk

SECS=${RATE_SECS:-15}
FIGURES=/tmp/results/release-rate.txt

counter() { cat "$FS_KNOBS/$1" 2>/dev/null || echo 0; }

# The stress workload for SECS: prints "ops=N"; fails if an exerciser did.
stress_nofault() {
	local pids=() rc=0 i end ops=0
	end=$(($(date +%s) + SECS))
	mkdir -p "$FS_MNT/w"
	for i in 1 2 3 4; do
		mkdir -p "$FS_MNT/w/$i"
		(
			seed=$i n=0
			while [ "$(date +%s)" -lt "$end" ]; do
				"$DIR/fsx" -d "$FS_DEV" -t "$FS_TYPE" -m "$FS_MNT/w/$i" -s "$seed" -n 500 -c 0 \
					-l 1048576 -F $([ $i -gt 2 ] && echo -D) || exit 1
				seed=$((seed + 100)) n=$((n + 500))
			done
			echo "$n" >"/tmp/rate.$i.ops"
		) >"/tmp/rate.$i.log" 2>&1 &
		pids+=($!)
	done
	(while :; do echo 1 >/proc/sys/vm/drop_caches; sleep 0.05; done) &
	local dropper=$!
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { rc=1; tail -20 "/tmp/rate.$((i + 1)).log" | sed 's/^/# /'; }
	done
	kill "$dropper"
	wait "$dropper" 2>/dev/null
	for i in 1 2 3 4; do ops=$((ops + $(cat "/tmp/rate.$i.ops" 2>/dev/null || echo 0))); done
	rm -rf "$FS_MNT/w"
	echo "ops=$ops"
	return $rc
}

# The writeback workload for SECS: prints "writes=N syncs=N".
writeback_race() {
	local f=$FS_MNT/appended end writes=0 syncs=0 syncer
	end=$(($(date +%s) + SECS))
	: >"$f"
	# One xfs_io a round (a process costs about 0.3 s under TCG): twenty
	# sync_file_range(WRITE) calls, which start writeback without
	# waiting, then an fdatasync.
	local cmds=() i
	for i in $(seq 20); do cmds+=(-c "sync_range -w 0 0"); done
	(n=0; while [ "$(date +%s)" -lt "$end" ]; do xfs_io "${cmds[@]}" -c fdatasync "$f"; n=$((n + 21)); done
	 echo "$n" >/tmp/rate.syncs) &
	syncer=$!
	while [ "$(date +%s)" -lt "$end" ]; do
		# 64 writes of 256 KiB into a file emptied first, so that each
		# one reserves new delalloc space.
		xfs_io -c "truncate 0" -c "pwrite -q -b 256k 0 16m" "$f" || return 1
		writes=$((writes + 64))
	done
	wait "$syncer"
	syncs=$(cat /tmp/rate.syncs)
	rm -f "$f"
	echo "writes=$writes syncs=$syncs"
}

ktap_print_header
ktap_set_plan 6
for fs in xfs delafs; do
	use_fs $fs
	fs_setup || ktap_exit_fail_msg "cannot set up $fs"
	for w in stress writeback; do
		c0=$(counter calls) s0=$(counter stale_mappings)
		if [ $w = stress ]; then
			out=$(stress_nofault) && ok=1 || ok=0
		else
			# On delafs, more rounds (up to 4) while no stale mapping
			# showed: a count, not a timing, is what is checked.
			out=$(writeback_race) && ok=1 || ok=0
			rounds=1
			while [ $fs = delafs ] && [ $ok = 1 ] && [ $rounds -lt 4 ] &&
				[ "$(counter stale_mappings)" = "$s0" ]; do
				out=$(writeback_race) && ok=1 || ok=0
				rounds=$((rounds + 1))
			done
			out+=" rounds=$rounds"
		fi
		calls=$(($(counter calls) - c0)) stale=$(($(counter stale_mappings) - s0))
		line="RELEASE_RATE fs=$fs workload=$w secs=$SECS calls=$calls"
		[ $fs = delafs ] && line+=" stale_mappings=$stale"
		echo "$line $out" | tee -a "$FIGURES" | sed 's/^/# /'
		if [ $w = stress ]; then
			check "$fs: stress without faulting writes: every byte verified" [ $ok = 1 ]
		else
			check "$fs: writeback race: the writes completed" [ $ok = 1 ]
			# XFS reserves delalloc past EOF speculatively, so an
			# appending write maps space reserved earlier (not
			# IOMAP_F_NEW) and a stale mapping has nothing to punch:
			# its figure is reported, not checked.
			if [ $fs = delafs ]; then
				check "delafs: writeback race: the release loop ran ($calls calls)" [ "$calls" -gt 0 ]
			fi
		fi
	done
	if [ $fs = delafs ]; then
		check "delafs: stale mappings were seen and remapped ($stale)" [ "$stale" -gt 0 ]
	fi
	fs_teardown || echo "# $fs: teardown reported a problem"
done
ktap_finished
