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
def _entry(n):
    for _ in range(8):
        n = (n >> 1) ^ (0x82F63B78 if n & 1 else 0)
    return n
_TABLE = [_entry(i) for i in range(256)]
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xff] ^ (crc >> 8)
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
ktap_set_plan 28
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

# The image the semantic cases start from, made by the kernel: /a (2
# blocks), /b (1 block), /d (a directory), so inodes 2, 3 and 4.
populated_image() {
	fresh_image
	mount -t delafs -o loop "$IMG" "$MNT" || return 1
	head -c 8192 /dev/urandom >"$MNT/a"
	head -c 4096 /dev/urandom >"$MNT/b"
	mkdir "$MNT/d"
	umount "$MNT"
}
# Edits inode fields or raw bytes of $IMG with the checksum kept valid, so
# only the verifiers' semantic checks can refuse them. Python statements on
# `inode(n)` / `put_inode(n, raw)`, `extent(raw, i)`, `dirblock(n)`,
# `bitmap_clear(block)`; for a directory index `index_block(n, at)`,
# `read_block(b)`, `write_block(b, data)` (checksum at 4092 fixed) and
# `name_hash(seed, name)`.
patch_image() {
	py "$IMG" "$1" <<'PY'
path, prog = sys.argv[1], sys.argv[2]
f = open(path, "r+b")
sb = f.read(4096)
itable, = struct.unpack_from("<Q", sb, 48)
def inode(n):
    f.seek(itable * 4096 + n * 256)
    return bytearray(f.read(256))
def put_inode(n, raw):
    struct.pack_into("<I", raw, 252, crc32c(bytes(raw[:252])))
    f.seek(itable * 4096 + n * 256)
    f.write(raw)
def extent(raw, i):
    return struct.unpack_from("<IIQ", raw, 96 + 16 * i)
def dirblock(n):
    return extent(inode(n), 0)[2]
def bitmap_clear(block):
    f.seek(4096)
    bm = bytearray(f.read(4096))
    bm[block // 8] &= ~(1 << (block % 8)) & 0xff
    struct.pack_into("<I", bm, 4092, crc32c(bytes(bm[:4092])))
    f.seek(4096)
    f.write(bm)
# The directory index (docs/filesystem.md): blocks at logical 2^31 + at.
INDEX_BASE = 1 << 31
def extents_of(n):
    raw = inode(n)
    count, = struct.unpack_from("<I", raw, 60)
    chain, = struct.unpack_from("<Q", raw, 64)
    out = [extent(raw, i) for i in range(min(count, 8))]
    while len(out) < count and chain:
        f.seek(chain * 4096)
        cb = f.read(4096)
        k, = struct.unpack_from("<I", cb, 4)
        out += [struct.unpack_from("<IIQ", cb, 16 + 16 * i) for i in range(k)]
        chain, = struct.unpack_from("<Q", cb, 8)
    return out
def index_block(n, at):
    want = INDEX_BASE + at
    for (l, ln, p) in extents_of(n):
        ln &= 0x7fffffff
        if l <= want < l + ln:
            return p + want - l
    raise SystemExit("directory %d: index block %d not mapped" % (n, at))
def read_block(b):
    f.seek(b * 4096)
    return bytearray(f.read(4096))
def write_block(b, data):
    struct.pack_into("<I", data, 4092, crc32c(bytes(data[:4092])))
    f.seek(b * 4096)
    f.write(data)
def name_hash(seed, name):
    h = 0x811c9dc5 ^ seed
    for c in name:
        h = ((h ^ c) * 0x01000193) & 0xffffffff
    h ^= h >> 16
    h = (h * 0x85ebca6b) & 0xffffffff
    h ^= h >> 13
    h = (h * 0xc2b2ae35) & 0xffffffff
    return h ^ (h >> 16)
exec(prog)
f.close()
PY
}

# Mount-time verifiers: values with valid checksums that cannot be right.
populated_image
patch_image 'r = inode(2); struct.pack_into("<Q", r, 16, 1 << 63); put_inode(2, r)'
try_mount "a file size of 2^63 (valid checksum)" "Structure needs cleaning" "size beyond the largest file"

populated_image
patch_image 'r = inode(3); struct.pack_into("<Q", r, 104, extent(inode(2), 0)[2]); put_inode(3, r)'
try_mount "two files sharing a block" "Structure needs cleaning" "also used by metadata or another inode"

populated_image
patch_image 'r = inode(2); struct.pack_into("<Q", r, 104, 0); put_inode(2, r)'
try_mount "an extent over the superblock" "Structure needs cleaning" "outside the data area"

populated_image
patch_image 'bitmap_clear(0)'
try_mount "a bitmap that calls the superblock free" "Structure needs cleaning" "metadata block 0 free"

populated_image
patch_image 'r = inode(4); struct.pack_into("<Q", r, 16, 4097); put_inode(4, r)'
try_mount "a directory size that is not whole blocks" "Structure needs cleaning" "multiple of the block size"

# Run-time verifiers: the image mounts, the one bad name fails with EUCLEAN
# and a kernel line, and the rest stays usable.
# check_runtime DESCRIPTION PATCH PATH LOG_TEXT
check_runtime() {
	local what=$1 patch=$2 victim=$3 logwant=$4 ok=1
	populated_image && patch_image "$patch"
	dmesg -C
	if ! mount -t delafs -o loop "$IMG" "$MNT"; then
		ktap_test_fail "$what: mounts"
		return
	fi
	if out=$(stat "$MNT/$victim" 2>&1 && cat "$MNT/$victim" 2>&1 >/dev/null); then
		printf '# %s was usable\n' "$victim"
		ok=0
	elif ! printf '%s' "$out" | grep -q "Structure needs cleaning"; then
		printf '# said: %s\n' "$out"
		ok=0
	fi
	dmesg | grep -q "delafs: .*$logwant" || { printf '# no kernel line with: %s\n' "$logwant"; ok=0; }
	# Everything else works: a new file, another name, unmount.
	echo x >"$MNT/new" && [ "$(cat "$MNT/new")" = x ] || ok=0
	[ "$victim" = b ] || [ "$(stat -c %s "$MNT/b")" = 4096 ] || ok=0
	umount "$MNT" || ok=0
	dmesg | grep "delafs: " | sed 's/^/# /'
	if [ $ok = 1 ]; then ktap_test_pass "$what"; else ktap_test_fail "$what"; fi
}

check_runtime "a named inode with a link count of 0" \
	'r = inode(2); struct.pack_into("<I", r, 4, 0); put_inode(2, r)' a "link count is 0"
# Root's entries are slots 0 (a), 1 (b), 2 (d) of its first block: name d
# as a regular file, then name b as the directory inode 4 (a second name).
check_runtime "an entry type that does not match its inode" \
	'f.seek(dirblock(1) * 4096 + 2 * 264 + 5); f.write(bytes([8]))' d "entry type does not match"
check_runtime "a second name for a directory" \
	'f.seek(dirblock(1) * 4096 + 1 * 264); f.write(struct.pack("<IBB", 4, 1, 4))' b "directory named twice"
check_runtime "a directory named in itself" \
	'f.seek(dirblock(1) * 4096 + 1 * 264); f.write(struct.pack("<IBB", 1, 1, 4))' b "a directory above it"

# A directory index on an image the kernel indexed: /big (inode 5) with
# 300 names n000..n299 (hard links to /b, 20 entry blocks), its index
# header at index offset 0 and a table of 2^log blocks in its live region
# (510 records a block, at most half used: two blocks).
# Written by one python3 (a process per name costs ~0.3 s under TCG).
indexed_image() {
	populated_image && mount -t delafs -o loop "$IMG" "$MNT" || return 1
	mkdir "$MNT/big" &&
		python3 -c 'import os, sys
for i in range(300): os.link(sys.argv[1] + "/b", sys.argv[1] + "/big/n%03d" % i)' "$MNT"
	umount "$MNT"
}
# The table record of the name n100: its hash (with the header's seed), so
# that a lookup of n100 meets it; VICTIM_PY sets h (the header), eb (its
# entry blocks), b, t, pos, rec.
VICTIM_PY='
h = read_block(index_block(5, 0))
seed, = struct.unpack_from("<I", h, 8)
log, live = h[12], h[13]
eb, = struct.unpack_from("<I", h, 20)
want = name_hash(seed, b"n100")
found = None
for n in range(1 << log):
    b = index_block(5, 1 + live * 2048 + n)
    t = read_block(b)
    for pos in range(510):
        hh, s1 = struct.unpack_from("<II", t, 8 + 8 * pos)
        if s1 and hh == want:
            found = (b, t, pos)
b, t, pos = found
rec = 8 + 8 * pos
'
# check_index_runtime DESCRIPTION PATCH LOG_TEXT: after PATCH the image
# mounts, n100 fails with EUCLEAN and one kernel line with LOG_TEXT, the
# root stays usable, and fsck -p repairs the index (dropped: the kernel
# looks names up in the entry blocks) so that n100 is there again.
check_index_runtime() {
	local what=$1 patch=$2 logwant=$3 ok=1 out lines
	indexed_image && patch_image "$VICTIM_PY$patch" || { ktap_test_fail "$what: image"; return; }
	dmesg -C
	if ! mount -t delafs -o loop "$IMG" "$MNT"; then
		ktap_test_fail "$what: mounts"
		return
	fi
	if out=$(stat "$MNT/big/n100" 2>&1); then
		printf '# n100 was usable\n'
		ok=0
	elif ! printf '%s' "$out" | grep -q "Structure needs cleaning"; then
		printf '# said: %s\n' "$out"
		ok=0
	fi
	lines=$(dmesg | grep -c "delafs: .*$logwant")
	[ "$lines" = 1 ] || { printf '# %s kernel lines with: %s\n' "$lines" "$logwant"; ok=0; }
	ls "$MNT/big" | wc -l | sed 's/^/# readdir of big: /'
	echo x >"$MNT/new" && [ "$(cat "$MNT/new")" = x ] || ok=0
	[ "$(stat -c %s "$MNT/a")" = 8192 ] || ok=0
	umount "$MNT" || ok=0
	dmesg | grep "delafs: " | sed 's/^/# /'
	"$FSCK" -n "$IMG" >/dev/null
	[ $? = 4 ] || { echo "# fsck -n did not find it"; ok=0; }
	"$FSCK" -p "$IMG" | sed 's/^/# fsck -p: /'
	"$FSCK" -n "$IMG" >/dev/null || { echo "# fsck -p left problems"; ok=0; }
	if mount -t delafs -o loop "$IMG" "$MNT"; then
		[ "$(stat -c %h "$MNT/big/n100" 2>/dev/null)" = 301 ] || { echo "# n100 not back after fsck -p"; ok=0; }
		umount "$MNT"
	else
		ok=0
	fi
	if [ $ok = 1 ]; then ktap_test_pass "$what"; else ktap_test_fail "$what"; fi
}
check_index_runtime "an index record pointing past the directory (valid checksums)" \
	'struct.pack_into("<I", t, rec + 4, eb * 15 + 100 + 1); write_block(b, t)' \
	"directory 5: directory index record points past the entries"
check_index_runtime "an index header with a table size past the largest (valid checksums)" \
	'h[12] = 12; write_block(index_block(5, 0), h)' \
	"directory 5: directory index header field out of range"
# (Its bitmap may then have a bit past entry_blocks: out of range first.)
check_index_runtime "an index header covering fewer entry blocks than the directory has" \
	'struct.pack_into("<I", h, 20, eb - 1); write_block(index_block(5, 0), h)' \
	"directory 5: directory index \(covers a different directory size\|header field out of range\)"

# Format feature bits (superblock offsets 76 compat, 104 ro_compat, 108
# incompat; mkfs sets incompat bit 0, unwritten extents).
# sys_mount SOURCE FLAGS: mount(2) of delafs on $MNT; prints OK or the
# errno's name (mount(8) would retry read-only after EROFS).
sys_mount() {
	python3 - "$1" "$MNT" "$2" <<'PY'
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
src, dst, flags = sys.argv[1], sys.argv[2], int(sys.argv[3], 0)
r = libc.mount(src.encode(), dst.encode(), b"delafs", ctypes.c_ulong(flags), None)
print("OK" if r == 0 else errno.errorcode[ctypes.get_errno()])
PY
}
MS_RDONLY=1
MS_REMOUNT=32
# log_has TEXT: a delafs kernel line with TEXT since the last dmesg -C.
log_has() {
	dmesg | grep -q "delafs: .*$1" && return
	dmesg | sed 's/^/# dmesg: /'
	printf '# wanted a kernel log line with: %s\n' "$1"
	return 1
}

# An image from before feature bits: all three fields zero.
populated_image; patch_sb 108:I:0
try_mount "an image made before feature bits" "wrong fs type\|Invalid argument" \
	"made before format feature bits: run fsck.delafs --upgrade"
upgrade_then_mount() {
	"$FSCK" -n "$IMG"
	[ $? = 4 ] || { echo "fsck -n did not exit 4 on the old image"; return 1; }
	"$FSCK" --upgrade "$IMG" || return 1
	"$FSCK" -n "$IMG" || return 1
	mount -t delafs -o loop "$IMG" "$MNT" || return 1
	local ok=0
	[ "$(stat -c %s "$MNT/a")" = 8192 ] && echo x >"$MNT/new" && ok=1
	umount "$MNT" && "$FSCK" -n "$IMG" && [ $ok = 1 ]
}
check "fsck.delafs --upgrade, then the old image mounts with its files" upgrade_then_mount

# Bits 0 (unwritten) and 1 (directory index) are known; bit 2 is not.
fresh_image; patch_sb 108:I:7
try_mount "an unknown incompat feature bit" "wrong fs type\|Invalid argument" \
	"unsupported incompatible features: 0x4"

# An unknown ro_compat bit: read-only works, read-write does not (EROFS),
# neither at mount nor by a remount.
populated_image; patch_sb 104:I:0x10
# result DESCRIPTION TEST...: a KTAP line for a shell condition.
result() {
	local what=$1
	shift
	if eval "$@"; then ktap_test_pass "$what"; else ktap_test_fail "$what"; fi
}
dev=$(losetup -f --show "$IMG")
dmesg -C
r=$(sys_mount "$dev" 0)
[ "$r" = OK ] && umount "$MNT"
printf '# read-write mount(2): %s\n' "$r"
result "an unknown ro_compat bit: a read-write mount is refused with EROFS" \
	'[ "$r" = EROFS ] && log_has "read-only compatible features"'
mounted_ro=0
mount -t delafs -o ro "$dev" "$MNT" && mounted_ro=1
result "an unknown ro_compat bit: mount -o ro works and reads" \
	'[ $mounted_ro = 1 ] && [ "$(stat -c %s "$MNT/a")" = 8192 ] && cat "$MNT/a" >/dev/null'
dmesg -C
r=not-mounted
[ $mounted_ro = 1 ] && r=$(sys_mount "$dev" $MS_REMOUNT)
printf '# remount read-write: %s\n' "$r"
result "an unknown ro_compat bit: a remount read-write is refused with EROFS" \
	'[ "$r" = EROFS ] && log_has "cannot remount read-write" && ! touch "$MNT/new" 2>/dev/null'
[ $mounted_ro = 1 ] && umount "$MNT"
losetup -d "$dev"

fresh_image; patch_sb 76:I:0x80000000
check "an unknown compat bit is ignored: mounts read-write" \
	bash -c "mount -t delafs -o loop $IMG $MNT && echo x >$MNT/f && umount $MNT && $FSCK -n $IMG"

# Bit 31 of the root directory's first extent length: an unwritten extent
# in a directory (valid checksum).
populated_image
patch_image 'r = inode(1); l, = struct.unpack_from("<I", r, 100); struct.pack_into("<I", r, 100, l | 1 << 31); put_inode(1, r)'
try_mount "an unwritten extent in a directory" "Structure needs cleaning" "directory has an unwritten extent"

fresh_image
check "the good image still mounts" bash -c "mount -t delafs -o loop $IMG $MNT && umount $MNT"
rm -f "$IMG"
unload_module
ktap_finished
