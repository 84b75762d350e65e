#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Ground truth: dio_race.sh on XFS, whose buffered writes run iomap's
# release loop with patches/0004's knobs.
exec "$(dirname "$0")"/dio_race.sh xfs
