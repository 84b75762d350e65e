#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# race.sh on delafs with 4 KiB folios only (mount -o large_folios=0): the
# page cache this lab had before large folios, which XFS cannot be switched
# to (see docs/race-lab.md, "Folio size").
exec "$(dirname "$0")"/race.sh delafs4k
