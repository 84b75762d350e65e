#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Mounting a bad image fails with a clear errno and one kernel log line that
# names the reason; nothing crashes or warns (the log scanner checks that).
source "$(dirname "$0")"/lib.sh
require_root_and_disk

IMG=/tmp/bad.img
# python3 with crc32c() defined: the checksum of every delafs structure.
CRC32C_PY='
import struct, sys
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xffffffff
'
py() { python3 -c "$CRC32C_PY$(cat)" "$@"; }
# Rewrites superblock fields of $IMG: "offset:format:value"... (struct
# formats), then fixes the checksum unless --keep-crc.
patch_sb() {
	py "$IMG" "$@" <<'PY'
path, edits = sys.argv[1], sys.argv[2:]
keep = "--keep-crc" in edits
with open(path, "r+b") as f:
    sb = bytearray(f.read(4096))
    for e in edits:
        if e == "--keep-crc":
            continue
        off, fmt, val = e.split(":")
        struct.pack_into("<" + fmt, sb, int(off), int(val, 0))
    if not keep:
        struct.pack_into("<I", sb, 4092, crc32c(bytes(sb[:4092])))
    f.seek(0)
    f.write(sb)
PY
}

# try_mount DESCRIPTION ERRNO_TEXT LOG_TEXT
try_mount() {
	local what=$1 want=$2 logwant=$3 out
	dmesg -C
	if out=$(mount -t delafs -o loop "$IMG" "$MNT" 2>&1); then
		umount "$MNT"
		printf '# mounted\n'
		ktap_test_fail "$what"
		return
	fi
	if ! printf '%s' "$out" | grep -q -- "$want"; then
		printf '# mount said: %s (wanted %s)\n' "$out" "$want"
		ktap_test_fail "$what"
	elif ! dmesg | grep -q "delafs: .*$logwant"; then
		dmesg | sed 's/^/# dmesg: /'
		printf '# wanted a kernel log line with: %s\n' "$logwant"
		ktap_test_fail "$what"
	else
		dmesg | grep "delafs: " | sed 's/^/# /'
		ktap_test_pass "$what"
	fi
}

fresh_image() {
	rm -f "$IMG"
	truncate -s 16M "$IMG"
	"$MKFS" -q "$IMG" >/dev/null
}

ktap_print_header
ktap_set_plan 8
load_module

rm -f "$IMG"; truncate -s 16M "$IMG"
try_mount "zeroed device" "wrong fs type\|Invalid argument" "not a delafs"

rm -f "$IMG"; truncate -s 16M "$IMG"; mkfs.ext4 -q "$IMG"
try_mount "another filesystem (ext4)" "wrong fs type\|Invalid argument" "not a delafs"

fresh_image; patch_sb 8:I:2
try_mount "unsupported format version" "wrong fs type\|Invalid argument" "version"

fresh_image; patch_sb 40:Q:5 --keep-crc
try_mount "corrupted superblock checksum" "Structure needs cleaning\|wrong fs type" "checksum"

fresh_image; truncate -s 8M "$IMG"
try_mount "truncated device" "wrong fs type\|Invalid argument" "device"

fresh_image; patch_sb 12:I:1024
try_mount "block size other than 4096" "wrong fs type\|Invalid argument" "block size"

# Root's first inline extent (inode 1 at byte 256 of the inode table,
# extent at 96) pointing past the end of the device, with a valid inode
# checksum.
fresh_image
py "$IMG" <<'PY'
with open(sys.argv[1], "r+b") as f:
    sb = f.read(4096)
    total, = struct.unpack_from("<Q", sb, 16)
    itable, = struct.unpack_from("<Q", sb, 48)
    off = itable * 4096 + 256
    f.seek(off)
    ino = bytearray(f.read(256))
    struct.pack_into("<IIQ", ino, 96, 0, 1, total + 10)
    struct.pack_into("<I", ino, 60, 1)
    struct.pack_into("<Q", ino, 16, 4096)
    struct.pack_into("<I", ino, 252, crc32c(bytes(ino[:252])))
    f.seek(off)
    f.write(ino)
PY
try_mount "an extent outside the device" "Structure needs cleaning\|wrong fs type" "outside"

fresh_image
check "the good image still mounts" bash -c "mount -t delafs -o loop $IMG $MNT && umount $MNT"
rm -f "$IMG"
unload_module
ktap_finished
