#!/bin/bash
# The lab by hand (`make shell`), run in the guest as its login shell: load
# delafs.ko, make and mount a scratch delafs at /mnt/delafs and a scratch XFS at
# /mnt/xfs, print what to try, then an interactive bash. With `-c COMMAND`
# (`make shell CMD=...`), run COMMAND in that same set-up instead and exit
# with its status.
#
#   guest-shell.sh KSELFTEST_DIR [-c COMMAND]
ks=${1:?usage: guest-shell.sh KSELFTEST_DIR [-c COMMAND]}
shift
export PATH=$ks:$PATH HOME=/tmp LANG=C.UTF-8
export TERM=${TERM:-vt100}
[ "$TERM" = linux ] && export TERM=vt100

say() { printf '%s\n' "$*"; }
setup() {
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
	# vng overlays /tmp, /var, ... of the read-only root, not /mnt.
	mkdir -p /mnt/delafs /mnt/xfs 2>/dev/null || { mount -t tmpfs tmpfs /mnt && mkdir -p /mnt/delafs /mnt/xfs; } || return 1
	grep -qw delafs /proc/filesystems || insmod "$ks/delafs.ko" || return 1
	"$ks/mkfs.delafs" -q /dev/vda >/dev/null && mount -t delafs /dev/vda /mnt/delafs || return 1
	mkfs.xfs -f -q /dev/vdb && mount -t xfs /dev/vdb /mnt/xfs || return 1
}
if ! setup >/tmp/lab-setup.log 2>&1; then
	say "lab set-up failed:"
	cat /tmp/lab-setup.log
	[ "${1:-}" = -c ] && exit 1
fi

if [ "${1:-}" = -c ]; then
	shift
	cd /mnt/delafs && exec bash -c "$*"
fi

cat >/tmp/lab-bashrc <<'RC'
PS1='delafs-lab:\w# '
cd /mnt/delafs
cat <<'BANNER'

  delafs lab: Linux 6.12 on the report's machine (QEMU i440FX + PIIX), delafs.ko loaded
    /mnt/delafs   a scratch delafs (/dev/vda)      knobs: /sys/kernel/debug/delafs/
    /mnt/xfs      a scratch XFS (/dev/vdb)          knobs: /sys/kernel/debug/iomap/
  Try:
    cat /sys/kernel/debug/delafs/release_mode          # fixed (7a9d43eace88) or legacy
    echo legacy > /sys/kernel/debug/delafs/release_mode
    echo 10000 > /sys/kernel/debug/delafs/seek_delay_us  # sleep 10 ms between the seeks
    race_repro -m /mnt/delafs -t dropcaches -n 5      # also -t fadvise; -m /mnt/xfs for XFS
    grep . /sys/kernel/debug/delafs/*                 # delays, races, warnings, ...
    dmesg | grep -A20 'cut here'                      # the WARN, with the report's Hardware name
    folio_orders FILE                                 # the page cache folio orders over FILE
  Leave with exit (or Ctrl-D): the guest powers off.

BANNER
RC
exec bash --rcfile /tmp/lab-bashrc -i
