# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
# The kernel module's targets, included by the top-level Makefile.
#
# make kmod          kmod/upnotify.ko against $(KDIR), warnings are errors (W=1)
# make kmod-sparse   the same under sparse (C=2); fails on any sparse warning
# make kmod-clean    remove what kbuild left behind

KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR)

.PHONY: kmod kmod-sparse kmod-clean
kmod:
	$(KMAKE) W=1 modules

# Sparse warnings do not fail a build on their own: keep the log and look in it.
kmod-sparse:
	@mkdir -p $(B)
	@$(KMAKE) W=1 C=2 modules > $(B)/kmod-sparse.log 2>&1; rc=$$?; \
		cat $(B)/kmod-sparse.log; [ $$rc = 0 ] || exit $$rc; \
		! grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' $(B)/kmod-sparse.log

# Not `$(KMAKE) clean`: for an external module kbuild's clean deletes every *.o, *.a
# and .*.d under M, which here would include the userspace build in $(B).
kmod-clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod clean
	rm -f Module.symvers modules.order

# The module's parser, compiled for userspace: an explicit rule, so the generic
# $(B)/fuzz/% rule (which links the daemon's sources) does not apply.
$(B)/fuzz/fuzz_kparse: tests/fuzz/fuzz_kparse.c kmod/upnotify_parse.c kmod/upnotify_parse.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Itests/fuzz -o $@ tests/fuzz/fuzz_kparse.c kmod/upnotify_parse.c
