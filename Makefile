# dms: build, test, demo, benchmark. Plain GNU make.
#   make                 build common/libdmscommon.a and the programs into bin/
#   make check           install missing packages, build, lint the man pages, run the tests
#                        (TESTS=tests/validate.bats: that file only)
#   make test            build and run the tests, without the package step
#   make test-fast       the suites that need no database server
#   make demo            a real migration end to end on throwaway servers
#   make bench           the benchmarks of bench/
#   make install PREFIX=/usr/local
#   make fuzz            the fuzz harness of tests/fuzz/ (a sanitized build in build/fuzz/)
#   make DEVELOPER=1     warnings are errors (CI builds this way)
#   make B=dir/ BIN=dir  objects under dir/ and programs in dir (how the fuzz build is made)

VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man

CC ?= cc
PKGS := libpq msgpack liblz4 libzstd jansson sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
MARIADB_CFLAGS := $(shell mariadb_config --cflags 2>/dev/null)
MARIADB_LIBS := $(shell mariadb_config --libs 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wno-missing-field-initializers
ifeq ($(DEVELOPER),1)
WARN += -Werror
endif
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -MMD -MP -DDMS_VERSION='"$(VERSION)"' \
	$(PKG_CFLAGS) $(MARIADB_CFLAGS)
LIBS = $(PKG_LIBS) $(MARIADB_LIBS) -lm -pthread

# B: where objects go (empty: beside their sources); BIN: where programs go.
B ?=
BIN ?= bin
# The libraries, each linked after those that use it:
#   common/map/libdmsmap.a   the mapping engine (SQLite): dms-transform, dms-validate
#   common/db/libdmsdb.a     the source catalog (list, select, describe, read): dms-extract, dms-validate
#   common/libdmscommon.a    stream, values, sessions, URIs, settings, logging: every program
COMMON_OBJ := $(patsubst %.c,$(B)%.o,$(wildcard common/*.c))
DB_OBJ := $(patsubst %.c,$(B)%.o,$(wildcard common/db/*.c))
MAP_OBJ := $(patsubst %.c,$(B)%.o,$(wildcard common/map/*.c))
LIB := $(B)common/libdmscommon.a
LIBDB := $(B)common/db/libdmsdb.a
LIBMAP := $(B)common/map/libdmsmap.a

# One program per directory that has a main.c.
PROGRAM_DIRS := $(patsubst %/main.c,%,$(wildcard extract/main.c capture/main.c transform/main.c load/main.c validate/main.c))
PROGRAMS := $(patsubst %,$(BIN)/dms-%,$(PROGRAM_DIRS))
TOOLS := $(BIN)/tools/dms-benchgen $(BIN)/tools/dms-lagprobe $(BIN)/tools/dms-conncheck $(BIN)/tools/dms-unit \
	$(BIN)/tools/dms-fuzz $(BIN)/tools/dms-binlogfuzz
SCRIPTS := $(filter-out %.md,$(wildcard scripts/dms-*))

all: $(PROGRAMS) $(TOOLS)

$(B)%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	$(AR) rcs $@ $^
$(LIBDB): $(DB_OBJ)
	$(AR) rcs $@ $^
$(LIBMAP): $(MAP_OBJ)
	$(AR) rcs $@ $^

# The libraries each program links; its objects are those of its own directory.
extract_LIBS := $(LIBDB)
capture_LIBS := $(LIBDB)
transform_LIBS := $(LIBMAP)
validate_LIBS := $(LIBMAP) $(LIBDB)

# A program links its own objects and libraries, never another program's
# objects: the build stops when one would (check_links, for every link below).
OWNERS := $(PROGRAM_DIRS) bench tests
check_links = $(foreach o,$(filter %.o,$(2)),$(if $(filter $(foreach d,$(filter-out $(3),$(OWNERS)),$(B)$(d)/%),$(o)),$(error $(1) links $(o), an object of another program: move the code to a library under common/)))

define program_rule
$(call check_links,dms-$(1),$(patsubst %.c,$(B)%.o,$(wildcard $(1)/*.c)) $($(1)_LIBS),$(1))
$(BIN)/dms-$(1): $(patsubst %.c,$(B)%.o,$(wildcard $(1)/*.c)) $($(1)_LIBS) $(LIB)
	@mkdir -p $(BIN)
	$$(CC) $$(ALL_CFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach d,$(PROGRAM_DIRS),$(eval $(call program_rule,$(d))))

# Helpers for the benchmarks and tests, in bin/tools; not installed.
$(call check_links,dms-benchgen,$(B)bench/benchgen.o,bench)
$(call check_links,dms-lagprobe,$(B)bench/lagprobe.o,bench)
$(call check_links,dms-unit,$(B)tests/helpers/unit.o $(LIBDB),tests)
$(call check_links,dms-conncheck,$(B)tests/helpers/conncheck.o,tests)
$(call check_links,dms-fuzz,$(B)tests/fuzz/fuzz.o,tests)
$(call check_links,dms-binlogfuzz,$(B)tests/fuzz/binlog.o $(LIBDB),tests)
$(BIN)/tools/dms-benchgen: $(B)bench/benchgen.o $(LIB)
	@mkdir -p $(BIN)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)
$(BIN)/tools/dms-lagprobe: $(B)bench/lagprobe.o $(LIB)
	@mkdir -p $(BIN)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)
$(BIN)/tools/dms-unit: $(B)tests/helpers/unit.o $(LIBDB) $(LIB)
	@mkdir -p $(BIN)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)
$(BIN)/tools/dms-conncheck: $(B)tests/helpers/conncheck.o $(LIB)
	@mkdir -p $(BIN)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)
$(BIN)/tools/dms-fuzz: $(B)tests/fuzz/fuzz.o
	@mkdir -p $(BIN)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $^
$(BIN)/tools/dms-binlogfuzz: $(B)tests/fuzz/binlog.o $(LIBDB) $(LIB)
	@mkdir -p $(BIN)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

# The fuzz build: every program with AddressSanitizer and UndefinedBehaviorSanitizer,
# in build/fuzz/bin; tests/fuzz/run drives them (tests/fuzz.bats runs a short pass).
FUZZ_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_ARGS ?= -T 60 -n 100000000
fuzz-build:
	$(MAKE) B=build/fuzz/ BIN=build/fuzz/bin CFLAGS="$(FUZZ_CFLAGS)" $(if $(DEVELOPER),DEVELOPER=$(DEVELOPER)) all
# libFuzzer targets (tests/fuzz/libfuzzer/), where clang has libFuzzer: the stream
# checker, the mappings parser and the settings parser in process, in build/libfuzzer/.
LIBFUZZER_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
$(BIN)/libfuzzer-%: $(B)tests/fuzz/libfuzzer/%.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)
fuzz-libfuzzer:
	@if echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return d[0] == n; }' | \
		clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then \
		$(MAKE) CC=clang B=build/libfuzzer/ BIN=build/libfuzzer/bin CFLAGS="$(LIBFUZZER_CFLAGS)" \
			$(patsubst %,build/libfuzzer/bin/libfuzzer-%,stream mapping settings); \
	else echo "fuzz-libfuzzer: clang with libFuzzer is not here; tests/fuzz/run uses dms-fuzz alone"; fi
fuzz: fuzz-build fuzz-libfuzzer all
	@echo "fuzz: every target for FUZZ_ARGS (default: 60 s each); findings in build/fuzz/findings"
	tests/fuzz/run $(FUZZ_ARGS)

deps:
	@scripts/install-deps

# The man pages are linted; -W warning makes style messages pass and real problems fail.
lint-man:
	@command -v mandoc >/dev/null || { echo "mandoc is missing: run scripts/install-deps" >&2; exit 1; }
	mandoc -Tlint -W warning man/*.[157]

BATS_FLAGS ?= $(shell [ -t 1 ] && echo --pretty || echo --tap)
# TESTS: the bats files to run (default: every one).
TESTS ?= tests
# The suites that start no server.
FAST_TESTS := $(shell grep -L servers_start tests/*.bats)
check: deps
	$(MAKE) test
test:
	$(MAKE) all fuzz-build fuzz-libfuzzer
	$(MAKE) lint-man
	bats $(BATS_FLAGS) $(TESTS)
test-fast: all
	bats $(BATS_FLAGS) $(FAST_TESTS)

demo: deps
	$(MAKE) all
	scripts/demo

bench: deps
	$(MAKE) all
	bench/run

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(PROGRAMS) $(SCRIPTS) $(DESTDIR)$(BINDIR)
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(MANDIR)/man5
	install -m 644 $(wildcard man/*.7) $(DESTDIR)$(MANDIR)/man7

clean:
	rm -rf bin build
	rm -f */*.o */*.d */*/*.o */*/*.d */*/*/*.o */*/*/*.d $(LIB) $(LIBDB) $(LIBMAP)

.PHONY: all deps lint-man check test test-fast demo bench install clean fuzz fuzz-build fuzz-libfuzzer

-include $(wildcard $(B)*/*.d $(B)*/*/*.d $(B)*/*/*/*.d)
