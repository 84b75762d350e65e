# SPDX-License-Identifier: GPL-2.0
#
# delafs: out-of-tree Rust kernel module, its selftests and its QEMU lab.
#
#   make check          set up the host, build the kernel, the module and the
#                       tests, run every test (host and guest); what CI runs
#   make demo           the race demo in the i440FX guest, delafs and XFS
#   make                build delafs.ko (against the lab kernel, or KDIR=...)
#   make KDIR=/path     build delafs.ko against your own Rust-enabled tree
#   make CLIPPY=1       build with clippy (warnings are errors in `make check`)
#   make fmt            rustfmt the module sources
#   make check-debug    `make check` on the lockdep/DEBUG_VM kernel flavour
#   make check-kasan    `make check` on the KASAN/UBSAN/KFENCE flavour (the
#                       debug flavour's options too; built with LLVM=1)
#   make soak           `make check` with long runs (FSX_OPS, STRESS_SECS,
#                       NATURAL_SECS raised: the no-injection race baseline)
#   make fuzz           a long image-fuzzing campaign (FUZZ_IMAGES, FUZZ_SEED),
#                       resumed after each guest crash
#   make bench          delafs vs XFS vs ext4: fio, metadata, scaling curves,
#                       median of BENCH_RUNS (5); BENCH_QUICK=1 to smoke-test
#   make crash-test     unclean shutdowns: the guest killed mid-workload, then
#                       fsck and every block verified (CRASH_ROUNDS, CRASH_SEED,
#                       CRASH_FS=delafs|xfs)
#   make shell          an interactive guest with delafs and XFS mounted;
#                       CMD='...' runs one command there instead
#   make rust-analyzer  rust-project.json for editors
#   make hook-cost      the disarmed seek-delay hook against no hook
#   make runner-bench   boot-to-first-test, virtme-ng against plain QEMU
#   make setup | kernel | selftests | clean
#
# Variables: KDIR (kernel tree), FLAVOUR=default|debug|kasan (lab kernel flavour),
# DELAFS_CACHE (where kernels are cached; default ~/.cache/delafs).

FLAVOUR ?= default
export FLAVOUR
BUILD := $(CURDIR)/build

ifeq ($(KDIR),)
# The lab kernel: built once and cached by scripts/kernel.sh.
KDIR_CMD = $$($(CURDIR)/scripts/kernel.sh)
else
KDIR_CMD = $(KDIR)
endif

.PHONY: all modules setup kernel selftests shell rust-analyzer runner-bench check check-debug check-kasan demo bench crash-test hook-cost soak fuzz fmt fmtcheck clean

all: modules

# kbuild's command lines are relative to the kernel tree, so objects built
# against another tree look up to date: clean when the tree changes. A tree
# built with Clang (FLAVOUR=kasan) needs LLVM=1 here too (scripts/kbuild-flags).
modules:
	@kdir=$(KDIR_CMD) && kflags=$$($(CURDIR)/scripts/kbuild-flags "$$kdir") && \
	if [ "$$(cat .kdir 2>/dev/null)" != "$$kdir" ]; then \
		$(MAKE) -s -C "$$kdir" M=$(CURDIR) $$kflags clean && echo "$$kdir" >.kdir; \
	fi && \
	$(MAKE) -C "$$kdir" M=$(CURDIR) $$kflags $(if $(CLIPPY),CLIPPY=$(CLIPPY)) modules

setup:
	@$(CURDIR)/scripts/setup.sh

kernel:
	@$(CURDIR)/scripts/kernel.sh

selftests: modules
	@kdir=$(KDIR_CMD) && $(CURDIR)/scripts/build-selftests.sh "$$kdir" $(BUILD)/kselftest

check:
	@$(CURDIR)/scripts/check.sh

check-debug:
	@FLAVOUR=debug $(CURDIR)/scripts/check.sh

check-kasan:
	@FLAVOUR=kasan $(CURDIR)/scripts/check.sh

demo:
	@$(CURDIR)/scripts/demo.sh

bench:
	@$(CURDIR)/scripts/bench.sh

crash-test:
	@$(CURDIR)/scripts/crash-test.sh

shell:
	@$(CURDIR)/scripts/shell.sh

# rust-project.json for rust-analyzer, from the kernel tree's own generator
# (as the Rust-for-Linux out-of-tree module template does).
rust-analyzer:
	@kdir=$(KDIR_CMD) && $(MAKE) -s -C "$$kdir" M=$(CURDIR) $$($(CURDIR)/scripts/kbuild-flags "$$kdir") rust-analyzer
	@$(CURDIR)/scripts/rust-analyzer.py $(CURDIR)

runner-bench:
	@$(CURDIR)/scripts/runner-bench.sh

hook-cost:
	@$(CURDIR)/scripts/hook-cost.sh

soak:
	@DELAFS_SOAK=1 $(CURDIR)/scripts/check.sh

fuzz:
	@$(CURDIR)/scripts/fuzz.sh

fmt:
	rustfmt --edition 2021 rust/delafs.rs

fmtcheck:
	rustfmt --check --edition 2021 rust/delafs.rs

clean:
	rm -rf $(BUILD) delafs.ko *.o *.mod *.mod.c .*.cmd Module.symvers modules.order \
		rust/*.o rust/.*.cmd rust/*.d rust/vfs/*.o
