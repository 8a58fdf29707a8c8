# vdagent-chardev: one Makefile, out-of-tree builds.
#
#   make                 library (.a and .so), host-side tests, fuzz targets
#                        (when clang is here)
#   make demo            install missing packages, build, run the demo
#   make check           install missing packages, build, run every suite
#   make check SANITIZE=address,undefined   the same in build-address-undefined/
#   make fuzz            libFuzzer targets (clang) in $(O)/fuzz/
#   make fuzz-smoke      replay each corpus, then fuzz each target FUZZ_SECONDS
#   make fuzz-campaign   every target at once for CAMPAIGN_SECONDS (3600)
#   make bench           throughput figures beside their baselines
#   make check-vm        a real QEMU VM with the real agent, migrated with
#                        its backend (tests/vm.sh; the guest image is built
#                        once into VM_CACHE, see the README)
#   make deps            apt-get install what is missing (no-op when complete)
#   make install         PREFIX=/usr/local DESTDIR= (BINDIR, LIBDIR,
#                        INCLUDEDIR, MANDIR, PKGCONFIGDIR too); make uninstall
#   make clean
#
# Knobs: V=1 (verbose), WERROR=0 (warnings stay warnings), O=DIR, CC=...,
#        ALLOW_SKIP=1 (make check may skip the real-agent and desktop
#        clipboard tests when the packages are missing; without it that
#        is a failure)

comma := ,
ifneq ($(SANITIZE),)
O ?= build-$(subst $(comma),-,$(SANITIZE))
else
O ?= build
endif

CC ?= cc
FUZZ_CC ?= clang
PKG_CONFIG ?= pkg-config
WERROR ?= 1
FUZZ_SECONDS ?= 30
CAMPAIGN_SECONDS ?= 3600

ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @printf '  %-6s %s\n'
endif

# Debian packages: build; tests, fuzzing and the real Linux guest agent.
DEPS_BUILD := gcc make pkg-config libglib2.0-dev libspice-protocol-dev \
              libpixman-1-dev libjson-c-dev
# glib-networking: GIO's TLS backend (the migration channel's TLS).
DEPS_BUILD += glib-networking
# libgtk-3-dev: the host program's --desktop-clipboard (not the library).
DEPS_BUILD += libgtk-3-dev
# libwayland-dev (with wayland-scanner): the same option on a Wayland
# compositor, through its data-control protocol (host/desktop-wayland.c).
DEPS_BUILD += libwayland-dev
DEPS_TEST := check clang libclang-rt-14-dev valgrind gnutls-bin \
             spice-vdagent xvfb xdotool xclip dbus
# libx11-dev: tests/tools/x-text-owner.c, built by tests/real-agent.sh.
DEPS_TEST += libx11-dev
# sway (headless) and wl-clipboard: a Wayland desktop with data-control
# and its applications, for tests/desktop-clipboard.sh's Wayland groups;
# weston: a compositor without data-control (as GNOME's), for the error.
DEPS_TEST += sway wl-clipboard weston
# check-vm: QEMU (TCG) and the guest image's tools.
DEPS_VM := qemu-system-x86 qemu-utils debootstrap
DEPS := $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_VM)

PKGS := glib-2.0 spice-protocol pixman-1 json-c
TEST_PKGS := check
# Only the host program's TLS (host/tls.c) uses GIO: the library does not.
GIO_PKGS := gio-2.0

# pkg-config runs once, and only when a build needs it (after `make deps`).
lazy = $(eval $(1) := $$(shell $(2)))$($(1))
PKG_CFLAGS = $(call lazy,PKG_CFLAGS,$(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS = $(call lazy,PKG_LIBS,$(PKG_CONFIG) --libs $(PKGS))
TEST_CFLAGS = $(call lazy,TEST_CFLAGS,$(PKG_CONFIG) --cflags $(TEST_PKGS))
TEST_LIBS = $(call lazy,TEST_LIBS,$(PKG_CONFIG) --libs $(TEST_PKGS))
GIO_CFLAGS = $(call lazy,GIO_CFLAGS,$(PKG_CONFIG) --cflags $(GIO_PKGS))
GIO_LIBS = $(call lazy,GIO_LIBS,$(PKG_CONFIG) --libs $(GIO_PKGS))
# Only the host program's desktop clipboard (host/desktop-clipboard.c)
# uses GTK: not the library, not the Check suites.
GTK_PKGS := gtk+-3.0
GTK_CFLAGS = $(call lazy,GTK_CFLAGS,$(PKG_CONFIG) --cflags $(GTK_PKGS))
GTK_LIBS = $(call lazy,GTK_LIBS,$(PKG_CONFIG) --libs $(GTK_PKGS))
# ... and on a Wayland compositor, libwayland-client with wlroots'
# data-control protocol (host/desktop-wayland.c): its client code is made
# by wayland-scanner from our description in host/protocols/.
WL_PKGS := wayland-client
WL_CFLAGS = $(call lazy,WL_CFLAGS,$(PKG_CONFIG) --cflags $(WL_PKGS))
WL_LIBS = $(call lazy,WL_LIBS,$(PKG_CONFIG) --libs $(WL_PKGS))
WAYLAND_SCANNER ?= wayland-scanner
WL_PROTOCOL := host/protocols/wlr-data-control-unstable-v1.xml
WL_GEN_H := $(O)/gen/host/wlr-data-control-unstable-v1-client.h
WL_GEN_C := $(O)/gen/host/wlr-data-control-unstable-v1-protocol.c

WARNINGS := -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes \
            -Wold-style-definition -Wvla -Wwrite-strings -Wformat=2 \
            -Wpointer-arith -Wundef -Wshadow -Wno-unused-parameter
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

OPT ?= -O2 -g
BASE_CFLAGS = -std=gnu11 $(OPT) $(WARNINGS) -fno-strict-aliasing \
              -I. $(PKG_CFLAGS)
ALL_CFLAGS = $(BASE_CFLAGS) $(SAN_FLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
             -fno-sanitize-recover=all
endif

# ---- sources -------------------------------------------------------------
LIB_SRCS := vdagent/vdagent.c vdagent/vdagent-proto.c \
            vdagent/vdagent-reader.c vdagent/vdagent-writer.c \
            vdagent/vdagent-lineend.c \
            vdagent/vdagent-clipboard.c vdagent/vdagent-mouse.c \
            vdagent/vdagent-file-xfer.c \
            vdagent/vdagent-vmstate.c vdagent/vdagent-version.c \
            clipboard/clipboard.c clipboard/clipboard-vmstate.c \
            clipboard/clipboard-live.c input/input.c \
            migration/channel.c migration/migration-stream.c \
            migration/json-scan.c \
            migration/vmstate.c migration/savevm.c
TEST_SUPPORT_SRCS := tests/guest-agent.c tests/test-util.c
CHECK_SRCS := tests/check_main.c tests/test-frontend.c tests/test-peer.c \
              tests/test-vmdesc.c \
              tests/check_guest_agent.c \
              tests/check_reader_fixture.c tests/check_reader_framing.c \
              tests/check_reader_sizes.c tests/check_reader_reset.c \
              tests/check_reader_recycle.c \
              tests/check_writer.c tests/check_device.c \
              tests/check_input.c tests/check_vdagent_mouse.c \
              tests/check_vdagent_file_xfer.c \
              tests/check_vdagent_dispatch.c \
              tests/check_clipboard_fixture.c tests/check_clipboard_peers.c \
              tests/check_clipboard_grabs.c tests/check_clipboard_requests.c \
              tests/check_clipboard_infos.c \
              tests/check_vdagent_clipboard_fixture.c \
              tests/check_vdagent_clipboard_grabs.c \
              tests/check_vdagent_clipboard_requests.c \
              tests/check_vdagent_clipboard_session.c \
              tests/check_vdagent_clipboard_data.c \
              tests/check_vdagent_clipboard_models.c \
              tests/check_vmstate_fixture.c tests/check_vmstate_bytes.c \
              tests/check_vmstate_bad.c tests/check_vmstate_stream.c \
              tests/check_qmp_fixture.c tests/check_qmp_protocol.c \
              tests/check_qmp_input.c tests/check_qmp_clients.c \
              tests/check_qmp_commands.c \
              tests/check_vdagent_migration_fixture.c \
              tests/check_vdagent_migration_canonical.c \
              tests/check_vdagent_migration_offsets.c \
              tests/check_vdagent_migration_state.c \
              tests/check_vdagent_state_blob.c \
              tests/check_vdagent_migration_output.c \
              tests/check_vdagent_migration_bad.c \
              tests/check_host_migrate.c tests/test-host.c \
              tests/check_migration_channel.c \
              tests/check_json_scan.c tests/check_qmp_hostile.c \
              tests/check_migration_hostile.c tests/check_host_channel.c \
              tests/check_vdagent_reentry.c \
              tests/check_vdagent_migration_reachable.c \
              tests/check_host_seam.c tests/check_migration_live.c \
              tests/check_host_live.c tests/check_vdagent_migration_live.c
BENCH_SRCS := tests/bench.c
FUZZ_TARGETS := reader loader device live
FUZZ_replay_SRCS := tests/fuzz/replay.c
# Shared by the fuzz targets (the loaders' device checks); linked into each.
FUZZ_SUPPORT_SRCS := tests/fuzz/loader-checks.c

HOST_SRCS := host/main.c host/commands.c host/clipboard-peer.c host/guest.c \
             host/file-xfer.c host/prefault.c host/sealed.c \
             host/migrate.c host/host.c host/qmp.c host/tls.c \
             host/desktop-clipboard.c host/desktop-wayland.c \
             host/desktop-common.c
# The host program's parts the Check suites test directly: the QMP
# protocol and the commands' arguments, the migration entry points over
# the bottom host.c, and the guest transport (the seam suite).
CHECK_HOST_SRCS := host/qmp.c host/host.c host/migrate.c host/guest.c \
                   host/commands.c host/clipboard-peer.c host/tls.c \
                   host/file-xfer.c host/prefault.c host/sealed.c
SIM_SRCS := tests/tools/sim-agent.c tests/tools/sim-transport.c \
            tests/tools/sim-session.c tests/tools/sim-control.c \
            tests/tools/sim-log.c
VDCTL_SRCS := tests/tools/vdctl.c
RAWCOPY_SRCS := tests/tools/rawcopy.c
TLSPEER_SRCS := tests/tools/tls-peer.c

LIB := $(O)/libvdagent-chardev.a
HOST_BIN := $(O)/vdagent-host
SIM_BIN := $(O)/sim-agent
VDCTL_BIN := $(O)/vdctl
RAWCOPY_BIN := $(O)/rawcopy
TLSPEER_BIN := $(O)/tls-peer
CHECK_BIN := $(O)/tests/check-vdagent
BENCH_BIN := $(O)/tests/bench
BENCH_PEER_BIN := $(O)/tests/bench-peer
REPLAY_BINS := $(FUZZ_TARGETS:%=$(O)/fuzz-replay/%)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(O)/fuzz/fuzz-%)

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))
fuzzobj = $(patsubst %.c,$(O)/fuzz/obj/%.o,$(1))
LIB_OBJS := $(patsubst %.c,$(O)/pic/%.o,$(LIB_SRCS))

HAVE_CLANG := $(shell command -v $(FUZZ_CC) >/dev/null 2>&1 && echo 1)

.SECONDARY:
.PHONY: all lib host tests demo fuzz fuzz-smoke fuzz-campaign check check-run bench deps clean \
        install uninstall
.DEFAULT_GOAL := all

all: lib host tests
ifeq ($(HAVE_CLANG),1)
all: fuzz
endif

lib: $(LIB)
host: $(HOST_BIN) $(SIM_BIN) $(VDCTL_BIN) $(TLSPEER_BIN)
tests: host $(CHECK_BIN) $(BENCH_BIN) $(BENCH_PEER_BIN) $(REPLAY_BINS)

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) $(XCFLAGS) -MMD -MP -c -o $@ $<

$(O)/obj/tests/%.o: XCFLAGS = $(TEST_CFLAGS)
$(O)/obj/host/tls.o: XCFLAGS = $(GIO_CFLAGS)
$(O)/obj/host/desktop-clipboard.o: XCFLAGS = $(GTK_CFLAGS)
$(O)/obj/host/desktop-wayland.o: XCFLAGS = $(WL_CFLAGS) -I$(O)/gen
$(O)/obj/host/desktop-wayland.o: $(WL_GEN_H)

$(WL_GEN_H): $(WL_PROTOCOL)
	@mkdir -p $(dir $@)
	$(quiet) GEN $@
	$(Q)$(WAYLAND_SCANNER) client-header $< $@
$(WL_GEN_C): $(WL_PROTOCOL)
	@mkdir -p $(dir $@)
	$(quiet) GEN $@
	$(Q)$(WAYLAND_SCANNER) private-code $< $@
$(O)/obj/gen/%.o: $(O)/gen/%.c
	@mkdir -p $(dir $@)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) $(WL_CFLAGS) -c -o $@ $<
$(O)/obj/tests/tools/tls-peer.o: XCFLAGS = $(GIO_CFLAGS)

$(LIB): $(LIB_OBJS)
	$(quiet) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(HOST_BIN): $(call obj,$(HOST_SRCS)) $(O)/obj/gen/host/wlr-data-control-unstable-v1-protocol.o $(LIB)
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(GTK_LIBS) $(WL_LIBS) $(GIO_LIBS) $(PKG_LIBS) -lm

$(SIM_BIN): $(call obj,$(SIM_SRCS) $(TEST_SUPPORT_SRCS))
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(VDCTL_BIN): $(call obj,$(VDCTL_SRCS))
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(RAWCOPY_BIN): $(call obj,$(RAWCOPY_SRCS))
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(CHECK_BIN): $(call obj,$(CHECK_SRCS) $(TEST_SUPPORT_SRCS) $(CHECK_HOST_SRCS)) $(LIB)
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(GIO_LIBS) $(PKG_LIBS) -lm

$(TLSPEER_BIN): $(call obj,$(TLSPEER_SRCS))
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(GIO_LIBS)

$(BENCH_BIN): $(call obj,$(BENCH_SRCS) $(TEST_SUPPORT_SRCS)) $(LIB)
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BENCH_PEER_BIN): $(call obj,tests/bench-peer.c)
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^

# gcc replay drivers: a plain main() feeding corpus files to the target.
$(O)/fuzz-replay/%: $(call obj,tests/fuzz/replay.c) $(O)/obj/tests/fuzz/fuzz_%.o \
                    $(call obj,$(FUZZ_SUPPORT_SRCS) $(TEST_SUPPORT_SRCS)) $(LIB)
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# ---- the installable library: shared object, install, version -----------
# (issue 15)  One place for the version, the public headers and the
# exported names' prefixes: the SONAME, the pkg-config file, the linker
# version script, the symbol test and vdagent/vdc-version.h (checked
# by the test) all follow these lines.
VERSION_MAJOR := 2
VERSION_MINOR := 0
VERSION_MICRO := 0
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_MICRO)

# The API an embedding includes: installed under
# $(INCLUDEDIR)/vdagent-chardev/ with their room (vdagent/, clipboard/...),
# since they include each other as "clipboard/vdc-clipboard.h".  The shared
# library exports what they declare, and nothing else.  Not public: the
# reader/writer and wire internals, vdagent-internal.h, vdagent-vmstate.h,
# migration's channel, json-scan and internal headers, host/.
PUBLIC_HEADERS := vdagent/vdc-vdagent.h vdagent/vdc-proto.h \
                  vdagent/vdc-file-xfer.h \
                  vdagent/vdc-version.h \
                  clipboard/vdc-clipboard.h clipboard/vdc-clipboard-vmstate.h \
                  input/vdc-input.h \
                  migration/vdc-savevm.h migration/vdc-vmstate.h \
                  migration/vdc-stream.h
# One prefix family (README "Names"), held by tests/check-symbols.sh:
# every exported symbol starts with PUBLIC_PREFIXES, every name a public
# header defines with NAME_PREFIXES, every public header's file name with
# HEADER_PREFIX.  The version script's node is VERSION_NODE.
PUBLIC_PREFIXES := vdc_
NAME_PREFIXES := vdc_ Vdc VDC_
HEADER_PREFIX := vdc-
VERSION_NODE := VDC_$(VERSION_MAJOR)

SO_BASE := libvdagent-chardev.so
SO_NAME := $(SO_BASE).$(VERSION_MAJOR)
SO := $(O)/$(SO_BASE).$(VERSION)
SO_MAP := $(O)/libvdagent-chardev.map
lib: $(SO)

# One set of -fPIC objects (LIB_OBJS, in $(O)/pic/) for both the archive
# and the shared object.
$(O)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -MMD -MP -c -o $@ $<

# The version script: the library's global definitions that the public
# headers name (comments stripped), each listed; everything else local.
$(SO_MAP): $(LIB_OBJS) $(PUBLIC_HEADERS) Makefile
	$(quiet) GEN $@
	$(Q)set -e; export LC_ALL=C; \
	for h in $(PUBLIC_HEADERS); do $(CC) -fpreprocessed -dD -E -P $$h; done \
	  | grep -o '[A-Za-z_][A-Za-z0-9_]*' | sort -u > $@.names; \
	nm -g --defined-only $(LIB_OBJS) | awk 'NF == 3 { print $$3 }' \
	  | sort -u > $@.defs; \
	{ echo "$(VERSION_NODE) {"; echo "global:"; \
	  comm -12 $@.names $@.defs | sed 's/.*/    &;/'; \
	  echo "local:"; echo "    *;"; echo "};"; } > $@.tmp; \
	rm -f $@.names $@.defs; mv $@.tmp $@

# Sanitizer runtimes are resolved by the program, not the library.
SO_NO_UNDEFINED := $(if $(SANITIZE),,-Wl$(comma)--no-undefined)

$(SO): $(LIB_OBJS) $(SO_MAP)
	$(quiet) LINK $@
	$(Q)$(CC) -shared -Wl,-soname,$(SO_NAME) \
	  -Wl,--version-script=$(SO_MAP) $(SO_NO_UNDEFINED) $(ALL_LDFLAGS) \
	  -o $@ $(LIB_OBJS) $(PKG_LIBS)
	$(Q)ln -sf $(notdir $@) $(O)/$(SO_NAME) && ln -sf $(SO_NAME) $(O)/$(SO_BASE)

# make install PREFIX=/usr/local DESTDIR=... (every directory overridable)
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
PC := $(O)/vdagent-chardev.pc
# The pkg-config file's paths, relative to its prefix when under it.
pcdir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
# What the public headers include: <glib.h>, <spice/vd_agent.h>,
# <pixman.h> and <json-c/json.h> (migration/vdc-vmstate.h).  All four are in
# Requires, so nothing is left for Requires.private.
PC_REQUIRES := glib-2.0 spice-protocol pixman-1 json-c

# Rewritten on every install: it depends on PREFIX and LIBDIR.
.PHONY: $(PC)
$(PC):
	@mkdir -p $(dir $@)
	$(Q){ echo 'prefix=$(PREFIX)'; \
	  echo 'libdir=$(call pcdir,$(LIBDIR))'; \
	  echo 'includedir=$(call pcdir,$(INCLUDEDIR))'; echo; \
	  echo 'Name: vdagent-chardev'; \
	  echo 'Description: host side of the SPICE guest-agent channel, as a character device'; \
	  echo 'Version: $(VERSION)'; \
	  echo 'Requires: $(PC_REQUIRES)'; \
	  echo 'Cflags: -I$${includedir}/vdagent-chardev'; \
	  echo 'Libs: -L$${libdir} -lvdagent-chardev'; } > $@

install: $(LIB) $(SO) $(HOST_BIN) $(PC)
	$(quiet) INSTALL $(DESTDIR)$(PREFIX)
	$(Q)set -e; \
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	  $(DESTDIR)$(MANDIR)/man1; \
	install -m 755 $(HOST_BIN) $(DESTDIR)$(BINDIR)/vdagent-host; \
	for h in $(PUBLIC_HEADERS); do \
	  install -d $(DESTDIR)$(INCLUDEDIR)/vdagent-chardev/$$(dirname $$h); \
	  install -m 644 $$h $(DESTDIR)$(INCLUDEDIR)/vdagent-chardev/$$h; \
	done; \
	install -m 755 $(SO) $(DESTDIR)$(LIBDIR)/; \
	ln -sf $(notdir $(SO)) $(DESTDIR)$(LIBDIR)/$(SO_NAME); \
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/$(SO_BASE); \
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/; \
	install -m 644 $(PC) $(DESTDIR)$(PKGCONFIGDIR)/; \
	sed '/^\.TH /s/"vdagent-chardev [^"]*"/"vdagent-chardev $(VERSION)"/' \
	  host/vdagent-host.1 > $(DESTDIR)$(MANDIR)/man1/vdagent-host.1; \
	chmod 644 $(DESTDIR)$(MANDIR)/man1/vdagent-host.1

# Exactly what install put; of the directories, only our include folder.
uninstall:
	$(quiet) UNINST $(DESTDIR)$(PREFIX)
	$(Q)set -e; \
	rm -f $(DESTDIR)$(BINDIR)/vdagent-host $(DESTDIR)$(LIBDIR)/$(notdir $(SO)) \
	  $(DESTDIR)$(LIBDIR)/$(SO_NAME) $(DESTDIR)$(LIBDIR)/$(SO_BASE) \
	  $(DESTDIR)$(LIBDIR)/$(notdir $(LIB)) $(DESTDIR)$(PKGCONFIGDIR)/vdagent-chardev.pc \
	  $(DESTDIR)$(MANDIR)/man1/vdagent-host.1; \
	for h in $(PUBLIC_HEADERS); do \
	  rm -f $(DESTDIR)$(INCLUDEDIR)/vdagent-chardev/$$h; \
	done; \
	for d in $(sort $(dir $(PUBLIC_HEADERS))); do \
	  rmdir $(DESTDIR)$(INCLUDEDIR)/vdagent-chardev/$$d 2>/dev/null || true; \
	done; \
	rmdir $(DESTDIR)$(INCLUDEDIR)/vdagent-chardev 2>/dev/null || true

# make check: the exported symbols, then a staged install under
# $(O)/stage built against as an embedder would (examples/embed.c).
LIB_TEST_ENV = PUBLIC_HEADERS="$(PUBLIC_HEADERS)" \
  PUBLIC_PREFIXES="$(PUBLIC_PREFIXES)" NAME_PREFIXES="$(NAME_PREFIXES)" \
  HEADER_PREFIX=$(HEADER_PREFIX) VERSION_NODE=$(VERSION_NODE) \
  VERSION_MAJOR=$(VERSION_MAJOR) VERSION_MINOR=$(VERSION_MINOR) \
  VERSION_MICRO=$(VERSION_MICRO) SO_NAME=$(SO_NAME) \
  CC="$(CC)" PKG_CFLAGS="$(PKG_CFLAGS)" EXAMPLE_FLAGS="$(SAN_FLAGS)"
.PHONY: check-lib
check-lib: $(SO) $(LIB) $(HOST_BIN) $(SIM_BIN) $(VDCTL_BIN)
	$(Q)echo "== the shared library's symbols, a staged install, the embedding example"
	$(Q)$(LIB_TEST_ENV) bash tests/check-symbols.sh $(O)
	$(Q)$(LIB_TEST_ENV) bash tests/check-install.sh $(O)
check-run: check-lib

# ---- libFuzzer (clang) ---------------------------------------------------
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined \
              -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=gnu11 -O1 -g $(WARNINGS) -fno-strict-aliasing \
              -I. $(PKG_CFLAGS) \
              $(FUZZ_FLAGS) -DVDAGENT_FUZZING

$(O)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(quiet) FUZZCC $<
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(O)/fuzz/fuzz-%: $(O)/fuzz/obj/tests/fuzz/fuzz_%.o \
                  $(call fuzzobj,$(LIB_SRCS) $(FUZZ_SUPPORT_SRCS) $(TEST_SUPPORT_SRCS))
	$(quiet) LINK $@
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) -lm

fuzz: $(FUZZ_BINS)

# Replay the committed corpus, then fuzz each target for FUZZ_SECONDS with
# a scratch output corpus (the committed one is never modified).
fuzz-smoke: fuzz
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
	  scratch=$$(mktemp -d); \
	  echo "== fuzz $$t: replay tests/fuzz/corpus/$$t"; \
	  $(O)/fuzz/fuzz-$$t -runs=0 -rss_limit_mb=2048 tests/fuzz/corpus/$$t; \
	  echo "== fuzz $$t: $(FUZZ_SECONDS) s"; \
	  $(O)/fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	     -malloc_limit_mb=1024 -dict=tests/fuzz/$$t.dict -seed=1 \
	     $$scratch tests/fuzz/corpus/$$t; \
	  rm -rf $$scratch; \
	done

# A campaign: every target in parallel for CAMPAIGN_SECONDS on working
# corpora under $(O)/campaign/, a summary at the end (tests/fuzz/campaign.sh).
fuzz-campaign: fuzz
	$(Q)bash tests/fuzz/campaign.sh $(O) $(CAMPAIGN_SECONDS)

# ---- running -------------------------------------------------------------
# check and bench install what is missing first, then re-enter make so
# that pkg-config sees the installed packages.
check: deps
	$(Q)$(MAKE) --no-print-directory check-run

check-run: tests
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
	  echo "== replay corpus tests/fuzz/corpus/$$t"; \
	  $(O)/fuzz-replay/$$t tests/fuzz/corpus/$$t; \
	done
	$(Q)echo "== integration tests (vdagent-host, sim-agent, real sockets)"
	$(Q)bash tests/integration.sh $(O)
	$(Q)echo "== the real Linux guest agent (spice-vdagentd + spice-vdagent under Xvfb)"
	$(Q)ALLOW_SKIP=$(ALLOW_SKIP) bash tests/real-agent.sh $(O)
	$(Q)echo "== the host desktop's clipboard (--desktop-clipboard: Xvfb and xclip, sway and wl-clipboard; sim-agent and the real agent)"
	$(Q)ALLOW_SKIP=$(ALLOW_SKIP) bash tests/desktop-clipboard.sh $(O)
	$(Q)G_SLICE=always-malloc TEST_DATA_DIR=tests/data $(CHECK_BIN)

# The real emulator: QEMU 7.2 boots the cached guest image, the real agent
# inside connects to vdagent-host, the VM live-migrates with its backend.
.PHONY: check-vm
check-vm: deps
	$(Q)$(MAKE) --no-print-directory host
	$(Q)ALLOW_SKIP=$(ALLOW_SKIP) bash tests/vm.sh $(O)

# The README's first command: the host program against the built-in guest
# agent, clipboard both ways, pointer, and a live migration.
demo: deps
	$(Q)$(MAKE) --no-print-directory host
	$(Q)bash tests/demo.sh $(O)

bench: deps
	$(Q)$(MAKE) --no-print-directory $(BENCH_BIN) $(RAWCOPY_BIN) $(BENCH_PEER_BIN) host
	$(Q)$(BENCH_BIN)
	$(Q)bash tests/bench-host.sh $(O)

deps:
	$(Q)missing=""; for p in $(DEPS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	    || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "== installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q $$missing; \
	fi

clean:
	rm -rf build build-*

-include $(shell find $(O) -name '*.d' 2>/dev/null)
