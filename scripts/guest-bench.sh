#!/bin/bash
# Runs in the guest for `make bench` (scripts/bench.sh):
#
#   guest-bench.sh BIN OUT
#
# BIN holds delafs.ko, mkfs.delafs, fsck.delafs and bench_meta (the kselftest
# install); OUT is the results directory (shared with the host), with
# OUT/config.sh written by bench.sh (BENCH_* settings) and OUT/include.tar,
# the tarball `tar -x` unpacks. /dev/vda, vdb, vdc are same-sized scratch
# disks for delafs (both folio sizes), XFS and ext4, made afresh (mkfs) before
# every run of every filesystem.
#
# Writes one JSON object a line to OUT/samples.jsonl (the raw samples; fio's
# own JSON output under OUT/fio/), which scripts/bench-report.py turns into the
# table and the plot. A workload that reaches its cap (BENCH_CAP_SECS) is
# recorded with "rc":124 and what it got done, and the bench goes on; one that
# fails (fio or the metadata helper exits non-zero, fsck.delafs finds damage)
# is recorded with its exit status, the bench goes on, and this script exits 1
# at the end.
set -u
bin=$1 out=$2
# shellcheck source=/dev/null
. "$out/config.sh"
cap=$BENCH_CAP_SECS
mnt=/mnt/bench
samples=$out/samples.jsonl
mkdir -p "$mnt" "$out/fio"
: >"$samples"
failed=0
insmod "$bin/delafs.ko" || exit 1

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# The block layer's counters of a disk (Documentation/block/stat.rst), as a
# JSON array.
# Every record carries the run's BENCH_ID, so a stray guest of an earlier
# `make bench` writing into the same directory cannot mix into the report.
emit() { printf '{"id":"%s",%s\n' "$BENCH_ID" "${1#\{}" >>"$samples"; }
# A line of numbers (a /sys/block/*/stat) as a JSON array.
json_array() { local -a a; read -ra a; local IFS=,; printf '[%s]' "${a[*]}"; }
# A workload's exit status: 0, 124 (its cap), anything else an error.
note_rc() {
	local what=$1 rc=$2
	if ((rc != 0 && rc != 124)); then
		log "ERROR: $what on $fs (run $run) exited $rc"
		failed=1
	elif ((rc == 124)); then
		log "$what on $fs (run $run): cap of $cap s reached"
	fi
}

# The fio jobs of one filesystem and run, in one fio invocation: fio (Debian's
# links 64 libraries, librbd and glusterfs among them) takes 10-30 s to start
# under TCG, far longer than most jobs. One job after the other (stonewall);
# before each, its hook (fio's exec_prerun) syncs, drops the caches and keeps
# the disk's block-layer counters, and after it (exec_postrun) keeps them
# again. fallocate=none: the writes allocate as an application's would (fio
# preallocates by default); create_serialize=0: each job opens its files when
# it starts, after the job before it wrote them.
#   fio_add JOB EXPECT_BYTES OPTION...
fio_jobs=() fio_expect=()
fio_add() {
	local job=$1
	fio_jobs+=("$job") fio_expect+=("$2")
	shift 2
	local file=bench.$job o
	for o; do [[ $o == filename=* ]] && file=${o#filename=}; done
	{
		printf '[%s]\nstonewall\nfilename=%s\n' "$job" "$file"
		printf 'exec_prerun=sh %s pre %s\nexec_postrun=sh %s post %s\n' "$hook" "$job" "$hook" "$job"
		for o; do [[ $o == filename=* ]] || printf '%s\n' "$o"; done
	} >>"$jobfile"
}
fio_run() {
	local f="fio/$BENCH_ID-$fs-$run.json" rc t0 t1 i
	t0=$(now)
	(cd "$out/fio/hook" && timeout -k 10 $((${#fio_jobs[@]} * (cap + 30) + 120)) \
		fio --output-format=json --output="$out/$f" "$jobfile" >/dev/null 2>"$out/$f.err")
	rc=$?
	t1=$(now)
	for i in "${!fio_jobs[@]}"; do
		local job=${fio_jobs[i]} b0=null b1=null
		[[ -s $out/fio/hook/$job.pre ]] && b0=$(json_array <"$out/fio/hook/$job.pre")
		[[ -s $out/fio/hook/$job.post ]] && b1=$(json_array <"$out/fio/hook/$job.post")
		emit "{\"kind\":\"fio\",\"fs\":\"$fs\",\"run\":$run,\"job\":\"$job\",\"rc\":$rc,\"cap\":$cap,\"expect_bytes\":${fio_expect[i]},\"file\":\"$f\",\"blk_before\":$b0,\"blk_after\":$b1}"
	done
	rm -f "$out"/fio/hook/*
	log "fio: ${#fio_jobs[@]} jobs in $(elapsed "$t0" "$t1") s"
	note_rc fio $rc
}
hook=$out/fio/hook.sh
# dash and builtins but sync: every exec costs about a second under TCG here.
cat >"$hook" <<'EOF'
# fio's exec_prerun / exec_postrun: hook.sh pre|post JOB (cwd: fio/hook/).
if [ "$1" = pre ]; then
	sync
	echo 3 >/proc/sys/vm/drop_caches
fi
read -r stat <"/sys/block/$BENCH_DEV/stat"
echo "$stat" >"$2.$1"
EOF
mkdir -p "$out/fio/hook"

# meta NAME ARGS...: bench_meta with its phases, capped.
meta() {
	local name=$1 o rc
	shift
	o=$(timeout -k 10 $((cap + 60)) "$bin/bench_meta" "$@" 2>"$out/meta.err")
	rc=$?
	emit "{\"kind\":\"meta\",\"fs\":\"$fs\",\"run\":$run,\"workload\":\"$name\",\"rc\":$rc,\"cap\":$cap,\"phases\":[$(paste -sd, <<<"$o")]}"
	if ((rc != 0 && rc != 124)); then
		cat "$out/meta.err" >&2
	fi
	note_rc "$name" $rc
	# Did a phase reach the deadline?
	[[ $rc == 124 || $o == *'"timeout":true'* ]] && return 1
	return 0
}

declare -A dir_timeout
fss=(delafs delafs-4k xfs ext4)
# Room for the largest directory, plus a margin: mkfs's default
# inode count follows the disk's size (one per 16 KiB, as ext4's), and a
# small disk then runs out of inodes before 100000 entries. delafs and ext4
# get the same count; XFS allocates inodes as it goes.
inodes=16384
for n in $BENCH_DIR_SIZES; do ((n + 16384 > inodes)) && inodes=$((n + 16384)); done
inodes=$(((inodes + 15) / 16 * 16))
t_all=$(now)
for ((run = 1; run <= BENCH_RUNS; run++)); do
	# The order turns every run, so no filesystem is always the first
	# after boot (or always next to the same load from outside).
	order=()
	for i in "${!fss[@]}"; do order+=("${fss[(i + run - 1) % ${#fss[@]}]}"); done
	for fs in "${order[@]}"; do
		type=$fs opts=
		case $fs in
		delafs) dev=/dev/vda; "$bin/mkfs.delafs" -q -N $inodes $dev >/dev/null ;;
		delafs-4k) dev=/dev/vda type=delafs opts=-olarge_folios=0; "$bin/mkfs.delafs" -q -N $inodes $dev >/dev/null ;;
		xfs) dev=/dev/vdb; mkfs.xfs -q -f $dev ;;
		ext4) dev=/dev/vdc; mkfs.ext4 -q -F -N $inodes $dev ;;
		esac
		mount -t $type $opts $dev $mnt || { log "ERROR: mount $fs"; failed=1; continue; }
		log "$fs, run $run of $BENCH_RUNS"
		mb=$BENCH_MB rt=$BENCH_FIO_SECS
		export BENCH_DEV=${dev#/dev/}
		jobfile=$out/fio/$BENCH_ID-$fs-$run.fio
		printf '[global]\ndirectory=%s\nfallocate=none\ncreate_serialize=0\nruntime=%s\n' "$mnt" "$cap" >"$jobfile"
		fio_jobs=() fio_expect=()
		# Sequential write + fsync at the end, one file per size (the
		# scaling curve), then the main file of BENCH_MB, kept for reads.
		for s in $BENCH_SIZES; do
			((s == mb)) && continue
			fio_add "seqwrite-$s" $((s << 20)) rw=write bs=1M size="${s}M" end_fsync=1 unlink=1
		done
		fio_add seqwrite $((mb << 20)) rw=write bs=1M size="${mb}M" end_fsync=1 filename=bench.data
		fio_add seqread $((mb << 20)) rw=read bs=1M size="${mb}M" filename=bench.data
		fio_add seqread-direct $((mb << 20)) rw=read bs=1M size="${mb}M" filename=bench.data direct=1 \
			ioengine=libaio iodepth=4
		rand=(bs=4k size="${mb}M" filename=bench.data randrepeat=1)
		timed=(runtime="$rt" time_based=1)
		fio_add randread 0 rw=randread "${rand[@]}" "${timed[@]}"
		fio_add randread-direct 0 rw=randread "${rand[@]}" "${timed[@]}" direct=1 ioengine=libaio iodepth=16
		fio_add randwrite $((BENCH_RAND_MB << 20)) rw=randwrite "${rand[@]}" io_size="${BENCH_RAND_MB}M" end_fsync=1
		fio_add randwrite-direct 0 rw=randwrite "${rand[@]}" "${timed[@]}" direct=1 ioengine=libaio iodepth=16
		fio_add seqwrite-direct $((mb << 20)) rw=write bs=1M size="${mb}M" direct=1 ioengine=libaio iodepth=4 \
			end_fsync=1 unlink=1
		# Small writes, each followed by fsync (a log, a database).
		fio_add fsync-write 0 rw=write bs=4k fsync=1 size="${BENCH_FSYNC_MB}M" runtime="$rt" unlink=1
		fio_run
		rm -f "$mnt/bench.data"

		# Metadata: one directory of n entries (create, stat, unlink), a
		# tree of directories, tar -x of a real tree. A directory size that
		# reached the cap is not tried again, nor any larger one.
		for n in $BENCH_DIR_SIZES; do
			if [[ -n ${dir_timeout[$fs]:-} ]] && ((n >= ${dir_timeout[$fs]})); then
				emit "{\"kind\":\"skip\",\"fs\":\"$fs\",\"run\":$run,\"workload\":\"dir-$n\",\"why\":\"dir-${dir_timeout[$fs]} reached the cap in an earlier run\"}"
				continue
			fi
			drop
			meta "dir-$n" dir "$mnt/dir-$n" "$n" "$cap" || {
				[[ -z ${dir_timeout[$fs]:-} ]] && dir_timeout[$fs]=$n
			}
			rm -rf "$mnt/dir-$n"
		done
		drop
		# shellcheck disable=SC2086
		meta tree tree "$mnt/tree" $BENCH_TREE "$cap"
		rm -rf "$mnt/tree"
		drop
		mkdir "$mnt/tar"
		t0=$(now)
		timeout -k 10 "$cap" bash -c 'tar -xf "$1" -C "$2" && sync' - "$out/include.tar" "$mnt/tar"
		rc=$?
		t1=$(now)
		emit "{\"kind\":\"tar\",\"fs\":\"$fs\",\"run\":$run,\"workload\":\"tar-x\",\"rc\":$rc,\"cap\":$cap,\"secs\":$(elapsed "$t0" "$t1"),\"files\":$(tar -tf "$out/include.tar" | wc -l),\"bytes\":$(stat -c %s "$out/include.tar")}"
		note_rc "tar -x" $rc
		rm -rf "$mnt/tar"

		umount $mnt || { log "ERROR: umount $fs"; failed=1; }
		if [[ $type == delafs ]]; then
			"$bin/fsck.delafs" -n $dev >"$out/fsck.log" 2>&1 || {
				log "ERROR: fsck.delafs -n after $fs run $run:"
				cat "$out/fsck.log" >&2
				failed=1
			}
		fi
	done
done
log "all runs in $(elapsed "$t_all" "$(now)") s"
rmmod delafs
exit $failed
