# hopmap: make, make check, make bench, make demo, make install PREFIX=...
# A filter is filters/NAME.c and becomes $(BIN)/NAME; shell glue is
# sh/NAME.sh and becomes $(BIN)/NAME; lib/ is the shared library, a folder
# per concern, each folder one archive (LAYERS).  The scripts' own parts
# (sh/lib/, the shared one, and a folder per script that has parts) go to
# share/hopmap/sh/ beside $(BIN), where a script finds them from its own
# path, as after make install.

PREFIX  ?= /usr/local
BUILD   ?= build/opt
BIN     ?= bin
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2
SAN      = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
ALL_CFLAGS = $(WARN) $(CFLAGS) -Ilib
# Every compile lists what it included (in $(BUILD)/dep), so a changed
# header rebuilds its users.
DEPFLAGS = -MMD -MP -MF $(BUILD)/dep/$(subst /,-,$(@:$(BUILD)/%=%)).d

# lib/'s folders from the top down: a folder uses only those after it (its
# includes; tests/t-layout.sh checks), so this is also the link order.  Each
# folder is an archive of its own: two folders may both have a sock.c.
LAYERS   = trace probe sink seen addrset core
LIBA     = $(LAYERS:%=$(BUILD)/lib/lib%.a)
FILTERS  = $(basename $(notdir $(wildcard filters/*.c)))
PROGS    = $(FILTERS:%=$(BIN)/%)
SCRIPTS  = $(patsubst sh/%.sh,$(BIN)/%,$(wildcard sh/*.sh))
SHPARTS  = $(wildcard sh/*/*.sh)
SHARE    = $(dir $(BIN))share/hopmap
UNITS    = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/*.c))
# web/: the HTTP face, built on lib/.  web/httpd/main.c is hopmap-httpd;
# the folder's other files are its archive, which its unit tests
# (tests/unit/httpd_*.c) link too.
HTTPD_A  = $(BUILD)/web/libhttpd.a
HTTPD_O  = $(patsubst web/%.c,$(BUILD)/web/%.o,\
           $(filter-out web/httpd/main.c,$(wildcard web/httpd/*.c)))
HTTPD    = $(if $(wildcard web/httpd/main.c),$(BIN)/hopmap-httpd)
LIBS_HTTPD = -lmicrohttpd -lsqlite3 -lsodium -lpthread
# TLS: the certificate callback is GnuTLS's (libmicrohttpd-dev brings it).
LIBS_HTTPD += -lgnutls
# web/manager/: the manager; cgi-main.c is manager.cgi, manager-main.c is
# hopmap-manager, the folder's other files their archive (and the unit
# tests' in tests/unit/manager_*.c).
MANAGER_MAINS = web/manager/cgi-main.c web/manager/manager-main.c
MANAGER_A  = $(BUILD)/web/libmanager.a
MANAGER_O  = $(patsubst web/%.c,$(BUILD)/web/%.o,\
           $(filter-out $(MANAGER_MAINS),$(wildcard web/manager/*.c)))
MANAGER    = $(if $(wildcard web/manager/cgi-main.c),\
           $(BIN)/manager.cgi $(BIN)/hopmap-manager)
LIBS_MANAGER = -loath -lsodium -lsqlite3

# Libraries beyond jansson, per program.
LIBS_cooldown   = -lsqlite3
LIBS_hopextract = -lsqlite3
LIBS_sqlsink    = -lsqlite3 -lpthread
LIBS_icmpprobe  = -lcap
LIBS_tracehop   = -lcap

# Debian 12 packages: to build, to test, to benchmark against.
DEPS = build-essential pkg-config libjansson-dev libsqlite3-dev libcap-dev \
       libcap2-bin jq sqlite3 socat iproute2 mandoc shellcheck prips fping \
       scamper clang time openssh-server openssh-client graphviz \
       prometheus
# The HTTP face: libmicrohttpd (with GnuTLS), libsodium for the keys;
# curl, wrk and nftables (a NAT lab) to test and benchmark it.
DEPS += libmicrohttpd-dev libsodium-dev curl wrk nftables
# The manager: liboath (TOTP) and oathtool, qrencode for add-user's QR code;
# lighttpd (a stock CGI server) and fail2ban to test it against.
DEPS += liboath-dev oathtool qrencode lighttpd fail2ban
# The manager in a real browser (tests/browser/, Selenium).
DEPS += chromium chromium-driver python3-selenium
# t-icmpprobe's echo responder that answers late, in a burst.
DEPS += python3

all: $(PROGS) $(HTTPD) $(MANAGER) $(SCRIPTS) $(SHPARTS:sh/%=$(SHARE)/sh/%)

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(@D) $(BUILD)/dep
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

# A folder's objects make its archive.
$(foreach l,$(LAYERS),$(eval $(BUILD)/lib/lib$(l).a: \
    $(patsubst lib/%.c,$(BUILD)/lib/%.o,$(wildcard lib/$(l)/*.c))))
$(BUILD)/lib/lib%.a:
	rm -f $@
	ar rcs $@ $^

$(BIN)/%: filters/%.c $(LIBA)
	@mkdir -p $(@D) $(BUILD)/dep
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -o $@ $< $(LIBA) $(LIBS_$*) -ljansson -lm

$(BUILD)/web/%.o: web/%.c
	@mkdir -p $(@D) $(BUILD)/dep
	$(CC) $(ALL_CFLAGS) -Iweb $(DEPFLAGS) -c -o $@ $<

$(HTTPD_A): $(HTTPD_O)
	rm -f $@
	ar rcs $@ $^

$(BIN)/hopmap-httpd: web/httpd/main.c $(HTTPD_A) $(LIBA)
	@mkdir -p $(@D) $(BUILD)/dep
	$(CC) $(ALL_CFLAGS) -Iweb $(DEPFLAGS) -o $@ $< $(HTTPD_A) $(LIBA) \
	    $(LIBS_HTTPD) -ljansson -lm

$(MANAGER_A): $(MANAGER_O)
	rm -f $@
	ar rcs $@ $^

$(BIN)/manager.cgi: web/manager/cgi-main.c $(MANAGER_A) $(LIBA)
	@mkdir -p $(@D) $(BUILD)/dep
	$(CC) $(ALL_CFLAGS) -Iweb $(DEPFLAGS) -o $@ $< $(MANAGER_A) $(LIBA) \
	    $(LIBS_MANAGER) -ljansson -lm

$(BIN)/hopmap-manager: web/manager/manager-main.c $(MANAGER_A) $(LIBA)
	@mkdir -p $(@D) $(BUILD)/dep
	$(CC) $(ALL_CFLAGS) -Iweb $(DEPFLAGS) -o $@ $< $(MANAGER_A) $(LIBA) \
	    $(LIBS_MANAGER) -ljansson -lm

$(BIN)/%: sh/%.sh
	@mkdir -p $(@D)
	cp $< $@ && chmod 755 $@

$(SHARE)/sh/%: sh/%
	@mkdir -p $(@D)
	cp $< $@ && chmod 644 $@

$(BUILD)/tests/%: tests/unit/%.c $(LIBA)
	@mkdir -p $(@D) $(BUILD)/dep
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -o $@ $< $(LIBA) -ljansson -lm

$(BUILD)/tests/httpd_%: tests/unit/httpd_%.c $(HTTPD_A) $(LIBA)
	@mkdir -p $(@D) $(BUILD)/dep
	$(CC) $(ALL_CFLAGS) -Iweb $(DEPFLAGS) -o $@ $< $(HTTPD_A) $(LIBA) \
	    $(LIBS_HTTPD) -ljansson -lm

$(BUILD)/tests/manager_%: tests/unit/manager_%.c $(MANAGER_A) $(LIBA)
	@mkdir -p $(@D) $(BUILD)/dep
	$(CC) $(ALL_CFLAGS) -Iweb $(DEPFLAGS) -o $@ $< $(MANAGER_A) $(LIBA) \
	    $(LIBS_MANAGER) -ljansson -lm

units: $(UNITS)

-include $(wildcard $(BUILD)/dep/*.d)

# The sanitizer build (ASan+UBSan) that the tests run.
san:
	$(MAKE) BUILD=build/san BIN=build/san/bin CFLAGS="$(SAN)" all units

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p \
	    2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing: $$missing"; \
	    if [ "$$(id -u)" -ne 0 ]; then echo "run as root, or: sudo apt-get install $$missing" >&2; exit 1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

check: deps all
	$(MAKE) san
	HOPMAP_BIN=$(CURDIR)/build/san/bin HOPMAP_OPT_BIN=$(CURDIR)/$(BIN) \
	    HOPMAP_UNITS=$(CURDIR)/build/san/tests tests/run

bench: deps all
	bench/run

demo: deps all
	sh/hopmap-demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(PROGS) $(HTTPD) $(MANAGER) $(SCRIPTS) $(DESTDIR)$(PREFIX)/bin
	install -d $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8
	for d in $(sort $(dir $(SHPARTS))); do \
	    install -d $(DESTDIR)$(PREFIX)/share/hopmap/$$d && \
	    install -m 644 $$d*.sh $(DESTDIR)$(PREFIX)/share/hopmap/$$d || exit; \
	done
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7
	# The raw-socket programs need CAP_NET_RAW and nothing else.
	for p in icmpprobe tracehop; do \
	    [ ! -f $(DESTDIR)$(PREFIX)/bin/$$p ] || \
	    setcap cap_net_raw+p $(DESTDIR)$(PREFIX)/bin/$$p || \
	    echo "warning: setcap failed; $$p needs root or CAP_NET_RAW" >&2; \
	done

clean:
	rm -rf build bin share tests/out bench/out

.PHONY: all units san deps check bench demo install clean
.SUFFIXES:
.DELETE_ON_ERROR:
