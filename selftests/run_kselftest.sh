#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest: every installed delafs kselftest through the kernel's own
# kselftest/runner.sh, printing KTAP. Like the run_kselftest.sh that upstream's
# "make install" generates, reduced to what the lab needs.
#
#   run_kselftest.sh [-t collection:test]...
BASE_DIR=$(cd "$(dirname "$0")" && pwd)
export BASE_DIR
. "$BASE_DIR/kselftest/runner.sh"

tests=$(cat "$BASE_DIR/kselftest-list.txt")
if [ "$1" = -t ]; then
	tests=
	while [ "$1" = -t ]; do
		tests="$tests $2"
		shift 2
	done
fi

# runner.sh runs a collection from inside its directory; every delafs test
# lives in one collection, so run them all from there.
collections=$(printf '%s\n' $tests | cut -d: -f1 | sort -u)
[ "$(echo "$collections" | wc -l)" = 1 ] || { echo "one collection at a time" >&2; exit 1; }
cd "$BASE_DIR/$collections" || exit 1
run_many $(printf '%s\n' $tests | cut -d: -f2 | sed 's|^|./|')
