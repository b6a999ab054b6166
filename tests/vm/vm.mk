# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
# make vm-check: the module's tests in qemu, included by the top-level Makefile.
#
# One guest boots Debian's packaged kernel (scripts/kernel.env) and runs, in that one
# boot, tests/vm/t-*.sh (the module's own tests) and the namespace scenarios with
# UPN_SOURCE=kmod; see tests/vm/run-suite. `make check` runs the same as the last
# group of tests/run. tests/vm/run-in-vm runs any one command in such a guest.
#   make vm-check VM_ARGS='t-20 03-'    only the scripts whose path contains one

.PHONY: vm-check
vm-check: deps kmod all $(TOOLS_BIN)
	@UPN_VM_NO_BUILD=1 tests/vm/run-suite $(VM_ARGS)
