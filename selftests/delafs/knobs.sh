#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The debugfs knobs of both release loops, delafs's and iomap's
# (patches/0004), which must behave alike: defaults, valid values, and bad
# writes (garbage, negative, too large, empty, overlong) refused with
# EINVAL without changing anything. Counters are read-only numbers.
source "$(dirname "$0")"/lib.sh

ktap_print_header
ktap_set_plan 20
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
long=$(printf '1%.0s' $(seq 70))

counters="calls delays races legacy_warnings other_warnings punches punched_bytes stale_mappings"
for KNOBS in "$DELAFS_KNOBS" "$IOMAP_KNOBS"; do
	export KNOBS
	name=${KNOBS##*/}
	[ "$name" = delafs ] && export COUNTERS="$counters evict_leaked_blocks dio_completions_in_delay unwritten_converted_blocks map_delays" || export COUNTERS=$counters
	check "$name: defaults: fixed, no delay, every inode" \
		bash -c '[ "$(value release_mode)" = fixed ] && [ "$(value seek_delay_us)" = 0 ] && [ "$(value delay_ino)" = 0 ]'
	check "$name: release_mode takes legacy and fixed" bash -c 'write_ok release_mode legacy && write_ok release_mode fixed'
	check "$name: release_mode refuses anything else" \
		refused release_mode "Legacy" "fixed " "fix" $'\n' "legacy\n\n" "1" "$long"
	check "$name: seek_delay_us takes 0..1000000" \
		bash -c 'write_ok seek_delay_us 1 && write_ok seek_delay_us 1000000 && write_ok seek_delay_us 0'
	check "$name: seek_delay_us refuses garbage, negative, huge, empty" \
		refused seek_delay_us "abc" "-1" "+5" "1000001" "99999999999999999999" $'\n' " 5" "5 " "0x10" "1.5" "$long"
	check "$name: delay_ino takes an inode number and 0" bash -c 'write_ok delay_ino 12 && write_ok delay_ino 0'
	check "$name: delay_ino refuses garbage" refused delay_ino "x" "-3" "+3" "4294967296"
	if [ "$name" = delafs ]; then
		check "$name: map_delay_us takes 0..1000000" \
			bash -c 'write_ok map_delay_us 1 && write_ok map_delay_us 1000000 && write_ok map_delay_us 0'
		check "$name: map_delay_us refuses garbage, negative, huge, empty" \
			refused map_delay_us "abc" "-1" "+5" "1000001" "99999999999999999999" $'\n' " 5" "5 " "0x10" "$long"
	fi
	check "$name: counters are numbers" \
		bash -c 'for c in $COUNTERS; do [[ $(value $c) =~ ^[0-9]+$ ]] || { echo "$c: $(value $c)"; exit 1; }; done'
	check "$name: counters refuse writes" refused races "0" "5"
done
unload_module
ktap_finished
