#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Indexed directories (INCOMPAT_DIR_INDEX): 20000 files in one directory,
# created, each looked up, counted by readdir, half unlinked; readdir
# positions (telldir/seekdir, dir_cookies) of the survivors unchanged
# across creates, unlinks and a remount; fsck clean.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

N=${DIR_INDEX_FILES:-20000}
COOKIES=$DIR/dir_cookies
T=/tmp/dir_index.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT

ktap_print_header
ktap_set_plan 11
load_module
# One inode a file: more than the default count of a 256 MiB disk.
"$MKFS" -q -N 32768 "$DEV" >/dev/null && mount -t delafs "$DEV" "$MNT" ||
	ktap_exit_fail_msg "cannot mount a fresh delafs"
cd "$MNT" || exit 1
mkdir big
seq -f "f%06g" 1 "$N" >"$T/names"
secs() { date +%s.%N; }

t0=$(secs)
check "create $N files in one directory" bash -c "cd big && xargs touch <$T/names"
t1=$(secs)
printf '# %d creates: %.1f s\n' "$N" "$(echo "$t1 - $t0" | bc)"
check "each one looked up" bash -c "cd big && xargs stat -c %n <$T/names | cmp -s - $T/names"
printf '# %d lookups: %.1f s\n' "$N" "$(echo "$(secs) - $t1" | bc)"
check "readdir count exact" bash -c "[ \$(ls -f big | grep -vc '^\.\.\?$') = $N ]"
check "a name not there is not found" bash -c "! stat big/nothere 2>/dev/null"
"$COOKIES" list big >"$T/c1"
t2=$(secs)
check "half unlinked" bash -c "cd big && awk 'NR % 2' $T/names | xargs rm"
printf '# %d unlinks: %.1f s\n' "$((N / 2))" "$(echo "$(secs) - $t2" | bc)"
check "the other half still found, readdir count" bash -c "cd big &&
	awk 'NR % 2 == 0' $T/names | xargs stat -c %n | cmp -s - <(awk 'NR % 2 == 0' $T/names) &&
	[ \$(ls -f . | grep -vc '^\.\.\?$') = $((N / 2)) ] && ! stat f000001 2>/dev/null"
# New names fill the freed slots; the survivors' positions do not move.
check "new names in freed slots" bash -c "cd big && seq -f 'g%06g' 1 $((N / 4)) | xargs touch"
"$COOKIES" list big >"$T/c2"
check "survivors' readdir positions unchanged" bash -c "
	awk 'NR == FNR { want[\$1] = \$3; next } (\$1 in want) && want[\$1] != \$3 { bad++ }
		(\$1 in want) { n++ } END { print \"# \" n \" survivors compared\"; exit bad || n != $((N / 2)) }' \
		$T/c1 $T/c2"
check "seekdir to every position returns its entry" "$COOKIES" seek big <"$T/c2"

cd / && umount "$MNT" && mount -t delafs "$DEV" "$MNT"
check "positions and names survive umount + mount" bash -c "
	$COOKIES list $MNT/big | cmp -s - $T/c2 && $COOKIES seek $MNT/big <$T/c2"
umount "$MNT"
check "fsck.delafs: clean" "$FSCK" "$DEV"
unload_module
ktap_finished
