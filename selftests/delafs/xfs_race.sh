#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Ground truth: race.sh's acceptance on XFS, the report's filesystem, whose
# buffered writes run iomap's release loop with patches/0004's knobs.
exec "$(dirname "$0")"/race.sh xfs
