# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
# The kernel module's targets, included by the top-level Makefile.
