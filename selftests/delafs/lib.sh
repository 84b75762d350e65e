# SPDX-License-Identifier: GPL-2.0
# Shared by the delafs shell selftests: paths, module and mount helpers.

# The installed selftests; scripts that are not one of them set DIR first.
DIR=${DIR:-$(cd "$(dirname "$0")" && pwd)}
source "$DIR"/../kselftest/ktap_helpers.sh

MKFS=$DIR/mkfs.delafs
FSCK=$DIR/fsck.delafs
KO=$DIR/delafs.ko
# The scratch disk run-guest gives the guest; everything on it is lost.
DEV=${DELAFS_DEV:-/dev/vda}
MNT=/mnt/delafs-test
# The second scratch disk: XFS, the report's filesystem, for ground truth.
XFS_DEV=${DELAFS_XFS_DEV:-/dev/vdb}
XFS_MNT=/mnt/xfs-test
mkdir -p "$MNT" "$XFS_MNT"
# The race lab's knobs and counters: delafs's own release loop, and iomap's
# (patches/0004), which XFS runs.
DELAFS_KNOBS=/sys/kernel/debug/delafs
IOMAP_KNOBS=/sys/kernel/debug/iomap
# The report's machine line, which every WARN of the lab must carry.
HARDWARE_LINE='Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS ?-20190727_073836-buildvm-ppc64le-16.ppc.fedoraproject.org-3.fc31 04/01/2014'

require_root_and_disk() {
	if [ "$(id -u)" != 0 ] || [ ! -b "$DEV" ]; then
		ktap_skip_all "needs root and a scratch block device $DEV"
		exit "$KSFT_SKIP"
	fi
}

load_module() {
	grep -qw delafs /proc/filesystems || insmod "$KO"
}

unload_module() {
	if grep -qw delafs /proc/filesystems; then
		rmmod delafs
	fi
}

# mkfs the scratch device quietly and mount it.
fresh_mount() {
	"$MKFS" -q "${1:-$DEV}" >/dev/null && mount -t delafs "${1:-$DEV}" "$MNT"
}

require_xfs_disk() {
	if [ ! -b "$XFS_DEV" ] || ! command -v mkfs.xfs >/dev/null || [ ! -d "$IOMAP_KNOBS" ]; then
		ktap_skip_all "needs $XFS_DEV, mkfs.xfs and $IOMAP_KNOBS (patches/0004)"
		exit "$KSFT_SKIP"
	fi
}

fresh_xfs_mount() {
	mkfs.xfs -f -q "$XFS_DEV" && mount -t xfs "$XFS_DEV" "$XFS_MNT"
}

# The lab's view of a filesystem under test, set by use_fs delafs|delafs4k|xfs:
# FS_TYPE, FS_MNT, FS_DEV, FS_KNOBS, FS_WARN (the regex of its legacy WARN line), and
# fs_setup/fs_teardown (mkfs + mount, umount + fsck).
use_fs() {
	FS_TYPE=$1
	case $1 in
	delafs)
		FS_MNT=$MNT FS_DEV=$DEV FS_KNOBS=$DELAFS_KNOBS
		FS_WARN='WARNING: CPU: [0-9]+ PID: [0-9]+ at delafs/rust/fs/release.rs:[0-9]+ .*warn_empty_data_range'
		fs_setup() { load_module && fresh_mount; }
		fs_teardown() { umount "$MNT" && "$FSCK" "$DEV" && unload_module; }
		;;
	delafs4k)
		# delafs with every folio one 4 KiB block (mount -o large_folios=0).
		FS_TYPE=delafs
		FS_MNT=$MNT FS_DEV=$DEV FS_KNOBS=$DELAFS_KNOBS
		FS_WARN='WARNING: CPU: [0-9]+ PID: [0-9]+ at delafs/rust/fs/release.rs:[0-9]+ .*warn_empty_data_range'
		fs_setup() { load_module && "$MKFS" -q "$DEV" >/dev/null && mount -t delafs -o large_folios=0 "$DEV" "$MNT"; }
		fs_teardown() { umount "$MNT" && "$FSCK" "$DEV" && unload_module; }
		;;
	xfs)
		FS_MNT=$XFS_MNT FS_DEV=$XFS_DEV FS_KNOBS=$IOMAP_KNOBS
		FS_WARN='WARNING: CPU: [0-9]+ PID: [0-9]+ at fs/iomap/buffered-io.c:[0-9]+ iomap_write_delalloc_release'
		fs_setup() { fresh_xfs_mount; }
		fs_teardown() { umount "$XFS_MNT" && xfs_repair -n "$XFS_DEV" >/dev/null 2>&1; }
		;;
	*)
		echo "use_fs: no filesystem '$1'" >&2
		return 1
		;;
	esac
}

knob() { echo "$2" >"$FS_KNOBS/$1"; }

# dm_delay_setup DEV: a device-mapper delay device over DEV for race_repro's
# direct-I/O triggers (-D "$DM_NAME" -F "$DM_FAST" -S "$DM_SLOW"). Sets
# DM_DEV, and three one-line tables: DM_FAST (no delay), DM_SLOW (writes
# held for 60 s, so only race_repro's table swap releases them) and
# DM_NATURAL (writes 10 ms late). Reads and flushes are never delayed.
# Needs CONFIG_DM_DELAY and dmsetup. dmsetup runs without udev
# synchronisation and makes its own /dev/mapper node if none appears: the
# guest of run-guest's qemu runner has no udev (vng's starts one).
DM_NAME=delafs-delay
dm_delay_setup() {
	local dev=$1 sectors
	command -v dmsetup >/dev/null && [ -e /dev/mapper/control ] || return 1
	sectors=$(blockdev --getsz "$dev") || return 1
	DM_FAST=/tmp/$DM_NAME.fast DM_SLOW=/tmp/$DM_NAME.slow DM_NATURAL=/tmp/$DM_NAME.natural
	echo "0 $sectors delay $dev 0 0 $dev 0 0 $dev 0 0" >"$DM_FAST"
	echo "0 $sectors delay $dev 0 0 $dev 0 60000 $dev 0 0" >"$DM_SLOW"
	echo "0 $sectors delay $dev 0 0 $dev 0 10 $dev 0 0" >"$DM_NATURAL"
	dmsetup --noudevsync remove "$DM_NAME" 2>/dev/null || true
	dmsetup --noudevsync create "$DM_NAME" "$DM_FAST" || return 1
	[ -b /dev/mapper/$DM_NAME ] || dmsetup --noudevsync mknodes "$DM_NAME"
	DM_DEV=/dev/mapper/$DM_NAME
	[ -b "$DM_DEV" ]
}
dm_delay_teardown() { dmsetup --noudevsync remove "$DM_NAME" 2>/dev/null || true; }

# poison_free_space MNT MIB: fills that much free space with 0xee bytes and
# frees it again, so a file that exposes stale disk blocks reads 0xee
# instead of zeros left by mkfs.
poison_free_space() {
	head -c "$(($2 << 20))" /dev/zero | tr '\0' '\356' >"$1/poison" && sync -f "$1/poison" && rm "$1/poison" && sync -f "$1"
}
# fill_to_enospc FILE: 0xab written to FILE until the filesystem is full
# (xfs_io writes 1 MiB a call from one pattern buffer: a head | tr pipe
# took minutes a filesystem under TCG).
fill_to_enospc() {
	local MIB=1048576
	xfs_io -f -c "pwrite -q -b $MIB -S 0xab 0 $((1024 * MIB))" "$1" >/dev/null 2>&1
	# The last 1 MiB call may fail whole: top up block by block.
	sync -f "$(dirname "$1")"
	xfs_io -c "pwrite -q -b 4096 -S 0xab $(stat -c %s "$1") $((64 * MIB))" "$1" >/dev/null 2>&1
	return 0
}

# poison_free_space_full: every free block of the use_fs filesystem gets
# 0xab (written to ENOSPC, synced, deleted); dio_failure.sh, stale_reads.sh.
poison_free_space_full() {
	local MIB=1048576
	fill_to_enospc "$FS_MNT/poison"
	sync -f "$FS_MNT" && [ "$(stat -c %s "$FS_MNT/poison")" -gt $((200 * MIB)) ] &&
		rm "$FS_MNT/poison" && sync -f "$FS_MNT"
}

# field SUMMARY NAME: one name=value of a race_repro SUMMARY line.
field() { sed -n "s/.*\<$2=\([^ ]*\).*/\1/p" <<<"$1"; }
# The first WARN in the kernel log, cut here to end trace.
first_warn() { dmesg | sed -n '/cut here/,/end trace/{p;/end trace/q}'; }

# check DESCRIPTION COMMAND...: one KTAP result; the command's output goes
# to the log as comments.
check() {
	local what=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		ktap_test_pass "$what"
	else
		[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
		ktap_test_fail "$what"
	fi
}

# check_log DESCRIPTION COMMAND...: check, with the command's output in the
# log either way (what each call returned).
check_log() {
	local what=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
	if [ $rc = 0 ]; then
		ktap_test_pass "$what"
	else
		ktap_test_fail "$what"
	fi
}

# expect_fail DESCRIPTION ERRNO_TEXT COMMAND...: the command must fail and
# print ERRNO_TEXT (e.g. "File name too long").
expect_fail() {
	local what=$1 want=$2
	shift 2
	local out
	if out=$("$@" 2>&1); then
		printf '# unexpectedly succeeded: %s\n' "$*"
		ktap_test_fail "$what"
	elif printf '%s' "$out" | grep -q -- "$want"; then
		ktap_test_pass "$what"
	else
		printf '%s\n' "$out" | sed 's/^/# /'
		printf '# wanted: %s\n' "$want"
		ktap_test_fail "$what"
	fi
}

# Free blocks as statfs reports them.
free_blocks() {
	stat -f -c %f "$MNT"
}

# stress_workload MODE DELAY_US SECONDS: the seed's workload (fsstress +
# drop_caches, in spirit) on the use_fs filesystem. Four fsx processes
# (buffered and faulting writev, hole reads, mmap writes, truncates, fsync,
# O_DIRECT, punch; every read verified; two with faulting writes, two with
# O_DIRECT, fsx.c says why not both in one) on their own files, each
# STRESS_OPS operations per seed, new seeds until SECONDS are up (0: one
# seed each), while a loop drops the page cache. Prints "races=N
# warnings=N first_race_s=S elapsed_s=S" and fails if any fsx failed.
stress_workload() {
	local mode=$1 delay=$2 secs=$3 ops=${STRESS_OPS:-1500} pids=() rc=0 t0 races0 warns0 first=-1 i
	knob release_mode "$mode"
	knob seek_delay_us "$delay"
	races0=$(cat "$FS_KNOBS/races")
	warns0=$(cat "$FS_KNOBS/legacy_warnings")
	t0=$(date +%s.%N)
	mkdir -p "$FS_MNT/w"
	for i in 1 2 3 4; do
		mkdir -p "$FS_MNT/w/$i"
		(
			seed=$i$delay
			end=$(($(date +%s) + secs))
			while :; do
				"$DIR/fsx" -d "$FS_DEV" -t "$FS_TYPE" -m "$FS_MNT/w/$i" -s "$seed" -n "$ops" -c 0 \
					-l 1048576 $([ $i -le 2 ] && echo -D || echo -F) || exit 1
				[ "$(date +%s)" -lt "$end" ] || exit 0
				seed=$((seed + 100))
			done
		) >"/tmp/stress.$i.log" 2>&1 &
		pids+=($!)
	done
	(while :; do echo 1 >/proc/sys/vm/drop_caches; sleep 0.05; done) &
	local dropper=$!
	while kill -0 "${pids[@]}" 2>/dev/null; do
		if [ "$first" = -1 ] && [ "$(cat "$FS_KNOBS/races")" != "$races0" ]; then
			first=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
		fi
		sleep 0.01
	done
	kill "$dropper"
	wait "$dropper" 2>/dev/null
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { rc=1; sed 's/^/# /' "/tmp/stress.$((i + 1)).log" | tail -20; }
	done
	rm -rf "$FS_MNT/w"
	echo "races=$(($(cat "$FS_KNOBS/races") - races0))" \
		"warnings=$(($(cat "$FS_KNOBS/legacy_warnings") - warns0))" \
		"first_race_s=$first elapsed_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
	return $rc
}
