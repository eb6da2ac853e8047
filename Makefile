# comfysecrets - one Makefile, everything built out of tree in $(BUILD).
#   make                 both binaries
#   make check           every unit suite and every integration test (mounts for real)
#   make check SANITIZE=1  the same under ASan + UBSan, in build/san
#   make check-all       what CI runs: make check (60 s soak), then make check SANITIZE=1
#   make install         PREFIX (/usr/local) and DESTDIR honoured
#   make demo            a demo vault under build/demo, mounted, read, audited, unmounted

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
ifeq ($(SANITIZE),1)
BUILD	?= build/san
else
BUILD	?= build
endif

PKGS	:= fuse3 libsodium jansson inih libsystemd
CC	?= cc
CFLAGS	?= -O2 -g
CFLAGS	+= -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -MP \
	   $(shell pkg-config --cflags $(PKGS))
LDLIBS	+= $(shell pkg-config --libs $(PKGS))
TEST_CFLAGS := $(shell pkg-config --cflags cmocka)
TEST_LDLIBS := $(shell pkg-config --libs cmocka)
ifeq ($(SANITIZE),1)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS	+= -fsanitize=address,undefined
endif

LIB_SRC	:= $(wildcard crypto/*.c policy/*.c)
CLI_SRC	:= $(wildcard cli/*.c)
FS_SRC	:= $(wildcard fs/*.c)
FSLIB_SRC := $(filter-out fs/main.c,$(FS_SRC))
TEST_SRC := $(wildcard tests/test_*.c)

LIB_OBJ	:= $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ	:= $(CLI_SRC:%.c=$(BUILD)/%.o)
FS_OBJ	:= $(FS_SRC:%.c=$(BUILD)/%.o)
FSLIB_OBJ := $(FSLIB_SRC:%.c=$(BUILD)/%.o)
TESTS	:= $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TOOLS	:= $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))

BINS	:= $(BUILD)/comfysecrets
ifneq ($(FS_SRC),)
BINS	+= $(BUILD)/comfysecretsfs
endif

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BUILD ?= build/fuzz
FUZZ	:= $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_CC	?= clang
FUZZ_SECONDS ?= 20

.PHONY: all check unit integration install uninstall clean demo deps fuzz fuzz-smoke
.PHONY: man check-system check-all
all: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(TEST_CFLAGS) -c $< -o $@

$(BUILD)/comfysecrets: $(CLI_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/comfysecretsfs: $(FS_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(LIB_OBJ) $(FSLIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LDLIBS)

$(BUILD)/tests/tools/%: tests/tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# The whole suite: unit binaries, then the integration scripts; one summary line.
check: $(BINS) $(TESTS) $(TOOLS) $(MANPAGES)
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) sh tests/run $(TESTS)

# What .ci/run and the README's test command run: the suite with a 60 s soak and the
# daemon under valgrind (valgrind_suite.sh), then all of it again under ASan + UBSan.
check-all:
	SOAK_SECONDS=60 $(MAKE) check
	$(MAKE) check SANITIZE=1

unit: $(TESTS)
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) sh tests/run --unit-only $(TESTS)

# libFuzzer targets (clang, ASan + UBSan), one per parser and verifier; see tests/fuzz/.
# The library is compiled once per FUZZ_BUILD (instrumented), then linked into each target.
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=address,undefined \
	   -fno-sanitize-recover=all -MMD -MP $(shell pkg-config --cflags $(PKGS))
FUZZ_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
.SECONDARY: $(FUZZ_OBJ)

fuzz: $(FUZZ)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_OBJ)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(LDLIBS)

# Each target for FUZZ_SECONDS from its seed corpus (tests/fuzz/corpus/NAME, read only:
# what it finds goes to $(FUZZ_BUILD)/corpus/NAME) and its dictionary; a crash fails the
# run and leaves the input in $(FUZZ_BUILD)/crash-NAME-*.
fuzz-smoke: $(FUZZ)
	@mkdir -p $(FUZZ_BUILD)/logs
	@for f in $(FUZZ); do n=$${f##*/fuzz_}; \
	  d=tests/fuzz/$$n.dict; dict=; [ -f $$d ] && dict=-dict=$$d; \
	  c=tests/fuzz/corpus/$$n; corpus=; [ -d $$c ] && corpus=$$c; \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  if $$f $$dict -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	      -artifact_prefix=$(FUZZ_BUILD)/crash-$$n- $(FUZZ_BUILD)/corpus/$$n $$corpus \
	      >$(FUZZ_BUILD)/logs/$$n.log 2>&1; then \
	    echo "fuzz-smoke: $$n: $$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_BUILD)/logs/$$n.log) execs in $(FUZZ_SECONDS) s, no crash"; \
	  else echo "fuzz-smoke: $$n FAILED:"; tail -n 30 $(FUZZ_BUILD)/logs/$$n.log; exit 1; fi; \
	done

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
MANPAGES := $(patsubst man/%.scd,$(BUILD)/man/%,$(wildcard man/*.scd))
INSTALL_DOCS := systemd/fstab.example examples/compose.yaml examples/docker-run.sh \
	   examples/pod-hostpath.yaml examples/credential.conf examples/comfysecrets.ini
ETCCONF	:= $(DESTDIR)$(SYSCONFDIR)/comfysecrets/comfysecrets.ini

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
	install -m 0644 systemd/run-comfysecrets.mount $(DESTDIR)$(SYSTEMDUNITDIR)/run-comfysecrets.mount
	install -m 0644 systemd/comfysecrets.tmpfiles $(DESTDIR)$(TMPFILESDIR)/comfysecrets.conf
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
	rm -f $(DESTDIR)$(TMPFILESDIR)/comfysecrets.conf
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
# check. The programs are built with the project's CFLAGS; results go to build/bench/.
BENCH_BINS := $(BUILD)/bench/benchtool $(BUILD)/bench/floorfs $(BUILD)/bench/mkvault \
	   $(BUILD)/bench/scale
.PHONY: bench
bench: $(BINS) $(BENCH_BINS)
	sh scripts/install-bench-deps
	python3 bench/run --build $(BUILD) --out build/bench $(if $(filter 1,$(QUICK)),--quick)

$(BUILD)/bench/%: bench/%.c $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

# scale measures the daemon's tree as well as the vault.
$(BUILD)/bench/scale: bench/scale.c $(LIB_OBJ) $(FSLIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(FSLIB_OBJ) $(LDLIBS)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
-include $(wildcard $(FUZZ_OBJ:.o=.d))
