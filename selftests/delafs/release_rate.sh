#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# How often an ordinary workload, with no faulting writes, reaches the
# delalloc release loop, on XFS (iomap's loop) and on delafs (its own), and
# through which door. Three workloads, RATE_SECS each (default 15):
#
#  - stress: the seed's exercisers (fsx, as stress_workload in lib.sh, but
#    none with faulting writes: two with O_DIRECT, two buffered) with a
#    drop_caches loop;
#  - append: one task appends 256 KiB buffered writes to a file while
#    another keeps writing it back (sync_file_range and fdatasync); the
#    file is emptied every 16 MiB, so every write reserves new space;
#  - randwrite: fio, unaligned buffered writes of 1 KiB..1 MiB at random
#    offsets of a 32 MiB file, with a sync(2) loop beside it (what other
#    fsstress processes' sync operations do to a file being written).
#
# Writeback changes the extent map a writer's mapping came from, so the
# writer's next folio finds the mapping stale (->iomap_valid and the
# validity cookie: XFS's if_seq since 6.1, delafs's extent map generation)
# and iomap ends the iteration early: ->iomap_end, then, if the mapping was
# a fresh reservation (IOMAP_F_NEW), the release loop over what it did not
# write. Both filesystems count those stale mappings (iomap's lab counter
# from patches/0005, delafs's own `stale_mappings`).
#
# Release-loop calls, stale mappings and operations go to
# /tmp/results/release-rate.txt as RELEASE_RATE lines. Checks: the
# workloads complete and the exercisers verify every byte. Their stale
# mappings and release-loop calls are reported, not checked: whether
# writeback lands inside a buffered write is timing (append reached the
# loop 1 to 5 times a run here on a quiet machine, 0 under load or on the
# KASAN kernel), and XFS's appends map space its speculative preallocation
# reserved earlier (not IOMAP_F_NEW), so a stale mapping there has nothing
# to give back. The last check makes that door deterministic on delafs:
# with map_delay_us armed, a buffered write sleeps between ->iomap_begin
# and its first folio while stale_map writes the file's earlier range back;
# iomap_valid must call the mapping stale and the release loop must run.
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

# The append workload for SECS: prints "writes=N syncs=N".
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

# The randwrite workload for SECS: prints "writes=N".
randwrite_sync() {
	local syncer rc=0 json=/tmp/rate.fio.json
	(while :; do sync; sleep 0.1; done) &
	syncer=$!
	fio --name=randwrite --filename="$FS_MNT/randwrite" --ioengine=psync --rw=randwrite \
		--bsrange=1k-1m --bs_unaligned --size=32m --time_based --runtime="$SECS" \
		--output-format=json --output="$json" >/dev/null 2>&1 || rc=1
	kill "$syncer"
	wait "$syncer" 2>/dev/null
	rm -f "$FS_MNT/randwrite"
	echo "writes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][0]["write"]["total_ios"])' "$json" 2>/dev/null || echo 0)"
	return $rc
}

ktap_print_header
ktap_set_plan 7
for fs in xfs delafs; do
	use_fs $fs
	fs_setup || ktap_exit_fail_msg "cannot set up $fs"
	for w in stress append randwrite; do
		c0=$(counter calls) s0=$(counter stale_mappings)
		case $w in
		stress) out=$(stress_nofault) && ok=1 || ok=0 ;;
		randwrite) out=$(randwrite_sync) && ok=1 || ok=0 ;;
		append) out=$(writeback_race) && ok=1 || ok=0 ;;
		esac
		calls=$(($(counter calls) - c0)) stale=$(($(counter stale_mappings) - s0))
		line="RELEASE_RATE fs=$fs workload=$w secs=$SECS calls=$calls stale_mappings=$stale"
		echo "$line $out" | tee -a "$FIGURES" | sed 's/^/# /'
		case $w in
		stress) check "$fs: stress without faulting writes: every byte verified" [ $ok = 1 ] ;;
		randwrite) check "$fs: random writes beside a sync loop completed" [ $ok = 1 ] ;;
		append)
			check "$fs: append under writeback: the writes completed" [ $ok = 1 ]
			;;
		esac
	done
	if [ $fs = delafs ]; then
		f=$FS_MNT/stale_map
		: >"$f"
		c0=$(counter calls) s0=$(counter stale_mappings)
		knob delay_ino "$(stat -c %i "$f")"
		knob map_delay_us 300000
		out=$("$DIR/stale_map" "$f" "$FS_KNOBS/map_delays" 2>&1) && ok=1 || ok=0
		knob map_delay_us 0
		knob delay_ino 0
		calls=$(($(counter calls) - c0)) stale=$(($(counter stale_mappings) - s0))
		rm -f "$f"
		echo "# $out"
		echo "RELEASE_RATE fs=$fs workload=stale_map calls=$calls stale_mappings=$stale" |
			tee -a "$FIGURES" | sed 's/^/# /'
		check "delafs: writeback inside a buffered write made its mapping stale ($stale), iomap_valid caught it and the release loop ran ($calls)" \
			[ $ok = 1 -a "$stale" -ge 1 -a "$calls" -ge 1 ]
	fi
	fs_teardown || echo "# $fs: teardown reported a problem"
done
ktap_finished
