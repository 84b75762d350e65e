#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The debugfs knobs: defaults, valid values, and bad writes (garbage,
# negative, too large, empty, overlong) refused with EINVAL without changing
# anything. Counters are read-only numbers.
source "$(dirname "$0")"/lib.sh

KNOBS=/sys/kernel/debug/delafs
ktap_print_header
ktap_set_plan 9
load_module

value() { cat "$KNOBS/$1"; }
# write_ok KNOB VALUE: the write succeeds and reads back.
write_ok() { printf '%s\n' "$2" >"$KNOBS/$1" && [ "$(value "$1")" = "$2" ]; }
# refused KNOB: every bad write fails with EINVAL and leaves the value alone.
refused() {
	local knob=$1 before bad out
	shift
	before=$(value "$knob")
	for bad in "$@"; do
		if out=$(printf '%s' "$bad" 2>&1 >"$KNOBS/$knob"); then
			echo "accepted: '$bad'"
			return 1
		fi
		if ! grep -q "Invalid argument" <<<"$out"; then
			echo "'$bad': $out"
			return 1
		fi
		[ "$(value "$knob")" = "$before" ] || { echo "'$bad' changed it"; return 1; }
	done
}
export -f value write_ok refused
export KNOBS
long=$(printf '1%.0s' $(seq 70))

check "defaults: fixed, no delay, every inode" \
	bash -c '[ "$(value release_mode)" = fixed ] && [ "$(value seek_delay_us)" = 0 ] && [ "$(value delay_ino)" = 0 ]'
check "release_mode takes legacy and fixed" bash -c 'write_ok release_mode legacy && write_ok release_mode fixed'
check "release_mode refuses anything else" \
	refused release_mode "Legacy" "fixed " "fix" $'\n' "legacy\n\n" "1" "$long"
check "seek_delay_us takes 0..1000000" \
	bash -c 'write_ok seek_delay_us 1 && write_ok seek_delay_us 1000000 && write_ok seek_delay_us 0'
check "seek_delay_us refuses garbage, negative, huge, empty" \
	refused seek_delay_us "abc" "-1" "1000001" "99999999999999999999" $'\n' " 5" "5 " "0x10" "1.5" "$long"
check "delay_ino takes an inode number and 0" bash -c 'write_ok delay_ino 12 && write_ok delay_ino 0'
check "delay_ino refuses garbage" refused delay_ino "x" "-3" "4294967296"
check "counters are numbers" \
	bash -c 'for c in calls delays races legacy_warnings other_warnings punches punched_bytes evict_leaked_blocks; do [[ $(value $c) =~ ^[0-9]+$ ]] || exit 1; done'
check "counters refuse writes" refused races "0" "5"
unload_module
ktap_finished
