#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest is the report's machine: QEMU's i440FX + PIIX PC with the SMBIOS
# BIOS fields of the report, so any WARN's "Hardware name:" line reads like
# the one in the December 2023 report.

DIR=$(dirname "$0")
source "$DIR"/../kselftest/ktap_helpers.sh

expect_eq() {
	local what=$1 want=$2 got=$3
	if [ "$got" = "$want" ]; then
		ktap_test_pass "$what"
	else
		ktap_print_msg "$what: want '$want', got '$got'"
		ktap_test_fail "$what"
	fi
}

ktap_print_header
ktap_set_plan 5

dmi=/sys/class/dmi/id
expect_eq "sys_vendor" "QEMU" "$(cat $dmi/sys_vendor 2>/dev/null)"
expect_eq "product_name" "Standard PC (i440FX + PIIX, 1996)" "$(cat $dmi/product_name 2>/dev/null)"
expect_eq "bios_version" "?-20190727_073836-buildvm-ppc64le-16.ppc.fedoraproject.org-3.fc31" \
	"$(cat $dmi/bios_version 2>/dev/null)"
expect_eq "bios_date" "04/01/2014" "$(cat $dmi/bios_date 2>/dev/null)"
# The line dump_stack() prints as "Hardware name:" is the one printed at boot
# as "DMI:".
expect_eq "boot DMI line" \
	"QEMU Standard PC (i440FX + PIIX, 1996), BIOS ?-20190727_073836-buildvm-ppc64le-16.ppc.fedoraproject.org-3.fc31 04/01/2014" \
	"$(dmesg | sed -n 's/.*DMI: //p' | head -n1)"

ktap_finished
