# SPDX-License-Identifier: GPL-2.0
# Shared by the delafs shell selftests: paths, module and mount helpers.

DIR=$(cd "$(dirname "$0")" && pwd)
source "$DIR"/../kselftest/ktap_helpers.sh

MKFS=$DIR/mkfs.delafs
FSCK=$DIR/fsck.delafs
KO=$DIR/delafs.ko
# The scratch disk run-guest gives the guest; everything on it is lost.
DEV=${DELAFS_DEV:-/dev/vda}
MNT=/mnt/delafs-test
mkdir -p "$MNT"

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
