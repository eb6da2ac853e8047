# comfysecrets - one Makefile, everything built out of tree in $(BUILD).
# `make help` lists every target and every knob (the text is HELP, below).

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
ifeq ($(SANITIZE),1)
BUILD	?= build/san
else
BUILD	?= build
endif

# Flags the project needs are CS_*; CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS are the user's
# and come after them, so `make CFLAGS=-O0` changes the optimisation and keeps -std,
# -Werror, the dependency files and the library include paths.
# -Wmissing-prototypes is the check that every function that is not static is declared
# in a header seen before its definition (its module's own header): the exported
# surface is exactly what the headers document, and a helper meant to be file-local
# must say static. tests/integration/exports.sh checks the same from the objects' symbols
# (nm), which also catches a prototype written in a .c file.
PKGS	:= fuse3 libsodium jansson inih libsystemd
CFLAGS	?= -O2 -g
CS_CFLAGS := -std=c11 -Wall -Wextra -Werror -Wmissing-prototypes -D_GNU_SOURCE -MMD -MP \
	   $(shell pkg-config --cflags $(PKGS))
CS_LDFLAGS :=
CS_LDLIBS := $(shell pkg-config --libs $(PKGS))
# libcurl is the etcd client's transport (fleet/): linked into the CLI and the suites that
# test the client only, so comfysecretsfs stays without network code.
FLEET_CFLAGS := $(shell pkg-config --cflags libcurl)
FLEET_LDLIBS := $(shell pkg-config --libs libcurl)
TEST_CFLAGS := $(shell pkg-config --cflags cmocka)
TEST_LDLIBS := $(shell pkg-config --libs cmocka)
ifeq ($(SANITIZE),1)
CS_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CS_LDFLAGS += -fsanitize=address,undefined
endif
COMPILE	= $(CC) $(CS_CFLAGS) $(CPPFLAGS) $(CFLAGS)
LINK	= $(CC) $(CS_LDFLAGS) $(LDFLAGS)

LIB_SRC	:= $(wildcard base/*.c crypto/*.c policy/*.c)
CLI_SRC	:= $(wildcard cli/*.c)
FLEET_SRC := $(wildcard fleet/*.c)
FS_SRC	:= $(wildcard fs/*.c)
FSLIB_SRC := $(filter-out fs/main.c,$(FS_SRC))
TEST_SRC := $(wildcard tests/test_*.c)

LIB_OBJ	:= $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ	:= $(CLI_SRC:%.c=$(BUILD)/%.o)
FLEET_OBJ := $(FLEET_SRC:%.c=$(BUILD)/%.o)
FS_OBJ	:= $(FS_SRC:%.c=$(BUILD)/%.o)
FSLIB_OBJ := $(FSLIB_SRC:%.c=$(BUILD)/%.o)
TESTS	:= $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_OBJ := $(TESTS:=.o)
TESTUTIL_OBJ := $(BUILD)/tests/testutil.o
TOOLS	:= $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))
MANPAGES := $(patsubst man/%.scd,$(BUILD)/man/%,$(wildcard man/*.scd))
BENCH_BINS := $(BUILD)/bench/benchtool $(BUILD)/bench/floorfs $(BUILD)/bench/mkvault \
	   $(BUILD)/bench/scale $(BUILD)/bench/callerid $(BUILD)/bench/auditcost

BINS	:= $(BUILD)/comfysecrets
ifneq ($(FS_SRC),)
BINS	+= $(BUILD)/comfysecretsfs
endif

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BUILD ?= build/fuzz
FUZZ	:= $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_CC	?= clang
FUZZ_SECONDS ?= 20

# Test selection (tests/run --only): T names unit suites and scripts, CASE the cmocka
# cases (CS_TEST, read by tests/testutil.c).
RUN_ARGS = $(if $(T),--only '$(T)')
RUN_ENV	= BUILD=$(BUILD) SANITIZE=$(SANITIZE) $(if $(CASE),CS_TEST='$(CASE)')

.PHONY: all check unit integration install uninstall clean demo deps fuzz fuzz-smoke
.PHONY: man check-system check-all help lint
all: $(BINS)

# Test objects are not intermediate files: without this, make deletes them after each
# link and rebuilds every suite on the next run.
.SECONDARY: $(TEST_OBJ) $(TESTUTIL_OBJ)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(COMPILE) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(COMPILE) $(TEST_CFLAGS) -c $< -o $@

$(BUILD)/fleet/%.o: fleet/%.c
	@mkdir -p $(@D)
	$(COMPILE) $(FLEET_CFLAGS) -c $< -o $@

$(BUILD)/comfysecrets: $(CLI_OBJ) $(FLEET_OBJ) $(LIB_OBJ)
	$(LINK) -o $@ $^ $(CS_LDLIBS) $(FLEET_LDLIBS) $(LDLIBS)

$(BUILD)/comfysecretsfs: $(FS_OBJ) $(LIB_OBJ)
	$(LINK) -o $@ $^ $(CS_LDLIBS) $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(TESTUTIL_OBJ) $(LIB_OBJ) $(FSLIB_OBJ)
	$(LINK) -o $@ $^ $(CS_LDLIBS) $(LDLIBS) $(TEST_LDLIBS)

# The change source of watch and run lives in cli/; its suite links it too.
$(BUILD)/tests/test_watchsrc: $(BUILD)/cli/watchsrc.o

# The fleet's suites (tests/test_etcd*.c, test_fleet*.c) link fleet/ and libcurl.
FLEET_TESTS := $(filter $(BUILD)/tests/test_etcd% $(BUILD)/tests/test_fleet%,$(TESTS))
$(FLEET_TESTS): $(FLEET_OBJ)
$(FLEET_TESTS): TEST_LDLIBS += $(FLEET_LDLIBS)

$(BUILD)/tests/tools/%: tests/tools/%.c
	@mkdir -p $(@D)
	$(COMPILE) $(CS_LDFLAGS) $(LDFLAGS) -o $@ $< $(CS_LDLIBS) $(LDLIBS)

# Tools that drive the etcd client (tests/tools/etcd*.c) link fleet/ and the library.
$(BUILD)/tests/tools/etcd%: tests/tools/etcd%.c $(FLEET_OBJ) $(LIB_OBJ)
	@mkdir -p $(@D)
	$(COMPILE) $(FLEET_CFLAGS) $(CS_LDFLAGS) $(LDFLAGS) -o $@ $< $(FLEET_OBJ) $(LIB_OBJ) \
	    $(CS_LDLIBS) $(FLEET_LDLIBS) $(LDLIBS)

# The whole suite: unit binaries, then the integration and system scripts; one summary
# line. T=NAME... runs only those (tests/run --only); CASE=GLOB only those cmocka cases.
check: $(BINS) $(TESTS) $(TOOLS) $(MANPAGES)
	@$(RUN_ENV) sh tests/run $(RUN_ARGS) $(TESTS)

# What .ci/run and the README's test command run: the lint, the suite with a 60 s soak
# and the daemon under valgrind (valgrind_suite.sh), then all of it again under
# ASan + UBSan.
check-all: lint
	SOAK_SECONDS=60 $(MAKE) check
	$(MAKE) check SANITIZE=1

unit: $(TESTS)
	@$(RUN_ENV) sh tests/run --unit-only $(RUN_ARGS) $(TESTS)

integration: $(BINS) $(TOOLS)
	@$(RUN_ENV) sh tests/run --scripts tests/integration $(RUN_ARGS)

# cppcheck and shellcheck; what they check and why is in scripts/lint.
lint:
	@sh scripts/lint

# libFuzzer targets (clang, ASan + UBSan), one per parser and verifier; see tests/fuzz/.
# The library is compiled once per FUZZ_BUILD (instrumented), then linked into each target.
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=address,undefined \
	   -fno-sanitize-recover=all -MMD -MP $(shell pkg-config --cflags $(PKGS))
# The fleet's manifest reader too (fuzz_manifest): what a member parses of what etcd
# serves. It needs nothing of libcurl, unlike the rest of fleet/.
FUZZ_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/fleet/manifest.o
.SECONDARY: $(FUZZ_OBJ)

fuzz: $(FUZZ)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_OBJ)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(CS_LDLIBS)

# Each target for FUZZ_SECONDS from its seed corpus and dictionary (tests/fuzz/smoke.sh);
# a crash fails the run and leaves the input in $(FUZZ_BUILD)/crash-NAME-*.
fuzz-smoke: $(FUZZ)
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/smoke.sh $(FUZZ)

deps:
	sh scripts/install-deps

demo: $(BINS)
	@BUILD=$(BUILD) sh scripts/demo

# Install layout (docs/deploy.md). /etc is not under PREFIX; the example config is
# installed only where none exists, and uninstall removes it only while it is unchanged.
# comfysecretsfs must stay on the shell's default PATH for `mount -t fuse.comfysecretsfs`
# (mount(8) clears PATH): /usr/local/sbin and /usr/sbin are.
SYSCONFDIR ?= /etc
MANDIR	?= $(PREFIX)/share/man
DOCDIR	?= $(PREFIX)/share/doc/comfysecrets
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
ifeq ($(PREFIX),/usr)
SYSTEMDUNITDIR ?= /lib/systemd/system
else
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
endif
INSTALL_DOCS := systemd/fstab.example examples/compose.yaml examples/docker-run.sh \
	   examples/pod-hostpath.yaml examples/credential.conf examples/comfysecrets.ini
ETCCONF	:= $(DESTDIR)$(SYSCONFDIR)/comfysecrets/comfysecrets.ini
ETCLOGROTATE := $(DESTDIR)$(SYSCONFDIR)/logrotate.d/comfysecrets

install: $(BINS) $(MANPAGES)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(DOCDIR)
	install -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/comfysecrets
	install -m 0755 $(BUILD)/comfysecrets $(DESTDIR)$(BINDIR)/comfysecrets
	[ ! -f $(BUILD)/comfysecretsfs ] || install -m 0755 $(BUILD)/comfysecretsfs $(DESTDIR)$(SBINDIR)/comfysecretsfs
	install -m 0644 $(BUILD)/man/comfysecrets.1 $(DESTDIR)$(MANDIR)/man1/comfysecrets.1
	install -m 0644 $(BUILD)/man/comfysecrets.ini.5 $(DESTDIR)$(MANDIR)/man5/comfysecrets.ini.5
	install -m 0644 $(BUILD)/man/comfysecretsfs.8 $(DESTDIR)$(MANDIR)/man8/comfysecretsfs.8
	sed 's|@SBINDIR@|$(SBINDIR)|g' systemd/comfysecrets.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/comfysecrets.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/comfysecrets.service
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/comfysecrets-watch@.service.in >'$(DESTDIR)$(SYSTEMDUNITDIR)/comfysecrets-watch@.service'
	chmod 0644 '$(DESTDIR)$(SYSTEMDUNITDIR)/comfysecrets-watch@.service'
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/comfysecrets-fleet.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/comfysecrets-fleet.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/comfysecrets-fleet.service
	install -m 0644 systemd/run-comfysecrets.mount $(DESTDIR)$(SYSTEMDUNITDIR)/run-comfysecrets.mount
	install -m 0644 systemd/comfysecrets.tmpfiles $(DESTDIR)$(TMPFILESDIR)/comfysecrets.conf
	@if [ -e $(ETCLOGROTATE) ] && ! cmp -s logrotate/comfysecrets $(ETCLOGROTATE); then \
	    echo "install: kept $(ETCLOGROTATE) (changed since install)"; \
	else install -D -m 0644 logrotate/comfysecrets $(ETCLOGROTATE); fi
	install -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/
	@if [ -e $(ETCCONF) ]; then echo "install: kept $(ETCCONF)"; \
	else install -m 0600 examples/comfysecrets.ini $(ETCCONF); fi
	@case "$(SBINDIR)" in /usr/local/sbin|/usr/local/bin|/usr/sbin|/usr/bin|/sbin|/bin) ;; \
	*) echo "install: note: mount -t fuse.comfysecretsfs finds comfysecretsfs only in /usr/local/sbin, /usr/sbin, /sbin (...): link it there";; esac

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/comfysecrets $(DESTDIR)$(SBINDIR)/comfysecretsfs
	rm -f $(DESTDIR)$(MANDIR)/man1/comfysecrets.1 $(DESTDIR)$(MANDIR)/man5/comfysecrets.ini.5 \
	    $(DESTDIR)$(MANDIR)/man8/comfysecretsfs.8
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/comfysecrets.service $(DESTDIR)$(SYSTEMDUNITDIR)/run-comfysecrets.mount
	rm -f '$(DESTDIR)$(SYSTEMDUNITDIR)/comfysecrets-watch@.service'
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/comfysecrets-fleet.service
	rm -f $(DESTDIR)$(TMPFILESDIR)/comfysecrets.conf
	@if cmp -s logrotate/comfysecrets $(ETCLOGROTATE); then rm -f $(ETCLOGROTATE); \
	elif [ -e $(ETCLOGROTATE) ]; then echo "uninstall: kept $(ETCLOGROTATE) (changed since install)"; fi
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(INSTALL_DOCS)))
	@rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	@if cmp -s examples/comfysecrets.ini $(ETCCONF); then rm -f $(ETCCONF); \
	elif [ -e $(ETCCONF) ]; then echo "uninstall: kept $(ETCCONF) (changed since install)"; fi
	@rmdir $(DESTDIR)$(SYSCONFDIR)/comfysecrets 2>/dev/null || \
	    ! [ -d $(DESTDIR)$(SYSCONFDIR)/comfysecrets ] || echo "uninstall: kept $(DESTDIR)$(SYSCONFDIR)/comfysecrets (not empty: key, config)"

# Man pages from their scdoc sources.
man: $(MANPAGES)

$(BUILD)/man/%: man/%.scd
	@mkdir -p $(@D)
	scdoc <$< >$@.tmp && mv $@.tmp $@

# Install, units (also under a real systemd), man pages, the mount helper and a
# bubblewrap container (tests/system/*.sh; root and /dev/fuse to mount, else SKIPPED).
check-system: $(BINS) $(MANPAGES)
	@BUILD=$(BUILD) sh tests/run --scripts tests/system

# Benchmarks against the peers (bench/README.md): make bench [QUICK=1]. Never part of
# check. The programs are built with the project's flags; results go to build/bench/.
.PHONY: bench
bench: $(BINS) $(BENCH_BINS)
	sh scripts/install-bench-deps
	python3 bench/run --build $(BUILD) --out build/bench $(if $(filter 1,$(QUICK)),--quick)
	python3 bench/consumers --build $(BUILD) --out build/bench $(if $(filter 1,$(QUICK)),--quick)

$(BUILD)/bench/%: bench/%.c $(LIB_OBJ)
	@mkdir -p $(@D)
	$(COMPILE) $(CS_LDFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(CS_LDLIBS) $(LDLIBS)

# scale measures the daemon's tree as well as the vault; callerid and auditcost, fs/caller.c.
$(BUILD)/bench/scale $(BUILD)/bench/callerid $(BUILD)/bench/auditcost: $(BUILD)/bench/%: bench/%.c $(LIB_OBJ) $(FSLIB_OBJ)
	@mkdir -p $(@D)
	$(COMPILE) $(CS_LDFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(FSLIB_OBJ) $(CS_LDLIBS) $(LDLIBS)

clean:
	rm -rf build

define HELP
Targets (everything is built under BUILD):
  all (default)   build/comfysecrets and build/comfysecretsfs
  check           every unit suite, integration script and system script (mounts for
                  real, installs into temporary folders); ends "N passed, N failed, N skipped"
  check-all       what CI runs (.ci/run): lint, check with a 60 s soak, check SANITIZE=1
  unit            the cmocka suites only (build/tests/test_*)
  integration     tests/integration/*.sh only
  check-system    tests/system/*.sh only (install, units, mount helper, container)
  lint            cppcheck and shellcheck (scripts/lint; under a minute)
  man             the man pages from man/*.scd into BUILD/man
  fuzz            the libFuzzer targets into FUZZ_BUILD (clang)
  fuzz-smoke      each fuzz target for FUZZ_SECONDS from its corpus
  bench           the benchmarks (bench/README.md); never part of check
  demo            a demo vault under build/demo, mounted, read, audited, unmounted
  install         binaries, man pages, units (also comfysecrets-watch@.service),
                  examples under DESTDIR/PREFIX
  uninstall       what install put there (a changed config is kept)
  deps            scripts/install-deps: the Debian packages, only those missing
  clean           rm -rf build
  help            this text
Knobs (make VAR=value ...):
  T=NAME...       check/unit/integration: only these suites or scripts, by name or
                  shell glob (test_vault, fs_basic, 'fs_*'); a name matching nothing fails
  CASE=GLOB       only the cmocka cases matching GLOB (make unit T=test_vault CASE='*swapped*')
  SANITIZE=1      ASan + UBSan, in build/san
  BUILD=DIR       build folder (build, or build/san with SANITIZE=1)
  CFLAGS=...      optimisation and debug flags (default -O2 -g); the project's own flags
                  (-std=c11 -Werror ..., CS_CFLAGS) are always added; also CPPFLAGS,
                  LDFLAGS, LDLIBS, CC
  SOAK_SECONDS=N  length of the soak in check (20; check-all uses 60)
  SCRIPT_TIMEOUT=N  seconds before tests/run kills one suite or script (1800)
  FUZZ_SECONDS=N  fuzz-smoke time per target (20; check's fuzz_replay.sh uses 5)
  FUZZ_CC, FUZZ_BUILD  compiler (clang) and folder (build/fuzz) for the fuzz targets
  QUICK=1         bench: the short run
  PREFIX, DESTDIR, BINDIR, SBINDIR, SYSCONFDIR, MANDIR, DOCDIR, SYSTEMDUNITDIR, TMPFILESDIR
                  install locations (PREFIX=/usr/local)
Environment for tests: CS_TEST=GLOB (what CASE sets), BAD_RECORD=1 (test_bad rewrites the
expected errors), CRASH_KILLS=N and ROTATE_KILLS=N (kills in cli_crash.sh, 110, and
fault_rotate_kill.sh, 500), VG_SCRIPTS="NAME..." (what valgrind_suite.sh reruns).
endef
export HELP
help:
	@echo "$$HELP"

# Header dependencies (-MMD -MP) of this BUILD's objects and programs only.
-include $(wildcard $(patsubst %.o,%.d,$(LIB_OBJ) $(CLI_OBJ) $(FLEET_OBJ) $(FS_OBJ) $(TEST_OBJ) \
	 $(TESTUTIL_OBJ) $(FUZZ_OBJ)) $(TOOLS:=.d) $(BENCH_BINS:=.d))
