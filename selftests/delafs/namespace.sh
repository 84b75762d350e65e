#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Namespace operations on delafs: create, mkdir (nested), hard links, rename
# within and across directories, unlink, rmdir, readdir, name length
# limits, link counts, and attributes through setattr; all still true after
# umount + mount.
source "$(dirname "$0")"/lib.sh
require_root_and_disk

ktap_print_header
ktap_set_plan 16
load_module
fresh_mount || ktap_exit_fail_msg "cannot mount a fresh delafs"
cd "$MNT" || exit 1

check "create and mkdir, nested" \
	bash -c 'mkdir -p a/b/c && echo hello >a/b/c/f && [ "$(cat a/b/c/f)" = hello ]'
check "directory link counts" \
	bash -c '[ $(stat -c %h a) = 3 ] && [ $(stat -c %h a/b/c) = 2 ] && [ $(stat -c %h .) = 3 ]'
check "hard links count" \
	bash -c 'ln a/b/c/f a/g && [ $(stat -c %h a/g) = 2 ] && [ "$(cat a/g)" = hello ]'
check "rename within a directory" \
	bash -c 'mv a/g a/h && [ ! -e a/g ] && [ "$(cat a/h)" = hello ]'
check "rename across directories, replacing a file" \
	bash -c 'echo other >x && mv a/h x && [ "$(cat x)" = hello ] && [ $(stat -c %h x) = 2 ]'
check "rename a directory across directories" \
	bash -c 'mkdir d && mv a/b d/ && [ -f d/b/c/f ] && [ $(stat -c %h a) = 2 ] && [ $(stat -c %h d) = 3 ]'
expect_fail "rmdir of a non-empty directory" "not empty" rmdir d
check "unlink and rmdir" \
	bash -c 'rm d/b/c/f x && rmdir d/b/c d/b d a && [ -z "$(ls -A)" ]'
name255=$(printf 'n%.0s' $(seq 255))
name256=$(printf 'n%.0s' $(seq 256))
check "a 255-byte name" bash -c "touch $name255 && [ -f $name255 ] && rm $name255"
expect_fail "a 256-byte name" "File name too long" touch "$name256"
check "readdir sees 100 files, and . and .." \
	bash -c 'mkdir many && for i in $(seq 100); do : >many/f$i; done && [ $(ls -a many | wc -l) = 102 ]'
check "readdir after deleting every other file" \
	bash -c 'for i in $(seq 1 2 100); do rm many/f$i; done && [ $(ls many | wc -l) = 50 ]'
check "chmod, chown, utimes" \
	bash -c 'touch t && chmod 0600 t && chown 123:456 t && touch -d "2001-02-03 04:05:06" t &&
		[ "$(stat -c "%a %u %g %Y" t)" = "600 123 456 981173106" ]'
check "mtime changes on write" \
	bash -c 'touch -d "2001-01-01" w && echo x >>w && [ $(stat -c %Y w) -gt 981173106 ]'

cd / && umount "$MNT" && mount -t delafs "$DEV" "$MNT"
check "names and attributes survive umount + mount" \
	bash -c "cd $MNT && [ \$(ls many | wc -l) = 50 ] && [ \"\$(stat -c '%a %u %g %Y' t)\" = '600 123 456 981173106' ]"
umount "$MNT"
check "fsck.delafs: clean" "$FSCK" "$DEV"
unload_module
ktap_finished
