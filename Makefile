# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# make            build the userspace programs
# make check      install what is missing, build, run every test
# make demo       the whole story, end to end, in network namespaces
# make fuzz       run every libFuzzer harness for FUZZ_SECONDS each
# make bench      side-by-side performance ratios (bench/README.md)
# make install    PREFIX=/usr/local DESTDIR=...

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
FUZZ_SECONDS ?= 60
# Parallel jobs for the build inside make check.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

CC ?= cc
CFLAGS ?= -O2 -g
# The pinned kernel (KVER, KDEB): the module is built against its headers only.
include scripts/kernel.env
KDIR ?= /lib/modules/$(KVER)/build

PKGS := libmnl libnetfilter_queue sqlite3 inih jansson libsodium netsnmp libesmtp-1.0 libssl \
	libmicrohttpd libnftables libcrypto gmime-3.0 libcurl
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# The in-repo UAPI header, never the system's (-isystem, as wireguard-tools does).
UPN_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter -D_GNU_SOURCE -pthread \
	-isystem include/uapi -Iuserspace/lib -Iuserspace/upnotifyd
ALL_CFLAGS = $(UPN_CFLAGS) $(PKG_CFLAGS) $(CFLAGS)
LIBS = $(PKG_LIBS) -pthread

B := build
LIB_SRC := $(wildcard userspace/lib/*.c)
D_SRC := $(filter-out userspace/upnotifyd/main.c,$(wildcard userspace/upnotifyd/*.c))
CTL_SRC := $(wildcard userspace/upnotifyctl/*.c)
AGENT_SRC := $(wildcard userspace/upnotify-agent/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
D_OBJ := $(D_SRC:%.c=$(B)/%.o)
CTL_OBJ := $(CTL_SRC:%.c=$(B)/%.o)
AGENT_OBJ := $(AGENT_SRC:%.c=$(B)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
TOOLS_BIN := $(patsubst %.c,$(B)/%,$(wildcard tests/tools/*.c bench/tools/*.c))

PROGS := $(B)/upnotifyd $(B)/upnotifyctl $(B)/upnotify-agent

.PHONY: all deps check unit scenarios demo fuzz bench install clean style
all: $(PROGS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libupn.a: $(LIB_OBJ)
	$(AR) rcs $@ $^
$(B)/libupnd.a: $(D_OBJ)
	$(AR) rcs $@ $^

$(B)/upnotifyd: $(B)/userspace/upnotifyd/main.o $(B)/libupnd.a $(B)/libupn.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)
$(B)/upnotifyctl: $(CTL_OBJ) $(B)/libupn.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)
$(B)/upnotify-agent: $(AGENT_OBJ) $(B)/libupnd.a $(B)/libupn.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)
# The agent's unit test links its objects but main.o, ahead of the archives.
$(B)/tests/unit/test_agent.o: UPN_CFLAGS += -Iuserspace/upnotify-agent
$(B)/tests/test_agent: $(B)/tests/unit/test_agent.o $(filter-out %/main.o,$(AGENT_OBJ)) \
		$(B)/libupnd.a $(B)/libupn.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS) -lcmocka

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libupnd.a $(B)/libupn.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS) -lcmocka

# Test and bench helpers are single-file programs.
$(B)/tests/tools/% $(B)/bench/tools/%: $(B)/libupn.a
$(B)/tests/tools/%: tests/tools/%.c $(B)/libupnd.a $(B)/libupn.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)
$(B)/bench/tools/%: bench/tools/%.c $(B)/libupnd.a $(B)/libupn.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

# libFuzzer needs clang. The sources are compiled once more, instrumented for
# coverage and the sanitizers (not the archives above, which are not), into
# build/fuzzobj/; each harness links those objects.
FUZZ_CFLAGS := $(filter-out -Werror,$(UPN_CFLAGS)) -g -O1 -fsanitize=fuzzer,address,undefined
FUZZ_OBJ_CFLAGS := $(filter-out -Werror,$(UPN_CFLAGS)) -g -O1 \
	-fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJ := $(patsubst %.c,$(B)/fuzzobj/%.o,$(LIB_SRC) $(D_SRC))
$(B)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_OBJ_CFLAGS) -Iuserspace/upnotify-agent $(PKG_CFLAGS) -MMD -MP -c -o $@ $<
$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS) -pthread
# The agent's config parser is the agent's, not the daemon's.
$(B)/fuzz/fuzz_agentconf: tests/fuzz/fuzz_agentconf.c \
		$(B)/fuzzobj/userspace/upnotify-agent/agentconf.o $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Iuserspace/upnotify-agent $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS) -pthread

deps:
	@scripts/deps.sh

unit: deps $(UNIT_BIN)
scenarios: deps all $(TOOLS_BIN)

check: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all $(UNIT_BIN) $(TOOLS_BIN) $(FUZZ_BIN)
	@tests/run

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

fuzz: deps $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
		n=$$(basename $$f); mkdir -p $(B)/fuzz/corpus-$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(B)/fuzz/corpus-$$n tests/fuzz/corpus/$$n 2>&1 | tail -n 3 || exit 1; \
	done

bench: deps
	@$(MAKE) --no-print-directory all $(TOOLS_BIN)
	@bench/run

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man4 \
		$(DESTDIR)$(SYSCONFDIR)/upnotify
	install -m 0755 $(PROGS) $(DESTDIR)$(SBINDIR)/
	install -m 0644 userspace/man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 userspace/man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 userspace/man/*.4 $(DESTDIR)$(MANDIR)/man4/
	install -m 0644 etc/upnotify.conf.example etc/recovered.txt.example \
		$(DESTDIR)$(SYSCONFDIR)/upnotify/
	install -m 0644 etc/upnotify-agent.conf \
		$(DESTDIR)$(SYSCONFDIR)/upnotify/upnotify-agent.conf.example
	install -d $(DESTDIR)$(UNITDIR)
	sed 's#/usr/local/sbin#$(SBINDIR)#' etc/upnotifyd.service > $(DESTDIR)$(UNITDIR)/upnotifyd.service

# The UAPI header keeps the tab-aligned layout of the kernel's own UAPI headers.
style:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h' | grep -v '^include/uapi/')

clean:
	rm -rf $(B)

include kmod/kmod.mk
include tests/vm/vm.mk

-include $(shell find $(B) -name '*.d' 2>/dev/null)
