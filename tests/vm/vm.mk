# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
# make vm-check: the module's tests in qemu, included by the top-level Makefile.
